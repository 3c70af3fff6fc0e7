"""A live feed that plays back records already in memory (the live driver's in-memory ``Feed``).

It posts every record to the engine's inbox, in order, as fast as the driver takes them, then stays
connected without saying anything more until it is cancelled — what a quiet market looks like. Used
where the live driver must be fed a known tape: the parity test (the same tape through the backtest
driver and through the live driver must give the same decisions) and the latency bench.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from spreadhawk.domain.market import MarketData


class RecordedFeed:
    def __init__(self, records: Sequence[MarketData], *, chunk: int = 1000) -> None:
        self._records = records
        self._chunk = chunk  # records posted between two yields to the loop, so the driver keeps pace
        self.posted = 0
        self.finished = asyncio.Event()

    async def run(self, post: Callable[[MarketData], None]) -> None:
        records, since_yield = self._records, 0
        for index, record in enumerate(records):
            post(record)
            self.posted += 1
            since_yield += 1
            # yield only between two instants: records of one timestamp arrive together, as in a replay
            last = index + 1 == len(records)
            if since_yield >= self._chunk and (last or records[index + 1].ts_ns != record.ts_ns):
                since_yield = 0
                await asyncio.sleep(0)  # noqa: TID251 (a zero sleep only yields to the loop; no time is read)
        self.finished.set()
        await asyncio.Event().wait()  # connected and silent until cancelled

    async def close(self) -> None:
        """Nothing to release: the records are the caller's."""
