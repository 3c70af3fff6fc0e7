"""The two small ports of the alerts package: where the router puts alerts, and what a destination is."""

from __future__ import annotations

from typing import Protocol

from spreadhawk.alerts.model import Alert, Severity


class AlertSink(Protocol):
    """Where the router hands alerts (``AlertDispatcher``). ``put_nowait`` runs on the trading path:
    it must never block, wait or do I/O."""

    def put_nowait(self, alert: Alert) -> bool: ...

    def close(self, timeout: float | None = None) -> None: ...


class Notifier(Protocol):
    """One destination."""

    def notify(self, title: str, body: str, severity: Severity) -> bool:
        """Send one message; True when the destination accepted it. May block (the dispatcher runs
        it on a thread of its own); may raise."""
        ...
