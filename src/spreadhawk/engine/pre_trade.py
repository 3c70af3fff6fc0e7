"""What the engine checks before an order leaves, and the funds an order may still use.

* The exchange's own rules (``pre_trade_check``): a known instrument on a connected venue, a positive
  quote quantity, a conditional order with a positive trigger and no limit price, and the
  instrument's tick, lot and minimum notional. A failed check denies the order (``OrderDenied``);
  the risk engine's checks come after these (``Engine.use_risk``).
* The funds estimate behind ``Engine.available`` (``less_orders_in_flight``): what our spot orders
  still on their way to the venue will lock when they arrive.

Separate from ``engine``: these are pure functions of a command and the engine's read model; the
engine's loop only calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from spreadhawk.domain.events import OrderSide, SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.engine.ports import Venue

__all__ = ["conditional_check", "less_orders_in_flight", "pre_trade_check"]


def pre_trade_check(command: SubmitOrder, inst: Instrument | None, venue: Venue | None) -> str | None:
    """Why ``command`` breaks the exchange's rules (None: it does not)."""
    if inst is None:
        return f"unknown instrument {command.instrument_id}"
    if venue is None:
        return f"no venue connected for {command.instrument_id}"
    if command.quote_quantity is not None:
        return None if command.quote_quantity > 0 else "quote quantity must be positive"
    if command.order_type.is_conditional or command.trigger_price is not None:
        return conditional_check(command, inst)
    return inst.check_order(command.quantity, command.price)


def conditional_check(command: SubmitOrder, inst: Instrument) -> str | None:
    if not command.order_type.is_conditional:
        return f"a {command.order_type} order has no trigger price"
    if command.trigger_price is None or command.trigger_price <= 0 or command.price is not None:
        return f"a {command.order_type} order needs a positive trigger price and no limit price"
    return inst.check_order(command.quantity, command.trigger_price)


def less_orders_in_flight(
    free: Decimal,
    venue: str,
    asset: str,
    orders: Iterable[Order],
    instruments: Mapping[InstrumentId, Instrument],
    price: Callable[[InstrumentId], Decimal | None],
) -> Decimal:
    """``free`` less what our spot orders still on their way to ``venue`` will lock of ``asset``
    when they arrive (see ``Engine.available``)."""
    for order in orders:
        if order.status is not OrderStatus.SUBMITTED or venue_of(order.instrument_id) != venue:
            continue
        inst = instruments[order.instrument_id]
        if inst.kind is not InstrumentKind.SPOT:
            continue  # margin depends on the venue's leverage; the venue's own figure covers accepted ones
        left = order.quantity - order.filled_quantity
        if order.side is OrderSide.SELL and asset == inst.base:
            free -= left
        elif order.side is OrderSide.BUY and asset == inst.quote:
            order_price = order.price if order.price is not None else price(inst.id)
            if order_price is not None:
                free -= left * order_price * (1 + inst.taker_fee)
    return free
