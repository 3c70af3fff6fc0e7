"""The replay driver: pumps a feed through the engine as fast as possible."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import FeedState, FeedStatus, MarketData
from spreadhawk.engine.engine import Engine

ProgressCallback = Callable[[int, int], None]  # (records replayed, the clock) -> None


class ReplayFeed:
    """Merges several time-ordered sources into one, by ``ts_ns``; ties keep source order.

    Each source must itself be in non-decreasing ``ts_ns`` order (the readers guarantee it); a
    source that is not raises, because replaying out-of-order data silently reorders history.

    A source that ends while others go on is followed, 1 ns after its last record, by a
    ``FeedStatus(ENDED)`` for each instrument it carried: its books would otherwise keep showing
    their last prices for the rest of the replay, and strategies would trade against a recording
    that has stopped. The sources that end with the replay say nothing (there is nothing after).
    """

    def __init__(self, sources: Sequence[Iterable[MarketData]]) -> None:
        self._sources = sources

    def __iter__(self) -> Iterator[MarketData]:
        if len(self._sources) == 1:
            return _checked(iter(self._sources[0]), 0)
        return _announce_ends(self._sources)


def _ts(record: MarketData | _SourceEnded) -> int:
    return record.ts_ns


@dataclass(frozen=True, slots=True)
class _SourceEnded:
    """Where a source ran out, merged in time order with the records (never leaves this module)."""

    ts_ns: int
    instruments: frozenset[InstrumentId]


def _announce_ends(sources: Sequence[Iterable[MarketData]]) -> Iterator[MarketData]:
    streams = [_ending(_checked(iter(source), index)) for index, source in enumerate(sources)]
    ended: list[_SourceEnded] = []  # said when a later record shows the replay goes on
    for record in heapq.merge(*streams, key=_ts):
        if type(record) is _SourceEnded:
            ended.append(record)
            continue
        if ended:
            for end in ended:
                for iid in sorted(end.instruments):
                    yield FeedStatus(iid, end.ts_ns, FeedState.ENDED, "the recording ended")
            ended.clear()
        yield record  # type: ignore[misc]  # not a _SourceEnded: those are set aside above


def _ending(stream: Iterator[MarketData]) -> Iterator[MarketData | _SourceEnded]:
    """``stream``, then where it ran out and the instruments it carried."""
    last = None
    carried: set[InstrumentId] = set()
    seen = carried.add
    for record in stream:
        last = record.ts_ns
        seen(record.instrument_id)
        yield record
    if last is not None:
        yield _SourceEnded(last + 1, frozenset(carried))


def _checked(stream: Iterator[MarketData], index: int) -> Iterator[MarketData]:
    last = -1
    for record in stream:
        if record.ts_ns < last:
            raise ValueError(
                f"source {index}: {type(record).__name__} at {record.ts_ns} is earlier than the previous record {last}"
            )
        last = record.ts_ns
        yield record


def run_replay(
    engine: Engine,
    feed: Iterable[MarketData],
    *,
    progress: ProgressCallback | None = None,
    progress_every: int = 50_000,
) -> None:
    """Replay ``feed`` through ``engine``; timers due before each event fire first; drain at the end."""
    run_until = engine.run_until
    process = engine.process
    pending = engine.scheduler.pending
    count = 0
    next_report = progress_every
    batch: list[MarketData] = []
    batch_ts = -1
    for record in feed:
        ts = record.ts_ns
        if ts == batch_ts:
            batch.append(record)  # the same instant: processed together (see Engine.process_batch)
            continue
        if batch:
            if len(batch) == 1:
                process(batch[0])
            else:
                engine.process_batch(batch)
            count += len(batch)
            if progress is not None and count >= next_report:
                progress(count, engine.clock.now_ns())
                next_report = count + progress_every
        if pending:  # hot path: skip the call when nothing is scheduled
            run_until(ts)
        batch_ts = ts
        batch = [record]
    if batch:
        engine.process_batch(batch)
        count += len(batch)
    engine.run_until(2**63 - 1)
    engine.sample_equity(engine.clock.now_ns())
    if progress is not None:
        progress(count, engine.clock.now_ns())
