"""The spot user-data stream (listenKey flavour, user-data-stream.md): ``executionReport`` and
``outboundAccountPosition`` events, in Binance's format, to every websocket on ``/ws/<listenKey>``.

Events are queued per connection when the exchange emits them (synchronously, in matching order) and
written by the connection's own task, so a slow client never blocks the matching engine and every
client sees the events in the order the exchange produced them.

Faults (``stream_faults``): armed with ``arm`` or ``POST /emulator/stream_fault``. A connection's queue
carries texts, and pauses (seconds, ``inf`` for a stall) its writer keeps before the next text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from spreadhawk.venues.emulator.exchange import Balance, Order, SpotExchange, Trade
from spreadhawk.venues.emulator.faults import FaultError
from spreadhawk.venues.emulator.formats import num
from spreadhawk.venues.emulator.stream_faults import BAD_MESSAGES, StreamFault, StreamFaultKind, bad_message

__all__ = ["UserStreams", "execution_report"]

log = logging.getLogger(__name__)


def execution_report(order: Order, exec_type: str, trade: Trade | None, event_ms: int) -> dict[str, object]:
    """The ``executionReport`` of one order event; ``trade`` is set for TRADE."""
    last_qty = trade.qty if trade else Decimal(0)
    last_price = trade.price if trade else Decimal(0)
    return {
        "e": "executionReport",
        "E": event_ms,
        "s": order.symbol,
        "c": order.client_id,
        "S": order.side,
        "o": order.type,
        "f": order.time_in_force,
        "q": num(order.qty),
        "p": num(order.price),
        "P": num(Decimal(0)),
        "F": num(Decimal(0)),
        "g": -1,
        "C": order.client_id if exec_type == "CANCELED" else "",
        "x": exec_type,
        "X": order.status,
        "r": "NONE",
        "i": order.order_id,
        "l": num(last_qty),
        "z": num(order.executed),
        "L": num(last_price),
        "n": num(trade.commission) if trade else "0",
        "N": trade.commission_asset if trade else None,
        "T": trade.time if trade else order.update_time,
        "t": trade.trade_id if trade else -1,
        "v": 0,
        "I": 0,
        "w": order.is_open,
        "m": bool(trade and trade.maker),
        "M": False,
        "O": order.time,
        "Z": num(order.cumulative_quote),
        "Y": num(last_qty * last_price),
        "Q": num(order.quote_qty),
        "W": order.time,
        "V": "NONE",
    }


_Queue = asyncio.Queue[str | float | None]  # texts to send; a float: pause that long first; None: close
_UNKNOWN_FIELDS = {"zz": "a field Binance may add", "newFeature": {"nested": [1, 2]}}


class UserStreams:
    """listenKeys and the websockets listening on them, and the WebSocket-API subscriptions
    (``userDataStream.subscribe.signature`` on ``/ws-api/v3``, what ccxt's ``watch_orders`` uses for spot)."""

    def __init__(self, exchange: SpotExchange, secrets: Mapping[str, str]) -> None:
        self.exchange = exchange
        self.secrets = dict(secrets)  # api key -> secret, to check subscription signatures
        self._keys: dict[str, set[_Queue]] = {}
        self._subscribed: dict[_Queue, int] = {}  # WebSocket-API connection -> its subscriptionId
        self._api_connections: set[_Queue] = set()  # every WebSocket-API connection, subscribed or not
        self._armed: list[list[Any]] = []  # per-report faults and the reports they still apply to
        self._held: list[dict[str, object]] = []  # reports a reorder holds back
        self._counter = itertools.count(1)
        self._subscriptions = itertools.count(0)
        exchange.listeners.executions.append(self._on_execution)
        exchange.listeners.balances.append(self._on_balances)

    @property
    def subscriptions(self) -> int:
        """WebSocket-API connections subscribed (a test waits for it before trading)."""
        return len(self._subscribed)

    @property
    def listeners(self) -> int:
        """Websockets listening on a listenKey (the futures user stream)."""
        return sum(len(queues) for queues in self._keys.values())

    def new_key(self) -> str:
        # 60 characters like Binance's; deterministic so a run replays from its seed.
        key = f"emulatorlistenkey{next(self._counter):043d}"
        self._keys[key] = set()
        return key

    def known(self, key: str) -> bool:
        return key in self._keys

    async def close_key(self, key: str) -> None:
        for queue in self._keys.pop(key, set()):
            queue.put_nowait(None)  # the writer closes the socket

    def _publish(self, event: dict[str, object] | str | float) -> None:
        """To every listener: an event, a raw text (sent as is), or a pause (seconds)."""
        for queues in self._keys.values():
            for queue in queues:
                queue.put_nowait(_dumps(event) if isinstance(event, dict) else event)
        for queue, subscription in self._subscribed.items():  # the WebSocket API wraps each event
            if isinstance(event, float):
                queue.put_nowait(event)
            else:
                inner = _dumps(event) if isinstance(event, dict) else event
                queue.put_nowait(f'{{"subscriptionId":{subscription},"event":{inner}}}')

    def _on_execution(self, order: Order, exec_type: str, trade: Trade | None) -> None:
        report = execution_report(order, exec_type, trade, self.exchange.clock())
        fault = self._next_report_fault()
        kind = fault.kind if fault is not None else None
        if kind is StreamFaultKind.REORDER:
            self._held.append(report)
            return
        if kind is StreamFaultKind.DELAY and fault is not None:
            self._publish(fault.ms / 1000)
        if kind is StreamFaultKind.UNKNOWN_FIELDS:
            report = {**report, **_UNKNOWN_FIELDS}
        self._publish(report)
        if kind is StreamFaultKind.DUPLICATE:
            self._publish(report)
        held, self._held = self._held, []
        for late in held:  # after the report that overtook them
            self._publish(late)

    # --- faults -----------------------------------------------------------------------
    def arm(self, fault: StreamFault) -> None:
        """Apply ``fault`` to the next reports, or at once to the connections open now."""
        log.info("emulator: user-stream fault %s", fault)
        if fault.kind.per_report:
            self._armed.append([fault, fault.count])
        elif fault.kind in BAD_MESSAGES:
            symbol = next(iter(self.exchange.rules), "BTCUSDT")
            self._publish(bad_message(fault.kind, symbol, self.exchange.clock()))
        elif fault.kind is StreamFaultKind.STALL:
            for queue in {*self._api_connections, *(q for qs in self._keys.values() for q in qs)}:
                queue.put_nowait(math.inf)
        else:
            self._end_streams(fault.kind)

    def _end_streams(self, kind: StreamFaultKind) -> None:
        """``eventStreamTerminated`` / ``listenKeyExpired``: said once, then nothing more follows."""
        now = self.exchange.clock()
        if kind is StreamFaultKind.EXPIRE:
            for key in list(self._keys):
                for queue in self._keys.pop(key):
                    queue.put_nowait(_dumps({"e": "listenKeyExpired", "E": now, "listenKey": key}))
        event = {"e": "eventStreamTerminated" if kind is StreamFaultKind.TERMINATE else "listenKeyExpired", "E": now}
        for queue, subscription in list(self._subscribed.items()):
            queue.put_nowait(_dumps({"subscriptionId": subscription, "event": event}))
            del self._subscribed[queue]

    def _next_report_fault(self) -> StreamFault | None:
        if not self._armed:
            return None
        armed = self._armed[0]
        armed[1] -= 1
        if armed[1] == 0:
            self._armed.pop(0)
        fault: StreamFault = armed[0]
        return fault

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/emulator/stream_fault", self._post_fault)

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            fault = StreamFault.from_mapping(await request.json())
        except (FaultError, ValueError) as exc:  # ValueError covers malformed JSON too
            return web.json_response({"error": str(exc)}, status=400)
        self.arm(fault)
        return web.json_response({"armed": {"kind": str(fault.kind), "count": fault.count, "ms": fault.ms}})

    def _on_balances(self, changed: dict[str, Balance]) -> None:
        now = self.exchange.clock()
        balances = [{"a": a, "f": num(b.free), "l": num(b.locked)} for a, b in sorted(changed.items())]
        self._publish({"e": "outboundAccountPosition", "E": now, "u": now, "B": balances})

    async def serve(self, request: web.Request, key: str) -> web.WebSocketResponse:
        """A listenKey stream: events only; the client sends nothing."""
        queue: _Queue = asyncio.Queue()
        self._keys[key].add(queue)
        try:
            return await _pump(request, queue, lambda text: None)
        finally:
            self._keys.get(key, set()).discard(queue)

    async def serve_ws_api(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket API's user-data requests; events follow a successful subscription."""
        queue: _Queue = asyncio.Queue()

        def answer(text: str) -> None:
            queue.put_nowait(self._ws_api_request(queue, text))

        self._api_connections.add(queue)
        try:
            return await _pump(request, queue, answer)
        finally:
            self._subscribed.pop(queue, None)
            self._api_connections.discard(queue)

    def _ws_api_request(self, queue: _Queue, text: str) -> str:
        try:
            request = json.loads(text)
            request_id, method, params = request.get("id"), request.get("method"), request.get("params", {})
        except (ValueError, AttributeError):
            return _ws_error(None, 400, -1100, "Malformed request.")
        session = self._session_request(queue, request_id, method)
        if session is not None:
            return session
        if method != "userDataStream.subscribe.signature" or not isinstance(params, dict):
            return _ws_error(request_id, 400, -1020, "This operation is not supported.")
        secret = self.secrets.get(str(params.get("apiKey")))
        if secret is None:
            return _ws_error(request_id, 401, -2015, "Invalid API-key, IP, or permissions for action.")
        # The WebSocket API signs its parameters sorted by name, joined as a query string.
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
        expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(params.get("signature", "")).lower(), expected):
            return _ws_error(request_id, 400, -1022, "Signature for this request is not valid.")
        subscription = self._subscribed.setdefault(queue, next(self._subscriptions))
        return json.dumps({"id": request_id, "status": 200, "result": {"subscriptionId": subscription}})

    def _session_request(self, queue: _Queue, request_id: object, method: object) -> str | None:
        """Unsubscribing, and ``session.subscriptions`` (what a keep-alive check asks: is my
        subscription alive?); None for any other method."""
        if method == "userDataStream.unsubscribe":
            self._subscribed.pop(queue, None)
            return json.dumps({"id": request_id, "status": 200, "result": {}})
        if method == "session.subscriptions":
            alive = [{"subscriptionId": self._subscribed[queue]}] if queue in self._subscribed else []
            return json.dumps({"id": request_id, "status": 200, "result": alive})
        return None


def _dumps(event: object) -> str:
    return json.dumps(event, separators=(",", ":"))


def _ws_error(request_id: object, status: int, code: int, msg: str) -> str:
    return json.dumps({"id": request_id, "status": status, "error": {"code": code, "msg": msg}})


async def _pump(request: web.Request, queue: _Queue, on_text: Callable[[str], None]) -> web.WebSocketResponse:
    """Send what ``queue`` holds (in order) while handing every text received to ``on_text``."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)

    async def write() -> None:
        while (item := await queue.get()) is not None:
            if isinstance(item, float):
                await asyncio.sleep(item if math.isfinite(item) else 1e9)  # a fault's pause, or a stall
            else:
                await ws.send_str(item)
        await ws.close()

    writer = asyncio.get_running_loop().create_task(write(), name="emulator-user-stream")
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                on_text(message.data)
            elif message.type is WSMsgType.ERROR:
                break
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
            await writer
    return ws
