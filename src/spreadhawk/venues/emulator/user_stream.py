"""The spot user-data stream (listenKey flavour, user-data-stream.md): ``executionReport`` and
``outboundAccountPosition`` events, in Binance's format, to every websocket on ``/ws/<listenKey>``.

Events are queued per connection when the exchange emits them (synchronously, in matching order) and
written by the connection's own task, so a slow client never blocks the matching engine and every
client sees the events in the order the exchange produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Mapping
from decimal import Decimal

from aiohttp import WSMsgType, web

from spreadhawk.venues.emulator.exchange import Balance, Order, SpotExchange, Trade
from spreadhawk.venues.emulator.formats import num

__all__ = ["UserStreams", "execution_report"]


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


_Queue = asyncio.Queue[str | None]  # texts to send; None: close the socket


class UserStreams:
    """listenKeys and the websockets listening on them, and the WebSocket-API subscriptions
    (``userDataStream.subscribe.signature`` on ``/ws-api/v3``, what ccxt's ``watch_orders`` uses for spot)."""

    def __init__(self, exchange: SpotExchange, secrets: Mapping[str, str]) -> None:
        self.exchange = exchange
        self.secrets = dict(secrets)  # api key -> secret, to check subscription signatures
        self._keys: dict[str, set[_Queue]] = {}
        self._subscribed: dict[_Queue, int] = {}  # WebSocket-API connection -> its subscriptionId
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

    def _publish(self, event: dict[str, object]) -> None:
        text = json.dumps(event, separators=(",", ":"))
        for queues in self._keys.values():
            for queue in queues:
                queue.put_nowait(text)
        for queue, subscription in self._subscribed.items():  # the WebSocket API wraps each event
            queue.put_nowait(json.dumps({"subscriptionId": subscription, "event": event}, separators=(",", ":")))

    def _on_execution(self, order: Order, exec_type: str, trade: Trade | None) -> None:
        self._publish(execution_report(order, exec_type, trade, self.exchange.clock()))

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

        try:
            return await _pump(request, queue, answer)
        finally:
            self._subscribed.pop(queue, None)

    def _ws_api_request(self, queue: _Queue, text: str) -> str:
        try:
            request = json.loads(text)
            request_id, method, params = request.get("id"), request.get("method"), request.get("params", {})
        except (ValueError, AttributeError):
            return _ws_error(None, 400, -1100, "Malformed request.")
        if method == "userDataStream.unsubscribe":
            self._subscribed.pop(queue, None)
            return json.dumps({"id": request_id, "status": 200, "result": {}})
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


def _ws_error(request_id: object, status: int, code: int, msg: str) -> str:
    return json.dumps({"id": request_id, "status": status, "error": {"code": code, "msg": msg}})


async def _pump(request: web.Request, queue: _Queue, on_text: Callable[[str], None]) -> web.WebSocketResponse:
    """Send what ``queue`` holds (in order) while handing every text received to ``on_text``."""
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)

    async def write() -> None:
        while (text := await queue.get()) is not None:
            await ws.send_str(text)
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
