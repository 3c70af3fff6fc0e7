"""``spreadhawk paper CONFIG``: paper trading on live market data until Ctrl-C or SIGTERM.

Runs the config's strategies on the simulated venues, fed by its ``[[live]]`` feeds (an exchange's
websockets, or ``spreadhawk emulate`` on this machine); on stop the journal is flushed, a summary
printed and the session stored as a run. Started again with the same journal it resumes.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from spreadhawk.cli.api_options import (
    ApiFlag,
    ApiHost,
    ApiHosts,
    ApiOrigins,
    ApiPort,
    ApiTlsCert,
    ApiTlsKey,
    ApiTokensFile,
    api_options,
    node_companion,
)
from spreadhawk.cli.output import fail

if TYPE_CHECKING:
    from spreadhawk.alerts import AlertDispatcher

errors = Console(stderr=True)
console = Console()
ALERTS_HELP = "file of apprise URLs to send alerts to (mode 600); SPREADHAWK_ALERTS may name more"


def register(app: typer.Typer) -> None:
    app.command()(paper)


def paper(
    config: Annotated[Path, typer.Argument(help="run config (TOML) with [[live]] feeds")],
    journal: Annotated[
        Path | None,
        typer.Option("--journal", help="journal file (default: journals/<config name>.journal); resumed if present"),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="stop after this many seconds (default: Ctrl-C or SIGTERM)")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: key.path=value (repeatable)")] = None,
    clock: Annotated[
        str, typer.Option("--clock", help="wall, or exchange: time follows the feed (an accelerated emulator replay)")
    ] = "wall",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    db: Annotated[
        str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
    ] = "spreadhawk.db",
    alerts: Annotated[Path | None, typer.Option("--alerts", help=ALERTS_HELP)] = None,
    api: ApiFlag = False,
    api_host: ApiHost = "127.0.0.1",
    api_port: ApiPort = 8470,
    api_tls_cert: ApiTlsCert = None,
    api_tls_key: ApiTlsKey = None,
    api_allow_host: ApiHosts = None,
    api_cors_origin: ApiOrigins = None,
    api_tokens: ApiTokensFile = None,
) -> None:
    """Paper-trade a config's strategies on live market data (simulated fills, real books)."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (--help must not wait for SQLAlchemy)

    from spreadhawk.cli.main import _store  # noqa: PLC0415 (main imports this module)
    from spreadhawk.runtime.config import ConfigError, load_config  # noqa: PLC0415
    from spreadhawk.runtime.paper_service import PaperService, live_feeds  # noqa: PLC0415

    if duration is not None and duration <= 0:
        fail(f"--duration must be positive, got {duration}")
    if clock not in ("wall", "exchange"):
        fail(f"--clock must be wall or exchange, got {clock!r}")
    try:
        run_config = load_config(config, set_ or [])
        path = journal or Path("journals") / f"{config.stem}.journal"
        dispatcher = alert_dispatcher(alerts)
        options = (
            api_options(api_host, api_port, api_tls_cert, api_tls_key, api_allow_host, api_cors_origin, api_tokens)
            if api
            else None
        )
        with _store(db) as store:
            companion = node_companion("paper", path, store, options) if options is not None else None
            outcome = PaperService(store).run(
                run_config,
                path,
                live_feeds,
                _stopper(duration),
                exchange_clock=clock == "exchange",
                alerts=dispatcher,
                companion=companion,
            )
    except ConfigError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except OSError as exc:
        fail(f"paper session: {exc}")
    _say(outcome, path, as_json)
    if outcome.differences:
        raise typer.Exit(3)


def alert_dispatcher(path: Path | None) -> AlertDispatcher | None:
    """A dispatcher to the destinations in ``SPREADHAWK_ALERTS`` and the file ``path`` (None: none named).
    A bad destination stops the command with a line naming where it is, never what it says."""
    from spreadhawk.alerts import AlertConfigError, AlertDispatcher, load_destinations  # noqa: PLC0415

    try:
        destinations = load_destinations(os.environ, path)
    except AlertConfigError as exc:
        fail(f"alerts: {exc}")
    if not destinations:
        return None
    errors.print(f"alerts to {escape(', '.join(d.described for d in destinations))}", highlight=False)
    return AlertDispatcher.from_destinations(destinations)


def _stopper(duration: float | None) -> Any:
    def arm(stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if duration is not None:
            loop.call_later(duration, stop.set)

    return arm


def _say(outcome: Any, journal: Path, as_json: bool) -> None:
    import json  # noqa: PLC0415

    if outcome.resumed_records:
        errors.print(f"resumed from {escape(str(journal))}: {outcome.resumed_records:,} journal records")
    for line in outcome.explained:
        errors.print(f"reconciled: {escape(line)}", highlight=False, soft_wrap=True)
    if outcome.differences:
        errors.print("[red]not trading:[/red] the journal and the venues disagree:")
        for line in outcome.differences:
            errors.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        errors.print(f"stored as run {outcome.run_id} (status failed); nothing was traded")
        return
    if outcome.run_id is None:
        errors.print("stopped before any market data arrived: nothing stored")
        return
    result = outcome.result
    for report in result.get("external_orders", []):
        errors.print(
            f"external order {escape(report['client_order_id'])}: {report['event_type']} {escape(report['detail'])} "
            "(not sent by this node; booked to the account)",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
        return
    console.print(
        f"paper session {result['run_id']}: {result['events_processed']:,} events, {result['orders']} orders, "
        f"{result['fills']} fills, PnL {result['pnl']} {result['valuation_currency']}\n"
        f"journal: {escape(str(journal))} (start again with the same journal to resume)",
        highlight=False,
        soft_wrap=True,
    )
