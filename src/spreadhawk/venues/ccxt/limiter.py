"""One rate limiter per exchange host, shared by every client in this process and in other processes.

Binance counts request weight per IP and orders per account (RELIABILITY.md §3): two engine
processes on one machine spend one budget, so the budget cannot live in one process's memory.

**Where the shared state lives.** One small JSON file per host in ``state_dir``, read and written
under ``fcntl.flock``. Chosen over SQLite because the state is a few hundred bytes rewritten whole,
the critical section is a read-modify-write of microseconds with no ``await`` inside (so the
blocking lock never stalls the event loop for long, and coroutines of one process cannot interleave
inside it), and ``flock`` is released by the kernel when a process dies, so a crashed engine never
leaves the host locked. ``flock`` locks belong to the open file description, so two limiters in one
process on the same file also exclude each other. Timestamps in the file are ``time.monotonic()``
(CLOCK_MONOTONIC: one clock for every process of a boot), never the wall clock, which can jump.

**What is counted.** The limits come from exchangeInfo ``rateLimits`` (``configure``), never from
constants: REQUEST_WEIGHT per minute, ORDERS per 10 s and per day, RAW_REQUESTS. Each is a sliding
window of per-bucket counts (1/60 of the interval; an entry expires ``margin_s`` after its
bucket's end, for the time a request takes to reach the exchange, which counts it from its
arrival): it never lets more than the limit through in any interval-long span, hence never in
Binance's fixed windows either. A request is charged before it is sent; an answer's ``X-MBX-USED-WEIGHT-<n><u>`` /
``X-MBX-ORDER-COUNT-<n><u>`` then raises our count to the exchange's when the exchange counts more
(it sees every user of the IP). A lower header does not lower ours: it cannot see requests other
processes have in flight, which our count already holds.

**429 / 418.** ``Retry-After`` blocks the whole host until it elapses: no request is let through
before. After a 418 (an IP ban) exactly one request -- the probe -- is let through when the ban
ends; the others wait for its answer (a probe that gets no answer frees its place after
``probe_lease_s``). A caller never waits longer than ``max_wait_s``: it is refused with
``RateLimitRefusedError`` (nothing was sent), which is better than sending a stale order minutes late.

Binance counts ORDERS per account, not per IP; the file is per host, so two accounts trading from
one machine share one order budget: stricter than needed, never looser.

Before the limits are known (the first exchangeInfo of a host, or the file another process left)
requests are not held, but each is remembered with when it left, and charged to the windows once
the limits are known (two processes starting together otherwise went over by their uncounted
exchangeInfo calls); bans are honoured from the first answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccxt.base.errors import ExchangeError

__all__ = ["HostLimiter", "Limit", "RateLimitRefusedError", "default_state_dir", "limits_from_exchange_info"]

log = logging.getLogger(__name__)

_UNIT_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
_HEADER_UNIT = {1: "S", 60: "M", 3600: "H", 86_400: "D"}
_HEADER_PREFIX = {"REQUEST_WEIGHT": "x-mbx-used-weight-", "ORDERS": "x-mbx-order-count-"}
_BUCKETS = 60  # per interval


class RateLimitRefusedError(ExchangeError):  # type: ignore[misc]  # ccxt is untyped
    """A request the limiter did not send: the host is banned or the budget frees too late.

    An ``ExchangeError`` on purpose: it is a definite answer (nothing reached the exchange), so an
    order refused here is rejected, never "unknown"."""


@dataclass(frozen=True, slots=True)
class Limit:
    """One exchangeInfo ``rateLimits`` entry: ``limit`` of ``kind`` per ``interval_s`` seconds."""

    kind: str  # REQUEST_WEIGHT, ORDERS, RAW_REQUESTS
    interval_s: int
    limit: int

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.interval_s}"

    @property
    def header(self) -> str | None:
        """The answer header carrying the exchange's count (lower case), e.g. ``x-mbx-used-weight-1m``."""
        prefix = _HEADER_PREFIX.get(self.kind)
        for unit_s in sorted(_HEADER_UNIT, reverse=True):
            if prefix is not None and self.interval_s % unit_s == 0:
                return f"{prefix}{self.interval_s // unit_s}{_HEADER_UNIT[unit_s].lower()}"
        return None

    def cost(self, weight: int, orders: int) -> int:
        return {"REQUEST_WEIGHT": weight, "ORDERS": orders}.get(self.kind, 1)


