"""Clocks: the only place in the engine where time is read.

``SimClock`` jumps to the time of the event being processed (backtest); ``WallClock`` reads the
system clock (paper and live). Components receive a ``Clock`` and never read time themselves, so a
run is reproducible from its inputs.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def advance_to(self, ts_ns: int) -> None:
        """Called with the time of each event processed; only a simulated clock moves on it."""


class SimClock:
    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move forward to ``ts_ns``; time never runs backwards (late data keeps the clock where it is)."""
        self._now = max(self._now, ts_ns)


class WallClock:
    __slots__ = ()

    def now_ns(self) -> int:
        return time.time_ns()

    def advance_to(self, ts_ns: int) -> None:
        """Real time advances by itself."""
