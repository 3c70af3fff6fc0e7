"""Decision-to-order latency through the ccxt adapter (``CcxtVenue``) to the Binance emulator on 127.0.0.1.

From ``engine.submit`` (a strategy's decision, made inside the live driver's loop) to the order request
leaving the process (aiohttp has written the request: its ``on_request_chunk_sent`` trace hook), and to the
ack (the venue's ``OrderAccepted`` handled by the engine). Orders go one at a time: a LIMIT IOC buy far below
the market, which the emulator accepts and expires at once, so balances never move.

Where the time goes, per order (perf_counter_ns marks from wrappers put on the ccxt client's instance
after ``CcxtVenue.start`` -- venue.py itself is not touched):

    decision -> create_order called      ours: engine + risk checks, venue.submit, task switch, create_request
    create_order -> fetch called         ccxt: request building (market, precision, params) and ``sign``
    guards                               ours: the host limiter's ``acquire``, ``on_answer`` and ``ban_remaining``
                                         (client.py), which GuardedBinance runs inside ccxt's fetch
    ccxt fetch + aiohttp                 the rest of fetch: headers, writing the request; body read, JSON
    request sent -> response headers     network + the emulator (another process)
    fetch returned -> create_order ret.  ccxt: ``parse_order`` and what surrounds it
    create_order returned -> ack handled ours: report mapping, inbox, engine applies OrderAccepted

    uv run python bench/bench_live_order.py --orders 500
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.events import OrderAccepted, OrderExpired, OrderSide, OrderType, SubmitOrder, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.live import run_live
from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig
from spreadhawk.venues.emulator.rate_limits import RateLimitConfig

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
INSTRUMENT = binance_spot_btcusdt()
KEY, SECRET = "bench-key", "bench-secret"
MARKS = ("submit", "create", "sign0", "sign1", "fetch", "acq0", "acq1", "sent", "headers", "ans0", "ans1",
         "ban0", "ban1", "fetched", "parse0", "parse1", "created", "ack")  # fmt: skip


def _span(start: str, end: str) -> Callable[[dict[str, int]], int]:
    return lambda o: o[end] - o[start]


def _guards(o: dict[str, int]) -> int:
    return (o["acq1"] - o["acq0"]) + (o["ans1"] - o["ans0"]) + (o["ban1"] - o["ban0"])


def _ccxt_fetch(o: dict[str, int]) -> int:
    """ccxt's fetch and aiohttp on both sides of the wire, less the guards run inside them."""
    return (o["sent"] - o["fetch"]) + (o["fetched"] - o["headers"]) - _guards(o)


# (label, whose time, duration of one order); the owned ones add up to decision -> ack.
SEGMENTS: tuple[tuple[str, str | None, Callable[[dict[str, int]], int]], ...] = (
    ("decision -> create_order called", "ours", _span("submit", "create")),
    ("create_order -> fetch (build+sign)", "ccxt", _span("create", "fetch")),
    ("  of which sign()", None, _span("sign0", "sign1")),
    ("guards: limiter acquire/on_answer/ban", "ours", _guards),
    ("ccxt fetch + aiohttp, both ways", "ccxt+aiohttp", _ccxt_fetch),
    ("request sent -> response headers", "network+emulator", _span("sent", "headers")),
    ("fetch returned -> create_order ret.", "ccxt", _span("fetched", "created")),
    ("  of which parse_order()", None, _span("parse0", "parse1")),
    ("create_order ret. -> ack handled", "ours", _span("created", "ack")),
)


def serve(data_dir: Path, ports: Any, stop: Any) -> None:
    """The emulator's process (spot, trading on), until ``stop`` is set."""

    async def main() -> None:
        trading = TradingConfig((ApiKey(KEY, SECRET),), {"USDT": "1000000", "BTC": "5"})
        # Limits far above the recorded 50 orders / 10 s: the bench sends as fast as acks come back and
        # measures latency, not the venue's (and the client limiter's) pacing.
        limits = RateLimitConfig(weight=1_000_000, orders_10s=1_000_000)
        emulator = BinanceEmulator.from_data_dir(
            data_dir, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False, trading=trading, rate_limits=limits
        )
        async with emulator:
            ports.put(emulator.port)
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(main())


