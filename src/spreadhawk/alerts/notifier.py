"""The apprise implementation of the ``Notifier`` port (``ports.py``).

One ``AppriseNotifier`` per destination URL, so each destination has its own rate limit, backoff and
send in flight. Apprise is told to send inline on the calling thread (no asynchronous mode, no
service deadline of its own: its pools are not daemon threads, and a hung send there would hold
the process at exit); the dispatcher runs every send on a daemon thread of its own and bounds it.
Each socket operation is bounded too: connect and read timeouts are set on the plugin (apprise's
``cto``/``rto``), unless the URL names its own.
"""

from __future__ import annotations

import warnings

import apprise
from apprise.manager_plugins import NotificationManager

from spreadhawk.alerts.model import Severity
from spreadhawk.alerts.secrets import protect

with warnings.catch_warnings():
    # Apprise loads every plugin on first use; its e-mail plugin imports ``imghdr``, deprecated
    # since Python 3.11. Loaded here, once, so no later send (on a thread) loads anything.
    warnings.simplefilter("ignore", DeprecationWarning)
    NotificationManager().load_modules()  # type: ignore[no-untyped-call]

_TYPES = {
    Severity.INFO: apprise.NotifyType.INFO,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
}


def _asset() -> apprise.AppriseAsset:
    return apprise.AppriseAsset(async_mode=False, service_timeout=0, secure_logging=True)


def _plugin(url: str) -> apprise.NotifyBase | None:
    protect(url)  # before apprise sees it: it may log the URL while parsing it
    return apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)


def is_valid(url: str) -> bool:
    """Whether apprise can send to ``url`` (a known scheme with the fields it needs)."""
    return _plugin(url) is not None


class AppriseNotifier:
    """One destination, sent to through apprise."""

    def __init__(self, url: str, *, connect_timeout_s: float = 4.0, read_timeout_s: float = 8.0) -> None:
        plugin = _plugin(url)
        if plugin is None:
            raise ValueError("not a URL apprise can send to")  # never the URL itself
        query = url.partition("?")[2].lower()
        if "cto=" not in query:
            plugin.socket_connect_timeout = connect_timeout_s
        if "rto=" not in query:
            plugin.socket_read_timeout = read_timeout_s
        self._apprise = apprise.Apprise(asset=_asset())
        self._apprise.add(plugin)

    def notify(self, title: str, body: str, severity: Severity) -> bool:
        result = self._apprise.notify(body=body, title=title, notify_type=_TYPES[severity], timeout=0)
        return bool(result)
