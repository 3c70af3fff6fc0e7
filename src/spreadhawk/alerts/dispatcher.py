"""The alert dispatcher: one daemon worker thread between the trading path and the destinations.

The trading thread only ever calls ``put_nowait`` (the bounded ``AlertQueue``: no lock, no wait).
The worker, every ``poll_s``: takes what is queued, coalesces it (``Coalescer``), hands each message
to every destination's ``Channel`` (rate limit, backoff, retries, one send in flight on a thread of
its own), and logs what the queue had to drop. Nothing it does can slow the engine down beyond the
interpreter's share of one more thread; a destination that hangs or answers 429 holds only its own
send thread.

``close(timeout)`` flushes what it can within ``timeout``: every held digest goes out now, each
destination's outbox is merged into as many messages as its rate limit still allows, and what is
still undelivered at the deadline is counted in one log line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from spreadhawk.alerts.channel import Channel, ChannelLimits
from spreadhawk.alerts.coalesce import Coalescer, Message
from spreadhawk.alerts.destinations import Destination
from spreadhawk.alerts.model import Alert, Severity
from spreadhawk.alerts.ports import Notifier
from spreadhawk.alerts.queue import AlertQueue

log = logging.getLogger("spreadhawk.alerts")
_DROP_LOG_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class AlertSettings:
    queue_size: int = 1000  # alerts waiting for the worker; beyond, the least severe go
    window_s: float = 10.0  # alerts of one key within this are sent as one message
    channel: ChannelLimits = field(default_factory=ChannelLimits)
    connect_timeout_s: float = 4.0  # each socket connect of a send (apprise ``cto``)
    read_timeout_s: float = 8.0  # each socket read of a send (apprise ``rto``)
    close_timeout_s: float = 5.0  # how long ``close`` may flush
    poll_s: float = 0.05  # how often the worker looks at the queue


@dataclass(frozen=True, slots=True)
class AlertStats:
    """Counters for the API and metrics (read from any thread)."""

    queued: int  # alerts waiting in the queue now
    dropped: dict[str, int]  # alerts the full queue dropped, by severity
    messages: int  # messages made (single alerts and digests)
    sent: int  # messages delivered (summed over destinations)
    failed: int  # failed sends: refused, unreachable, raised, timed out
    timeouts: int
    retried: int
    given_up: int  # messages dropped after their last attempt
    outbox_dropped: int  # messages dropped from a destination's full outbox
    pending: int  # messages waiting in outboxes or in flight


class AlertDispatcher:
    def __init__(
        self,
        notifiers: Sequence[tuple[str, Notifier]],
        settings: AlertSettings | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """``notifiers``: (a described name, never the URL; the notifier) per destination."""
        self.settings = settings or AlertSettings()
        self.queue = AlertQueue(self.settings.queue_size)
        self.put_nowait: Callable[[Alert], bool] = self.queue.put_nowait  # the trading path's only call
        self._now = now
        start = now()
        self.channels = [Channel(name, notifier, self.settings.channel, start) for name, notifier in notifiers]
        self._coalescer = Coalescer(self.settings.window_s)
        self._messages = 0
        self._closing = threading.Event()
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._dropped_logged = 0
        self._drop_logged_at = float("-inf")

    @classmethod
    def from_destinations(
        cls, destinations: Sequence[Destination], settings: AlertSettings | None = None
    ) -> AlertDispatcher:
        from spreadhawk.alerts.notifier import AppriseNotifier  # noqa: PLC0415 (apprise loads slowly)

        settings = settings or AlertSettings()
        notifiers: list[tuple[str, Notifier]] = []
        for d in destinations:
            notifier = AppriseNotifier(
                d.url, connect_timeout_s=settings.connect_timeout_s, read_timeout_s=settings.read_timeout_s
            )
            notifiers.append((d.described, notifier))
        return cls(notifiers, settings)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="alert-dispatcher", daemon=True)
        self._thread.start()
        for channel in self.channels:
            log.info("alerts to %s", channel.name)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float | None = None) -> None:
        """Flush what can be flushed within ``timeout`` seconds (default ``close_timeout_s``), then stop."""
        thread = self._thread
        if thread is None or self._closing.is_set():
            return
        wait = self.settings.close_timeout_s if timeout is None else timeout
        self._deadline = self._now() + wait
        self._closing.set()
        thread.join(wait + 1.0)

    def stats(self) -> AlertStats:
        channels = [c.stats for c in self.channels]
        return AlertStats(
            queued=len(self.queue),
            dropped={s.name.lower(): self.queue.dropped[s] for s in Severity},
            messages=self._messages,
            sent=sum(c.sent for c in channels),
            failed=sum(c.failed for c in channels),
            timeouts=sum(c.timeouts for c in channels),
            retried=sum(c.retried for c in channels),
            given_up=sum(c.given_up for c in channels),
            outbox_dropped=sum(c.dropped for c in channels),
            pending=sum(c.pending for c in self.channels),
        )

    # ------------------------------------------------------------------ the worker
    def _run(self) -> None:
        while True:
            closing = self._closing.is_set()
            try:
                done = self._step(self._now(), closing)
            except Exception:  # a bug here must not end alerting for the rest of the session
                log.exception("alert worker step failed")
                done = closing
            if done:
                break
            self._closing.wait(self.settings.poll_s / 2 if closing else self.settings.poll_s)
        self._report_drops(self._now(), force=True)
        left = sum(channel.abandon() for channel in self.channels) + len(self.queue)
        if left:
            log.error("alerts: %d alert(s) not delivered at shutdown", left)

    def _step(self, now: float, closing: bool) -> bool:
        """One pass; True when the worker may stop (closing, and flushed or out of time)."""
        coalescer = self._coalescer
        for alert in self.queue.take_all():
            message = coalescer.add(alert, now)
            if message is not None:
                self._post(message)
        for message in coalescer.due(now, flush=closing):
            self._post(message)
        for channel in self.channels:
            if closing:
                channel.squash_for_shutdown(now)
            channel.pump(now)
        self._report_drops(now)
        return closing and (all(c.idle for c in self.channels) or now >= self._deadline)

    def _post(self, message: Message) -> None:
        self._messages += 1
        for channel in self.channels:
            channel.offer(message)

    def _report_drops(self, now: float, *, force: bool = False) -> None:
        total = self.queue.dropped_total
        if total == self._dropped_logged or (not force and now - self._drop_logged_at < _DROP_LOG_EVERY_S):
            return
        by = ", ".join(f"{s.name.lower()} {self.queue.dropped[s]}" for s in Severity)
        log.warning("alert queue full: %d alert(s) dropped so far, least severe first (%s)", total, by)
        self._dropped_logged = total
        self._drop_logged_at = now
