"""``spreadhawk emulate-polymarket``: a local Polymarket CLOB replaying a recorded session, until Ctrl-C.

Source: a collector folder (``--collector .../caiooooo_l2_collector/15m/sol``, the default) or a
session file of the ``polymarket`` [[data]] format with its markets file (``--session`` and
``--markets``, what ``spreadhawk record`` writes). It prints the REST base (a py-clob-client
``ClobClient(host)``), the market websocket and the token ids to subscribe to. With ``--wallet
ADDRESS=USDC`` it also takes orders from that wallet (``trading_plug``: L1/L2 auth, matching against
the replayed books, the user channel).
"""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from spreadhawk.venues.polymarket_emulator import PolymarketEmulator

__all__ = ["emulate_polymarket", "register"]

errors = Console(stderr=True)
console = Console()
DEFAULT_COLLECTOR = Path("../shared/data/polymarket_series/caiooooo_l2_collector/15m/sol")


class Updates(StrEnum):
    PRICE_CHANGE = "price_change"
    BOOK = "book"


def emulate_polymarket(
    collectors: Annotated[
        list[Path] | None,
        typer.Option("--collector", help="a collector folder (length/asset), e.g. .../15m/sol (repeatable)"),
    ] = None,
    session: Annotated[
        Path | None, typer.Option("--session", help="a recorded session file (polymarket [[data]] format)")
    ] = None,
    markets: Annotated[
        Path | None, typer.Option("--markets", help="the session's markets file (CLOB /markets page or Gamma)")
    ] = None,
    winner: Annotated[str, typer.Option("--winner", help="collector: the resolution, Up or Down")] = "",
    updates: Annotated[
        Updates, typer.Option("--updates", help="collector: later books as price_change diffs, or as book")
    ] = Updates.PRICE_CHANGE,
    speed: Annotated[float, typer.Option("--speed", min=0.0, help="replay speed; 0 = as fast as possible")] = 1.0,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port on 127.0.0.1 (0: any free one)")] = 8767,
    wait: Annotated[bool, typer.Option("--wait", help="start the replay on POST /emulator/start only")] = False,
    wallets: Annotated[
        list[str] | None,
        typer.Option("--wallet", help="ADDRESS=USDC: take orders (L1/L2 auth) and fund this wallet (repeatable)"),
    ] = None,
) -> None:
    """Replay a recorded Polymarket session as a local CLOB (REST + market websocket) until Ctrl-C."""
    from spreadhawk.venues.polymarket_emulator import PolymarketEmulator, SessionError  # noqa: PLC0415

    options = {"speed": speed, "port": port, "autostart": not wait}
    try:
        if session is not None or markets is not None:
            if session is None or markets is None or collectors:
                raise SessionError("give --session and --markets together (and no --collector)")
            emulator = PolymarketEmulator.from_session_file(session, markets, **options)
        elif collectors and len(collectors) > 1:
            if winner:
                raise SessionError("--winner is for one --collector; several are resolved from their recordings")
            emulator = PolymarketEmulator.from_collectors(collectors, updates=updates.value, **options)
        else:
            folder = collectors[0] if collectors else DEFAULT_COLLECTOR
            emulator = PolymarketEmulator.from_collector(folder, winner=winner, updates=updates.value, **options)
        if wallets:
            from spreadhawk.venues.polymarket_emulator.trading_plug import plug_trading  # noqa: PLC0415

            plug_trading(emulator, _wallets(wallets))
    except (SessionError, ValueError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator))


def _wallets(specs: list[str]) -> dict[str, Decimal]:
    funded: dict[str, Decimal] = {}
    for spec in specs:
        address, sep, amount = spec.partition("=")
        try:
            usdc = Decimal(amount)
        except InvalidOperation:
            sep = ""
        if not (sep and address.startswith("0x") and len(address) == 42 and usdc >= 0):
            raise ValueError(f"--wallet {spec!r}: expected ADDRESS=USDC, e.g. 0xAbC...(40 hex digits)=1000")
        funded[address] = usdc
    return funded


async def _serve(emulator: PolymarketEmulator) -> None:
    try:
        await emulator.start()
    except OSError as exc:
        errors.print(f"[red]error:[/red] cannot listen on 127.0.0.1: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    try:
        console.print(f"Polymarket CLOB emulator: REST {emulator.http_url}  (py-clob-client: ClobClient(host))")
        console.print(f"market websocket: {emulator.ws_url}", highlight=False)
        for market in emulator.markets.values():
            tokens = ", ".join(f"{t['outcome']}={t['token_id']}" for t in market["tokens"])
            console.print(f"{market.get('market_slug') or market['condition_id']}: {tokens}", highlight=False)
        console.print(f"{len(emulator.session.events)} messages to replay; Ctrl-C to stop", highlight=False)
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def register(app: typer.Typer) -> None:
    app.command("emulate-polymarket")(emulate_polymarket)
