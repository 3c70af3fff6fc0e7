"""Order-rate limits over sliding windows of the injected clock, per strategy and for the account."""

from __future__ import annotations

from collections import deque

from spreadhawk.risk.config import NS_PER_S, RiskLimits
from spreadhawk.risk.denials import Denial, DenialCode

_SECOND = NS_PER_S
_MINUTE = 60 * NS_PER_S


class _Window:
    __slots__ = ("limit", "span_ns", "times")

    def __init__(self, limit: int, span_ns: int) -> None:
        self.limit = limit
        self.span_ns = span_ns
        self.times: deque[int] = deque()

    def full(self, now_ns: int) -> bool:
        times = self.times
        while times and times[0] <= now_ns - self.span_ns:
            times.popleft()
        return len(times) >= self.limit


class OrderRates:
    """``denial(strategy, now)`` says which rate a new order would exceed; ``record`` counts a sent one."""

    def __init__(self, limits: RiskLimits) -> None:
        self._account = _windows(limits.max_orders_per_second, limits.max_orders_per_minute)
        self._per_strategy = (limits.max_strategy_orders_per_second, limits.max_strategy_orders_per_minute)
        self._strategies: dict[str, list[tuple[str, _Window]]] = {}

    def denial(self, strategy_id: str, now_ns: int) -> Denial | None:
        for name, window in self._account:
            if window.full(now_ns):
                return Denial(DenialCode.ORDER_RATE, f"{window.limit} orders per {name} for the account")
        for name, window in self._of(strategy_id):
            if window.full(now_ns):
                return Denial(DenialCode.ORDER_RATE, f"{window.limit} orders per {name} for strategy {strategy_id}")
        return None

    def record(self, strategy_id: str, now_ns: int) -> None:
        for _, window in self._account:
            window.times.append(now_ns)
        for _, window in self._of(strategy_id):
            window.times.append(now_ns)

    def _of(self, strategy_id: str) -> list[tuple[str, _Window]]:
        windows = self._strategies.get(strategy_id)
        if windows is None:
            windows = self._strategies[strategy_id] = _windows(*self._per_strategy)
        return windows


def _windows(per_second: int | None, per_minute: int | None) -> list[tuple[str, _Window]]:
    windows = []
    if per_second is not None:
        windows.append(("second", _Window(per_second, _SECOND)))
    if per_minute is not None:
        windows.append(("minute", _Window(per_minute, _MINUTE)))
    return windows
