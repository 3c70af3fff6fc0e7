"""RELIABILITY.md scenario 20: an alert channel that is down, hangs, or answers 429 leaves trading
latency unchanged.

The destination is a real HTTP server on 127.0.0.1 reached through apprise: healthy (200), hanging
(accepts, reads, never answers) or flood-controlled (429 with ``retry_after``). What the trading path
pays for alerts is the time the engine spends in the router's bus handler; it is measured over 1,000
fills in each case and must stay in microseconds whatever the destination does. The queue stays
bounded (the least severe dropped and counted). End to end, a session with alerts to a hanging
destination decides exactly what the same session decides without alerts: a synthetic session with
every kind of alert, and a paper node on the real Binance capture.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from alert_server import StubServer, stub_server
from trading_loop import SPOT, T0, outcome, run_session

from spreadhawk.alerts import AlertDispatcher, AlertSettings, ChannelLimits, attach_alerts, load_destinations
from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import MARKET_DATA, Engine
from spreadhawk.engine.live import LiveFeed
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.paper import PaperNode, build_paper
from spreadhawk.strategy.library.book_probe import BookProbe
from spreadhawk.venues.recorded import RecordedFeed

FILLS = 1_000
QUEUE = 100


def dispatcher_to(server: StubServer, *, queue_size: int = 1000) -> AlertDispatcher:
    settings = AlertSettings(
        queue_size=queue_size,
        window_s=0.2,
        channel=ChannelLimits(per_minute=600, burst=5, backoff_s=0.1, max_attempts=3, send_timeout_s=0.5),
        connect_timeout_s=1.0,
        read_timeout_s=2.0,
        close_timeout_s=0.5,
        poll_s=0.02,
    )
    destinations = load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": server.url()})
    return AlertDispatcher.from_destinations(destinations, settings)


def fill(n: int) -> OrderFilled:
    d = Decimal
    cid = ClientOrderId(f"a.s-{n}")
    return OrderFilled(
        T0 + n, cid, "v", f"t-{n}", SPOT.id, OrderSide.BUY, d("0.01"), d("100.5"), d(0), "USDT", Liquidity.TAKER
    )


@dataclass(frozen=True)
class Latency:
    mode: str
    p50_us: float
    p99_us: float
    max_us: float
    peak_queue: int
    dropped: int
    requests: int
    sent: int
    failed: int

    def __str__(self) -> str:
        return (
            f"{self.mode:>7}: p50 {self.p50_us:6.2f} µs, p99 {self.p99_us:7.2f} µs, max {self.max_us:8.1f} µs; "
            f"queue peak {self.peak_queue}, dropped {self.dropped}, requests {self.requests}, sent {self.sent}, "
            f"failed {self.failed}"
        )


def handler_latency(mode: str, fills: int = FILLS) -> Latency:
    """The time the engine spends publishing each fill to the router (its only listener here), while
    the destination is busy being healthy, hanging or refusing."""
    with stub_server(mode) as server:
        dispatcher = dispatcher_to(server, queue_size=QUEUE)
        engine = Engine([SPOT])
        attach_alerts(engine, dispatcher)
        publish = engine.bus.publish
        publish(fill(-1), key="s")
        server.wait_for(1)  # the destination is in its state now: answering, holding the request, or refusing
        events = [fill(n) for n in range(fills)]
        spent: list[int] = []
        peak = 0
        clock = time.perf_counter_ns
        for n, event in enumerate(events):
            started = clock()
            publish(event, key="s")
            spent.append(clock() - started)
            peak = max(peak, len(dispatcher.queue))
            if n % 20 == 19:
                time.sleep(0.002)  # a live session's pace: the worker and the destination run meanwhile
        dispatcher.close(0.3)
        stats = dispatcher.stats()
        requests = len(server.received)
    quantiles = statistics.quantiles(spent, n=100)
    return Latency(
        mode,
        quantiles[49] / 1e3,
        quantiles[98] / 1e3,
        max(spent) / 1e3,
        peak,
        sum(stats.dropped.values()),
        requests,
        stats.sent,
        stats.failed + stats.timeouts,
    )


def test_a_hanging_or_flood_controlled_channel_leaves_the_trading_path_as_fast_as_a_healthy_one() -> None:
    handler_latency("ok", fills=200)  # warm up the interpreter's caches
    healthy, hanging, refused = (handler_latency(mode) for mode in ("ok", "hang", "429"))
    print("\n" + "\n".join(str(m) for m in (healthy, hanging, refused)))
    for measured in (healthy, hanging, refused):
        assert measured.p99_us < 1_000, measured  # never a wait on the destination: microseconds
        assert measured.peak_queue <= QUEUE, measured  # bounded
        assert measured.dropped > 0, measured  # the burst overflowed it, and it was counted
    for bad in (hanging, refused):
        assert bad.p50_us <= 2 * healthy.p50_us + 5, (bad, healthy)
        assert bad.p99_us <= 2 * healthy.p99_us + 100, (bad, healthy)
        assert bad.sent == 0, bad  # the destination really was failing meanwhile
    assert healthy.sent >= 2
    assert hanging.requests >= 1  # one request held open
    assert refused.requests >= 2  # refused and retried
    assert refused.failed >= 2


def test_a_session_alerting_a_hanging_channel_decides_exactly_what_it_decides_without_alerts() -> None:
    started = time.perf_counter()
    plain = run_session()
    plain_s = time.perf_counter() - started
    with stub_server("hang") as server:
        dispatcher = dispatcher_to(server)
        started = time.perf_counter()
        alerted = run_session(dispatcher)
        alerted_s = time.perf_counter() - started
        received = server.wait_for(1)
        dispatcher.close(0.3)
    assert outcome(alerted) == outcome(plain)  # fills, orders, positions, balances, risk records, equity
    assert len(alerted.engine.fills) > 100
    assert received  # alerts were sent (and never answered)
    assert dispatcher.stats().messages >= 6  # fills, the feed, the loss limit, the breaker, the mode, the kill switch
    assert alerted_s < 3 * plain_s + 0.5


# ------------------------------------------------------------------------------ a paper node, real data
RECORDS = 24_000


def probe_config(shared_data: Path, tmp_path: Path) -> RunConfig:
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
balances = {{ USDT = "100000", BTC = "1" }}

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
id = "probe"
params = {{ instrument_id = "BINANCE:BTC/USDT", trade_every = 1500, quantity = "0.002" }}
"""
    path = tmp_path / "probe.toml"
    path.write_text(text)
    return load_config(path)


