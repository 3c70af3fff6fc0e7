"""The emulator's own rate limits, enforced per client IP as Binance does (rest-api.md "LIMITS").

Every REST answer carries ``X-MBX-USED-WEIGHT-<n><u>`` (the IP's request weight in the window) and
order answers ``X-MBX-ORDER-COUNT-<n><u>``. A request that would exceed a limit is answered 429
(-1003, or -1015 for orders) with ``Retry-After``; a request that comes back before that Retry-After
has elapsed, or during a ban, is answered 418 (IP banned) with the ban's Retry-After. So a client
that ignores the limits or the Retry-After is caught for real, not by an armed fault.

The limits are the served exchangeInfo's ``rateLimits``; tests lower them with ``RateLimitConfig``
(which also rewrites the exchangeInfo served, so a client reading it learns the same numbers).
Windows slide (a deque of request times per IP): stricter than Binance's calendar minute, never looser.
The request weights are Binance's documented ones, kept here independently of the client's table,
so a client that under-counts an endpoint is caught rather than vouched for.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

__all__ = ["RateLimitConfig", "RateLimiter", "request_cost"]

_UNIT_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_UNIT_LETTER = ((86_400, "D"), (3600, "H"), (60, "M"), (1, "S"))
_WEIGHTS = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
}
_LIMITED_PREFIXES = ("/api/", "/fapi/")


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Overrides of the recorded exchangeInfo limits (None keeps the recorded one)."""

    weight: int | None = None  # REQUEST_WEIGHT per ``weight_interval_s``
    weight_interval_s: int = 60
    orders_10s: int | None = None
    ban_s: int = 120  # Retry-After of a 418 (Binance: from 2 minutes to 3 days)


def request_cost(method: str, path: str, query: Mapping[str, str]) -> tuple[int, int]:
    """(weight, orders) of a request, by Binance's documented weights."""
    if path.endswith("/depth"):
        limit = int(query.get("limit") or 100)
        return (5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250), 0
    if path == "/api/v3/openOrders":
        return (6 if query.get("symbol") else 80), 0
    if path == "/api/v3/myTrades":
        return (5 if query.get("orderId") else 20), 0
    return _WEIGHTS.get((method, path), 1), int((method, path) == ("POST", "/api/v3/order"))


def _header(prefix: str, interval_s: int) -> str:
    seconds, letter = next((s, u) for s, u in _UNIT_LETTER if interval_s % s == 0)
    return f"{prefix}{interval_s // seconds}{letter}"


def rewrite_limits(info: dict[str, Any], config: RateLimitConfig) -> dict[str, Any]:
    """exchangeInfo with ``config``'s limits in place of the recorded ones."""
    limits = []
    for raw in info.get("rateLimits") or ():
        entry = dict(raw)
        if entry["rateLimitType"] == "REQUEST_WEIGHT" and config.weight is not None:
            unit, num = (
                ("MINUTE", config.weight_interval_s // 60)
                if config.weight_interval_s % 60 == 0
                else (
                    "SECOND",
                    config.weight_interval_s,
                )
            )
            entry.update(interval=unit, intervalNum=num, limit=config.weight)
        is_10s = entry.get("interval") == "SECOND" and entry.get("intervalNum") == 10
        if entry["rateLimitType"] == "ORDERS" and is_10s and config.orders_10s is not None:
            entry.update(limit=config.orders_10s)
        limits.append(entry)
    return {**info, "rateLimits": limits}


@dataclass(slots=True)
class _Window:
    kind: str  # REQUEST_WEIGHT or ORDERS
    interval_s: int
    limit: int
    header: str
    used: deque[tuple[float, int]]


class _Ip:
    def __init__(self, windows: list[_Window]) -> None:
        self.windows = windows
        self.retry_until = 0.0  # a 429's Retry-After: coming back earlier is a ban
        self.banned_until = 0.0


def _refuse(status: int, code: int, msg: str, retry_after: float) -> web.Response:
    headers = {"Retry-After": str(max(0, math.ceil(retry_after)))}
    return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)


class RateLimiter:
    """Per-IP request weight and order counts of an emulator serving ``info``'s ``rateLimits``."""

    def __init__(
        self, info: Mapping[str, Any], *, ban_s: int = 120, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._spec = []
        for raw in info.get("rateLimits") or ():
            kind = str(raw["rateLimitType"])
            if kind in ("REQUEST_WEIGHT", "ORDERS"):
                interval_s = _UNIT_S[str(raw["interval"])] * int(raw["intervalNum"])
                prefix = "X-MBX-USED-WEIGHT-" if kind == "REQUEST_WEIGHT" else "X-MBX-ORDER-COUNT-"
                self._spec.append((kind, interval_s, int(raw["limit"]), _header(prefix, interval_s)))
        self.ban_s = ban_s
        self._clock = clock
        self._ips: dict[str, _Ip] = {}
        self.answered = {200: 0, 429: 0, 418: 0}  # by kind of answer (200: let through), for tests
        # (arrived, answered, method, path, status) of the latest REST requests, for tests
        self.log: deque[tuple[float, float, str, str, int]] = deque(maxlen=10_000)

    def _ip(self, address: str) -> _Ip:
        if address not in self._ips:
            self._ips[address] = _Ip([_Window(k, i, n, h, deque()) for k, i, n, h in self._spec])
        return self._ips[address]

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(_LIMITED_PREFIXES):
            return await handler(request)
        ip, now = self._ip(request.remote or "?"), self._clock()
        refusal = self._admit(ip, now, *request_cost(request.method, request.path, request.query))
        response: web.StreamResponse
        if refusal is not None:
            response = refusal
        else:
            response = await handler(request)
            if not response.prepared:
                orders = request.method == "POST" and request.path.endswith("/order")
                for window in ip.windows:
                    if window.kind == "REQUEST_WEIGHT" or orders:
                        response.headers[window.header] = str(sum(w for _, w in window.used))
        self.answered[response.status if response.status in (429, 418) else 200] += 1
        self.log.append((now, self._clock(), request.method, request.path, response.status))
        return response

    def _admit(self, ip: _Ip, now: float, weight: int, orders: int) -> web.Response | None:
        if ip.banned_until > now:
            return _refuse(418, -1003, "Way too many requests; IP banned.", ip.banned_until - now)
        if ip.retry_until > now:  # did not wait for the Retry-After: banned
            ip.banned_until = now + self.ban_s
            return _refuse(418, -1003, "Way too many requests; IP banned.", self.ban_s)
        for window in ip.windows:
            while window.used and window.used[0][0] <= now - window.interval_s:
                window.used.popleft()
            cost = weight if window.kind == "REQUEST_WEIGHT" else orders
            excess = sum(w for _, w in window.used) + cost - window.limit
            if cost == 0 or excess <= 0:
                continue
            freed_at = now
            for at, used in window.used:  # the oldest requests leave the window first
                freed_at, excess = at + window.interval_s, excess - used
                if excess <= 0:
                    break
            ip.retry_until = freed_at
            if window.kind == "ORDERS":
                msg = f"Too many new orders; current limit is {window.limit} orders per {window.interval_s} s."
                return _refuse(429, -1015, msg, freed_at - now)
            msg = f"Too much request weight used; current limit is {window.limit} per {window.interval_s} s."
            return _refuse(429, -1003, msg, freed_at - now)
        for window in ip.windows:
            cost = weight if window.kind == "REQUEST_WEIGHT" else orders
            if cost:
                window.used.append((now, cost))
        return None
