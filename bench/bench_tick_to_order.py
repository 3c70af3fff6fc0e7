"""Tick-to-order latency of a paper node, in process: from a websocket depth message arriving (ccxt has
read it off the socket) to the order it triggers reaching the venue port (``Venue.submit``).

A local websocket server, in a process of its own, speaks Binance's spot format (exchangeInfo, a REST
depth snapshot, then ``depthUpdate`` diffs, each changing the best bid) at a fixed rate; the real
``CcxtLiveFeed`` reads it
through ccxt; the live driver runs the engine; a strategy sends an IOC order on every ``--every``-th
update (far from the market: it is canceled, so balances never run out). Also printed: the time from
the server's send to the order, which adds loopback and ccxt's own parsing. Seed 004's target: p99
under 1 ms.

    uv run python bench/bench_tick_to_order.py            # 1,000 and 10,000 updates/s, 10 s each
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.events import OrderSide, SubmitOrder, TimeInForce
from spreadhawk.domain.market import BookDeltas
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.engine.live import run_live
from spreadhawk.engine.records import UnknownOrders
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.ccxt.feed import CcxtLiveFeed
from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.emulator.server import exchange_info_text
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cryptofeed" / "sample_data" / "BINANCE.0"
INSTRUMENT = binance_spot_btcusdt()


class Generator:
    """Binance spot, minimal: exchangeInfo, a depth snapshot, and diffs at ``rate`` per second; each
    diff carries its send time (``monotonic_ns``, comparable across processes) in an extra field."""

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate, self.seconds = rate, seconds

    def app(self) -> web.Application:
        app = web.Application()
        info = exchange_info_text(SAMPLE)

        async def exchange_info(_: web.Request) -> web.Response:
            return web.Response(text=info, content_type="application/json")

        app.router.add_get("/api/v3/exchangeInfo", exchange_info)
        app.router.add_get("/api/v3/depth", self._depth)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/ws/{n}", self._ws)
        return app

    async def _depth(self, _: web.Request) -> web.Response:
        body = {"lastUpdateId": 0, "bids": [["60000.00", "1.0"]], "asks": [["60010.00", "1.0"]]}
        return web.json_response(body)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        message = json.loads((await ws.receive()).data)
        await ws.send_str(json.dumps({"result": None, "id": message["id"]}))
        if any("depth" in p for p in message["params"]):
            await self._stream(ws)
        await ws.receive()  # until the client closes
        return ws

    async def _stream(self, ws: web.WebSocketResponse) -> None:
        start = time.perf_counter()
        n = 0
        total = int(self.rate * self.seconds)
        while n < total:
            due = int((time.perf_counter() - start) * self.rate) + 1
            while n < min(due, total):
                n += 1
                size = f"{1 + (n % 7) / 10:.1f}"
                diff = {"e": "depthUpdate", "E": int(time.time() * 1000), "s": "BTCUSDT", "U": n, "u": n,
                        "b": [["60000.00", size]], "a": [], "sent_ns": time.monotonic_ns()}  # fmt: skip
                await ws.send_str(json.dumps(diff))
            await asyncio.sleep(0.0005)
        await ws.send_str(json.dumps({"e": "depthUpdate", "E": 0, "s": "BTCUSDT", "U": -1, "u": -1, "b": [], "a": []}))


def serve(rate: int, seconds: float, port: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """The generator's process: serve until killed."""

    async def main() -> None:
        runner = web.AppRunner(Generator(rate, seconds).app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


class TimedFeed(CcxtLiveFeed):
    """The real feed, noting when each raw depth message reaches it (and when it was sent)."""

    arrived_ns: dict[int, int]
    sent_ns: dict[int, int]
    finished: asyncio.Event

    def _on_message(self, client: Any, message: Any) -> None:
        if isinstance(message, dict) and message.get("e") == "depthUpdate":
            if message["u"] == -1:
                self.finished.set()  # the generator's end marker: not a real diff
                return
            self.arrived_ns[int(message["u"])] = time.monotonic_ns()
            self.sent_ns[int(message["u"])] = int(message["sent_ns"])
        super()._on_message(client, message)


class TimedVenue(SimulatedVenue):
    def __init__(self) -> None:
        super().__init__("BINANCE", balances={"USDT": Decimal(10_000_000)})
        self.reached_ns: dict[str, int] = {}

    def submit(self, command: SubmitOrder) -> None:
        self.reached_ns[command.client_order_id] = time.monotonic_ns()
        super().submit(command)


class EveryNth(Strategy):
    def __init__(self, every: int) -> None:
        super().__init__(StrategyConfig(), "lat")
        self.every = every
        self.sequence_of: dict[str, int] = {}

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        if deltas.sequence % self.every == 0 and self.ctx.book(deltas.instrument_id).is_valid:
            order = self.ctx.submit(
                INSTRUMENT.id, OrderSide.BUY, Decimal("0.001"), price=Decimal("30000"), time_in_force=TimeInForce.IOC
            )
            self.sequence_of[order.client_order_id] = deltas.sequence


async def measure(port: int, every: int, journal: Journal) -> tuple[list[int], list[int], int]:
    engine = Engine([INSTRUMENT], clock=WallClock(), unknown_orders=UnknownOrders.ADOPT, journal=journal)
    venue = TimedVenue()
    connect_simulated(engine, venue)
    strategy = EveryNth(every)
    attach_strategy(engine, strategy)
    feed = TimedFeed("binance", [INSTRUMENT], urls=local_urls("binance", f"http://127.0.0.1:{port}"))
    feed.arrived_ns, feed.sent_ns, feed.finished = {}, {}, asyncio.Event()
    stop = asyncio.Event()

    async def stop_when_done() -> None:
        await feed.finished.wait()
        stop.set()

    stopper = asyncio.create_task(stop_when_done())
    await run_live(engine, [feed], stop)
    await stopper
    from_arrival, from_send = [], []
    for coid, sequence in strategy.sequence_of.items():
        reached = venue.reached_ns[coid]
        from_arrival.append(reached - feed.arrived_ns[sequence])
        from_send.append(reached - feed.sent_ns[sequence])
    return from_arrival, from_send, len(feed.arrived_ns)


def run_at(rate: int, seconds: float, every: int, synced: bool) -> tuple[list[int], list[int], int]:
    """One measurement against a generator process sending ``rate`` updates a second for ``seconds``:
    latencies (ns) from arrival and from the server's send to the venue, and updates received."""
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(rate, seconds, ports), daemon=True)
    server.start()
    with tempfile.TemporaryDirectory() as folder:
        # paper mode journals to a file and fsyncs before every order intent leaves
        journal = Journal(Path(folder) / "j", durability=Durability.SYNC_INTENTS) if synced else Journal()
        try:
            return asyncio.run(measure(ports.get(timeout=30), every, journal))
        finally:
            journal.close()
            server.kill()
            server.join()


def _quantiles(values: list[int]) -> str:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {cuts[49] / 1000:7.1f} µs   p99 {cuts[98] / 1000:7.1f} µs   max {max(values) / 1000:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=int, default=10, help="an order on every n-th update")
    parser.add_argument("--rates", type=int, nargs="*", default=[1_000, 10_000])
    args = parser.parse_args()
    if not SAMPLE.is_file():
        sys.exit(f"the recorded exchangeInfo is not at {SAMPLE.resolve()} (../shared/data)")
    for rate, synced in ((rate, synced) for synced in (False, True) for rate in args.rates):
        from_arrival, from_send, received = run_at(rate, args.seconds, args.every, synced)
        where = "journal file, fsync per intent (paper)" if synced else "journal in memory"
        print(f"{rate:>6,} updates/s, {where}: {received:,} received, {len(from_arrival):,} orders")
        print(f"   message arrived -> venue.submit   {_quantiles(from_arrival)}")
        print(f"   server send     -> venue.submit   {_quantiles(from_send)}")


if __name__ == "__main__":
    main()
