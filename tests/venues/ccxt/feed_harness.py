"""Runs a CcxtLiveFeed against the Binance emulator on 127.0.0.1 and checks what it posted against the
same capture replayed offline (hftbacktest reader + domain OrderBook): an independent path."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from spreadhawk.data.readers import read_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, FeedState, FeedStatus, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.ccxt import CcxtLiveFeed, FeedCounts
from spreadhawk.venues.emulator import BinanceEmulator, Fault, FiredFault, Market

Top = tuple[list[tuple[int, int]], list[tuple[int, int]]]
MARKETS = {
    Market.SPOT: ("binance", binance_spot_btcusdt, "binance_spot/btcusdt_20240808.gz"),
    Market.USDM: ("binanceusdm", binance_usdm_btcusdt, "binance_usdm_futures/btcusdt_20240808.gz"),
}
SPEED = 20.0  # replay speed: spot diffs every 5 ms, futures more often
STALENESS_S = 1.0  # well above a loaded machine's pauses (0.66 s seen in CI), well below the faults' 2 s
RUN_LIMIT_S = 8.0  # hard bound of one feed run


@dataclass
class FeedRun:
    instrument: Instrument
    capture: Path
    market: Market
    records: list[MarketData] = field(default_factory=list)
    fired: list[FiredFault] = field(default_factory=list)
    counts: FeedCounts | None = None
    fault_index: int | None = None  # len(records) when the fault was armed

    def diffs(self) -> int:
        return sum(isinstance(r, BookDeltas) for r in self.records)

    def statuses(self) -> list[tuple[int, FeedStatus]]:
        return [(i, r) for i, r in enumerate(self.records) if isinstance(r, FeedStatus)]


def top(book: OrderBook) -> Top:
    return book.levels(BookSide.BID, 10), book.levels(BookSide.ASK, 10)


@lru_cache(maxsize=2)
def _offline_records(capture: Path, market: Market) -> tuple[MarketData, ...]:
    return tuple(r for r in read_hftbacktest(capture, MARKETS[market][1]()) if isinstance(r, BookSnapshot | BookDeltas))


def offline_tops(capture: Path, market: Market, update_ids: set[int]) -> dict[int, Top]:
    """Top 10 levels of the capture replayed offline at each of ``update_ids``."""
    book = OrderBook(MARKETS[market][1]().id)
    found: dict[int, Top] = {}
    for record in _offline_records(capture, market):
        if isinstance(record, BookSnapshot) and record.sequence in update_ids:
            alone = OrderBook(book.instrument_id)  # the recorded snapshot, before its buffered diffs
            alone.apply_snapshot(record)
            found[record.sequence] = top(alone)
        book.apply(record)  # type: ignore[arg-type]
        if book.is_valid and book.sequence in update_ids:
            found[book.sequence] = top(book)
            if len(found) == len(update_ids):
                break
    return found


def run_feed(
    shared_data: Path,
    market: Market = Market.SPOT,
    *,
    fault: Fault | None = None,
    warmup_diffs: int = 30,
    done: Callable[[FeedRun], bool] | None = None,
) -> FeedRun:
    """Feed until ``warmup_diffs`` diffs are posted, arm ``fault``, then feed until ``done`` (default: 60
    more diffs after the last status); every phase bounded by ``RUN_LIMIT_S``."""
    exchange_id, make_instrument, relative = MARKETS[market]
    result = FeedRun(make_instrument(), shared_data / "hftbacktest" / relative, market)
    finished = done or _settled

    async def scenario() -> None:
        emulator = BinanceEmulator.from_data_dir(shared_data, market, ["BTCUSDT"], speed=SPEED)
        async with emulator:
            feed = CcxtLiveFeed(
                exchange_id,
                [result.instrument],
                urls=emulator.ccxt_urls(),
                staleness_s=STALENESS_S,
                backoff_initial_s=0.05,
                backoff_max_s=0.2,
            )
            task = asyncio.get_running_loop().create_task(feed.run(result.records.append))
            try:
                deadline = time.monotonic() + RUN_LIMIT_S
                while result.diffs() < warmup_diffs and time.monotonic() < deadline and not task.done():
                    await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
                if fault is not None:
                    result.fault_index = len(result.records)
                    emulator.inject(fault)
                deadline = time.monotonic() + RUN_LIMIT_S
                while not finished(result) and time.monotonic() < deadline and not task.done():
                    await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await feed.close()
            result.fired = list(emulator.replay.fired)
            result.counts = feed.counts(result.instrument.id)

    asyncio.run(scenario())
    return result


def _settled(run: FeedRun) -> bool:
    statuses = run.statuses()
    after = statuses[-1][0] if statuses and run.fault_index is not None and statuses[-1][0] >= run.fault_index else None
    if run.fault_index is not None and after is None:
        return False
    start = after if after is not None else 0
    return sum(isinstance(r, BookDeltas) for r in run.records[start:]) >= 60


@dataclass
class Replayed:
    """The posted records applied as the engine does (a non-LIVE FeedStatus invalidates the book)."""

    invalid_at_status: list[tuple[FeedState, bool]]  # per status: (state, book invalid right after it)
    snapshot_tops: dict[int, Top]  # book right after each posted snapshot, by its sequence
    final: Top
    final_sequence: int
    valid_at_end: bool


def replay_posted(run: FeedRun) -> Replayed:
    book = OrderBook(run.instrument.id)
    statuses: list[tuple[FeedState, bool]] = []
    snapshots: dict[int, Top] = {}
    for record in run.records:
        if isinstance(record, FeedStatus):
            if record.state is not FeedState.LIVE:
                book.invalidate(record.reason)
            statuses.append((record.state, not book.is_valid))
        elif isinstance(record, BookSnapshot):
            book.apply_snapshot(record)
            snapshots[record.sequence] = top(book)
        elif isinstance(record, BookDeltas):
            book.apply_deltas(record)
    return Replayed(statuses, snapshots, top(book) if book.is_valid else ([], []), book.sequence, book.is_valid)


def assert_matches_offline(run: FeedRun) -> Replayed:
    """The book from the posted records is valid at the end, and after every snapshot and at the end equals
    the capture replayed offline at the same update id."""
    replayed = replay_posted(run)
    assert replayed.valid_at_end, run.records[-5:]
    wanted = {*replayed.snapshot_tops, replayed.final_sequence}
    offline = offline_tops(run.capture, run.market, wanted)
    for sequence, levels in replayed.snapshot_tops.items():
        assert levels == offline[sequence], f"book after snapshot {sequence} differs from the offline book"
    assert replayed.final == offline[replayed.final_sequence]
    return replayed
