"""The engine's inbox: the one door through which feeds and venues hand it messages.

Anything may post (a venue step inside the engine's own call, an asyncio task of a websocket
adapter, another thread); only the engine's driver takes messages out, one at a time, on the
engine's thread. So a venue report never runs inside the call that caused it: a strategy that
submits at zero latency returns from ``submit`` before it hears of the fill, exactly as it would
from a real exchange. Messages leave in the order they were posted (the sequence number the
scheduler rule speaks of is the position in this queue).

``append`` on a ``collections.deque`` is atomic in CPython, so posting needs no lock; the live
driver registers a ``wake`` callback to be told (thread-safely) that something arrived while it
sleeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

Wake = Callable[[], None]


class Inbox:
    __slots__ = ("_queue", "wake")

    def __init__(self) -> None:
        self._queue: deque[object] = deque()
        self.wake: Wake | None = None  # set by a driver that sleeps between messages

    def post(self, message: object) -> None:
        self._queue.append(message)
        wake = self.wake
        if wake is not None:
            wake()

    def take(self) -> object:
        """The oldest message (raises ``IndexError`` when empty: check truthiness first)."""
        return self._queue.popleft()

    def peek(self) -> object:
        """The oldest message, left in place (raises ``IndexError`` when empty)."""
        return self._queue[0]

    def __bool__(self) -> bool:
        return bool(self._queue)

    def __len__(self) -> int:
        return len(self._queue)
