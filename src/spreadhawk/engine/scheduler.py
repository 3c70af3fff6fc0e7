"""Deterministic timers: callbacks ordered by (ts_ns, insertion sequence)."""

from __future__ import annotations

import heapq
from collections.abc import Callable

Callback = Callable[[], None]


class Scheduler:
    __slots__ = ("_heap", "_seq", "pending")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Callback]] = []
        self._seq = 0
        self.pending = self._heap  # read-only view for the hot loop: truthy while anything is queued

    def schedule(self, ts_ns: int, callback: Callback) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (ts_ns, self._seq, callback))

    def next_ts(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, ts_ns: int) -> tuple[int, Callback] | None:
        """The earliest callback due at or before ``ts_ns``, removed from the queue."""
        if self._heap and self._heap[0][0] <= ts_ns:
            due, _, callback = heapq.heappop(self._heap)
            return due, callback
        return None

    def __len__(self) -> int:
        return len(self._heap)