class Marks:
    """perf_counter_ns marks of the order in flight (orders go one at a time)."""

    def __init__(self) -> None:
        self.now: dict[str, int] = {}
        self.orders: list[dict[str, int]] = []

    def mark(self, name: str) -> None:
        self.now.setdefault(name, time.perf_counter_ns())  # the first one: a retry would not overwrite it

    def wrap(self, target: Any, method: str, before: str, after: str) -> None:
        inner = getattr(target, method)
        if asyncio.iscoroutinefunction(inner):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                self.mark(before)
                result = await inner(*args, **kwargs)
                self.mark(after)
                return result

            setattr(target, method, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                self.mark(before)
                result = inner(*args, **kwargs)
                self.mark(after)
                return result

            setattr(target, method, timed)


def _trace(marks: Marks) -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()

    async def sent(*_: Any) -> None:
        marks.mark("sent")

    async def headers(*_: Any) -> None:
        marks.mark("headers")

    trace.on_request_chunk_sent.append(sent)
    trace.on_request_headers_sent.append(sent)  # a POST without a body sends no chunk
    trace.on_request_end.append(headers)
    return trace


async def measure(port: int, orders: int, warmup: int) -> list[dict[str, int]]:
    engine = Engine([INSTRUMENT], clock=WallClock())
    venue = CcxtVenue(INSTRUMENT.venue, "binance", [INSTRUMENT], api_key=KEY, api_secret=SECRET,
                      urls=local_urls("binance", f"http://127.0.0.1:{port}"))  # fmt: skip
    engine.add_venue(venue)
    marks = Marks()
    done = asyncio.Event()
    waiting = SimpleNamespace(cid=None)

    def on_message(message: object) -> None:
        if getattr(message, "client_order_id", None) != waiting.cid:
            return
        if isinstance(message, OrderAccepted):
            marks.mark("ack")
        if isinstance(message, OrderExpired):
            done.set()

    stop = asyncio.Event()
    await venue.start()
    exchange = venue.exchange
    # ccxt's REST session, replaced by one that reports when the request is written (the old one still
    # carries the user stream: closed at the end).
    old_session = exchange.session
    exchange.session = aiohttp.ClientSession(trace_configs=[_trace(marks)])
    for method, before, after in (
        ("create_order", "create", "created"),
        ("sign", "sign0", "sign1"),
        ("fetch", "fetch", "fetched"),
        ("parse_order", "parse0", "parse1"),
    ):
        marks.wrap(exchange, method, before, after)
    # The client's guards (GuardedBinance: host limiter, breaker) run inside ccxt's fetch: timed apart.
    limiter = exchange.limiter(f"127.0.0.1:{port}")
    marks.wrap(limiter, "acquire", "acq0", "acq1")
    marks.wrap(limiter, "on_answer", "ans0", "ans1")
    marks.wrap(limiter, "ban_remaining", "ban0", "ban1")
    driver = asyncio.create_task(run_live(engine, [], stop, on_message=on_message))
    try:
        while not venue.stream_live:  # submits are refused until the user stream is live and caught up
            await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
        price = Decimal("30000")  # far below the 2024-08-08 book (about 61,800): the IOC expires
        for n in range(warmup + orders):
            cid = ClientOrderId(f"lat-{n}")
            command = SubmitOrder(engine.clock.now_ns(), cid, "bench", INSTRUMENT.id, OrderSide.BUY, OrderType.LIMIT,
                                  Decimal("0.001"), price, time_in_force=TimeInForce.IOC)  # fmt: skip
            waiting.cid, marks.now = cid, {}
            done.clear()
            marks.mark("submit")
            engine.submit(command)
            await asyncio.wait_for(done.wait(), 10)
            if n >= warmup:
                marks.orders.append(marks.now)
    finally:
        stop.set()
        await driver
        await venue.close()
        await old_session.close()
    return marks.orders


def _q(values: list[int]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49] / 1000, cuts[98] / 1000


def report(orders: list[dict[str, int]], out: Callable[[str], None] = print) -> None:
    missing = {name for o in orders for name in MARKS if name not in o}
    if missing:
        out(f"note: marks never seen: {', '.join(sorted(missing))}")
    sent = [o["sent"] - o["submit"] for o in orders]
    acked = [o["ack"] - o["submit"] for o in orders]
    out(f"{len(orders)} orders, one at a time (LIMIT IOC, expired at once), emulator in another process")
    out(f"   decision -> request sent    p50 {_q(sent)[0]:8.1f} µs   p99 {_q(sent)[1]:8.1f} µs")
    out(f"   decision -> ack handled     p50 {_q(acked)[0]:8.1f} µs   p99 {_q(acked)[1]:8.1f} µs")
    out("   where the time goes (per-order segments):                p50 µs     p99 µs   share of mean")
    mean_total = statistics.fmean(acked)
    shares: dict[str, float] = {}
    for label, owner, duration in SEGMENTS:
        values = [duration(o) for o in orders]
        p50, p99 = _q(values)
        share = statistics.fmean(values) / mean_total
        if owner is not None:
            shares[owner] = shares.get(owner, 0.0) + share
        out(f"     {label:<38} {owner or '':<19} {p50:8.1f}   {p99:8.1f}   {100 * share:5.1f} %")
    out("   shares of the mean decision -> ack: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in shares.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    if not (DATA / "hftbacktest").is_dir():
        sys.exit(f"the recordings are not at {DATA.resolve()} (../shared/data)")
    ports: Any = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(DATA, ports, stop), daemon=True)
    server.start()
    try:
        orders = asyncio.run(measure(ports.get(timeout=120), args.orders, args.warmup))
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.kill()
    report(orders)


if __name__ == "__main__":
    main()
