"""The live driver: timers fire with no market data at all, never early; messages posted from another
thread are handled in order; a feed that fails stops the driver with its error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, MarketData, TradeTick
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.live import run_live
from spreadhawk.venues.recorded import RecordedFeed

INST = Instrument(
    "X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.001")
)


def test_a_timer_fires_on_time_with_no_market_data() -> None:
    engine = Engine([INST], clock=WallClock())
    fired: list[int] = []

    async def main() -> None:
        stop = asyncio.Event()
        due = engine.clock.now_ns() + 30_000_000

        def on_timer() -> None:
            fired.append(engine.clock.now_ns())
            stop.set()

        engine.schedule(due, on_timer)
        await asyncio.wait_for(run_live(engine, [RecordedFeed([])], stop), timeout=5)
        assert fired[0] >= due  # never early

    asyncio.run(main())
    assert len(fired) == 1


class ThreadFeed:
    """Posts from a thread of its own, as a websocket library with its own thread would."""

    def __init__(self, records: list[MarketData]) -> None:
        self.records = records

    async def run(self, post: Callable[[MarketData], None]) -> None:
        def post_all() -> None:
            for record in self.records:
                post(record)

        threading.Thread(target=post_all).start()
        await asyncio.Event().wait()

    async def close(self) -> None:
        """Nothing to release."""


def test_records_posted_from_another_thread_are_handled_in_order() -> None:
    engine = Engine([INST], clock=WallClock())
    seen: list[str] = []
    records: list[MarketData] = [
        TradeTick(InstrumentId(INST.id), i, 100_00 + i, 1_000, Aggressor.BUYER, f"t{i}") for i in range(1, 2001)
    ]

    async def main() -> None:
        stop = asyncio.Event()

        def on_trade(trade: TradeTick) -> None:
            seen.append(trade.trade_id)
            if len(seen) == len(records):
                stop.set()

        engine.bus.subscribe(TradeTick, on_trade)
        await asyncio.wait_for(run_live(engine, [ThreadFeed(records)], stop), timeout=10)

    asyncio.run(main())
    assert seen == [f"t{i}" for i in range(1, 2001)]


class FailingFeed:
    async def run(self, post: Callable[[MarketData], None]) -> None:
        raise ValueError("the exchange does not list BTC/USDT")

    async def close(self) -> None:
        """Nothing to release."""


def test_a_failing_feed_stops_the_driver_with_its_error() -> None:
    engine = Engine([INST], clock=WallClock())
    with pytest.raises(ValueError, match="does not list"):
        asyncio.run(asyncio.wait_for(run_live(engine, [FailingFeed()], asyncio.Event()), timeout=5))
