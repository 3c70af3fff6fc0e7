"""The fills of a ``CcxtVenue``: every trade reported once, in order, wherever it came from.

Fills come from the order answer, the user stream (``watch_my_trades``) and a REST catch-up after
every (re)connect (and every ``trade_poll_s`` while the stream is live); they carry the exchange
trade id, so duplicates are harmless (applied once). An order's fills wait (``held``) until its
submit outcome is reported: the engine refuses ``OrderAccepted`` on a filled order. The catch-up also
reports how our conditional orders ended at the exchange (see ``conditional``).

Separate from ``venue``, which sends requests and reports their outcomes: this is the bookkeeping of
trades (which were seen, which wait, whose they are, where the next catch-up starts) and the REST
catch-up that feeds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from spreadhawk.domain.events import OrderCanceled, OrderExpired
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.engine.ports import VenueEvent
from spreadhawk.venues.ccxt.conditional import ConditionalOrders, Ended
from spreadhawk.venues.ccxt.orders import OrderMappingError, decimal, fill_from_trade
from spreadhawk.venues.ccxt.quirks import Quirks

__all__ = ["Fills"]

log = logging.getLogger(__name__)

# A ccxt trade, what its order leaves after it, and where it came from (stream or catch-up).
_Trade = tuple[dict[str, Any], Decimal | None, str]
_CATCH_UP_PAGE = 1000  # Binance's largest myTrades page


def _cumulative(trade: dict[str, Any]) -> Decimal | None:
    """The order's cumulative filled quantity after a user-stream trade (``z``), if it says."""
    info = trade.get("info")
    value = info.get("z") if isinstance(info, dict) else None
    return None if value is None else Decimal(str(value))


class Fills:
    """Trades of ``by_symbol``'s instruments, reported to the engine through ``post``."""

    def __init__(
        self,
        name: str,
        exchange: Callable[[], Any],
        by_symbol: Mapping[str, Instrument],
        quirks: Quirks,
        conditional: ConditionalOrders,
        *,
        post: Callable[[VenueEvent], None],
        now_ns: Callable[[], int],
    ) -> None:
        self.name = name
        self._exchange = exchange
        self._by_symbol = by_symbol
        self._quirks = quirks
        self._conditional = conditional
        self._post = post
        self._now_ns = now_ns
        self.client_of: dict[str, ClientOrderId] = {}  # venue order id -> client order id
        # Orders whose submit outcome is not reported yet: their stream fills wait here (see module doc).
        self.held: dict[ClientOrderId, list[_Trade]] = {}
        self.seen: set[str] = set()  # trade ids reported
        self._reported: dict[ClientOrderId, Decimal] = {}  # quantity reported filled, by order
        self.last_trade_id: dict[str, int] = {}  # by symbol: where the next REST catch-up starts
        self.by_source = {"answer": 0, "stream": 0, "catch_up": 0}  # fills reported, by where from

    async def catch_up(self) -> None:
        """REST: the open orders' client ids, and every trade after the last catch-up, page by page.

        Where the next catch-up starts moves only here, to the newest trade REST returned: a trade
        the stream reported is not proof that every earlier one arrived (a reordered or dropped
        report), and one fetched twice is applied once anyway."""
        for symbol in self._by_symbol:
            for order in await self._exchange().fetch_open_orders(symbol):
                if order.get("clientOrderId") is not None:
                    self.client_of.setdefault(str(order["id"]), ClientOrderId(str(order["clientOrderId"])))
            while True:
                start = self.last_trade_id.get(symbol, 0) + 1
                page = await self._exchange().fetch_my_trades(symbol, None, _CATCH_UP_PAGE, {"fromId": start})
                for trade in sorted(page, key=lambda t: int(t["id"])):
                    await self.on_trade(trade, None, "catch_up")
                newest = max((int(t["id"]) for t in page), default=start - 1)
                self.last_trade_id[symbol] = max(newest, start - 1)
                if len(page) < _CATCH_UP_PAGE:
                    break
            lookup = str(self._quirks.client_id_lookup)
            for ended in await self._conditional.ended(self._exchange(), symbol, lookup):
                if ended.client_order_id not in self.held and ended.client_order_id not in self._conditional.cancelling:
                    self._report_ended(ended)

    def _report_ended(self, ended: Ended) -> None:
        """A conditional order that ended at the exchange: its market order's fills, then how it ended
        (nothing more when those fills complete it)."""
        cid = ended.client_order_id
        self._conditional.forget(cid)
        for trade in sorted(ended.trades, key=lambda t: int(t["id"])):
            self.post_fill(trade, cid, ended.instrument, None, "catch_up")
        if ended.status == "canceled":
            self._post(OrderCanceled(self._now_ns(), cid, "canceled at the venue"))
        elif ended.status != "closed" or ended.unfilled:
            log.warning("venue %s: conditional order %s ended %s at the exchange", self.name, cid, ended.status)
            self._post(OrderExpired(self._now_ns(), cid))

    async def on_trade(self, trade: dict[str, Any], leaves: Decimal | None, source: str) -> None:
        try:
            await self._apply_trade(trade, leaves, source)
        except (OrderMappingError, ArithmeticError, ValueError, TypeError, KeyError) as exc:
            # never booked, never counted as seen: an unreadable trade cannot corrupt the ledger
            raw = trade.get("info", trade) if isinstance(trade, dict) else trade
            log.warning("venue %s: %s trade skipped, unusable (%s): %r", self.name, source, exc, raw)

    async def _apply_trade(self, trade: dict[str, Any], leaves: Decimal | None, source: str) -> None:
        instrument = self._by_symbol.get(str(trade.get("symbol")))
        trade_id = trade.get("id")
        if instrument is None or trade_id is None:
            log.warning("venue %s: %s trade skipped, not ours or no id: %r", self.name, source, trade.get("info"))
            return
        if str(trade_id) in self.seen:
            return
        info = trade.get("info")
        cid_raw = info.get("c") if isinstance(info, dict) else None
        venue_order_id = str(trade.get("order"))
        cid = ClientOrderId(str(cid_raw)) if cid_raw else self.client_of.get(venue_order_id)
        if cid is None:  # a REST trade of an order this session never saw: ask the venue whose it is
            order = await self._exchange().fetch_order(venue_order_id, instrument.symbol)
            cid = ClientOrderId(str(order["clientOrderId"]))
            self.client_of[venue_order_id] = cid
        if cid in self.held:
            self.held[cid].append((trade, leaves, source))
            return
        self.post_fill(trade, cid, instrument, leaves, source)

    def post_fill(
        self, trade: dict[str, Any], cid: ClientOrderId, instrument: Instrument, leaves: Decimal | None, source: str
    ) -> None:
        trade_id = str(trade["id"])
        if trade_id in self.seen:
            return
        reported = self._reported.get(cid, Decimal(0)) + decimal(trade["amount"])
        if leaves is not None and source == "stream" and _cumulative(trade) != reported:
            # An earlier trade of the order has not been reported yet (reordered or lost report): what
            # the exchange says is left is not what is left of what the engine has seen. Let the
            # engine judge completion by quantity, or it would close the order before that trade.
            leaves = None
        fill = fill_from_trade(trade, cid, instrument, self._now_ns(), leaves)  # raises before anything is noted
        self.seen.add(trade_id)
        self._reported[cid] = reported
        self.by_source[source] += 1
        self._post(fill)
