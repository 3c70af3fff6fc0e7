"""Binance USD-M's conditional orders, as its Algo Service has handled them since December 2025.

``STOP_MARKET`` and ``TAKE_PROFIT_MARKET`` orders are not matching-engine orders: they are placed on
``/fapi/v1/algoOrder`` (``algoType=CONDITIONAL``, ``clientAlgoId``, ``triggerPrice``), listed by
``/fapi/v1/openAlgoOrders``, reported by ``ALGO_UPDATE`` events, and have their own ids. What the
emulator does, after Binance's "New Algo Order" and "Event: Algo Order Update" pages:

* an algo order waits (``NEW``) until a replayed trade prints at or through its trigger
  (``workingType=CONTRACT_PRICE``, the default; STOP: buy when last >= trigger, sell when <=;
  TAKE_PROFIT the other way). One whose trigger the last price has already reached is refused
  (``-2021 Order would immediately trigger.``);
* triggered, it places a ``MARKET`` order in the matching engine with a new order id (``ai``, the
  actual order id) and the client id of the algo order; the market order's fills are ordinary
  trades (``ORDER_TRADE_UPDATE``, ``userTrades``). The algo order goes ``TRIGGERED``, then
  ``FINISHED`` once that order is done;
* when the matching engine refuses the market order (reduce-only with no position left to reduce:
  ``-2022``; margin), the algo order ends ``REJECTED`` with the reason (``rm``) and nothing trades;
* a cancel of an algo order that is not ``NEW`` any more, or unknown, is ``-2011 Unknown order
  sent.``; a look-up of an unknown one ``-2013 Order does not exist.``
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from spreadhawk.venues.emulator.exchange import ExchangeError
from spreadhawk.venues.emulator.formats import num

if TYPE_CHECKING:
    from spreadhawk.venues.emulator.futures_exchange import FuturesExchange

__all__ = ["AlgoDesk", "AlgoOrder", "algo_order_json", "algo_update"]

TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")
CLIENT_ALGO_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # the same rule as newClientOrderId
ZERO = Decimal(0)


@dataclass(slots=True)
class AlgoOrder:
    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    trigger: Decimal
    reduce_only: bool
    create_time: int
    status: str = "NEW"  # NEW, CANCELED, TRIGGERED, FINISHED, REJECTED
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int | None = None
    executed: Decimal = ZERO
    avg_price: Decimal = ZERO
    reason: str = ""

    def fires_at(self, last: Decimal) -> bool:
        rising = (self.side == "BUY") == (self.order_type == "STOP_MARKET")
        return last >= self.trigger if rising else last <= self.trigger


AlgoListener = Callable[[AlgoOrder], None]


class AlgoDesk:
    """The conditional orders of one futures account."""

    def __init__(self, exchange: FuturesExchange) -> None:
        self.exchange = exchange
        self.orders: dict[int, AlgoOrder] = {}
        self.listeners: list[AlgoListener] = []
        self._last: dict[str, Decimal] = {}  # symbol -> last traded price of the replay
        self._next_id = 1_000_001  # its own id space: an algo id is not an order id

    def place(
        self,
        symbol: str,
        side: str,
        order_type: str,
        *,
        qty: Decimal | None,
        trigger: Decimal | None,
        reduce_only: bool,
        client_algo_id: str | None,
    ) -> AlgoOrder:
        rules = self.exchange._rules(symbol)
        if side not in ("BUY", "SELL"):
            raise ExchangeError(-1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'.")
        if order_type not in TYPES:
            raise ExchangeError(-1116, "Invalid orderType.")
        if qty is None or trigger is None:
            raise ExchangeError(-1102, "Mandatory parameter 'quantity' or 'triggerPrice' was not sent, was empty/null.")
        if qty <= 0 or trigger <= 0 or qty % rules.step or trigger % rules.tick:
            raise ExchangeError(-1013, "Invalid quantity or triggerPrice.")
        if client_algo_id is not None and not CLIENT_ALGO_ID.match(client_algo_id):
            raise ExchangeError(-4015, "Client order id is not valid.")
        if client_algo_id is not None and any(
            o.client_algo_id == client_algo_id and o.status == "NEW" for o in self.orders.values()
        ):
            raise ExchangeError(-4116, "ClientOrderId is duplicated.")
        now = self.exchange.clock()
        algo_id, self._next_id = self._next_id, self._next_id + 1
        order = AlgoOrder(
            algo_id, client_algo_id or f"algo-{algo_id}", symbol, side, order_type, qty, trigger, reduce_only, now,
            update_time=now,
        )  # fmt: skip
        last = self._last.get(symbol) or self._mid(symbol)  # before the replay's first print: the book's mid
        if last is not None and order.fires_at(last):
            raise ExchangeError(-2021, "Order would immediately trigger.")
        self.orders[algo_id] = order
        self._emit(order)
        return order

    def _mid(self, symbol: str) -> Decimal | None:
        book = self.exchange.books[symbol]
        bids, asks = book.levels(bids=True), book.levels(bids=False)
        return (bids[0][0] + asks[0][0]) / 2 if bids and asks else None

    def find(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        """By algo id, or the latest with the client algo id; -2013 when there is none."""
        if algo_id is not None:
            found = [o for o in self.orders.values() if o.algo_id == algo_id]
        else:
            found = [o for o in self.orders.values() if o.client_algo_id == client_algo_id and client_algo_id]
        if not found:
            raise ExchangeError(-2013, "Order does not exist.")
        return found[-1]

    def cancel(self, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        try:
            order = self.find(algo_id, client_algo_id)
        except ExchangeError:
            raise ExchangeError(-2011, "Unknown order sent.") from None
        if order.status != "NEW":
            raise ExchangeError(-2011, "Unknown order sent.")
        order.status, order.update_time = "CANCELED", self.exchange.clock()
        self._emit(order)
        return order

    def open_orders(self, symbol: str | None) -> list[AlgoOrder]:
        return [o for o in self.orders.values() if o.status == "NEW" and symbol in (None, o.symbol)]

    def on_trade(self, symbol: str, data: dict[str, Any]) -> None:
        """A replayed trade: the algo orders it reaches fire, in the order they were placed."""
        last = Decimal(str(data["p"]))
        self._last[symbol] = last
        for order in [o for o in self.open_orders(symbol) if o.fires_at(last)]:
            self._fire(order)

    def _fire(self, order: AlgoOrder) -> None:
        now = self.exchange.clock()
        order.trigger_time = order.update_time = now
        try:
            child, _ = self.exchange.place(
                order.symbol, order.side, "MARKET", qty=order.qty, client_id=order.client_algo_id,
                reduce_only=order.reduce_only,
            )  # fmt: skip
        except ExchangeError as exc:
            order.status, order.reason = "REJECTED", "Reduce Only reject" if exc.code == -2022 else exc.msg
            self._emit(order)
            return
        order.actual_order_id = child.order_id
        order.executed = child.executed
        order.avg_price = child.cumulative_quote / child.executed if child.executed else ZERO
        order.status = "TRIGGERED"
        self._emit(order)
        order.status = "FINISHED"  # a market order is done at once: filled, or its rest expired
        self._emit(order)

    def _emit(self, order: AlgoOrder) -> None:
        for listener in self.listeners:
            listener(order)


def algo_order_json(order: AlgoOrder) -> dict[str, Any]:
    """``/fapi/v1/algoOrder`` and ``/fapi/v1/openAlgoOrders``: one conditional order."""
    return {
        "algoId": order.algo_id,
        "clientAlgoId": order.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": order.order_type,
        "symbol": order.symbol,
        "side": order.side,
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": num(order.qty),
        "algoStatus": order.status,
        "actualOrderId": "" if order.actual_order_id is None else str(order.actual_order_id),
        "executedQty": num(order.executed),
        "avgPrice": num(order.avg_price),
        "triggerPrice": num(order.trigger),
        "price": "0",
        "workingType": "CONTRACT_PRICE",
        "priceMatch": "NONE",
        "closePosition": False,
        "priceProtect": False,
        "reduceOnly": order.reduce_only,
        "createTime": order.create_time,
        "updateTime": order.update_time,
        "triggerTime": order.trigger_time,
        "goodTillDate": 0,
    }


def algo_update(order: AlgoOrder, event_ms: int) -> dict[str, Any]:
    """The user stream's ``ALGO_UPDATE`` of one conditional order."""
    payload = {
        "caid": order.client_algo_id,
        "aid": order.algo_id,
        "at": "CONDITIONAL",
        "o": order.order_type,
        "s": order.symbol,
        "S": order.side,
        "ps": "BOTH",
        "f": "GTC",
        "q": num(order.qty),
        "X": order.status,
        "ai": "" if order.actual_order_id is None else str(order.actual_order_id),
        "ap": num(order.avg_price),
        "aq": num(order.executed),
        "act": "MARKET" if order.actual_order_id is not None else "0",
        "tp": num(order.trigger),
        "p": "0",
        "V": "NONE",
        "wt": "CONTRACT_PRICE",
        "pm": "NONE",
        "cp": False,
        "pP": False,
        "R": order.reduce_only,
        "tt": order.trigger_time,
        "gtd": 0,
    }
    if order.reason:
        payload["rm"] = order.reason
    return {"e": "ALGO_UPDATE", "T": event_ms, "E": event_ms, "o": payload}
