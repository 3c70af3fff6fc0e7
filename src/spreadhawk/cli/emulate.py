"""``spreadhawk emulate``: a local Binance exchange replaying the raw captures, until Ctrl-C.

Point ccxt at it with the ``urls`` override it prints (see ``BinanceEmulator.ccxt_urls``); inject
faults at start (``--fault gap:count=5,after=200``) or while it runs (``POST /emulator/fault``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from spreadhawk.venues.emulator import BinanceEmulator, Fault

errors = Console(stderr=True)
console = Console()


class MarketChoice(StrEnum):
    """The emulator's markets, named here so that ``spreadhawk --help`` need not load the emulator."""

    SPOT = "spot"
    USDM = "usdm"


def emulate(
    market: Annotated[
        MarketChoice, typer.Option("--market", help="spot (/api/v3) or usdm (/fapi/v1)")
    ] = MarketChoice.SPOT,
    symbols: Annotated[
        list[str] | None, typer.Option("--symbol", help="capture to replay, e.g. btcusdt (repeatable)")
    ] = None,
    speed: Annotated[float, typer.Option("--speed", min=0.0, help="replay speed; 0 = as fast as possible")] = 1.0,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="port on 127.0.0.1 (0: any free one)")] = 8765,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="the shared/data folder with hftbacktest/ and cryptofeed/")
    ] = Path("../shared/data"),
    faults: Annotated[
        list[str] | None, typer.Option("--fault", help="kind[:key=value,...], e.g. drop, gap:count=5 (repeatable)")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="start the replay on POST /emulator/start only")] = False,
) -> None:
    """Replay Binance captures as a local exchange (REST + websocket) until Ctrl-C."""
    from spreadhawk.data.readers._common import DataFormatError  # noqa: PLC0415 (loaded when used)
    from spreadhawk.venues.emulator import BinanceEmulator, FaultError, Market, parse_fault  # noqa: PLC0415

    try:
        armed = [parse_fault(spec) for spec in faults or []]
        emulator = BinanceEmulator.from_data_dir(
            data_dir,
            Market(market.value),
            [s.upper() for s in symbols or ["BTCUSDT"]],
            speed=speed,
            faults=armed,
            autostart=not wait,
            port=port,
        )
    except (FaultError, DataFormatError, ValueError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator, armed))


async def _serve(emulator: BinanceEmulator, faults: list[Fault]) -> None:
    try:
        await emulator.start()
    except OSError as exc:
        errors.print(f"[red]error:[/red] cannot listen on 127.0.0.1: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    try:
        console.print(f"Binance {emulator.market} emulator: {emulator.http_url}  websocket {emulator.ws_url}")
        console.print(f"symbols: {', '.join(emulator.replay.symbols)}; faults armed: {len(faults)}")
        console.print("ccxt urls override: " + json.dumps(emulator.ccxt_urls()), soft_wrap=True, highlight=False)
        console.print("Ctrl-C to stop")
        await asyncio.Event().wait()
    finally:
        await emulator.stop()
