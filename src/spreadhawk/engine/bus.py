"""The message bus: synchronous publish/subscribe keyed by message type.

Handlers run in the order they subscribed, on the engine's single thread, so delivery is
deterministic. A subscription may name a key to receive only the messages published under that
key: the strategy id for order and transfer events (a strategy hears only of its own orders), the
instrument id for market data and venue positions (a strategy hears only of the instruments it
asked for). A subscription without a key receives every message of its type, whatever its key.

Keyed and unkeyed handlers of one type run interleaved in subscription order, so who hears a message
first never depends on how it asked: a strategy that names its instruments is called at the same
point among the others as one that hears everything. The handlers of each (type, key) are resolved
once, on first use, into ``routes``; a new subscription clears them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class MessageBus:
    __slots__ = ("_subscriptions", "routes")

    def __init__(self) -> None:
        self._subscriptions: dict[type, list[tuple[str | None, Handler]]] = {}
        # Resolved routes. The engine's hot path indexes this plain dict itself and calls ``route``
        # only on a miss (a dict subclass with ``__missing__`` would lose the interpreter's fast path).
        self.routes: dict[type, dict[str | None, tuple[Handler, ...]]] = {}  # type -> key -> handlers

    def subscribe(self, message_type: type, handler: Handler, key: str | None = None) -> None:
        self._subscriptions.setdefault(message_type, []).append((key, handler))
        self.routes.clear()

    def route(self, message_type: type, key: str | None = None) -> tuple[Handler, ...]:
        """The handlers a message of ``message_type`` published under ``key`` reaches, in order."""
        by_key = self.routes.setdefault(message_type, {})
        found = by_key.get(key)
        if found is None:
            subscriptions = self._subscriptions.get(message_type, ())
            found = by_key[key] = tuple(h for k, h in subscriptions if k is None or k == key)
        return found

    def publish(self, message: object, key: str | None = None) -> None:
        for handler in self.route(type(message), key):
            handler(message)
