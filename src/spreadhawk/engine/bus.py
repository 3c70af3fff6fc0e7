"""The message bus: synchronous publish/subscribe keyed by message type.

Handlers run in the order they subscribed, on the engine's single thread, so delivery is
deterministic. A subscription may name a key (the strategy id, for order events) to receive only
the messages published under that key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]
_NO_HANDLERS: tuple[Handler, ...] = ()


class MessageBus:
    __slots__ = ("_by_type", "_keyed")

    def __init__(self) -> None:
        self._by_type: dict[type, list[Handler]] = {}
        self._keyed: dict[tuple[type, str], list[Handler]] = {}

    def subscribe(self, message_type: type, handler: Handler, key: str | None = None) -> None:
        if key is None:
            self._by_type.setdefault(message_type, []).append(handler)
        else:
            self._keyed.setdefault((message_type, key), []).append(handler)

    def publish(self, message: object, key: str | None = None) -> None:
        message_type = type(message)
        for handler in self._by_type.get(message_type, _NO_HANDLERS):
            handler(message)
        if key is not None:
            for handler in self._keyed.get((message_type, key), _NO_HANDLERS):
                handler(message)

    def handlers(self, message_type: type) -> list[Handler] | None:
        """The unkeyed handlers of a type (the engine's hot path iterates them directly)."""
        return self._by_type.get(message_type)
