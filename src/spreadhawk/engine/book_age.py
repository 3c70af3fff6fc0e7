"""Book age: a book its venue has not updated for longer than the venue's limit is stale.

A book that stopped updating still shows its last prices, and every consumer (detectors, strategies,
the paired executor, the simulated venue's matching, the scanner) would go on trading against them:
a recording that ends early, a feed that froze, a venue that went quiet. So the engine marks such a
book invalid (``OrderBook.mark_stale``), which every consumer already refuses; the next record of
the book makes it current again.

The check is lazy, not a timer per update: one deadline per watched book (the time its last update
turns too old) in a heap, looked at only when the clock reaches the earliest one, before a record,
a timer or a venue report is handled. A deadline found out of date (the book was updated since) is
pushed again at its new value. So the cost is a comparison per event and a heap operation per book
per ``limit`` of quiet, and no timer is left behind when the data ends (a replay's final timers
would otherwise move the clock past the data).

Age is measured on the records' own timestamps (the exchange's time in a replay, the engine's clock
live) and a book is stale when ``now - last update > limit``: a one-second recording is never stale
under a limit of one second.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import FeedState, FeedStatus
from spreadhawk.domain.orderbook import OrderBook

__all__ = ["NEVER", "BookAges"]

NEVER = 2**63 - 1


class BookAges:
    """Deadlines of the books that have an age limit (see the module docstring)."""

    __slots__ = ("_books", "_heap", "_limits", "_watched", "next_deadline_ns")

    def __init__(self, books: Mapping[InstrumentId, OrderBook]) -> None:
        self._books = books
        self._limits: dict[InstrumentId, int] = {}
        self._heap: list[tuple[int, InstrumentId]] = []
        self._watched: set[InstrumentId] = set()  # books with a deadline in the heap
        self.next_deadline_ns = NEVER  # the earliest deadline: the hot path compares the clock with it

    def limit(self, instrument_id: InstrumentId, max_age_ns: int) -> None:
        """Watch ``instrument_id``'s book: stale once older than ``max_age_ns``."""
        if max_age_ns <= 0:
            raise ValueError(f"a book age limit must be positive, got {max_age_ns} ns")
        self._limits[instrument_id] = max_age_ns
        self._watch(instrument_id)

    def updated(self, instrument_id: InstrumentId) -> None:
        """The book was just updated: make sure a deadline watches it."""
        if instrument_id not in self._watched and instrument_id in self._limits:
            self._watch(instrument_id)

    def _watch(self, instrument_id: InstrumentId) -> None:
        book = self._books[instrument_id]
        if book.update_count == 0:
            return  # nothing to grow old yet: the first update starts the watch
        deadline = book.ts_ns + self._limits[instrument_id] + 1
        heapq.heappush(self._heap, (deadline, instrument_id))
        self._watched.add(instrument_id)
        self.next_deadline_ns = min(self.next_deadline_ns, deadline)

    def expire(self, now_ns: int) -> list[FeedStatus]:
        """Mark stale every watched book older than its limit at ``now_ns``; what was marked."""
        heap = self._heap
        marked: list[FeedStatus] = []
        while heap and heap[0][0] <= now_ns:
            _, iid = heapq.heappop(heap)
            self._watched.discard(iid)
            book = self._books[iid]
            limit = self._limits[iid]
            if now_ns - book.ts_ns <= limit:
                self._watch(iid)  # updated since this deadline was set
                continue
            if book.is_valid:
                reason = f"stale: no update for {(now_ns - book.ts_ns) / 1e9:.3f} s (limit {limit / 1e9:g} s)"
                book.mark_stale(reason)
                marked.append(FeedStatus(iid, now_ns, FeedState.STALE, reason))
        self.next_deadline_ns = heap[0][0] if heap else NEVER
        return marked
