"""``spreadhawk record``: record the Polymarket market channel (and the Binance reference) for a while.

Writes into ``--out``: ``polymarket-session.jsonl`` and ``polymarket-markets.json`` (the ``polymarket``
[[data]] format: ``path`` and ``markets_file``) and ``binance/<symbol>.gz`` (the ``hftbacktest``
format), each line flushed as written (see ``runtime.recorder``). Point it at the live services (the
defaults) or at local emulators (``spreadhawk emulate-polymarket``, ``spreadhawk emulate``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["record", "register"]

errors = Console(stderr=True)
console = Console()
LIVE_POLYMARKET_WS = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
LIVE_POLYMARKET_REST = "https://clob.polymarket.com"
LIVE_BINANCE_WS = "wss://stream.binance.com:9443/ws"


def record(
    out: Annotated[Path, typer.Option("--out", help="folder to write the recording into (created)")],
    duration: Annotated[float, typer.Option("--duration", min=0.1, help="seconds to record")],
    markets: Annotated[
        list[str] | None, typer.Option("--market", help="Polymarket condition id to record (repeatable)")
    ] = None,
    streams: Annotated[
        list[str] | None,
        typer.Option("--binance-stream", help="Binance stream to record, e.g. btcusdt@bookTicker (repeatable)"),
    ] = None,
    polymarket_ws: Annotated[str, typer.Option("--polymarket-ws", help="market channel URL")] = LIVE_POLYMARKET_WS,
    polymarket_rest: Annotated[str, typer.Option("--polymarket-rest", help="CLOB REST base")] = LIVE_POLYMARKET_REST,
    binance_ws: Annotated[str, typer.Option("--binance-ws", help="Binance websocket URL")] = LIVE_BINANCE_WS,
) -> None:
    """Record the Polymarket market channel of some markets and Binance reference streams for a while."""
    import aiohttp  # noqa: PLC0415 (loaded when used)

    from spreadhawk.runtime.recorder import RecordError, record_binance, record_polymarket  # noqa: PLC0415

    if not markets and not streams:
        errors.print("[red]error:[/red] nothing to record: give --market and/or --binance-stream", highlight=False)
        raise typer.Exit(2)
    session, markets_file = out / "polymarket-session.jsonl", out / "polymarket-markets.json"

    async def both() -> list[Any]:
        jobs = []
        if markets:
            jobs.append(record_polymarket(polymarket_ws, polymarket_rest, markets, session, markets_file, duration))
        if streams:
            (out / "binance").mkdir(exist_ok=True)
            jobs.append(record_binance(binance_ws, streams, out / "binance", duration))
        return list(await asyncio.gather(*jobs))

    try:
        out.mkdir(parents=True, exist_ok=True)
        results = asyncio.run(both())
    except (RecordError, OSError, aiohttp.ClientError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc) or type(exc).__name__)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    for result in results:
        for path in result.paths:
            console.print(f"wrote {path}", highlight=False)
        console.print(f"  {result.messages} messages, {result.reconnects} reconnects", highlight=False)
    if markets:
        console.print(
            f'[[data]]\nformat = "polymarket"\npath = "{session}"\nmarkets_file = "{markets_file}"',
            highlight=False,
            markup=False,
        )
    for result in results[1:] if markets else results:  # the Binance captures: one [[data]] per symbol
        for path in result.paths:
            snippet = f'[[data]]\nformat = "hftbacktest"\ninstrument = "BINANCE:<BASE>/<QUOTE>"\npath = "{path}"'
            console.print(snippet, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("record")(record)
