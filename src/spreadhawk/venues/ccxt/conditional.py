"""Conditional (stop-loss / take-profit) orders of a ``CcxtVenue``: where they differ from the rest.

On Binance USD-M they are not matching-engine orders: they live in the Algo Service, with their own
endpoints (ccxt routes create, fetch, cancel and open-order calls there when its ``trigger`` param is
set: ``quirks.conditional_param``) and their own ids. When one fires, the exchange places a market
order with a **new order id** and the algo order's client id; its fills are ordinary trades, so the
user stream and the trade catch-up book them under our client id (a REST trade's order id is looked
up like any unknown one).

What trades alone cannot tell is how an algo order ended without (fully) trading: refused when it
fired (reduce-only with no position left: Binance's ``Reduce Only reject``), cancelled or expired
by the exchange. The venue does not hear ``ALGO_UPDATE`` (it listens to trades), so every catch-up
asks: each conditional order of ours that is no longer open is looked up, its child's trades
booked, and its end reported. Until then the engine keeps it open, which errs on the safe side for
the orphan guard (it will cancel it, and the cancel is refused as gone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.ccxt.orders import decimal
from spreadhawk.venues.ccxt.quirks import Quirks

__all__ = ["ConditionalOrders", "Ended"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Ended:
    """A conditional order of ours that is no longer open at the exchange."""

    client_order_id: ClientOrderId
    instrument: Instrument
    status: str  # ccxt's: closed (fired, its market order done), canceled, rejected, expired
    trades: list[dict[str, Any]]  # the fired market order's
    unfilled: bool  # it ended with less filled than its quantity


class ConditionalOrders:
    """Which of our orders are conditional, and the REST questions that differ for them."""

    def __init__(self, quirks: Quirks) -> None:
        self.quirks = quirks
        self.open: dict[ClientOrderId, Instrument] = {}  # sent or adopted, end not reported yet
        self.cancelling: set[ClientOrderId] = set()  # a cancel of ours is in flight: it reports the end

    @property
    def supported(self) -> bool:
        return self.quirks.conditional_param is not None

    def params(self, cid: ClientOrderId) -> dict[str, Any]:
        """The extra params naming ``cid``'s endpoints (none for an ordinary order)."""
        if cid in self.open and self.quirks.conditional_param is not None:
            return {self.quirks.conditional_param: True}
        return {}

    def track(self, cid: ClientOrderId, instrument: Instrument) -> None:
        self.open[cid] = instrument

    def forget(self, cid: ClientOrderId) -> None:
        self.open.pop(cid, None)
        self.cancelling.discard(cid)

    async def open_at_exchange(self, exchange: Any, symbol: str) -> list[dict[str, Any]]:
        if self.quirks.conditional_param is None:
            return []
        orders: list[dict[str, Any]] = await exchange.fetch_open_orders(
            symbol, None, None, {self.quirks.conditional_param: True}
        )
        return orders

    async def ended(self, exchange: Any, symbol: str, lookup: str) -> list[Ended]:
        """Ours on ``symbol`` that the exchange no longer lists open (and no cancel of ours covers)."""
        watched = {cid: i for cid, i in self.open.items() if i.symbol == symbol and cid not in self.cancelling}
        if not watched or self.quirks.conditional_param is None:
            return []
        listed = {str(o.get("clientOrderId")) for o in await self.open_at_exchange(exchange, symbol)}
        found = []
        for cid, instrument in sorted(watched.items()):
            if cid in listed:
                continue
            order = await exchange.fetch_order(None, symbol, {lookup: cid, self.quirks.conditional_param: True})
            status = str(order.get("status"))
            if status == "open":  # listed a moment ago as gone, open now: the next catch-up decides
                continue
            trades = await child_trades(exchange, symbol, order)
            filled = sum((decimal(t["amount"]) for t in trades), Decimal(0))
            unfilled = filled < decimal(order.get("amount") or 0)
            found.append(Ended(cid, instrument, status, trades, unfilled))
        return found


async def child_trades(exchange: Any, symbol: str, order: dict[str, Any]) -> list[dict[str, Any]]:
    """The trades of the market order a fired conditional order placed (none if it never placed one)."""
    info = order.get("info")
    actual = str(info.get("actualOrderId") or "") if isinstance(info, dict) else ""
    if not actual:
        return []
    trades: list[dict[str, Any]] = await exchange.fetch_my_trades(symbol, None, None, {"orderId": actual})
    return trades
