"""A request circuit breaker per connection (seed 004 "Circuit Breakers"), and what it means for risk;
any adapter's (``ccxt.breaker`` for ccxt's clients, ``polymarket.clob`` for py-clob-client's).

States (one transition table, ``_NEXT``):

* CLOSED -- requests go; ``failure_threshold`` (5) failures in a row open it;
* OPEN -- requests are refused locally (``CircuitOpenError``, nothing sent) for ``open_s`` (30 s);
* HALF_OPEN -- after that, trial requests go; ``success_threshold`` (3) successes close it, any
  failure opens it again for another ``open_s``.

A failure is a request that got no usable answer: a network error, a timeout, a 5xx. An exchange's
*answer*, even a refusal (Binance's -2010 insufficient balance, a 400 from the CLOB), is a success: the
connection works, and counting refusals would halt a venue because a strategy sends bad orders.

The breaker reads time only from the injected ``clock`` (monotonic seconds), so tests drive it
without sleeping. ``mode_for`` maps its state onto the risk engine's degradation modes: OPEN ->
HALTED, HALF_OPEN -> HEDGE_ONLY, CLOSED -> FULL (nothing imposed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from spreadhawk.risk.breakers import Mode

__all__ = ["CircuitBreaker", "CircuitOpen", "CircuitState", "mode_for"]


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):  # noqa: N818 (a state the request met, raised as the adapter's own error)
    """A request refused locally because the connection's breaker is open: nothing was sent, so an
    order refused here is a definite rejection, not an unknown outcome. Adapters raise their own
    subclass (``open_error``) so their callers see it among their client's errors."""


# (state, event) -> next state; events: "failure_limit" (threshold reached), "failure",
# "success_limit", "elapsed" (open_s passed). Anything missing leaves the state unchanged.
_NEXT: dict[tuple[CircuitState, str], CircuitState] = {
    (CircuitState.CLOSED, "failure_limit"): CircuitState.OPEN,
    (CircuitState.OPEN, "elapsed"): CircuitState.HALF_OPEN,
    (CircuitState.HALF_OPEN, "failure"): CircuitState.OPEN,
    (CircuitState.HALF_OPEN, "failure_limit"): CircuitState.OPEN,
    (CircuitState.HALF_OPEN, "success_limit"): CircuitState.CLOSED,
}

_MODES = {CircuitState.CLOSED: Mode.FULL, CircuitState.HALF_OPEN: Mode.HEDGE_ONLY, CircuitState.OPEN: Mode.HALTED}


def mode_for(state: CircuitState) -> Mode:
    """The degradation mode a venue gets while its breaker is in ``state``."""
    return _MODES[state]


class CircuitBreaker:
    """The breaker of one connection; ``on_change(state, reason)`` hears every transition."""

    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        failure_threshold: int = 5,
        open_s: float = 30.0,
        success_threshold: int = 3,
        on_change: Callable[[CircuitState, str], None] | None = None,
        open_error: Callable[[str], Exception] = CircuitOpen,
    ) -> None:
        if failure_threshold < 1 or success_threshold < 1 or open_s <= 0:
            raise ValueError("the breaker's thresholds must be >= 1 and open_s > 0")
        self.name = name
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.open_s = open_s
        self.success_threshold = success_threshold
        self.on_change = on_change
        self._open_error = open_error
        self._state = CircuitState.CLOSED
        self._failures = 0  # in a row
        self._successes = 0  # in a row, while HALF_OPEN
        self._opened_at = 0.0
        self.last_reason = ""

    @property
    def state(self) -> CircuitState:
        """The state now (OPEN turns HALF_OPEN here once ``open_s`` has passed)."""
        if self._state is CircuitState.OPEN and self._clock() - self._opened_at >= self.open_s:
            self._move("elapsed", f"{self.open_s:.0f} s open: trial requests")
        return self._state

    def before_request(self) -> None:
        """Raise ``CircuitOpenError`` when the request must not be sent."""
        if self.state is CircuitState.OPEN:
            left = self.open_s - (self._clock() - self._opened_at)
            raise self._open_error(
                f"{self.name}: circuit open after {self.failure_threshold} failed requests "
                f"({self.last_reason}); not sent, trial requests in {left:.1f} s"
            )

    def on_success(self) -> None:
        self._failures = 0
        if self.state is CircuitState.HALF_OPEN:
            self._successes += 1
            if self._successes >= self.success_threshold:
                self._move("success_limit", f"{self._successes} trial requests answered")

    def on_failure(self, reason: str) -> None:
        self.last_reason = reason
        self._failures += 1
        state = self.state
        if state is CircuitState.OPEN:  # a request sent before it opened: no new transition
            return
        event = "failure_limit" if self._failures >= self.failure_threshold else "failure"
        self._move(event, f"{self._failures} failed request(s) in a row, last: {reason}")

    def _move(self, event: str, reason: str) -> None:
        target = _NEXT.get((self._state, event))
        if target is None or target is self._state:
            return
        self._state = target
        if target is CircuitState.OPEN:
            self._opened_at = self._clock()
        if target is CircuitState.CLOSED:
            self._failures = 0
        self._successes = 0
        if self.on_change is not None:
            self.on_change(target, f"{self.name}: {reason}")
