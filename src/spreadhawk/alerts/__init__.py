"""Alerts through apprise (Telegram, Slack, email and the rest), off the trading path (issue #13).

``attach_alerts(engine, AlertDispatcher.from_destinations(load_destinations(os.environ, path)))``
sends a paper or live node's fills, loss limits, breakers, pauses, venue modes, kill switch changes,
feed disconnects and reconciliation differences. The router (``router.py``) only puts alerts on a
bounded queue (``queue.py``); one worker thread (``dispatcher.py``) coalesces them
(``coalesce.py``) and sends them to each destination with a rate limit, backoff and bounded retries
(``channel.py``). Destination URLs are secrets (``secrets.py``). See docs/alerts.md.

Importing this package does not import apprise (slow to load); ``load_destinations`` and
``AlertDispatcher.from_destinations`` do.
"""

from spreadhawk.alerts.channel import ChannelLimits
from spreadhawk.alerts.destinations import ENV_VAR, Destination, load_destinations
from spreadhawk.alerts.dispatcher import AlertDispatcher, AlertSettings, AlertStats
from spreadhawk.alerts.model import DEFAULT_KINDS, Alert, AlertKind, Severity
from spreadhawk.alerts.ports import AlertSink, Notifier
from spreadhawk.alerts.queue import AlertQueue
from spreadhawk.alerts.router import AlertRouter, attach_alerts
from spreadhawk.alerts.secrets import AlertConfigError, describe

__all__ = [
    "DEFAULT_KINDS",
    "ENV_VAR",
    "Alert",
    "AlertConfigError",
    "AlertDispatcher",
    "AlertKind",
    "AlertQueue",
    "AlertRouter",
    "AlertSettings",
    "AlertSink",
    "AlertStats",
    "ChannelLimits",
    "Destination",
    "Notifier",
    "Severity",
    "attach_alerts",
    "describe",
    "load_destinations",
]
