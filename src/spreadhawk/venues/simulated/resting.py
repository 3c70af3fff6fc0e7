"""Resting orders inside the simulated venue, and the pure rules that decide when they fill."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.domain.events import OrderSide, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.market import Aggressor, Bar, TradeTick


@dataclass(slots=True)
class WorkingOrder:
    """A resting order (mutable: the venue's private state)."""

    cmd: SubmitOrder
    venue_order_id: str
    leaves: Decimal
    price_ticks: int
    queue_ahead: int  # size units displayed at our price before we joined, not yet traded or canceled
    reserve_asset: str
    reserved: Decimal

    @property
    def is_buy(self) -> bool:
        return self.cmd.side is OrderSide.BUY


def allocate_trade(
    orders: Iterable[WorkingOrder], trade: TradeTick, leaves_units: Mapping[ClientOrderId, int]
) -> list[tuple[WorkingOrder, int]]:
    """Share one public trade's volume among our resting orders it reached.

    Best price first, then arrival order (time priority). At our own price the queue ahead of us
    trades first; a trade through our price reached us for sure. The volume is shared out once:
    what one of our orders took, the next cannot take again. ``queue_ahead`` is updated in place.
    ``leaves_units`` maps client order id to the order's unfilled size in units.
    """
    reached = []
    for order in orders:
        if trade.aggressor is (Aggressor.BUYER if order.is_buy else Aggressor.SELLER):
            continue  # the aggressor was on our side of the book: it could not trade with us
        if trade.price <= order.price_ticks if order.is_buy else trade.price >= order.price_ticks:
            reached.append(order)
    reached.sort(key=lambda o: -o.price_ticks if o.is_buy else o.price_ticks)  # stable: time priority kept
    volume = trade.size
    allocation: list[tuple[WorkingOrder, int]] = []
    for order in reached:
        if volume <= 0:
            break
        if trade.price == order.price_ticks:
            ahead = min(order.queue_ahead, volume)
            order.queue_ahead -= ahead
            volume -= ahead
        take = min(volume, leaves_units[order.cmd.client_order_id])
        if take > 0:
            volume -= take
            allocation.append((order, take))
    return allocation


def bar_limit_fill_price(is_buy: bool, limit: Decimal, bar: Bar) -> Decimal | None:
    """Price at which a resting limit fills during ``bar``, or None.

    Bars show no queue, so a limit fills only when the bar trades *through* it (low below a buy,
    high above a sell): touching the price proves nothing about our place in the queue. If the bar
    opens beyond the limit the order fills at the open (price improvement), else at the limit.
    """
    if is_buy:
        if bar.low < limit:
            return bar.open if bar.open < limit else limit
        return None
    if bar.high > limit:
        return bar.open if bar.open > limit else limit
    return None


def marketable_at_open(is_buy: bool, limit: Decimal, bar: Bar) -> bool:
    """Whether an IOC/FOK limit meeting the market at ``bar``'s open can trade there."""
    return bar.open <= limit if is_buy else bar.open >= limit
