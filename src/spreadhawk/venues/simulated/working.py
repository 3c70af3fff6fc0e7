"""The resting limit orders of a simulated venue: the funds they lock, their place in the queue,
their fills. The rules are described in ``venue``'s docstring ("Queue position"); the pure ones
live in ``resting``.

Separate from ``venue`` so that the book path (the venue) and the bar-only path (``bars``) share
the resting orders, each acting through the same ``Desk``, without reaching into each other.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import Liquidity, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookSide, TradeTick
from spreadhawk.venues.simulated.desk import Desk
from spreadhawk.venues.simulated.matching import sweep
from spreadhawk.venues.simulated.resting import WorkingOrder, allocate_trade

__all__ = ["WorkingOrders"]


class WorkingOrders:
    """Resting orders, per instrument, in arrival order (time priority)."""

    __slots__ = ("_desk", "orders")

    def __init__(self, desk: Desk) -> None:
        self._desk = desk
        self.orders: dict[InstrumentId, dict[ClientOrderId, WorkingOrder]] = {}

    def rest(self, cmd: SubmitOrder, voi: str, inst: Instrument, qty: Decimal, limit: int) -> None:
        desk = self._desk
        book = desk.hub.book(inst.id)
        own_side = BookSide.BID if cmd.side.sign > 0 else BookSide.ASK
        ahead = book.size_at(own_side, limit) if book is not None and book.is_valid else 0
        asset, amount = desk.account.requirement(inst, cmd.side, qty, inst.price(limit), inst.maker_fee)
        desk.account.reserve(asset, amount)
        working = WorkingOrder(cmd, voi, qty, limit, ahead, asset, amount)
        self.orders.setdefault(inst.id, {})[cmd.client_order_id] = working

    def fill(self, working: WorkingOrder, inst: Instrument, units: int, price: Decimal | None = None) -> None:
        qty = min(inst.size(units), working.leaves)
        if qty <= 0:
            return
        share = working.reserved * qty / working.leaves
        self._desk.account.release(working.reserve_asset, share)
        working.reserved -= share
        working.leaves -= qty
        fill_price = price if price is not None else inst.price(working.price_ticks)
        self._desk.fill(working.cmd, working.venue_order_id, inst, fill_price, qty, Liquidity.MAKER, None)
        if working.leaves <= 0:
            del self.orders[inst.id][working.cmd.client_order_id]

    def match_against_book(self, iid: InstrumentId, consumed_by_instrument: dict[InstrumentId, dict[int, int]]) -> None:
        """Queue upkeep, and fills when the displayed book has moved through a resting price.

        ``consumed_by_instrument`` is the venue's record of the liquidity it took, per instrument."""
        hub = self._desk.hub
        book = hub.book(iid)
        if book is None or not book.is_valid:
            return
        inst = hub.instrument(iid)
        consumed = consumed_by_instrument.setdefault(iid, {})
        for working in list(self.orders[iid].values()):
            own = BookSide.BID if working.is_buy else BookSide.ASK
            working.queue_ahead = min(working.queue_ahead, book.size_at(own, working.price_ticks))
            opposite = book.levels(BookSide.ASK if working.is_buy else BookSide.BID)
            units = inst.units(working.leaves)
            through = sweep(opposite, units, limit=working.price_ticks, is_buy=working.is_buy, consumed=consumed)
            if through:
                # Displayed liquidity crossing our price trades with us at our price (we were there first).
                for price, size in through:
                    consumed[price] = consumed.get(price, 0) + size
                self.fill(working, inst, sum(size for _, size in through))

    def match_against_trade(self, trade: TradeTick) -> None:
        inst = self._desk.hub.instrument(trade.instrument_id)
        working = self.orders[trade.instrument_id]
        leaves = {coid: inst.units(w.leaves) for coid, w in working.items()}
        for order, units in allocate_trade(list(working.values()), trade, leaves):
            self.fill(order, inst, units)
