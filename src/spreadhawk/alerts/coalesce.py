"""Coalescing: a burst of alerts with one key becomes one message.

The first alert of a key goes out at once (a kill switch is news now). Alerts of that key arriving
within ``window_s`` after it are held, then sent together as one digest when the window ends ("12
fills on BINANCE:BTC/USDT"); a key that keeps firing yields at most one message per window.
Runs on the dispatcher's worker thread only; ``now`` is its monotonic clock in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from spreadhawk.alerts.model import Alert, AlertKind, Severity, plural

SHOWN = 5  # alerts quoted in a digest; the rest are counted
MAX_BODY = 3500  # characters (Telegram refuses more than 4096)


@dataclass(frozen=True, slots=True)
class Message:
    """What a destination receives: one alert, or a digest of several with one key."""

    title: str
    body: str
    severity: Severity
    kind: AlertKind
    alerts: int = 1  # how many alerts it carries


def when(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def single(alert: Alert) -> Message:
    body = f"{alert.body}\n(at {when(alert.ts_ns)})" if alert.body else f"(at {when(alert.ts_ns)})"
    return Message(alert.title, _cut(body), alert.severity, alert.kind)


@dataclass(slots=True)
class _Group:
    due: float
    first: Alert
    shown: list[Alert] = field(default_factory=list)
    last: Alert | None = None
    count: int = 0
    severity: Severity = Severity.INFO

    def add(self, alert: Alert) -> None:
        if len(self.shown) < SHOWN:
            self.shown.append(alert)
        self.last = alert
        self.count += 1
        self.severity = max(self.severity, alert.severity)

    def message(self) -> Message:
        first = self.first
        if self.count == 1:
            return single(first)
        about = f" on {first.subject}" if first.subject else ""
        title = f"{self.count} {plural(first.kind)}{about}"
        lines = [f"- {a.title}: {a.body}" if a.body else f"- {a.title}" for a in self.shown]
        last = self.last
        if self.count > len(self.shown) and last is not None:
            lines.append(f"... and {self.count - len(self.shown)} more; the last: {last.title}: {last.body}")
        end = last.ts_ns if last is not None else first.ts_ns
        lines.append(f"(from {when(self.shown[0].ts_ns)} to {when(end)})")
        return Message(title, _cut("\n".join(lines)), self.severity, first.kind, self.count)


class Coalescer:
    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._last: dict[str, float] = {}  # key -> when its last message left
        self._groups: dict[str, _Group] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, alert: Alert, now: float) -> Message | None:
        """The message to send now (the first of its key for a while), or None (held for a digest)."""
        key = alert.key
        group = self._groups.get(key)
        if group is None:
            last = self._last.get(key)
            if last is None or now - last >= self.window_s:
                self._last[key] = now
                return single(alert)
            group = self._groups[key] = _Group(last + self.window_s, alert)
        group.add(alert)
        return None

    def due(self, now: float, *, flush: bool = False) -> list[Message]:
        """The digests whose window has ended (every one when ``flush``)."""
        out: list[Message] = []
        for key, group in list(self._groups.items()):
            if flush or now >= group.due:
                out.append(group.message())
                del self._groups[key]
                self._last[key] = now
        if len(self._last) > 4 * len(self._groups) + 64:  # forget keys quiet for a whole window
            self._last = {k: t for k, t in self._last.items() if now - t < self.window_s or k in self._groups}
        return out

    def next_due(self) -> float | None:
        return min((g.due for g in self._groups.values()), default=None)


def merge(messages: list[Message], why: str) -> Message:
    """Several messages as one (a destination with one send left before shutdown)."""
    if len(messages) == 1:
        return messages[0]
    severity = max(m.severity for m in messages)
    ordered = sorted(messages, key=lambda m: -m.severity)  # the gravest first: a cut body loses the least
    body = "\n\n".join(f"{m.title}\n{m.body}" for m in ordered)
    total = sum(m.alerts for m in messages)
    return Message(f"{total} alerts {why}", _cut(body), severity, messages[0].kind, total)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 15] + "\n... (cut)"
