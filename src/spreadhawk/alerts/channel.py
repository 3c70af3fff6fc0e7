"""One destination as the worker drives it: an outbox, a token bucket, a backoff, one send in flight.

A send runs on a daemon thread of its own, so a destination that hangs holds only that thread: the
worker goes on coalescing and serving the other destinations. A destination is sent at most one
message at a time; a send that outlives ``send_timeout_s`` is counted and logged as timed out, and
the destination waits for it (its sockets time out on their own, see ``notifier``) rather than
piling more threads onto a dead host. A failure (False, an exception, a 429) backs the destination
off exponentially and puts the message back in front; after ``max_attempts`` it is dropped with a
log line. Runs on the worker thread only.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from spreadhawk.alerts.coalesce import Message, merge
from spreadhawk.alerts.ports import Notifier

log = logging.getLogger("spreadhawk.alerts")


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    per_minute: float = 20.0  # the rate each destination is sent at, at most
    burst: int = 5  # sends allowed at once after a quiet spell
    outbox_size: int = 100  # messages waiting for one destination; beyond, the least severe go
    max_attempts: int = 5  # sends of one message before it is dropped (backoff 2+4+8+16 s between)
    backoff_s: float = 2.0  # wait after the first failure; doubled after each one
    max_backoff_s: float = 60.0
    send_timeout_s: float = 15.0  # a send still running after this is counted as timed out


class TokenBucket:
    __slots__ = ("_at", "capacity", "rate", "tokens")

    def __init__(self, per_minute: float, burst: int, now: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(max(burst, 1))
        self.tokens = self.capacity
        self._at = now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self.tokens)


@dataclass(slots=True)
class _Delivery:
    message: Message
    attempts: int = 0


class _Send:
    """One send in flight, on its own daemon thread."""

    __slots__ = ("delivery", "error", "ok", "started", "thread", "timed_out")

    def __init__(self, notifier: Notifier, delivery: _Delivery, now: float) -> None:
        self.delivery = delivery
        self.started = now
        self.ok = False
        self.error: str | None = None
        self.timed_out = False
        self.thread = threading.Thread(target=self._run, args=(notifier,), name="alert-send", daemon=True)
        self.thread.start()

    def _run(self, notifier: Notifier) -> None:
        message = self.delivery.message
        try:
            self.ok = notifier.notify(message.title, message.body, message.severity)
        except Exception as exc:  # any failure of a destination is a failed send
            self.error = type(exc).__name__  # never str(exc): it may carry the URL


@dataclass(slots=True)
class ChannelStats:
    sent: int = 0  # messages delivered
    alerts_sent: int = 0  # alerts they carried
    failed: int = 0  # failed attempts (False, an exception, a timeout)
    timeouts: int = 0
    retried: int = 0
    given_up: int = 0  # messages dropped after max_attempts
    dropped: int = 0  # messages dropped from a full outbox


class Channel:
    def __init__(self, name: str, notifier: Notifier, limits: ChannelLimits, now: float) -> None:
        self.name = name  # described: scheme and masked host only
        self._notifier = notifier
        self._limits = limits
        self._bucket = TokenBucket(limits.per_minute, limits.burst, now)
        self.outbox: deque[_Delivery] = deque()
        self.stats = ChannelStats()
        self._not_before = now
        self._sending: _Send | None = None

    @property
    def idle(self) -> bool:
        return not self.outbox and self._sending is None

    @property
    def pending(self) -> int:
        return len(self.outbox) + (self._sending is not None)

    def offer(self, message: Message) -> None:
        outbox = self.outbox
        if len(outbox) >= self._limits.outbox_size:
            victim = min(outbox, key=lambda d: d.message.severity)  # the oldest of the least severe
            if victim.message.severity > message.severity:
                victim = _Delivery(message)  # the new one is the least severe: it goes
            else:
                outbox.remove(victim)
            self.stats.dropped += 1
            if victim.message is message:
                return
        outbox.append(_Delivery(message))

    def squash(self, room: int, why: str) -> None:
        """Merge the outbox into at most ``room`` messages (at least one): the last carries the rest."""
        room = max(room, 1)
        if len(self.outbox) > room:
            keep = [self.outbox.popleft() for _ in range(room - 1)]
            rest = merge([d.message for d in self.outbox], why)
            self.outbox.clear()
            self.outbox.extend([*keep, _Delivery(rest)])

    def squash_for_shutdown(self, now: float) -> None:
        """The outbox in as many messages as the rate limit still allows."""
        self.squash(self._bucket.available(now), "at shutdown")

    def pump(self, now: float) -> None:
        sending = self._sending
        if sending is not None:
            if sending.thread.is_alive():
                if not sending.timed_out and now - sending.started > self._limits.send_timeout_s:
                    sending.timed_out = True
                    self.stats.timeouts += 1
                    log.warning("alert destination %s: no answer after %.0f s", self.name, now - sending.started)
                return
            self._sending = None
            self._settle(sending, now)
        if not self.outbox or now < self._not_before or not self._bucket.take(now):
            return
        if len(self.outbox) > self._limits.burst:  # a backlog (a slow or dead destination): one message, not a flood
            self.squash(1, "held back while the destination was slow or unreachable")
        self._sending = _Send(self._notifier, self.outbox.popleft(), now)

    def abandon(self) -> int:
        """What is left undelivered (shutdown): the outbox and a send still in flight."""
        left = sum(d.message.alerts for d in self.outbox)
        if self._sending is not None:
            left += self._sending.delivery.message.alerts
        return left

    def _settle(self, sending: _Send, now: float) -> None:
        delivery = sending.delivery
        delivery.attempts += 1
        if sending.ok:
            self.stats.sent += 1
            self.stats.alerts_sent += delivery.message.alerts
            return
        self.stats.failed += 1
        why = sending.error or ("timed out" if sending.timed_out else "refused or unreachable")
        lim = self._limits
        if delivery.attempts >= lim.max_attempts:
            self.stats.given_up += 1
            log.error(
                "alert destination %s: dropped %r after %d attempts (%s)",
                self.name,
                delivery.message.title,
                delivery.attempts,
                why,
            )
            return
        wait = min(lim.backoff_s * 2 ** (delivery.attempts - 1), lim.max_backoff_s)
        self._not_before = now + wait
        self.stats.retried += 1
        self.outbox.appendleft(delivery)
        log.warning(
            "alert destination %s: send failed (%s, attempt %d of %d); retrying in %.1f s",
            self.name,
            why,
            delivery.attempts,
            lim.max_attempts,
            wait,
        )
