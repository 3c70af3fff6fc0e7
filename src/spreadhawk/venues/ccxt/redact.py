"""Keep API credentials out of logs, whatever the log level.

ccxt logs every request's headers at DEBUG (``X-MBX-APIKEY`` carries the API key), so a user who
turns DEBUG on for a support ticket would paste the key. Each venue gives ccxt a logger of its own
whose filter replaces every credential value with ``***`` before a handler sees the record; the
filter sits on the logger ccxt calls, so it applies whichever handlers are configured above it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["REDACTED", "SecretRedactor", "redacted_logger"]

REDACTED = "***"


class SecretRedactor(logging.Filter):
    """Rewrites a record's message with each secret replaced by ``***`` (the record still passes)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # longest first: a secret containing another is replaced whole
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for secret in self._secrets:
            clean = clean.replace(secret, REDACTED)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redacted_logger(name: str, secrets: Iterable[str]) -> logging.Logger:
    """The logger ``name`` with a filter that redacts ``secrets`` (replacing any such filter before)."""
    logger = logging.getLogger(name)
    for old in [f for f in logger.filters if isinstance(f, SecretRedactor)]:
        logger.removeFilter(old)
    logger.addFilter(SecretRedactor(secrets))
    return logger
