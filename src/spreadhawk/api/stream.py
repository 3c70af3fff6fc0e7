"""The WebSocket stream: fills and alerts as they happen; PnL, risk changes, the kill switch and
opportunities once a second.

A client authenticates in its first message (``{"token": "..."}``, RELIABILITY.md §5, S8: never in
the URL, which logs keep) within ``AUTH_TIMEOUT_S``, from an allowed ``Origin`` (a page of another
site cannot read the stream through the user's browser). Each client has a bounded queue: a client
that reads slowly loses its oldest messages (it is told how many), never slows the node. Messages
are put on the queues from the node's loop thread, so publishing costs the trading path one
``put_nowait`` per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from spreadhawk.alerts import DEFAULT_KINDS, Alert, AlertKind, AlertRouter
from spreadhawk.api.auth import ApiTokens
from spreadhawk.api.control import NodeControl, record_json
from spreadhawk.domain.events import OrderFilled

__all__ = ["AUTH_TIMEOUT_S", "QUEUE_SIZE", "StreamHub"]

AUTH_TIMEOUT_S = 5.0
QUEUE_SIZE = 1_000
TICK_S = 1.0


class StreamHub:
    def __init__(self, control: NodeControl | None, tokens: ApiTokens, origins: Callable[[str], bool]) -> None:
        self.control = control
        self.tokens = tokens
        self.origin_allowed = origins
        self.clients: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.dropped: dict[int, int] = {}
        self._seen_records = 0
        if control is not None:
            control.engine.bus.subscribe(OrderFilled, self._on_fill)
            # the alerts a person would be sent (breakers, kill switch, disconnects, ...) -- made by the
            # alerts' own router, so the stream and the channels say the same; fills are streamed above
            AlertRouter(control.engine, _StreamAlerts(self), DEFAULT_KINDS - {AlertKind.FILL}).subscribe(
                control.engine.bus
            )

    # ------------------------------------------------------------------ publishing (node's thread)
    def publish(self, message: dict[str, Any]) -> None:
        for key, queue in self.clients.items():
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # the oldest goes: a slow reader never slows the node
                self.dropped[key] = self.dropped.get(key, 0) + 1
            queue.put_nowait(message)

    def _on_fill(self, fill: OrderFilled) -> None:
        if not self.clients:
            return
        if self.control is not None and self.control.engine.fills and self.control.engine.fills[-1] is fill:
            self.publish({"type": "fill", **self.control.fills(1)[0]})

    def tick(self) -> None:
        """The once-a-second picture: PnL, the kill switch, new risk changes, the best opportunities."""
        control = self.control
        if control is None or not self.clients:
            return
        self.publish({"type": "pnl", "ts_ns": control.now_ns(), **control.profits()})
        self.publish({"type": "kill_switch", **control.kill_switch()})
        risk = control.node.risk
        if risk is not None:
            for record in risk.records[self._seen_records :]:
                self.publish({"type": "risk", "record_type": type(record).__name__, **record_json(record)})
            self._seen_records = len(risk.records)
        if control.scanner is not None:
            self.publish({"type": "opportunities", **control.opportunities(10)})

    async def run_ticks(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)  # noqa: TID251 (paces a display in wall time; nothing trades on it)
            self.tick()

    # ------------------------------------------------------------------ a client
    async def serve(self, socket: WebSocket) -> None:
        origin = socket.headers.get("origin")
        if origin is not None and not self.origin_allowed(origin):
            await socket.close(code=1008, reason="origin not allowed")
            return
        await socket.accept()
        try:
            first = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT_S)
            presented = json.loads(first).get("token", "")
        except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
            await _close(socket, 1008, 'send {"token": ...} first')
            return
        if not isinstance(presented, str) or self.tokens.scope_of(presented) is None:
            await _close(socket, 1008, "invalid token")
            return
        key = id(socket)
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self.clients[key] = queue
        try:
            await socket.send_json({"type": "hello", "node": self.control is not None})
            if self.control is not None:
                self.tick()
            while True:
                message = await queue.get()
                lost = self.dropped.pop(key, 0)
                if lost:
                    await socket.send_json({"type": "dropped", "messages": lost})
                await socket.send_json(message)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.clients.pop(key, None)
            self.dropped.pop(key, None)


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):
        await socket.close(code=code, reason=reason)


class _StreamAlerts:
    """An alert sink that puts each alert on the stream (``AlertSink``: never blocks)."""

    def __init__(self, hub: StreamHub) -> None:
        self._hub = hub

    def put_nowait(self, alert: Alert) -> bool:
        if self._hub.clients:
            self._hub.publish(
                {
                    "type": "alert",
                    "ts_ns": alert.ts_ns,
                    "kind": alert.kind.value,
                    "severity": alert.severity.name.lower(),
                    "title": alert.title,
                    "body": alert.body,
                }
            )
        return True

    def close(self, timeout: float | None = None) -> None:
        """Nothing to flush: the stream's queues belong to its clients."""
