"""Times given by people (config keys, command-line options) as nanoseconds since the epoch, UTC.

Kept apart from the catalog so that the command line can check ``--start``/``--end`` without
loading pyarrow."""

from __future__ import annotations

from datetime import UTC, datetime


def to_ns(text: str) -> int:
    """``2024-08-08`` (midnight UTC), ``2024-08-08T23:55``, ``2024-08-08 23:55:00+02:00`` -> ns since
    the epoch; a time without an offset is UTC. ``ValueError`` names what was expected."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (e.g. 2024-08-08 or 2024-08-08T23:55:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
