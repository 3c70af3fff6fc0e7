"""``spreadhawk live CONFIG``: trade a config's strategies on exchange accounts, until Ctrl-C or SIGTERM.

Refuses to start without ``--confirm-live`` (orders are real), with a key that can withdraw, or when
the journal and the exchange disagree (exit 3, every difference listed). ``--dry-run`` connects,
checks the keys and reconciles, prints the accounts and what would trade, and sends nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

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
from spreadhawk.cli.paper import ALERTS_HELP

errors = Console(stderr=True)
console = Console()


def register(app: typer.Typer) -> None:
    app.command()(live)


def live(
    config: Annotated[Path, typer.Argument(help="run config (TOML) whose live sections name key store accounts")],
    confirm_live: Annotated[
        bool, typer.Option("--confirm-live", help="required: you understand this sends real orders")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="connect, check keys, reconcile, print what would trade; send nothing")
    ] = False,
    acknowledge_external: Annotated[
        bool,
        typer.Option(
            "--acknowledge-external", help="trade beside orders and trades on the account this node did not make"
        ),
    ] = False,
    journal: Annotated[
        Path | None,
        typer.Option("--journal", help="journal file (default: journals/<config name>.live.journal); resumed"),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="stop after this many seconds (default: Ctrl-C or SIGTERM)")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override: key.path=value (repeatable)")] = None,
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
    """Trade live on exchange accounts (keys from `spreadhawk keys`); --dry-run to look first."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (--help must not wait for SQLAlchemy)

    from spreadhawk.cli.main import _store  # noqa: PLC0415 (main imports this module)
    from spreadhawk.cli.paper import _stopper, alert_dispatcher  # noqa: PLC0415
    from spreadhawk.runtime.config import ConfigError, load_config  # noqa: PLC0415
    from spreadhawk.runtime.live_service import LiveService  # noqa: PLC0415
    from spreadhawk.runtime.live_venues import keystore_credentials, live_venues  # noqa: PLC0415
    from spreadhawk.runtime.paper_service import live_feeds  # noqa: PLC0415

    if not confirm_live and not dry_run:
        fail("live trading sends real orders: add --confirm-live (or look first with --dry-run)")
    if duration is not None and duration <= 0:
        fail(f"--duration must be positive, got {duration}")
    try:
        run_config = load_config(config, set_ or [])
        credentials = keystore_credentials(run_config)

        def venues(cfg: Any, instruments: Any) -> Any:
            return live_venues(cfg, instruments, credentials)

        path = journal or Path("journals") / f"{config.stem}.live.journal"
        if dry_run:
            plan = LiveService.plan(run_config, path, live_feeds, venues, acknowledge_external=acknowledge_external)
            _say_plan(plan, as_json)
            if plan.differences:
                raise typer.Exit(3)
            return
        dispatcher = alert_dispatcher(alerts)
        options = (
            api_options(api_host, api_port, api_tls_cert, api_tls_key, api_allow_host, api_cors_origin, api_tokens)
            if api
            else None
        )
        with _store(db) as store:
            companion = node_companion("live", path, store, options) if options is not None else None
            service = LiveService(store)
            stopper = _stopper(duration)
            outcome, left_open = service.run(
                run_config,
                path,
                live_feeds,
                venues,
                stopper,
                acknowledge_external=acknowledge_external,
                alerts=dispatcher,
                companion=companion,
            )
    except ConfigError as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"run store: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except OSError as exc:
        fail(f"live session: {exc}")
    _say(outcome, left_open, path, as_json)
    if outcome.differences:
        raise typer.Exit(3)


def _say_plan(plan: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(plan.__dict__, sort_keys=True, default=str))
        return
    for name, account in plan.venues.items():
        held = ", ".join(f"{asset} {amount}" for asset, amount in account["balances"].items()) or "nothing"
        console.print(f"{escape(name)} ({account['exchange']}): holds {escape(held)}", highlight=False)
        console.print(f"  open orders: {escape(', '.join(account['open_orders']) or 'none')}", highlight=False)
        allowed = {k: v for k, v in account["permissions"].items() if k.startswith(("enable", "ipRestrict"))}
        console.print(f"  key permissions: {escape(json.dumps(allowed, sort_keys=True))}", highlight=False)
    console.print(f"would trade {', '.join(plan.instruments)} with strategies {', '.join(plan.strategies)}")
    for line in plan.explained:
        errors.print(f"reconciled: {escape(line)}", highlight=False, soft_wrap=True)
    if plan.differences:
        errors.print("[red]a live start would refuse:[/red] the journal and the exchanges disagree:")
        for line in plan.differences:
            errors.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    else:
        console.print("dry run: reconciled cleanly; nothing was sent")


def _say(outcome: Any, left_open: list[str], journal: Path, as_json: bool) -> None:
    for line in outcome.explained:
        errors.print(f"reconciled: {escape(line)}", highlight=False, soft_wrap=True)
    if outcome.differences:
        errors.print("[red]not trading:[/red] the journal and the exchanges disagree:")
        for line in outcome.differences:
            errors.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        errors.print(f"stored as run {outcome.run_id} (status failed); nothing was traded")
        return
    if left_open:
        errors.print(f"[red]still open at the exchange after the exit:[/red] {escape(', '.join(left_open))}")
    if outcome.run_id is None:
        errors.print("stopped before any market data arrived: nothing stored")
        return
    result = outcome.result
    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
        return
    console.print(
        f"live session {result['run_id']}: {result['events_processed']:,} events, {result['orders']} orders, "
        f"{result['fills']} fills, PnL {result['pnl']} {result['valuation_currency']}\n"
        f"journal: {escape(str(journal))} (start again with the same journal to resume)",
        highlight=False,
        soft_wrap=True,
    )
