"""The emulator enforces Binance's rate limits per IP: headers, 429 with Retry-After, then 418."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from spreadhawk.venues.emulator import BinanceEmulator, Market, RateLimitConfig
from spreadhawk.venues.emulator.rate_limits import request_cost


def test_binance_weights() -> None:
    assert request_cost("GET", "/api/v3/depth", {"limit": "1000"}) == (50, 0)
    assert request_cost("GET", "/api/v3/depth", {}) == (5, 0)
    assert request_cost("POST", "/api/v3/order", {}) == (1, 1)
    assert request_cost("GET", "/api/v3/openOrders", {}) == (80, 0)
    assert request_cost("GET", "/api/v3/exchangeInfo", {}) == (20, 0)


@pytest.mark.real_data
def test_over_the_limit_is_429_and_coming_back_before_retry_after_is_an_ip_ban(shared_data: Path) -> None:
    async def scenario() -> None:
        limits = RateLimitConfig(weight=30, weight_interval_s=10, ban_s=7)
        emulator = BinanceEmulator.from_data_dir(
            shared_data, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False, rate_limits=limits
        )
        async with emulator, aiohttp.ClientSession() as http:
            base = f"{emulator.http_url}/api/v3"
            async with http.get(f"{base}/exchangeInfo") as r:
                info = json.loads(await r.text())
                assert r.headers["X-MBX-USED-WEIGHT-10S"] == "20"
            weight = [lim for lim in info["rateLimits"] if lim["rateLimitType"] == "REQUEST_WEIGHT"]
            assert weight == [{"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND", "intervalNum": 10, "limit": 30}]
            for used in ("25", "30"):
                async with http.get(f"{base}/depth", params={"symbol": "BTCUSDT"}) as r:
                    assert (r.status, r.headers["X-MBX-USED-WEIGHT-10S"]) == (200, used)
            async with http.get(f"{base}/time") as r:  # one more weight: over
                assert r.status == 429
                assert (await r.json())["code"] == -1003
                assert 1 <= int(r.headers["Retry-After"]) <= 10
            async with http.get(f"{base}/time") as r:  # did not wait: banned
                assert (r.status, r.headers["Retry-After"]) == (418, "7")
            async with http.get(f"{base}/ping") as r:
                assert r.status == 418
            async with http.get(f"{emulator.http_url}/emulator/status") as r:  # not a Binance endpoint
                assert r.status == 200
            assert emulator.rate_limiter is not None
            assert emulator.rate_limiter.answered == {200: 3, 429: 1, 418: 2}

    asyncio.run(asyncio.wait_for(scenario(), 20.0))
