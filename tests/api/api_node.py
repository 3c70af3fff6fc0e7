"""A paper node on the real Binance BTCUSDT capture, with the risk engine on and a resting probe bid,
and the API over it -- for the API's tests. The node runs in the test's event loop (as in
``paper --api``): requests go through ``httpx.ASGITransport`` into the same loop, between engine steps."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from spreadhawk.api.app import ApiSettings, create_app
from spreadhawk.api.auth import ApiTokens
from spreadhawk.api.control import NodeControl
from spreadhawk.api.node_api import NodeApiOptions, control_for, node_api
from spreadhawk.api.server import Listen
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.clock import SimClock
from spreadhawk.persistence.run_store import RunStore
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.paper import PaperNode, build_paper
from spreadhawk.venues.recorded import RecordedFeed

TOKENS = ApiTokens("r" * 40, "t" * 40)
READ = {"Authorization": f"Bearer {TOKENS.read}"}
TRADE = {"Authorization": f"Bearer {TOKENS.trade}"}
BASE = "http://127.0.0.1"


def node_config(shared_data: Path, tmp_path: Path, *, trade_every: int = 400) -> RunConfig:
    capture = shared_data / "hftbacktest" / "binance_spot" / "btcusdt_20240808.gz"
    text = f"""
[run]
valuation_currency = "USDT"

[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "hftbacktest"
instrument = "BINANCE:BTC/USDT"
path = "{capture}"

[[live]]
venue = "BINANCE"
exchange = "binance"
instruments = ["BINANCE:BTC/USDT"]

[venues.BINANCE]
latency_ms = 0
balances = {{ USDT = "100000", BTC = "0.01" }}

[risk]
enabled = true
losing_streak_pause = "off"  # the probe pays fees on every round trip: it would pause after three
losing_streak_review = "off"
kill_switch_db = "sqlite:///{tmp_path / "kill.db"}"

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
id = "probe"
params = {{ instrument_id = "BINANCE:BTC/USDT", trade_every = {trade_every}, quantity = "0.002", rest_bps = 5 }}
"""
    path = tmp_path / "api_node.toml"
    path.write_text(text)
    return load_config(path)


def tape(config: RunConfig, count: int) -> list[MarketData]:
    (source,) = load_feed(config).sources
    records: list[MarketData] = []
    for record in source:
        records.append(record)
        if len(records) == count:
            break
    return records


@dataclass
class Running:
    node: PaperNode
    control: NodeControl
    client: httpx.AsyncClient
    journal: Path

    async def settle(self) -> None:
        """Let the node handle everything posted and every timer due (a command's effects, or an order
        a test submitted from outside the loop: the driver is woken, as a message would wake it)."""
        self.node.engine.drain()  # the reports of an order submitted here, outside the driver's steps
        wake = self.node.engine.inbox.wake
        if wake is not None:
            wake()
        for _ in range(50):
            await asyncio.sleep(0)  # noqa: TID251 (a zero sleep yields to the loop; no time is read)
        while self.node.engine.inbox:
            await asyncio.sleep(0)  # noqa: TID251


@contextlib.asynccontextmanager
async def running_node(
    config: RunConfig, records: Sequence[MarketData], tmp_path: Path, store: RunStore | None = None
) -> AsyncIterator[Running]:
    """The node with the tape played through it, quiet and connected, the API in front of it."""
    feed = RecordedFeed(records)
    journal = tmp_path / "node.journal"
    node = build_paper(config, journal, lambda *_: [feed], clock=SimClock(records[0].ts_ns))
    control = control_for(node, "paper", journal)
    app = create_app(TOKENS, control=control, store=store)
    stop = asyncio.Event()
    run = asyncio.create_task(node.run(stop))
    await asyncio.wait_for(feed.finished.wait(), 60)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        running = Running(node, control, client, journal)
        await running.settle()
        try:
            yield running
        finally:
            stop.set()
            await asyncio.wait_for(run, 30)


class PacedFeed(RecordedFeed):
    """The tape at a pace a person can watch: ``per_second`` records a second of wall time."""

    def __init__(self, records: Sequence[MarketData], per_second: float) -> None:
        super().__init__(records)
        self._gap_s = 1 / per_second

    async def run(self, post: Callable[[MarketData], None]) -> None:
        for record in self._records:
            post(record)
            self.posted += 1
            await asyncio.sleep(self._gap_s)  # noqa: TID251 (paces the test's tape in wall time)
        self.finished.set()
        await asyncio.Event().wait()


class NodeThread:
    """A paper node and its API on a real socket, in a thread of its own (its own event loop), as
    ``spreadhawk paper --api`` runs them. ``stop()`` ends the session cleanly."""

    def __init__(
        self, config: RunConfig, records: Sequence[MarketData], tmp_path: Path, *, per_second: float | None = None
    ) -> None:
        self.feed: RecordedFeed = PacedFeed(records, per_second) if per_second else RecordedFeed(records)
        self.journal = tmp_path / "node.journal"
        self.node = build_paper(config, self.journal, lambda *_: [self.feed], clock=SimClock(records[0].ts_ns))
        self.control = control_for(self.node, "paper", self.journal)
        self.store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="api-node", daemon=True)

    def __enter__(self) -> NodeThread:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"the node did not start: {self._error!r}")
        return self

    def __exit__(self, *_: object) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self.store.close()
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            asyncio.run(self._session())
        except BaseException as exc:  # reported to the test by __enter__ / __exit__
            self._error = exc
            self._ready.set()

    async def _session(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # the tests present wrong tokens on purpose, many times: no 429 for them
        options = NodeApiOptions(TOKENS, Listen("127.0.0.1", self.port), ApiSettings(max_token_failures=10_000))
        async with node_api(self.control, self.store, options) as server:
            run = asyncio.create_task(self.node.run(self._stop))
            while not server.started:
                await asyncio.sleep(0.01)  # noqa: TID251 (waits for the test's server to listen)
            self._ready.set()
            await run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def resync(before: Sequence[MarketData]) -> BookSnapshot:
    """The snapshot a restarted feed fetches first: the book as the stream before it left it."""
    book = OrderBook(before[0].instrument_id)
    for record in before:
        if isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
    assert book.is_valid
    bids, asks = book.levels(BookSide.BID), book.levels(BookSide.ASK)
    return BookSnapshot(book.instrument_id, before[-1].ts_ns, book.sequence, tuple(bids), tuple(asks))