def limits_from_exchange_info(info: Mapping[str, Any]) -> tuple[Limit, ...]:
    """The ``rateLimits`` of an exchangeInfo answer; ValueError naming the entry it cannot read."""
    limits = []
    for raw in info.get("rateLimits") or ():
        try:
            interval_s = _UNIT_S[str(raw["interval"])] * int(raw["intervalNum"])
            limit = Limit(str(raw["rateLimitType"]), interval_s, int(raw["limit"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"unreadable exchangeInfo rateLimits entry {raw!r}: {exc!r}") from None
        if limit.limit <= 0 or interval_s <= 0:
            raise ValueError(f"exchangeInfo rateLimits entry {raw!r} is not a positive limit")
        limits.append(limit)
    return tuple(limits)


def default_state_dir() -> Path:
    """Where hosts' state files live unless told: per user, in the runtime dir when there is one."""
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/spreadhawk-{os.getuid()}"
    return Path(base) / "spreadhawk-rate-limits"


def _file_name(host: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", host) + ".json"


class HostLimiter:
    """The shared budget of one ``host`` (``api.binance.com``, ``127.0.0.1:9001``)."""

    def __init__(
        self,
        host: str,
        state_dir: Path | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait_s: float = 30.0,
        probe_lease_s: float = 10.0,
        margin_s: float = 1.0,
    ) -> None:
        directory = state_dir if state_dir is not None else default_state_dir()
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.host = host
        self.path = directory / _file_name(host)
        self._clock = clock
        self._sleep = sleep
        self.max_wait_s = max_wait_s
        self.probe_lease_s = probe_lease_s
        self.margin_s = margin_s
        self.sent = 0  # requests this object let through (for tests and metrics)
        self.refused = 0

    # --------------------------------------------------------------------------- shared state
    @contextlib.contextmanager
    def _state(self, *, read_only: bool = False) -> Iterator[dict[str, Any]]:
        """The host's state, locked against every other limiter of it; written back on exit when it
        changed (most answers change nothing: rewriting the file for them doubled a request's cost).
        ``read_only`` takes a shared lock and never writes."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if read_only else fcntl.LOCK_EX)
            with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as file:
                text = file.read()
                state = _parse(text, self.path)
                state.setdefault("limits", [])
                state.setdefault("used", {})
                yield state
                if read_only:
                    return
                new_text = json.dumps(state, separators=(",", ":"))
                if new_text != text:
                    file.seek(0)
                    file.truncate()
                    file.write(new_text)
                    file.flush()
        finally:
            os.close(fd)  # releases the lock

    @staticmethod
    def _limits(state: Mapping[str, Any]) -> list[Limit]:
        return [Limit(str(k), int(i), int(n)) for k, i, n in state["limits"]]

    def configure(self, limits: Sequence[Limit]) -> None:
        """Take the exchange's limits (from exchangeInfo); they replace the host's earlier ones."""
        now = self._clock()
        with self._state() as state:
            state["limits"] = [[lim.kind, lim.interval_s, lim.limit] for lim in limits]
            # Requests sent before any process knew the limits (every process's exchangeInfo) count
            # from when they left: one still in flight is not in the exchange's headers yet, and two
            # processes starting together went over the limit by exactly that (a 429, then 418s).
            for sent_at, weight, orders in sorted(state.pop("early", [])):
                for limit in self._limits(state):
                    if limit.cost(int(weight), int(orders)) and self._expiry(limit, sent_at) > now:
                        self._charge(state, limit, sent_at, limit.cost(int(weight), int(orders)))
            # the counts the exchange sent before we knew the limits (the exchangeInfo answer's own)
            self._sync_counts(state, now, state.pop("unplaced", {}))

    @property
    def limits(self) -> list[Limit]:
        with self._state() as state:
            return self._limits(state)

    # --------------------------------------------------------------------------- counting
    def _expiry(self, limit: Limit, bucket: float) -> float:
        """When a count in ``bucket`` stops counting against ``limit``."""
        return bucket + limit.interval_s / _BUCKETS + limit.interval_s + self.margin_s

    def _entries(self, state: dict[str, Any], limit: Limit, now: float) -> list[list[float]]:
        """The window's [bucket start, count] entries still in force at ``now`` (expired ones dropped)."""
        live = [e for e in state["used"].get(limit.key, []) if self._expiry(limit, e[0]) > now]
        state["used"][limit.key] = live
        return live

    @staticmethod
    def _charge(state: dict[str, Any], limit: Limit, now: float, amount: float) -> None:
        size = limit.interval_s / _BUCKETS
        bucket = math.floor(now / size) * size
        live = state["used"].setdefault(limit.key, [])
        if live and live[-1][0] == bucket:
            live[-1][1] += amount
        elif not live or live[-1][0] < bucket:
            live.append([bucket, amount])
        else:  # an earlier moment (a request sent before the limits were known): kept oldest first
            same = [e for e in live if e[0] == bucket]
            if same:
                same[0][1] += amount
            else:
                live.append([bucket, amount])
                live.sort(key=lambda e: e[0])

    def used(self, kind: str = "REQUEST_WEIGHT") -> dict[int, int]:
        """Our count of ``kind`` per interval (seconds) now."""
        now = self._clock()
        with self._state() as state:
            return {
                lim.interval_s: int(sum(e[1] for e in self._entries(state, lim, now)))
                for lim in self._limits(state)
                if lim.kind == kind
            }

    def _wait_for(self, state: dict[str, Any], now: float, weight: int, orders: int) -> float:
        """Seconds until every limit has room for this request (0: now)."""
        wait = 0.0
        for limit in self._limits(state):
            cost = limit.cost(weight, orders)
            if cost == 0:
                continue
            if cost > limit.limit:
                raise ValueError(
                    f"a request costing {cost} can never fit {limit.kind} {limit.limit}/{limit.interval_s}s"
                )
            entries = self._entries(state, limit, now)
            excess = sum(e[1] for e in entries) + cost - limit.limit
            for start, count in entries:  # oldest first: when enough of them have expired
                if excess <= 0:
                    break
                excess -= count
                wait = max(wait, self._expiry(limit, start) - now)
        return wait

    def _blocked_for(self, state: dict[str, Any], now: float) -> float:
        """Seconds this request must wait for a Retry-After or a probe (0: it may go, and may be the probe)."""
        until = float(state.get("blocked_until", 0.0))
        if until > now:
            return until - now
        if state.get("banned"):  # a 418 that ended: one probe at a time
            probe_until = float(state.get("probe_until", 0.0))
            if probe_until > now:
                return min(probe_until - now, 0.25)  # look again soon: the probe's answer may free us
            state["probe_until"] = now + self.probe_lease_s
        return 0.0

    async def acquire(self, weight: int, orders: int = 0) -> None:
        """Wait until the host's budget has room for a request, and charge it; ``RateLimitRefusedError``
        when that would be later than ``max_wait_s`` from now (nothing is charged then)."""
        deadline = self._clock() + self.max_wait_s
        while True:
            now = self._clock()
            with self._state() as state:
                wait = self._blocked_for(state, now)
                reason = "Retry-After / IP ban" if wait > 0 else "request weight / order budget"
                if wait == 0:
                    wait = self._wait_for(state, now, weight, orders)
                    if wait > 0 and state.get("probe_until", 0.0) > now:
                        state["probe_until"] = 0.0  # not sent: someone else may probe
                if wait == 0:
                    limits = self._limits(state)
                    for limit in limits:
                        if limit.cost(weight, orders):
                            self._charge(state, limit, now, limit.cost(weight, orders))
                    if not limits:  # not held (nothing to hold it to), but counted once the limits are known
                        state.setdefault("early", []).append([now, weight, orders])
                    self.sent += 1
                    return
            if now + wait > deadline:
                self.refused += 1
                raise RateLimitRefusedError(
                    f"{self.host}: request not sent: {reason} frees it in {wait:.1f} s, "
                    f"beyond the {self.max_wait_s:.1f} s a request may wait"
                )
            await self._sleep(wait)

    # --------------------------------------------------------------------------- answers
    def on_answer(self, status: int, headers: Mapping[str, str]) -> None:
        """Every HTTP answer from the host: the exchange's counts, and 429 / 418 with Retry-After."""
        now = self._clock()
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._state() as state:
            if not state["limits"]:  # kept until the limits are known
                state["unplaced"] = {k: v for k, v in lowered.items() if k.startswith("x-mbx-")}
            self._sync_counts(state, now, lowered)
            if status in (418, 429):
                retry_after = _seconds(lowered.get("retry-after"))
                state["blocked_until"] = max(float(state.get("blocked_until", 0.0)), now + retry_after)
                if status == 418:
                    state["banned"] = True
                state["probe_until"] = 0.0
            elif state.get("banned"):  # the probe was answered, not banned: the ban is over
                state["banned"] = False
                state["probe_until"] = 0.0

    def _sync_counts(self, state: dict[str, Any], now: float, headers: Mapping[str, str]) -> None:
        for limit in self._limits(state):
            header = limit.header
            value = headers.get(header) if header is not None else None
            if value is None or not value.strip().isdigit():
                continue
            ours = sum(e[1] for e in self._entries(state, limit, now))
            if int(value) > ours:  # the exchange counts more than we did: it is right
                self._charge(state, limit, now, int(value) - ours)

    def on_no_answer(self) -> None:
        """A request got no answer (timeout, dropped): if it was the probe, another may try."""
        with self._state() as state:
            state["probe_until"] = 0.0

    def ban_remaining(self) -> float | None:
        """Seconds until a 418 ban's probe may go (0 once it may); None when the host is not banned."""
        now = self._clock()
        with self._state(read_only=True) as state:
            if not state.get("banned"):
                return None
            return max(0.0, float(state.get("blocked_until", 0.0)) - now)


def _parse(text: str, path: Path) -> dict[str, Any]:
    """A state file's contents; one cut short by a crash mid-write starts afresh (and says so)."""
    if not text.strip():
        return {}
    try:
        state = json.loads(text)
    except ValueError:
        state = None
    if not isinstance(state, dict):
        log.warning("rate limiter state %s unreadable; starting it afresh", path)
        return {}
    return state


def _seconds(value: str | None) -> float:
    """A Retry-After in seconds; a missing or unreadable one blocks for a minute (Binance's weight window)."""
    try:
        seconds = float(value) if value is not None else 60.0
    except ValueError:
        seconds = 60.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 60.0
