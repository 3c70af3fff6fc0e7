"""The ccxt.pro Binance client every REST call of ``CcxtVenue`` goes through, with its guards.

ccxt sends every REST request through ``fetch2`` (signs, then) ``fetch`` (HTTP). ``GuardedBinance``
overrides both, so no code path can bypass the guards:

* ``fetch``: the connection's ``CircuitBreaker`` may refuse the request (nothing sent); the host's
  shared ``HostLimiter`` holds it until the budget has room, or refuses it; the answer's headers
  update the limiter (``on_rest_response``, which ccxt calls with every answer before reading it);
  an exchangeInfo answer sets the host's limits; the outcome feeds the breaker.
* ``fetch2``: the server-time offset (``options['timeDifference']``, which ccxt's binance ``nonce``
  subtracts) is measured from ``/api/v3/time`` before the first request and again every
  ``time_sync_s``; a ``-1021`` answer (timestamp outside recvWindow: refused, nothing done) re-syncs
  once and retries the request once, re-signed. A second -1021 is raised: no loop.

Semantics kept for orders (RELIABILITY.md §3): a 429/418 is a definite refusal (the exchange did
nothing) and is raised as ``RateLimitRefusedError``, an ``ExchangeError``, so a refused order is rejected,
not looked up. A timeout, a dropped connection or a 5xx stays a ccxt ``NetworkError``: unknown.

The breaker's state and a 418 ban reach the risk engine through ``GuardConfig.on_mode`` (e.g.
``RiskEngine.impose_venue_mode``): OPEN or banned -> HALTED, HALF_OPEN -> HEDGE_ONLY.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import ccxt.pro as ccxtpro
import yarl
from ccxt.base.errors import DDoSProtection, ExchangeError, InvalidNonce, NetworkError, OperationFailed, RequestTimeout

from spreadhawk.risk.breakers import Mode
from spreadhawk.venues.ccxt.breaker import CircuitBreaker, CircuitState, mode_for
from spreadhawk.venues.ccxt.limiter import HostLimiter, RateLimitRefusedError, limits_from_exchange_info
from spreadhawk.venues.ccxt.weights import cost_of

__all__ = ["GuardConfig", "GuardedBinance"]

log = logging.getLogger(__name__)

# The HTTP status of the request this task is making (None: no answer yet). ccxt reports it to
# ``on_rest_response`` and raises later; concurrent requests are separate tasks, so separate values.
_STATUS: ContextVar[int | None] = ContextVar("spreadhawk_ccxt_status", default=None)

# Failures for the breaker: no usable answer. (ExchangeError answers, 429/418 and -1021 are answers.)
_FAILURES = (OperationFailed, OSError, TimeoutError)


ModeListener = Callable[[str, Mode, str], None]  # (venue, mode, reason), e.g. risk.impose_venue_mode


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """How a venue's client is guarded; defaults are production's (seed 004's breaker)."""

    state_dir: Path | None = None  # the hosts' shared limiter files (None: per-user runtime dir)
    on_mode: ModeListener | None = None
    max_wait_s: float = 30.0  # longest a request waits for the budget before it is refused
    failure_threshold: int = 5
    open_s: float = 30.0
    success_threshold: int = 3
    time_sync_s: float = 300.0  # re-measure the server-time offset this often
    clock: Callable[[], float] = time.monotonic  # for waits and the breaker
    wall_ms: Callable[[], int] | None = None  # this machine's wall clock in ms (None: ccxt's)


class GuardedBinance(ccxtpro.binance):  # type: ignore[misc]  # ccxt is untyped
    """``ccxt.pro.binance`` whose REST goes through a host limiter, a breaker and a time sync."""

    def __init__(self, config: dict[str, Any], guards: GuardConfig, venue: str) -> None:
        super().__init__(config)
        self.guards = guards
        self.venue = venue
        self.breaker = CircuitBreaker(
            f"{venue} REST",
            clock=guards.clock,
            failure_threshold=guards.failure_threshold,
            open_s=guards.open_s,
            success_threshold=guards.success_threshold,
            on_change=self._on_breaker,
        )
        self._limiters: dict[str, HostLimiter] = {}
        self._synced_at: float | None = None  # guards.clock() of the last offset measurement
        self._sync_lock = asyncio.Lock()
        self._imposed: dict[str, tuple[Mode, str]] = {}  # why a mode is imposed: "breaker", "ban"
        self.time_syncs = 0
        self.nonce_retries = 0

    # --------------------------------------------------------------------------- clocks
    def milliseconds(self) -> int:
        wall = self.guards.wall_ms
        return int(wall()) if wall is not None else int(super().milliseconds())

    async def sync_time(self) -> int:
        """Measure the server-time offset (ms, local minus server; half the round trip assumed each way)."""
        before = self.milliseconds()
        server = await self.fetch_time()
        after = self.milliseconds()
        self.options["timeDifference"] = (before + after) // 2 - int(server)
        self._synced_at = self.guards.clock()
        self.time_syncs += 1
        return int(self.options["timeDifference"])

    async def _ensure_synced(self, older_than: float | None) -> None:
        """Sync unless someone did since ``older_than`` (None: unless a sync is fresh enough)."""
        async with self._sync_lock:
            synced = self._synced_at
            if older_than is not None:
                if synced is not None and synced > older_than:
                    return  # another request re-synced after ours was signed
            elif synced is not None and self.guards.clock() - synced < self.guards.time_sync_s:
                return
            try:
                await self.sync_time()
            except _FAILURES as exc:
                if synced is None or older_than is not None:
                    raise  # no offset yet, or a -1021 to answer: the request cannot go right
                # a periodic re-sync that failed: keep the old offset, try again next period
                log.warning("%s: server time re-sync failed (%s); keeping the offset", self.venue, exc)
                self._synced_at = self.guards.clock()

    async def fetch2(
        self, path: str, api: Any = "public", method: str = "GET", params: Any = None, config: Any = None
    ) -> Any:
        params = {} if params is None else params
        config = {} if config is None else config
        if path != "time":
            await self._ensure_synced(None)
        signed_at = self._synced_at
        try:
            return await super().fetch2(path, api, method, params, config)
        except InvalidNonce:
            if path == "time":
                raise
            # -1021: refused before anything happened, so sending it again (re-signed) is safe; once.
            await self._ensure_synced(signed_at if signed_at is not None else float("-inf"))
            self.nonce_retries += 1
            return await super().fetch2(path, api, method, params, config)

    # --------------------------------------------------------------------------- HTTP
    def limiter(self, host: str) -> HostLimiter:
        if host not in self._limiters:
            self._limiters[host] = HostLimiter(
                host, self.guards.state_dir, clock=self.guards.clock, max_wait_s=self.guards.max_wait_s
            )
        return self._limiters[host]

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        target = yarl.URL(url, encoded=True)
        limiter = self.limiter(f"{target.host}:{target.port}")
        params = dict(target.query) | (dict(parse_qsl(body)) if isinstance(body, str) else {})
        cost = cost_of(method, target.path, params)
        self.breaker.before_request()
        try:
            await limiter.acquire(cost.weight, cost.orders)
        except RateLimitRefusedError:
            self._check_ban(limiter)
            raise
        _STATUS.set(None)
        try:
            answer = await super().fetch(url, method, headers, body)
        except DDoSProtection as exc:  # 429 / 418: answered, refused, nothing done
            self.breaker.on_success()
            self._check_ban(limiter)
            raise RateLimitRefusedError(f"{self.venue}: {exc}") from exc
        except (ExchangeError, InvalidNonce) as exc:  # an answer (even a refusal or a -1021): the connection works
            if isinstance(exc.__cause__, aiohttp.ClientError):
                # ... unless it is ccxt's catch-all for an answer cut off or unreadable: the request may
                # have taken effect, so its outcome is unknown, not refused (the seeded fault plans found
                # a cancel that took effect reported as refused, after a connection closed mid-answer).
                limiter.on_no_answer()
                self.breaker.on_failure(f"answer cut off: {exc.__cause__!r}"[:200])
                raise NetworkError(f"{exc} (the answer was cut off: {exc.__cause__!r})") from exc
            self.breaker.on_success()
            self._check_ban(limiter)
            raise
        except asyncio.CancelledError:
            limiter.on_no_answer()
            raise
        except _FAILURES as exc:
            status = _STATUS.get()
            if status is not None and status < 500 and not isinstance(exc, RequestTimeout):
                self.breaker.on_success()  # an HTTP answer ccxt calls a network error (a 404)
            else:  # no usable answer: a timeout (-1007 too), the connection lost, a 5xx
                limiter.on_no_answer()
                self.breaker.on_failure(f"{type(exc).__name__}: {exc}"[:200])
            raise
        self.breaker.on_success()
        self._check_ban(limiter)
        if target.path.endswith("/exchangeInfo") and isinstance(answer, dict) and "rateLimits" in answer:
            limiter.configure(limits_from_exchange_info(answer))
        return answer

    def on_rest_response(self, code: Any, reason: Any, url: str, method: str, response_headers: Any, *rest: Any) -> Any:
        target = yarl.URL(url, encoded=True)
        _STATUS.set(int(code))
        self.limiter(f"{target.host}:{target.port}").on_answer(int(code), dict(response_headers or {}))
        return super().on_rest_response(code, reason, url, method, response_headers, *rest)

    # --------------------------------------------------------------------------- modes
    def _check_ban(self, limiter: HostLimiter) -> None:
        remaining = limiter.ban_remaining()
        if remaining is not None:
            self._impose("ban", Mode.HALTED, f"{limiter.host}: IP banned (418), probe in {remaining:.0f} s")
        elif "ban" in self._imposed:
            self._impose("ban", Mode.FULL, f"{limiter.host}: ban over")

    def _on_breaker(self, state: CircuitState, reason: str) -> None:
        self._impose("breaker", mode_for(state), f"circuit {state}: {reason}")

    def _impose(self, source: str, mode: Mode, reason: str) -> None:
        if mode is Mode.FULL:
            self._imposed.pop(source, None)
        else:
            self._imposed[source] = (mode, reason)
        worst = max(self._imposed.values(), default=(Mode.FULL, reason))
        if self.guards.on_mode is not None:
            self.guards.on_mode(self.venue, worst[0], worst[1])
