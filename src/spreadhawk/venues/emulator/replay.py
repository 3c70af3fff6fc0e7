"""The replay: the captures' messages in receive-time order, paced, with faults, to the subscribers.

One replay per emulator, shared by every connection, as an exchange's stream is: a client that
subscribes late sees the replay from where it is. Pacing follows the recorded receive times (the
exchange times ``E`` of multiplexed streams go back by a few ms) divided by ``speed``; ``speed`` 0
replays as fast as the sockets take it. The emulator is an adapter, so it sleeps on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from spreadhawk.venues.emulator.captures import Capture, Message, RawBook, StreamKind
from spreadhawk.venues.emulator.faults import Fault, FaultKind, FiredFault

__all__ = ["Replay", "Subscriber", "shifted"]

log = logging.getLogger(__name__)
_YIELD_EVERY = 256  # messages between yields to the loop when replaying as fast as possible


class Subscriber(Protocol):
    """A client connection as the replay sees it."""

    def wants(self, symbol: str, kind: StreamKind) -> bool: ...

    async def send(self, text: str) -> None:
        """Send one message; never raises (a dead connection drops out of the replay itself)."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Armed:
    fault: Fault
    remaining: int  # diffs still to pass before it fires


class Replay:
    """Replays ``captures`` (one per symbol) to ``subscribers`` once ``start`` is called."""

    def __init__(
        self,
        captures: Sequence[Capture],
        *,
        speed: float = 1.0,
        faults: Iterable[Fault] = (),
        time_shift_ms: int = 0,
    ) -> None:
        if not captures:
            raise ValueError("a replay needs at least one capture")
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
        symbols = [c.symbol for c in captures]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"one capture per symbol, got {symbols}")
        self.speed = speed
        # Added to every exchange time sent (E, T): the capture replayed on another day's timeline, so
        # that it runs beside a recording of that day (seed 004: a Polymarket session's reference).
        self.time_shift_ms = time_shift_ms
        self.books = {c.symbol: RawBook(c.snapshot) for c in captures}
        self.recorded_snapshots = {c.symbol: c.snapshot for c in captures}
        self._messages = list(heapq.merge(*(c.messages for c in captures), key=lambda m: m.received_ns))
        self.subscribers: set[Subscriber] = set()
        # Called with every message once the book has it and before it is sent (the exchange's matching
        # of resting orders); synchronous, so a resting order fills at the book position that crossed it.
        self.listeners: list[Callable[[Message], None]] = []
        # Lockstep (the backtest-parity test): when set, awaited before each message and again between
        # its matching and its sending, in place of the pacing, so a client can finish with everything
        # (the fills the matching made included) before the market moves on: zero latency, as a backtest.
        self.gate: Callable[[], Awaitable[None]] | None = None
        self.fired: list[FiredFault] = []
        self.position = 0  # messages replayed so far
        self.sent = 0  # messages sent (to all subscribers together)
        self.last_event_ms: int | None = None
        self.finished = asyncio.Event()
        self._armed: list[_Armed] = []
        self._held: dict[str, Message] = {}  # reorder: a diff waiting for the next one
        self._skip: dict[str, int] = {}  # gap: diffs of a symbol still to swallow
        self._frozen_until: dict[str | None, float] = {}  # freeze: symbol (None: all) -> loop time
        self._shift = 0.0  # seconds added to the schedule by delays
        self._task: asyncio.Task[None] | None = None
        for fault in faults:
            self.arm(fault)

    @property
    def symbols(self) -> list[str]:
        return list(self.books)

    @property
    def started(self) -> bool:
        return self._task is not None

    def arm(self, fault: Fault) -> None:
        """Fire ``fault`` at the ``fault.after``-th next diff of its symbol."""
        if fault.symbol is not None and fault.symbol not in self.books:
            raise ValueError(f"fault on {fault.symbol}, which is not replayed (symbols: {', '.join(self.books)})")
        self._armed.append(_Armed(fault, fault.after))

    def start(self) -> None:
        """Start replaying (idempotent)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="emulator-replay")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the loop -----------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        first = self._messages[0].received_ns
        try:
            for i, message in enumerate(self._messages):
                if self.gate is not None:
                    await self.gate()
                elif self.speed > 0:
                    wait = start + self._shift + (message.received_ns - first) / 1e9 / self.speed - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                elif i % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                self._advance(i, message)
                for listener in self.listeners:
                    listener(message)
                if self.gate is not None:
                    await self.gate()
                if message.kind is StreamKind.DEPTH:
                    await self._depth(message)
                else:
                    await self._send(message)
        except Exception:  # a bug must not die silently in a background task
            log.exception("emulator replay failed")
            raise
        finally:
            self.finished.set()

    def _advance(self, index: int, message: Message) -> None:
        """The exchange's state moves to ``message`` (its book, its clock) before anyone hears of it."""
        self.position = index + 1
        if message.kind is StreamKind.DEPTH:
            self.books[message.symbol].apply(message.data)
        if "E" in message.data:
            self.last_event_ms = int(message.data["E"]) + self.time_shift_ms

    def _due(self, symbol: str) -> Fault | None:
        due: _Armed | None = None
        for armed in self._armed:
            if armed.fault.symbol not in (None, symbol):
                continue
            if armed.remaining > 0:
                armed.remaining -= 1
            elif due is None:
                due = armed
        if due is None:
            return None
        self._armed.remove(due)
        return due.fault

    async def _depth(self, message: Message) -> None:
        symbol = message.symbol
        if self._skip.get(symbol):
            self._skip[symbol] -= 1
            return
        fault = self._due(symbol)
        held = self._held.pop(symbol, None)
        if fault is None:
            await self._send(message)
        else:
            self.fired.append(FiredFault(fault, symbol, int(message.data["u"])))
            log.info("fault %s fired on %s at diff u=%s", fault.kind, symbol, message.data["u"])
            await self._inject(fault, message)
        if held is not None:
            await self._send(held)

    async def _inject(self, fault: Fault, message: Message) -> None:
        kind = fault.kind
        if kind is FaultKind.DUPLICATE:
            await self._send(message)
            await self._send(message)
        elif kind is FaultKind.REORDER:
            self._held[message.symbol] = message
        elif kind is FaultKind.DELAY:
            await asyncio.sleep(fault.seconds)
            self._shift += fault.seconds
            await self._send(message)
        elif kind is FaultKind.GAP:
            self._skip[message.symbol] = fault.count - 1
        elif kind is FaultKind.FREEZE:
            self._frozen_until[fault.symbol] = asyncio.get_running_loop().time() + fault.seconds
        elif kind is FaultKind.DISCONNECT:
            doomed = [s for s in self.subscribers if fault.symbol is None or s.wants(fault.symbol, StreamKind.DEPTH)]
            for subscriber in doomed:
                self.subscribers.discard(subscriber)
                await subscriber.close()
        elif kind is FaultKind.CORRUPT:
            bad = {**message.data, "b": [["not-a-price", "1.0"], *message.data["b"]]}
            await self._send(Message(message.received_ns, message.symbol, message.kind, bad))
        # FaultKind.DROP: nothing is sent

    def _frozen(self, symbol: str) -> bool:
        if not self._frozen_until:
            return False
        now = asyncio.get_running_loop().time()
        return now < self._frozen_until.get(symbol, 0.0) or now < self._frozen_until.get(None, 0.0)

    async def _send(self, message: Message) -> None:
        if self._frozen(message.symbol):
            return
        text: str | None = None
        for subscriber in list(self.subscribers):
            if subscriber.wants(message.symbol, message.kind):
                if text is None:
                    text = json.dumps(shifted(message.data, self.time_shift_ms), separators=(",", ":"))
                await subscriber.send(text)
                self.sent += 1


_TIME_FIELDS = ("E", "T")  # event time; trade / transaction time (and markPrice's next funding time)


def shifted(data: dict[str, Any], shift_ms: int) -> dict[str, Any]:
    """``data`` with its exchange times moved by ``shift_ms`` (a copy: captures are shared)."""
    if not shift_ms:
        return data
    return {**data, **{key: int(data[key]) + shift_ms for key in _TIME_FIELDS if key in data}}
