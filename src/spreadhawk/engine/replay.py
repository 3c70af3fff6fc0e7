"""The replay driver: pumps a feed through the engine as fast as possible."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence

from spreadhawk.domain.market import MarketData
from spreadhawk.engine.engine import Engine

ProgressCallback = Callable[[int], None]


class ReplayFeed:
    """Merges several time-ordered sources into one, by ``ts_ns``; ties keep source order.

    Each source must itself be in non-decreasing ``ts_ns`` order (the readers guarantee it); a
    source that is not raises, because replaying out-of-order data silently reorders history.
    """

    def __init__(self, sources: Sequence[Iterable[MarketData]]) -> None:
        self._sources = sources

    def __iter__(self) -> Iterator[MarketData]:
        streams = [_checked(iter(source), index) for index, source in enumerate(self._sources)]
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=_ts)


def _ts(record: MarketData) -> int:
    return record.ts_ns


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
                progress(count)
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
        progress(count)
