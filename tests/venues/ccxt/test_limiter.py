"""The host limiter on an injected clock: limits from exchangeInfo, header sync, Retry-After, 418 probe."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from spreadhawk.venues.ccxt.limiter import HostLimiter, Limit, RateLimitRefusedError, limits_from_exchange_info
from spreadhawk.venues.ccxt.weights import cost_of

INFO = {
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 3},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 6100},
    ]
}


class Clock:
    """Monotonic seconds that move only when a waiter sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _limiter(tmp_path: Path, clock: Clock, **options: float) -> HostLimiter:
    limiter = HostLimiter("127.0.0.1:9001", tmp_path, clock=clock, sleep=clock.sleep, **options)
    limiter.configure(limits_from_exchange_info(INFO))
    return limiter


def test_limits_and_their_headers_come_from_exchange_info() -> None:
    limits = limits_from_exchange_info(INFO)
    assert limits[0] == Limit("REQUEST_WEIGHT", 60, 100)
    assert [lim.header for lim in limits] == [
        "x-mbx-used-weight-1m",
        "x-mbx-order-count-10s",
        "x-mbx-order-count-1d",
        None,
    ]
    with pytest.raises(ValueError, match="unreadable exchangeInfo rateLimits entry"):
        limits_from_exchange_info({"rateLimits": [{"rateLimitType": "ORDERS", "interval": "WEEK"}]})
    assert cost_of("GET", "/api/v3/depth", {"limit": "500"}).weight == 25
    assert cost_of("POST", "/api/v3/order", {}) == (1, 1)
    assert cost_of("GET", "/api/v3/openOrders", {}).weight == 80


def test_weight_waits_for_the_window_and_the_exchange_count_wins(tmp_path: Path) -> None:
    clock = Clock()
    limiter = _limiter(tmp_path, clock, max_wait_s=120)

    async def scenario() -> None:
        for _ in range(4):
            await limiter.acquire(20)
        assert limiter.used() == {60: 80}
        limiter.on_answer(200, {"X-MBX-USED-WEIGHT-1M": "95"})  # someone else spends on this IP too
        assert limiter.used() == {60: 95}
        limiter.on_answer(200, {"X-MBX-USED-WEIGHT-1M": "10"})  # lower: ours holds requests in flight
        assert limiter.used() == {60: 95}
        start = clock.now
        await limiter.acquire(20)  # waits until enough of the window has passed
        assert 61 <= clock.now - start <= 62.5  # the window, a bucket and the 1 s margin
        assert limiter.used() == {60: 20}

    asyncio.run(scenario())


def test_orders_per_10_s(tmp_path: Path) -> None:
    clock = Clock()
    limiter = _limiter(tmp_path, clock)

    async def scenario() -> None:
        for _ in range(3):
            await limiter.acquire(1, orders=1)
        start = clock.now
        await limiter.acquire(1, orders=1)
        assert 11 <= clock.now - start <= 11.5
        assert limiter.used("ORDERS") == {10: 1, 86_400: 4}

    asyncio.run(scenario())


def test_nothing_goes_out_before_retry_after_and_a_long_wait_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    limiter = _limiter(tmp_path, clock, max_wait_s=10)
    other = HostLimiter("127.0.0.1:9001", tmp_path, clock=clock, sleep=clock.sleep)  # another process's

    async def scenario() -> None:
        limiter.on_answer(429, {"Retry-After": "5"})
        start = clock.now
        await other.acquire(1)  # the other limiter of the host honours it too
        assert clock.now - start >= 5
        limiter.on_answer(429, {"Retry-After": "30"})
        with pytest.raises(RateLimitRefusedError, match=r"Retry-After / IP ban frees it in 30\.0 s"):
            await limiter.acquire(1)
        assert clock.now - start == 5  # refused at once, not after waiting

    asyncio.run(scenario())


def test_after_a_418_one_probe_goes_and_the_rest_wait_for_its_answer(tmp_path: Path) -> None:
    clock = Clock()
    limiter = _limiter(tmp_path, clock, max_wait_s=200, probe_lease_s=10)

    async def scenario() -> None:
        limiter.on_answer(418, {"Retry-After": "120"})
        assert limiter.ban_remaining() == 120
        clock.now += 120
        await limiter.acquire(1)  # the probe
        assert limiter.sent == 1
        with pytest.raises(RateLimitRefusedError):  # another request, while the probe is out
            await HostLimiter(limiter.host, tmp_path, clock=clock, sleep=clock.sleep, max_wait_s=0.1).acquire(1)
        limiter.on_answer(200, {})  # the probe was answered: the ban is over
        assert limiter.ban_remaining() is None
        await limiter.acquire(1)
        assert limiter.sent == 2

    asyncio.run(scenario())


def test_a_state_file_cut_short_by_a_crash_starts_afresh(tmp_path: Path) -> None:
    clock = Clock()
    limiter = _limiter(tmp_path, clock)
    limiter.path.write_text('{"limits": [["REQUEST_WEIGHT", 60, 1')
    assert limiter.limits == []
    asyncio.run(limiter.acquire(1))  # not stuck on the broken file


def test_requests_sent_before_the_limits_are_known_count_once_they_are(tmp_path: Path) -> None:
    # Two processes start at once: each sends its exchangeInfo (weight 20) and a time sync (1) before
    # either knows the limits; the first to learn them must count the other's too, still in flight
    # (the shared-limiter scenario went over by exactly that: a 429, then 418s).
    clock = Clock()
    first = HostLimiter("127.0.0.1:9001", tmp_path, clock=clock, sleep=clock.sleep, max_wait_s=120)
    second = HostLimiter("127.0.0.1:9001", tmp_path, clock=clock, sleep=clock.sleep, max_wait_s=120)

    async def scenario() -> None:
        for limiter in (first, second):
            await limiter.acquire(1)
            await limiter.acquire(20)
        clock.now += 30  # 30 s later, the first answer brings the limits (a header counting only its own)
        first.on_answer(200, {"X-MBX-USED-WEIGHT-1M": "21"})
        first.configure(limits_from_exchange_info(INFO))
        assert first.used() == {60: 42}
        start = clock.now
        for _ in range(58):  # 100 - 42 fit now
            await first.acquire(1)
        assert clock.now == start
        await second.acquire(1)  # the 101st waits until the early requests leave the window
        assert 31 <= clock.now - start <= 32.5

    asyncio.run(scenario())
