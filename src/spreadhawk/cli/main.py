"""The ``spreadhawk`` command line: a thin layer over the runtime services.

Every expected failure (bad config, missing file, unknown run, unreachable database) ends with a
one-line ``error: ...`` on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from importlib import resources
from importlib.metadata import version as package_version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Column, Table

from spreadhawk.cli.calibration import register as register_calibration
from spreadhawk.cli.data import register as register_data
from spreadhawk.cli.db import register as register_db
from spreadhawk.cli.display import counters_tree, metric_text
from spreadhawk.cli.emulate import emulate
from spreadhawk.cli.emulate_polymarket import register as register_emulate_polymarket
from spreadhawk.cli.keys import register as register_keys
from spreadhawk.cli.kill import register as register_kill
from spreadhawk.cli.live import register as register_live
from spreadhawk.cli.new_strategy import register as register_new_strategy
from spreadhawk.cli.output import errors, fail
from spreadhawk.cli.paper import register as register_paper
from spreadhawk.cli.progress import PlainProgress, TerminalProgress
from spreadhawk.cli.record import register as register_record
from spreadhawk.cli.risk import register as register_risk
from spreadhawk.cli.scan import register as register_scan
from spreadhawk.cli.serve import register as register_serve
from spreadhawk.cli.strategies import register as register_strategies
from spreadhawk.cli.sweep import register as register_sweep
from spreadhawk.cli.window import EndOption, StartOption, window_overrides

if TYPE_CHECKING:  # the rest is imported where it is used: `spreadhawk --help` must not wait for
    # SQLAlchemy, numpy, pandas and pydantic (over a second together)
    from spreadhawk.persistence import RunStore
    from spreadhawk.runtime.services import RunProgress

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="spreadhawk: crypto arbitrage backtests and paper trading.",
    rich_markup_mode=None,  # help text is plain: "[[data]]" and "[risk]" are config sections, not markup
)
console = Console()

ReportOption = Annotated[Path, typer.Option("--report-dir", help="where the HTML report is written (<run id>.html)")]
NoReportOption = Annotated[bool, typer.Option("--no-report", help="do not write the HTML report")]
DbOption = Annotated[
    str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
]


@contextmanager
def _store(db: str) -> Iterator[RunStore]:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (see the imports)

    from spreadhawk.persistence import RunStore  # noqa: PLC0415
    from spreadhawk.persistence.run_store import SchemaError  # noqa: PLC0415
    from spreadhawk.runtime.services import database_url  # noqa: PLC0415

    folder = Path(db).parent
    if "://" not in db and not folder.is_dir():  # SQLite would only say "unable to open database file"
        fail(f"--db {db}: the folder {folder} does not exist")
    try:
        store = RunStore(database_url(db))
    except SQLAlchemyError as exc:
        fail(f"cannot open run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except SchemaError as exc:  # an older or newer revision: the message says what to do
        fail(f"{db}: {exc}")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _progress() -> Iterator[RunProgress]:
    """A bar on a terminal; plain lines in a log (``make demo > log`` shows it is working)."""
    if errors.is_terminal:
        with TerminalProgress(errors) as bar:
            yield bar
    else:
        yield PlainProgress(errors)


def _run_backtest(
    config_path: Path, overrides: list[str], as_json: bool, db: str, report_dir: Path | None, *, quiet: bool = False
) -> tuple[dict[str, Any], Path | None, str | None]:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (see the imports)

    from spreadhawk.runtime.config import ConfigError, load_config  # noqa: PLC0415
    from spreadhawk.runtime.results import NoEquityError  # noqa: PLC0415
    from spreadhawk.runtime.services import BacktestService  # noqa: PLC0415

    try:
        config = load_config(config_path, overrides)
        with _store(db) as store, _progress() as progress:
            outcome = BacktestService(store).run(config, progress)
            report, report_error = _write_report(store, outcome.run_id, report_dir)
    except (ConfigError, NoEquityError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    if quiet:
        return outcome.result, report, report_error  # the caller prints its summary, then the error
    if as_json:
        typer.echo(json.dumps(outcome.result, sort_keys=True))
    else:
        _print_result(outcome.result)
    if report is not None:
        errors.print(f"report: {escape(str(report))}", highlight=False, soft_wrap=True)
    if report_error is not None:
        fail(report_error)  # after the results: a report that cannot be written hides nothing
    return outcome.result, report, None


def _write_report(store: RunStore, run_id: str, report_dir: Path | None) -> tuple[Path | None, str | None]:
    """(the report, or None; why it could not be written, or None). The run is stored either way."""
    if report_dir is None:
        return None, None
    from spreadhawk.runtime.services import ReportService  # noqa: PLC0415 (see the imports)

    try:
        return ReportService(store).write(run_id, report_dir / f"{run_id}.html"), None
    except OSError as exc:
        return None, f"cannot write the report: {exc} (the run is stored: spreadhawk report {run_id} --out FILE)"


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"spreadhawk {package_version('spreadhawk')}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", help="print the version and exit", is_eager=True, callback=_version)
    ] = False,
) -> None:
    """spreadhawk: crypto arbitrage backtests and paper trading."""


@app.command()
def backtest(
    config: Annotated[Path, typer.Argument(help="run config (TOML)")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: key.path=value (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    db: DbOption = "spreadhawk.db",
    report_dir: ReportOption = Path("reports"),
    no_report: NoReportOption = False,
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """Backtest a strategy on recorded or simulated data."""
    overrides = [*(set_ or []), *window_overrides(start, end)]
    _run_backtest(config, overrides, as_json, db, None if no_report else report_dir)


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="seed of the simulated market")] = 7,
    hours: Annotated[float, typer.Option(help="length of the simulated session")] = 24.0,
    fast: Annotated[bool, typer.Option("--fast", help="a one-hour session instead of a day")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = "spreadhawk.db",
    report_dir: ReportOption = Path("reports"),
    no_report: NoReportOption = False,
) -> None:
    """A simulated trading day on the embedded market, with every strategy spreadhawk has.

    No data or network needed: three venues, BTC and ETH spot and perpetuals, 15-minute binary
    markets; the summary compares the strategies, and the HTML report shows the whole run.
    """
    hours = 1.0 if fast else hours
    if hours < 0.25 or hours > 72:
        # under 15 minutes no binary market of the demo opens, and its prediction venue would trade nothing
        fail(f"--hours must be in [0.25, 72] (the shortest binary market lasts 15 minutes), got {hours}")
    if seed < 0:
        fail(f"--seed must be 0 or more, got {seed}")
    preset = resources.files("spreadhawk.runtime.presets").joinpath("demo_market.toml")
    with resources.as_file(preset) as path:
        overrides = [f"run.seed={seed}", f"data.0.hours={hours}"]
        reports = None if no_report else report_dir
        result, report, report_error = _run_backtest(path, overrides, True, db, reports, quiet=not as_json)
    if not as_json:
        _print_strategies(result)
        if report is not None:
            console.print(f"report: {escape(str(report))}", highlight=False, soft_wrap=True)
        if report_error is not None:
            fail(report_error)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="catalog folder to write")],
    hours: Annotated[float, typer.Option(help="length of the simulated session")] = 24.0,
    seed: Annotated[int, typer.Option(help="seed of the simulated market")] = 7,
) -> None:
    """Write a simulated session (the demo's market) to the Parquet catalog, with a replay config."""
    if hours <= 0 or hours > 72:
        fail(f"--hours must be in (0, 72], got {hours}")
    from spreadhawk.runtime.config import ConfigError  # noqa: PLC0415 (see the imports)
    from spreadhawk.runtime.simulate import simulate_to_catalog  # noqa: PLC0415

    columns = (TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("records"))
    try:
        with Progress(*columns, console=errors, transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("simulate", total=None)
            session = simulate_to_catalog(
                out, hours=hours, seed=seed, progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    except (ConfigError, OSError) as exc:
        fail(str(exc))
    console.print(
        f"{session.records:,} records of {session.instruments} instruments in {session.parts} parts under "
        f"{escape(str(out))}\nreplay: spreadhawk backtest {escape(str(session.config_path))}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("import")
def import_data(
    config: Annotated[Path, typer.Argument(help="run config whose [[data]] sections to import")],
    out: Annotated[Path, typer.Option("--out", help="catalog folder")] = Path("catalog"),
    name: Annotated[str, typer.Option(help="name of the stored files")] = "data",
) -> None:
    """Normalise a config's data into the Parquet catalog (read back with format = "catalog")."""
    from spreadhawk.data.catalog import ParquetCatalog  # noqa: PLC0415 (see the imports)
    from spreadhawk.runtime.config import ConfigError, load_config  # noqa: PLC0415
    from spreadhawk.runtime.services import DataService  # noqa: PLC0415

    try:
        entries = DataService(ParquetCatalog(out)).import_config(load_config(config), name)
    except ConfigError as exc:
        fail(str(exc))
    table = Table("kind", "instrument", "name", "rows", "file")
    for e in entries:
        days = f"{e.path.parent.parent}/*/{e.name}.parquet ({len(e.files)} days)"  # one file per UTC day
        table.add_row(e.kind, e.instrument_id, e.name, f"{e.rows:,}", str(e.path) if len(e.files) < 2 else days)
    console.print(table)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="id printed by backtest / listed by runs")],
    out: Annotated[Path | None, typer.Option("--out", help="file to write (default reports/<run id>.html)")] = None,
    self_contained: Annotated[
        bool,
        typer.Option(
            "--self-contained",
            help="put plotly inside the report (one ~5 MB file to send), instead of the plotly file the "
            "reports of a folder share",
        ),
    ] = False,
    db: DbOption = "spreadhawk.db",
) -> None:
    """Write a stored run's HTML report (it opens offline: plotly is beside it, or inside it)."""
    from spreadhawk.runtime.services import ReportService  # noqa: PLC0415 (see the imports)

    path = out or Path("reports") / f"{run_id}.html"
    try:
        with _store(db) as store:
            written = ReportService(store).write(run_id, path, self_contained=self_contained)
    except OSError as exc:
        fail(f"cannot write the report: {exc}")
    if written is None:
        fail(f"no run {run_id!r} in {db} (see 'spreadhawk runs')")
    console.print(f"report: {escape(str(written))}", highlight=False, soft_wrap=True)


@app.command()
def runs(db: DbOption = "spreadhawk.db", limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List stored runs, newest first."""
    from spreadhawk.runtime.services import QueryService  # noqa: PLC0415 (see the imports)

    with _store(db) as store:
        summaries = QueryService(store).runs(limit)
    headers = ("strategy", "seed", "events", "total return", "sharpe", "max dd", "trades")
    table = Table(Column("run id", no_wrap=True), *headers)
    for s in summaries:
        m = s.metrics
        table.add_row(
            s.run_id,
            _strategies_label(s.strategy),
            str(s.seed),
            f"{s.events_processed:,}",
            _pct(m.get("total_return")),
            _num(m.get("sharpe")),
            _pct(m.get("max_drawdown")),
            str(m.get("trades")),
        )
    console.print(table if summaries else "no runs stored yet")


def _strategies_label(paths: str) -> str:
    """Every strategy class of a run (stored as "module:Class, module:Class"), repeats counted."""
    names = Counter(path.strip().rsplit(":", 1)[-1] for path in paths.split(",") if path.strip())
    return ", ".join(name if count == 1 else f"{name} x{count}" for name, count in names.items())


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="id printed by backtest / listed by runs")],
    db: DbOption = "spreadhawk.db",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show one stored run: its metrics, strategy counters and config."""
    from spreadhawk.runtime.services import QueryService  # noqa: PLC0415 (see the imports)

    with _store(db) as store:
        record = QueryService(store).run(run_id)
    if record is None:
        fail(f"no run {run_id!r} in {db} (see 'spreadhawk runs')")
    result = dict(record.config.get("result", {}))
    if as_json:
        typer.echo(json.dumps({"result": result, "config": record.config.get("config")}, sort_keys=True))
        return
    _print_result(result)
    console.print(
        f"orders stored: {len(record.orders)}, fills: {len(record.fills)}, equity points: {len(record.equity)}"
    )


def _summary_keys() -> tuple[str, ...]:
    from spreadhawk.analytics.metrics import Metrics  # noqa: PLC0415 (see the imports)

    metrics = tuple(f.name for f in fields(Metrics))
    return ("initial_equity", "final_equity", "pnl", "pnl_vs_holding", *metrics, "orders", "fills",
            "events_processed", "wall_seconds")  # fmt: skip


def _print_result(result: dict[str, Any]) -> None:
    """The run for a person (rounded by kind, ``cli.display``); ``--json`` has the exact values."""
    currency = str(result.get("valuation_currency") or "")
    table = Table("metric", "value", title=f"run {result.get('run_id')}")
    for key in _summary_keys():
        table.add_row(key, metric_text(key, result.get(key), currency, result))
    console.print(table)
    stats = result.get("strategy_stats") or {}
    if stats:
        console.print(counters_tree("strategy counters", stats))
    console.print(
        f"valuation currency: {result.get('valuation_currency')}   journal sha256: {result.get('journal_sha256')}"
    )


def _print_strategies(result: dict[str, Any]) -> None:
    currency = result.get("valuation_currency", "")
    headers = ("fills", f"PnL net of fees ({currency})", "fees", "Sharpe", "max drawdown", "seen", "taken")
    events, seconds = result.get("events_processed"), result.get("wall_seconds")
    title = f"demo run {result.get('run_id')}: {events:,} events in {seconds} s"
    table = Table(Column("strategy", no_wrap=True), *headers, title=title)
    for sid, row in sorted((result.get("strategies") or {}).items()):
        stats = row.get("stats") or {}
        table.add_row(
            sid, str(row.get("fills")), _money(row.get("pnl")), _money(row.get("fees")), _num(row.get("sharpe")),
            _money(row.get("max_drawdown_value")), str(stats.get("opportunities_seen", "-")),
            str(stats.get("opportunities_taken", "-")),
        )  # fmt: skip
    console.print(table)
    costs = result.get("costs") or {}
    console.print(
        f"account: PnL {_money(result.get('pnl'))} {currency}, of which trading (vs holding the starting "
        f"inventory) {_money(result.get('pnl_vs_holding'))}; fees {_money(costs.get('fees'))}, "
        f"funding {_money(costs.get('funding'))}, settlements {_money(costs.get('settlement'))}",
        highlight=False,
    )
    console.print(
        "  account PnL = final equity - starting equity, both at market prices: it includes what the "
        "starting inventory gained or lost by being held. trading = what the strategies added beyond "
        "holding it (their rows above add up to it exactly). settlements = what settled binary tokens "
        "paid out (their cost is in the strategies' trading).",
        highlight=False,
        style="dim",
    )


def _money(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):,.2f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


register_scan(app)  # `spreadhawk scan` lives in its own module
register_risk(app)  # `spreadhawk risk` too
app.command("emulate")(emulate)  # `spreadhawk emulate`: local Binance exchange emulator (cli/emulate.py)
register_paper(app)  # `spreadhawk paper`: paper trading on live market data (cli/paper.py)
register_live(app)  # `spreadhawk live`: live trading on exchange accounts (cli/live.py)
register_keys(app)  # `spreadhawk keys add|list|remove`: the encrypted key store (cli/keys.py)
register_data(app)  # `spreadhawk data download`: exchange history into the catalog (cli/data.py)
register_kill(app)  # `spreadhawk kill on|off|status`: the persisted kill switch (cli/kill.py)
register_strategies(app)  # `spreadhawk strategies [NAME]`: the library and its config fields
register_new_strategy(app)  # `spreadhawk new-strategy NAME`: a working template and its test
register_db(app)  # `spreadhawk db upgrade|downgrade|current|history`: run store migrations (cli/db.py)
register_calibration(app)  # `spreadhawk calibration`: the fair-value model on real up/down outcomes
register_serve(app)  # `spreadhawk serve`: the API and dashboard over the stored runs (cli/serve.py)
register_emulate_polymarket(app)  # `spreadhawk emulate-polymarket`: a local Polymarket CLOB (cli/emulate_polymarket.py)
register_record(app)  # `spreadhawk record`: Polymarket market channel + Binance reference to files (cli/record.py)
register_sweep(app)  # `spreadhawk sweep CONFIG`: parameter sweeps on Ray, one stored run per point (cli/sweep.py)


def run() -> None:
    """Console-script entry point."""
    os.environ.setdefault("COLUMNS", "120")
    app()
