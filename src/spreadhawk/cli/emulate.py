"""``spreadhawk emulate``: a local Binance exchange replaying the raw captures, until Ctrl-C.

Point ccxt at it with the ``urls`` override it prints (see ``BinanceEmulator.ccxt_urls``); inject
faults at start (``--fault gap:count=5,after=200``) or while it runs (``POST /emulator/fault``).
With ``--api-key KEY:SECRET`` (spot) it also takes orders: ``--balance USDT=10000``, ``--fee 0.001``;
order faults are armed with ``POST /emulator/order_fault`` and the truth is at ``GET /emulator/truth``.
With ``--proxy-port`` a fault proxy (R2: delay, blackhole, one-way drop, RST, close after N bytes) listens
there in front of the emulator; switch it with ``POST /emulator/proxy`` on the emulator's own port.
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
    from spreadhawk.venues.emulator import BinanceEmulator, Fault, TradingConfig

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
    api_keys: Annotated[
        list[str] | None,
        typer.Option("--api-key", help="KEY:SECRET accepted by the (spot) order endpoints (repeatable)"),
    ] = None,
    balances: Annotated[
        list[str] | None, typer.Option("--balance", help="ASSET=AMOUNT the account starts with (repeatable)")
    ] = None,
    fee: Annotated[float, typer.Option("--fee", min=0.0, help="maker and taker fee, e.g. 0.001")] = 0.001,
    proxy_port: Annotated[
        int | None,
        typer.Option("--proxy-port", min=0, max=65535, help="also serve through a fault proxy on this port"),
    ] = None,
    start_at: Annotated[
        str | None,
        typer.Option(
            "--start-at",
            help="stamp the replay's first message at this UTC time (ISO, e.g. 2025-12-11T11:00:42.371Z), "
            "to run beside a recording of that day",
        ),
    ] = None,
) -> None:
    """Replay Binance captures as a local exchange (REST + websocket) until Ctrl-C."""
    from spreadhawk.data.readers._common import DataFormatError  # noqa: PLC0415 (loaded when used)
    from spreadhawk.venues.emulator import BinanceEmulator, FaultError, Market, parse_fault  # noqa: PLC0415

    try:
        armed = [parse_fault(spec) for spec in faults or []]
        trading = _trading(api_keys or [], balances or [], fee)
        start_at_ms = _utc_ms(start_at) if start_at is not None else None
        emulator = BinanceEmulator.from_data_dir(
            data_dir,
            Market(market.value),
            [s.upper() for s in symbols or ["BTCUSDT"]],
            speed=speed,
            faults=armed,
            autostart=not wait,
            port=port,
            trading=trading,
            start_at_ms=start_at_ms,
        )
    except (FaultError, DataFormatError, ValueError) as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(emulator, armed, proxy_port))


def _utc_ms(text: str) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--start-at {text!r}: expected an ISO time, e.g. 2025-12-11T11:00:42.371Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the option says UTC
    return round(when.timestamp() * 1000)


def _trading(api_keys: list[str], balances: list[str], fee: float) -> TradingConfig | None:
    """The order side's configuration from the options; None (market data only) without an api key."""
    from decimal import Decimal, InvalidOperation  # noqa: PLC0415

    from spreadhawk.venues.emulator import ApiKey, TradingConfig  # noqa: PLC0415

    if not api_keys:
        if balances:
            raise ValueError("--balance needs an --api-key (the order endpoints are off without one)")
        return None
    keys = []
    for spec in api_keys:
        key, sep, secret = spec.partition(":")
        if not (sep and key and secret):
            raise ValueError(f"--api-key {spec!r}: expected KEY:SECRET")
        keys.append(ApiKey(key, secret))
    start: dict[str, str] = {}
    for spec in balances:
        asset, sep, amount = spec.partition("=")
        try:
            Decimal(amount)
        except InvalidOperation:
            sep = ""
        if not (sep and asset):
            raise ValueError(f"--balance {spec!r}: expected ASSET=AMOUNT, e.g. USDT=10000")
        start[asset.upper()] = amount
    return TradingConfig(tuple(keys), start, taker_fee=Decimal(str(fee)), maker_fee=Decimal(str(fee)))


async def _serve(emulator: BinanceEmulator, faults: list[Fault], proxy_port: int | None = None) -> None:
    from spreadhawk.venues.emulator.fault_proxy import FaultProxy, control_routes  # noqa: PLC0415

    proxy = FaultProxy(0, port=proxy_port) if proxy_port is not None else None  # upstream: once bound
    if proxy is not None:
        emulator.route_hooks.append(control_routes(proxy))
    try:
        await emulator.start()
        if proxy is not None:
            proxy.upstream = ("127.0.0.1", emulator.port)
            await proxy.start()
    except OSError as exc:
        await emulator.stop()  # the proxy's port may be the one taken: the emulator is up by then
        errors.print(f"[red]error:[/red] cannot listen on 127.0.0.1: {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None
    try:
        console.print(f"Binance {emulator.market} emulator: {emulator.http_url}  websocket {emulator.ws_url}")
        console.print(f"symbols: {', '.join(emulator.replay.symbols)}; faults armed: {len(faults)}")
        console.print("ccxt urls override: " + json.dumps(emulator.ccxt_urls()), soft_wrap=True, highlight=False)
        if proxy is not None:
            through = json.dumps(emulator.ccxt_urls()).replace(f":{emulator.port}/", f":{proxy.port}/")
            console.print(f"fault proxy: {proxy.url} (POST {emulator.http_url}/emulator/proxy to switch)")
            console.print("ccxt urls through the proxy: " + through, soft_wrap=True, highlight=False)
        console.print("Ctrl-C to stop")
        await asyncio.Event().wait()
    finally:
        if proxy is not None:
            await proxy.stop()
        await emulator.stop()
