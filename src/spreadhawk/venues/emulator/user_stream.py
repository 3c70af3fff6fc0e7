"""The spot user-data stream (listenKey flavour, user-data-stream.md): ``executionReport`` and
``outboundAccountPosition`` events, in Binance's format, to every websocket on ``/ws/<listenKey>``.

Events are queued per connection when the exchange emits them (synchronously, in matching order) and
written by the connection's own task, so a slow client never blocks the matching engine and every
client sees the events in the order the exchange produced them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
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


class UserStreams:
    """listenKeys and the websockets listening on them."""

    def __init__(self, exchange: SpotExchange) -> None:
        self.exchange = exchange
        self._keys: dict[str, set[asyncio.Queue[str | None]]] = {}
        self._counter = itertools.count(1)
        exchange.listeners.executions.append(self._on_execution)
        exchange.listeners.balances.append(self._on_balances)

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

    def _on_execution(self, order: Order, exec_type: str, trade: Trade | None) -> None:
        self._publish(execution_report(order, exec_type, trade, self.exchange.clock()))

    def _on_balances(self, changed: dict[str, Balance]) -> None:
        now = self.exchange.clock()
        balances = [{"a": a, "f": num(b.free), "l": num(b.locked)} for a, b in sorted(changed.items())]
        self._publish({"e": "outboundAccountPosition", "E": now, "u": now, "B": balances})

    async def serve(self, request: web.Request, key: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._keys[key].add(queue)

        async def write() -> None:
            while (text := await queue.get()) is not None:
                await ws.send_str(text)
            await ws.close()

        writer = asyncio.get_running_loop().create_task(write(), name="emulator-user-stream")
        try:
            async for message in ws:  # nothing to answer; read so pings and the close are handled
                if message.type is WSMsgType.ERROR:
                    break
        finally:
            self._keys.get(key, set()).discard(queue)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await writer
        return ws
