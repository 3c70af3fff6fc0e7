"""The bounded queue between the trading thread and the alert worker.

``put_nowait`` is the only thing the trading path does for an alert: a few appends, no lock, no
I/O, never a wait. One lane per severity, each a ``deque`` (whose ``append`` and ``popleft`` are
atomic), so the producer (the engine's thread) and the consumer (the dispatcher's worker) never
hold a lock the other could wait on. When the queue is full the oldest alert of the lowest severity
present goes first, provided it is no more severe than the new one; otherwise the new one is
dropped. Every drop is counted by severity (``dropped``); the worker logs the counts.

One producer: only the engine's thread puts (the router's handlers, the node at start).
"""

from __future__ import annotations

from collections import deque
from itertools import count

from spreadhawk.alerts.model import Alert, Severity

_LEVELS = tuple(Severity)


class AlertQueue:
    __slots__ = ("_lanes", "_seq", "capacity", "dropped")

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError(f"alert queue capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._lanes: tuple[deque[tuple[int, Alert]], ...] = tuple(deque() for _ in _LEVELS)
        self._seq = count()
        self.dropped = [0] * len(_LEVELS)  # by severity; written by the producer only

    def __len__(self) -> int:
        lanes = self._lanes
        return len(lanes[0]) + len(lanes[1]) + len(lanes[2])

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped)

    def put_nowait(self, alert: Alert) -> bool:
        """Queue ``alert``; False when it was dropped (the queue full of alerts at least as severe)."""
        severity = alert.severity
        if len(self) >= self.capacity and not self._evict(severity):
            self.dropped[severity] += 1
            return False
        self._lanes[severity].append((next(self._seq), alert))
        return True

    def _evict(self, severity: Severity) -> bool:
        """Make room by dropping the oldest alert of the lowest severity up to ``severity``."""
        for level in range(severity + 1):
            try:
                self._lanes[level].popleft()
            except IndexError:  # empty (or just drained by the worker)
                continue
            self.dropped[level] += 1
            return True
        return len(self) < self.capacity  # the worker may have drained the queue meanwhile

    def take_all(self) -> list[Alert]:
        """Everything queued, in arrival order (the worker's side)."""
        taken: list[tuple[int, Alert]] = []
        for lane in self._lanes:
            while True:
                try:
                    taken.append(lane.popleft())
                except IndexError:
                    break
        taken.sort(key=lambda item: item[0])
        return [alert for _, alert in taken]