def run_paper(
    config: RunConfig, journal: Path, records: Sequence[MarketData], alerts: AlertDispatcher | None
) -> PaperNode:
    def feeds(_: RunConfig, __: dict[object, Instrument]) -> list[LiveFeed]:
        return [RecordedFeed(records)]

    node = build_paper(config, journal, feeds, clock=SimClock(records[0].ts_ns), alerts=alerts)  # type: ignore[arg-type]
    handled = 0
    stop = asyncio.Event()

    def on_message(message: object) -> None:
        nonlocal handled
        if isinstance(message, MARKET_DATA):
            handled += 1
            if handled == len(records):
                stop.set()

    asyncio.run(asyncio.wait_for(node.run(stop, on_message=on_message), timeout=120))
    return node


@pytest.mark.real_data
def test_a_paper_node_alerting_a_hanging_channel_trades_as_one_without_alerts(
    shared_data: Path, tmp_path: Path
) -> None:
    config = probe_config(shared_data, tmp_path)
    (source,) = load_feed(config).sources
    records: list[MarketData] = []
    for record in source:
        records.append(record)
        if len(records) == RECORDS:
            break
    plain = run_paper(config, tmp_path / "plain.journal", records, None)
    with stub_server("hang") as server:
        dispatcher = dispatcher_to(server)
        alerted = run_paper(config, tmp_path / "alerted.journal", records, dispatcher)
        assert server.received  # the first fill's alert went out, and hangs
    (probe,), (alerted_probe,) = plain.strategies, alerted.strategies
    assert isinstance(probe, BookProbe)
    assert isinstance(alerted_probe, BookProbe)
    assert len(probe.fills) > 10
    assert alerted_probe.fills == probe.fills
    assert alerted_probe.fingerprints == probe.fingerprints
    assert alerted.engine.portfolio.ledger.venue_balances("BINANCE") == plain.engine.portfolio.ledger.venue_balances(
        "BINANCE"
    )
    assert not dispatcher.running  # the node closed it on the way out
    assert dispatcher.stats().messages >= 2  # the first fill at once, the rest in digests
