"""``spreadhawk risk RUN_ID``: a stored run's risk figures as tables (or one JSON object).

The same figures as the report's "Risk" section (``report.risk``): denials by reason and limits
hit, VaR/ES now with the breach rate and Kupiec p of the run's own VaR backtest, the stress table,
the time share per regime, and the instruments' mean pairwise correlation and effective bets.
Registered on the main app by ``register(app)``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spreadhawk.cli.output import fail

if TYPE_CHECKING:
    from spreadhawk.report.risk import RiskFigures

console = Console()
# As in cli/main.py; not imported from there, so that main.py can import this module at its top.
DbOption = Annotated[
    str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
]


def register(app: typer.Typer) -> None:
    """Add the ``risk`` command to ``app``."""
    app.command("risk")(risk)


def risk(
    run_id: Annotated[str, typer.Argument(help="id printed by backtest / listed by runs")],
    db: DbOption = "spreadhawk.db",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    window: Annotated[
        int | None, typer.Option("--window", min=10, help="VaR window in equity samples (default: up to 240)")
    ] = None,
) -> None:
    """Risk of a stored run: denials, limits hit, VaR/ES and breaches, stress, regimes, correlation."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (--help must not wait for SQLAlchemy)

    from spreadhawk.persistence import RunStore  # noqa: PLC0415
    from spreadhawk.persistence.run_store import SchemaError  # noqa: PLC0415
    from spreadhawk.runtime.services import QueryService, database_url  # noqa: PLC0415

    try:
        store = RunStore(database_url(db))
        try:
            record = QueryService(store).run(run_id)
        finally:
            store.close()
    except SQLAlchemyError as exc:
        fail(f"run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except SchemaError as exc:  # a store at another revision: one line, never a traceback
        fail(f"run store {db}: {exc}")
    if record is None:
        fail(f"no run {run_id!r} in {db} (see 'spreadhawk runs')")
    from spreadhawk.report.risk import risk_figures, risk_json  # noqa: PLC0415 -- seconds: only when asked for

    figures = risk_figures(record, window)
    if as_json:
        typer.echo(json.dumps(risk_json(figures), sort_keys=True))
        return
    for table in risk_tables(figures, str((record.config.get("result") or {}).get("valuation_currency", ""))):
        console.print(table)
    for text in figures.stress.notes if figures.stress else []:
        console.print(f"stress: {escape(text)}", highlight=False, soft_wrap=True)
    for part, why in sorted(figures.notes.items()):
        console.print(f"{part}: {escape(why)}", highlight=False, soft_wrap=True)


def risk_tables(figures: RiskFigures, ccy: str) -> list[Table]:
    tables = []
    denials = Table("reason", "orders denied", title=f"denials (risk engine {'on' if figures.enabled else 'off'})")
    for reason, count in sorted(figures.denials.items()):
        denials.add_row(reason, str(count))
    denials.add_row("total", str(sum(figures.denials.values())))
    tables.append(denials)
    if figures.records:
        hits = Table("ts_ns", "what", "subject", "state", "reason", title="limits hit")
        for r in figures.records:
            hits.add_row(*(escape(str(r.get(k, ""))) for k in ("ts_ns", "what", "subject", "state", "reason")))
        tables.append(hits)
    if figures.var is not None:
        var = figures.var
        title = (
            f"VaR / ES of equity returns over {var.horizon_s:,.0f} s (window {var.window}, {len(var.returns)} returns)"
        )
        table = Table("level", "method", "VaR now", "ES now", "breaches", "breach rate", "Kupiec p", title=title)
        for lv in var.levels:
            for method, (value, es) in lv.now.items():
                b = lv.backtests[method]
                table.add_row(
                    f"{lv.level:.0%}", method, _pct(value), _pct(es), f"{b.breaches}/{b.observations}",
                    _pct(b.breach_rate), f"{b.p_value:.3f}",
                )  # fmt: skip
        tables.append(table)
    if figures.stress is not None:
        stress = Table("scenario", f"PnL {ccy}", "of value", title=f"stress (value {figures.stress.value:,.2f} {ccy})")
        worth = figures.stress.value
        for s in figures.stress.scenarios:
            stress.add_row(s.name, f"{s.pnl:,.2f}", _pct(float(s.pnl / worth)) if worth else "n/a")
        tables.append(stress)
    if figures.regimes is not None:
        regimes = Table("regime", "share", title=f"regimes of {figures.regimes.reference} (1-minute bars)")
        for name, share in figures.regimes.shares().items():
            regimes.add_row(name, f"{share:.1%}")
        tables.append(regimes)
    if figures.correlation is not None:
        c = figures.correlation
        table = Table("measure", "value", title=f"correlation of {len(c.instruments)} instruments ({c.bars} bars)")
        table.add_row("mean pairwise correlation", f"{c.summary.mean_correlation:.3f}")
        table.add_row("first factor share", f"{c.summary.first_factor_share:.1%}")
        table.add_row("effective bets", f"{c.summary.effective_bets:.2f}")
        table.add_row("left out (short-lived or flat)", str(len(c.left_out)))
        tables.append(table)
    return tables


def _pct(value: float) -> str:
    return f"{value * 100:.4f}%" if math.isfinite(value) else "n/a"
