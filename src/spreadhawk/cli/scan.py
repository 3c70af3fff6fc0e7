"""``spreadhawk scan``: replay a config's feed through the opportunity scanner (``runtime.scanner``).

Registered on the main app by ``register(app)``. A live table of the best opportunities is drawn on
stderr while it runs (only on a terminal); the summary goes to stdout; ``--save`` stores every
closed opportunity in the ``opportunities`` table of ``--db``.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from spreadhawk.cli.output import errors, fail
from spreadhawk.cli.window import EndOption, StartOption, window_overrides

if TYPE_CHECKING:  # the rest is imported where it is used: `spreadhawk --help` must not wait for it
    from spreadhawk.runtime.scanner import ClosedOpportunity, Opportunity, Scanner

NS_PER_S = 1_000_000_000
console = Console()
# As in cli/main.py; not imported from there, so that main.py can import this module at its top.
DbOption = Annotated[
    str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the store", envvar="SPREADHAWK_DB")
]


def register(app: typer.Typer) -> None:
    """Add the ``scan`` command to ``app``."""
    app.command("scan")(scan)


def scan(
    config: Annotated[Path, typer.Argument(help="run config (TOML); its strategies are ignored")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: key.path=value (repeatable)")] = None,
    db: DbOption = "spreadhawk.db",
    save: Annotated[bool, typer.Option("--save", help="store the opportunities found in --db")] = False,
    top: Annotated[int, typer.Option("--top", min=1, help="live opportunities shown")] = 15,
    hours: Annotated[
        float | None, typer.Option("--hours", help="length of every market_simulator source (hours)")
    ] = None,
    refresh_every: Annotated[int, typer.Option("--refresh-every", min=1, help="records between redraws")] = 2_000,
    horizon: Annotated[float, typer.Option("--funding-horizon", help="hours of funding expected")] = 24.0,
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """Scan a feed for opportunities of every kind (cross-exchange, triangular, YES/NO pairs, funding).

    Nothing is traded: edges are net of taker fees and sizes come from book depth alone (a scan
    knows no balances).
    """
    if hours is not None and not 0 < hours <= 72:
        fail(f"--hours must be in (0, 72], got {hours}")
    from spreadhawk.runtime.config import ConfigError  # noqa: PLC0415 (see the imports)
    from spreadhawk.runtime.scan_run import build_scan, load_scan_config  # noqa: PLC0415

    try:
        overrides = [*(set_ or []), *window_overrides(start, end)]
        loaded = load_scan_config(config, overrides)
        if hours is not None:
            simulated = [i for i, s in enumerate(loaded.data) if s.format == "market_simulator"]
            if not simulated:
                fail("--hours applies to market_simulator data only, and this config has none")
            loaded = load_scan_config(config, overrides + [f"data.{i}.hours={hours}" for i in simulated])
        node = build_scan(loaded, funding_horizon_hours=horizon)
        with _live(node.scanner, top, enabled=sys.stderr.isatty()) as redraw:
            scanner = node.run(progress=redraw, progress_every=refresh_every)
    except ConfigError as exc:
        fail(str(exc))
    console.print(summary_table(scanner.history))
    console.print(
        f"{node.event_count:,} records, {scanner.evaluations:,} instants evaluated; sizes from book depth "
        "only (no balances); durations of opportunities open at the end are cut there",
        highlight=False,
        soft_wrap=True,
    )
    if save:
        _save(db, loaded.config_hash(), loaded.run.seed, scanner.history)


@contextmanager
def _live(scanner: Scanner, top: int, *, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    with Live(console=errors, transient=True, auto_refresh=False) as live:
        records_seen = [0]

        def redraw(records: int, _ts_ns: int = 0) -> None:
            records_seen[0] = records
            live.update(live_table(scanner.top(top), scanner.market.now_ns, records), refresh=True)

        # Also redraw the moment an opportunity opens: between periodic frames a third of them
        # (bench/bench_scanner.py) would open and close unseen.
        scanner.opened_listeners.append(lambda _opportunity: redraw(records_seen[0]))
        yield redraw


def live_table(opportunities: list[Opportunity], now_ns: int, records: int) -> Table:
    table = Table("kind", "key", "edge bps", "size", "expected profit", "age s", title=f"live ({records:,} records)")
    for o in opportunities:
        table.add_row(
            o.kind,
            escape(o.key),
            f"{o.net_edge_bps:.2f}",
            f"{o.executable_size.normalize():f}",
            f"{o.expected_profit:,.2f} {o.profit_asset}",
            f"{o.age_ns(now_ns) / NS_PER_S:.1f}",
        )
    return table


def summary_table(history: list[ClosedOpportunity]) -> Table:
    """Per kind (and profit asset): count, median and max duration, max edge, total expected profit."""
    from spreadhawk.runtime.scan_detectors import KINDS  # noqa: PLC0415 (see the imports)

    groups: dict[tuple[str, str], list[ClosedOpportunity]] = {}
    for o in history:
        groups.setdefault((o.kind, o.profit_asset), []).append(o)
    table = Table("kind", "seen", "median s", "max s", "max edge bps", "total expected profit", title="opportunities")
    unlisted = sorted({kind for kind, _ in groups} - set(KINDS))  # a detector not registered in KINDS
    for kind in (*KINDS, *unlisted):
        rows = sorted((asset, found) for (k, asset), found in groups.items() if k == kind)
        if not rows:
            table.add_row(kind, "0", "-", "-", "-", "-")
        for asset, found in rows:
            durations = [o.duration_ns / NS_PER_S for o in found]
            total = sum((o.expected_profit for o in found), Decimal(0))
            table.add_row(
                kind,
                str(len(found)),
                f"{statistics.median(durations):.1f}",
                f"{max(durations):.1f}",
                f"{max(o.max_edge_bps for o in found):.2f}",
                f"{total:,.2f} {asset}",
            )
    return table


def _save(db: str, config_hash: str, seed: int, history: list[ClosedOpportunity]) -> None:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (see the imports)

    from spreadhawk.persistence.opportunities import OpportunityStore  # noqa: PLC0415
    from spreadhawk.runtime.services import database_url  # noqa: PLC0415

    try:
        store = OpportunityStore(database_url(db))
        try:
            scan_id = store.next_scan_id(config_hash, seed)
            saved = store.save(scan_id, history)
        finally:
            store.close()
    except SQLAlchemyError as exc:
        fail(f"opportunity store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    console.print(f"saved {saved} opportunities as scan {scan_id} in {escape(db)}", highlight=False, soft_wrap=True)
