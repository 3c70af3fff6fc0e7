"""Seed 004's request circuit breaker on the Polymarket client: requests that get no answer (here a
CLOB nothing listens at) open it after five in a row; then nothing is sent, and the venue is HALTED
for the risk engine, until the open time has passed and trial requests are answered."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pm_trading_harness import WALLET_KEY

from spreadhawk.risk.breakers import Mode
from spreadhawk.venues.circuit import CircuitBreaker, CircuitState
from spreadhawk.venues.polymarket.clob import AsyncClob, PolymarketApiError, PolymarketCircuitOpenError
from spreadhawk.venues.polymarket.venue import PolymarketVenue


def _closed_port() -> int:
    with socket.socket() as probe:  # bound then closed: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_five_unanswered_requests_open_it_and_the_sixth_is_not_sent() -> None:
    now = [0.0]
    host = f"http://127.0.0.1:{_closed_port()}"
    breaker = CircuitBreaker(host, clock=lambda: now[0], open_error=PolymarketCircuitOpenError)
    clob = AsyncClob(host, 137, WALLET_KEY, None, 0, "0x" + "00" * 20, breaker=breaker)

    async def scenario() -> list[PolymarketApiError]:
        seen: list[PolymarketApiError] = []
        for _ in range(6):
            try:
                await clob.call(clob.client.get_ok)
            except PolymarketApiError as exc:
                seen.append(exc)
        return seen

    errors = asyncio.run(scenario())
    assert [type(e) for e in errors] == [PolymarketApiError] * 5 + [PolymarketCircuitOpenError]
    assert all(e.status is None for e in errors[:5])  # no answer at all: what counts as a failure
    assert "not sent" in str(errors[5])
    states = [breaker.state]
    now[0] += 30.0  # the open time has passed: trial requests go out again
    states.append(breaker.state)
    assert states == [CircuitState.OPEN, CircuitState.HALF_OPEN]
    with pytest.raises(PolymarketApiError) as trial:
        asyncio.run(clob.call(clob.client.get_ok))
    assert not isinstance(trial.value, PolymarketCircuitOpenError)  # it was sent (and failed)
    assert breaker.state == CircuitState.OPEN  # a failed trial opens it again
    clob.close()


def test_the_venue_reports_the_breaker_as_a_mode_for_the_risk_engine() -> None:
    venue = PolymarketVenue(
        "POLYMARKET", [], private_key=WALLET_KEY, host=f"http://127.0.0.1:{_closed_port()}", ws_url="ws://x"
    )
    heard: list[tuple[str, Mode]] = []
    venue.report_modes(lambda name, mode, reason: heard.append((name, mode)))
    for _ in range(5):
        venue.clob.breaker.on_failure("no answer")
    assert heard == [("POLYMARKET", Mode.HALTED)]
    venue.clob.close()
