"""Alert destinations are secrets: a Telegram bot token, a Slack webhook, a mail password ride in the
apprise URL. None of it may reach a log, the journal, the database, a report or an error message.

- ``describe(url)`` is the only form of a URL this package ever shows: its scheme and a masked host
  (``tgram://1***``).
- ``protect(url)`` registers the URL's parts with a logging filter on the loggers that see them
  (apprise logs request URLs at DEBUG, urllib3 logs request paths, a request exception names its
  URL): every occurrence is replaced by ``***`` before any handler sees the record.
- ``read_private(path)`` reads a destinations file only when no one but its owner can read it (as
  the key store does).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import threading
from pathlib import Path
from urllib.parse import quote, unquote

MASK = "***"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")
_SEGMENTS = re.compile(r"[/?&#,;\s]+")  # path segments and query items (a Telegram token keeps its colon)
_PARTS = re.compile(r"[/:@?&=,#;+\s]+")  # and each piece of them
_MIN_SECRET = 6  # shorter parts (a port, "v1") are too common to hide and too short to matter
# Loggers that see destination URLs: apprise's own, and the HTTP stack under it.
WATCHED_LOGGERS = (
    "apprise",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "requests",
)  # not ours ("spreadhawk.alerts"): it never formats a URL, only ``describe``'s masked form


class AlertConfigError(ValueError):
    """A destination or the destinations file is unusable; the message never quotes a URL."""


def describe(url: str) -> str:
    """``scheme://h***``: enough to tell destinations apart in a log, nothing of the secret."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not _SCHEME.match(scheme):
        return MASK
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1].split(":", 1)[0]  # without user:password@ and :port
    return f"{scheme.lower()}://{host[:1]}{MASK}" if host else f"{scheme.lower()}://{MASK}"


def split_urls(text: str) -> list[str]:
    """URLs separated by whitespace or commas (a comma inside a URL, as in ``?to=a@x,b@y``, stays);
    lines starting with ``#`` are comments."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = "\n".join(lines)
    parts = re.split(r"\s+|,(?=\s*[A-Za-z][A-Za-z0-9+.-]*://)", joined)
    return [part.strip().strip(",") for part in parts if part.strip().strip(",")]


def read_private(path: Path) -> str:
    """The text of ``path``, refused when group or others may read it. The mode is checked on the
    open descriptor, so the file checked is the file read."""
    try:
        with path.open("rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise AlertConfigError(f"alerts file {path} is not a regular file")
            if st.st_mode & 0o077:
                mode = stat.S_IMODE(st.st_mode)
                raise AlertConfigError(
                    f"alerts file {path} has mode {mode:04o}; it must be readable by its owner only (chmod 600 {path})"
                )
            raw = handle.read()
    except OSError as exc:
        raise AlertConfigError(f"cannot read alerts file {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise AlertConfigError(f"alerts file {path} is not UTF-8 text") from None


def fragments(url: str) -> set[str]:
    """The parts of ``url`` a log line could carry: the whole of it after the scheme, each part
    between separators, each raw, percent-decoded and percent-encoded."""
    rest = url.strip().partition("://")[2] or url.strip()
    found: set[str] = set()
    for part in {rest, *_SEGMENTS.split(rest), *_PARTS.split(rest)}:
        for form in (part, unquote(part), quote(part, safe=""), quote(part)):
            if len(form) >= _MIN_SECRET:
                found.add(form)
    return found


class _Scrubber(logging.Filter):
    """Replaces every registered secret in a record (message, arguments, traceback) with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secrets: set[str]) -> None:
        with self._lock:
            merged = set(self._secrets) | secrets
            self._secrets = tuple(sorted(merged, key=len, reverse=True))  # longest first

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: keep only its format string
            message = str(record.msg)
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


SCRUBBER = _Scrubber()
_installed = False
_install_lock = threading.Lock()


def protect(url: str) -> None:
    """From now on, no watched logger lets any part of ``url`` through."""
    global _installed  # noqa: PLW0603 (one filter for the process, installed once)
    SCRUBBER.add(fragments(url))
    with _install_lock:
        if not _installed:
            for name in WATCHED_LOGGERS:
                logging.getLogger(name).addFilter(SCRUBBER)
            _installed = True


def scrub(text: str) -> str:
    """``text`` with every protected secret masked (an exception message about to be shown)."""
    return SCRUBBER.scrub(text)
