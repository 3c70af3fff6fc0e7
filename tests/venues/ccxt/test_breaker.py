"""The request circuit breaker on an injected clock: seed 004's 5 failures / 30 s / 3 successes."""

from __future__ import annotations

import pytest

from spreadhawk.risk.breakers import Mode
from spreadhawk.venues.ccxt.breaker import CircuitBreaker, CircuitOpenError, CircuitState, mode_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(breaker: CircuitBreaker) -> CircuitState:
    """Read through a call: mypy would otherwise keep the state it narrowed a line before."""
    return breaker.state


def _breaker(clock: Clock, changes: list[tuple[CircuitState, str]]) -> CircuitBreaker:
    return CircuitBreaker("X REST", clock=clock, on_change=lambda state, why: changes.append((state, why)))


def test_five_failures_in_a_row_open_it_for_30_s_then_three_successes_close_it() -> None:
    clock, changes = Clock(), list[tuple[CircuitState, str]]()
    breaker = _breaker(clock, changes)
    for _ in range(4):
        breaker.on_failure("RequestTimeout")
    breaker.on_success()  # an answer breaks the run: the count starts again
    for _ in range(4):
        breaker.on_failure("RequestTimeout")
        breaker.before_request()
    assert state(breaker) is CircuitState.CLOSED
    breaker.on_failure("ExchangeNotAvailable: 503")
    assert state(breaker) is CircuitState.OPEN
    assert changes[-1][0] is CircuitState.OPEN
    assert "5 failed request(s) in a row" in changes[-1][1]
    clock.now += 29.9
    with pytest.raises(CircuitOpenError, match=r"circuit open after 5 failed requests .*503.*trial requests in 0\.1 s"):
        breaker.before_request()
    clock.now += 0.1
    breaker.before_request()  # 30 s: trial requests go
    assert state(breaker) is CircuitState.HALF_OPEN
    breaker.on_success()
    breaker.on_success()
    assert state(breaker) is CircuitState.HALF_OPEN
    breaker.on_success()
    assert state(breaker) is CircuitState.CLOSED
    assert [s for s, _ in changes] == [CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED]


def test_a_failure_while_half_open_reopens_it_for_another_30_s() -> None:
    clock, changes = Clock(), list[tuple[CircuitState, str]]()
    breaker = _breaker(clock, changes)
    for _ in range(5):
        breaker.on_failure("timeout")
    clock.now += 30
    assert state(breaker) is CircuitState.HALF_OPEN
    breaker.on_success()
    breaker.on_failure("timeout again")
    assert state(breaker) is CircuitState.OPEN
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        breaker.before_request()
    clock.now += 1
    assert state(breaker) is CircuitState.HALF_OPEN
    # A failure while half open reopens it; more failures while open change nothing.
    for _ in range(5):
        breaker.on_failure("late")
    assert state(breaker) is CircuitState.OPEN
    breaker.on_failure("late")
    assert [s for s, _ in changes].count(CircuitState.OPEN) == 3


def test_modes_the_risk_engine_gets() -> None:
    assert [mode_for(s) for s in CircuitState] == [Mode.FULL, Mode.HALTED, Mode.HEDGE_ONLY]
    with pytest.raises(ValueError, match="thresholds"):
        CircuitBreaker("X", failure_threshold=0)
