"""Named crash points (RELIABILITY.md §4.1 R3): where a node can be killed to prove it recovers.

``crashpoint(name)`` does nothing unless that point is armed, by ``SPREADHAWK_CRASH_AT=name`` (or
``name:N``: the N-th time the point is reached) in the environment at import, or by ``arm`` (a forked
test process). Armed and reached, it sends the process SIGKILL: no ``finally`` runs, no buffer is
flushed, exactly as a power cut or the OOM killer would leave things. The check is one global read,
cheap enough for the order path.

The points, in the order an order's life reaches them:

=========================================  ===============================================================
``before_intent_commit``                   the strategy decided; the intent is not journaled yet
``during_checkpoint_write``                half of the intent's journal line is on disk (a torn write)
``after_intent_commit_before_send``        the intent is fsynced; the request has not left
``after_send_before_ack``                  the exchange accepted the order; the answer is not reported
``after_ack_before_commit``                the acknowledgement reached the engine; not yet journaled
``between_fill_insert_and_position_update`` a fill is journaled (buffered); the position not yet moved
``after_close_before_protective_cancel``   a fill closed a position; its stop-loss is not cancelled yet
=========================================  ===============================================================
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

__all__ = ["CRASH_POINTS", "arm", "crashpoint", "disarm"]

CRASH_POINTS = (
    "before_intent_commit",
    "during_checkpoint_write",
    "after_intent_commit_before_send",
    "after_send_before_ack",
    "after_ack_before_commit",
    "between_fill_insert_and_position_update",
    "after_close_before_protective_cancel",
)
ENV = "SPREADHAWK_CRASH_AT"

_armed: str | None = None
_remaining = 0


def arm(spec: str) -> None:
    """Arm ``name`` or ``name:N`` (crash the N-th time the point is reached; default the first)."""
    global _armed, _remaining
    name, _, count = spec.partition(":")
    if name not in CRASH_POINTS:
        raise ValueError(f"unknown crash point {name!r} (known: {', '.join(CRASH_POINTS)})")
    times = int(count) if count else 1
    if times < 1:
        raise ValueError(f"crash point {spec!r}: N must be at least 1")
    _armed, _remaining = name, times


def disarm() -> None:
    global _armed  # noqa: PLW0603
    _armed = None


def crashpoint(name: str, before: Callable[[], None] | None = None) -> None:
    """Die here by SIGKILL if ``name`` is armed and due; ``before`` runs first (a torn write)."""
    global _remaining  # noqa: PLW0603
    if _armed != name:
        return
    _remaining -= 1
    if _remaining > 0:
        return
    if before is not None:
        before()
    os.kill(os.getpid(), signal.SIGKILL)


if os.environ.get(ENV):
    arm(os.environ[ENV])
