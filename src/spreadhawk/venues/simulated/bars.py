"""Orders of a simulated venue on instruments it knows only by bars.

For instruments that have only bars, an order decided on a bar's close meets the market at the next
bar's open: a market order fills there in full (no depth is known); a resting limit fills when a
later bar trades through it (at its price, or at the open if the bar gaps through). A stop a bar's
range reaches fills in full where it fired (see ``stops.bar_trigger_price``).

Separate from ``venue``: this path has its own state (the orders waiting for the next open, and
which instruments have only bars) and never meets a book. It acts through the venue's ``Desk``,
shares the resting orders (``WorkingOrders``) and the stops (``StopBook``) with the book path, and
rejects through the venue's ``_reject``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from spreadhawk.domain.events import (
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderType,
    RejectCode,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar
from spreadhawk.venues.simulated.desk import Desk
from spreadhawk.venues.simulated.resting import bar_limit_fill_price, marketable_at_open
from spreadhawk.venues.simulated.stops import ArmedStop, StopBook
from spreadhawk.venues.simulated.working import WorkingOrders

__all__ = ["BarOrders"]

ZERO = Decimal(0)

Reject = Callable[[SubmitOrder, RejectCode, str], None]


class BarOrders:
    """Bar orders waiting for the next open, and the instruments known only by bars."""

    __slots__ = ("_desk", "_reject", "_stops", "_working", "instruments", "pending")

    def __init__(self, desk: Desk, working: WorkingOrders, stops: StopBook, reject: Reject) -> None:
        self._desk = desk
        self._working = working
        self._stops = stops
        self._reject = reject  # the venue's: how it words a rejection
        self.pending: dict[InstrumentId, dict[ClientOrderId, tuple[SubmitOrder, str]]] = {}
        self.instruments: set[InstrumentId] = set()

    def arrive_on_bars(self, cmd: SubmitOrder, inst: Instrument) -> None:
        """Market and IOC/FOK orders meet the next bar's open; GTC limits rest (see the docstring)."""
        desk = self._desk
        if cmd.order_type is OrderType.MARKET or cmd.time_in_force is not TimeInForce.GTC:
            self.pending.setdefault(inst.id, {})[cmd.client_order_id] = (cmd, desk.next_id("o"))
            return
        assert cmd.price is not None
        asset, need = desk.account.requirement(inst, cmd.side, cmd.quantity, cmd.price, inst.maker_fee)
        shortfall = desk.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall)
            return
        voi = desk.next_id("o")
        desk.emit(OrderAccepted(desk.hub.now_ns(), cmd.client_order_id, voi))
        self._working.rest(cmd, voi, inst, cmd.quantity, inst.ticks(cmd.price))

    def on_bar(self, bar: Bar) -> None:
        hub = self._desk.hub
        iid = bar.instrument_id
        self.instruments.add(iid)
        inst = hub.instrument(iid)
        for cmd, voi in self.pending.pop(iid, {}).values():
            self._fill_at_open(cmd, voi, inst, bar)
        book = hub.book(iid)
        if book is not None and book.update_count > 0:
            return  # the book and the trades match resting orders; bars built from them add nothing
        for working in list(self._working.orders.get(iid, {}).values()):
            price = bar_limit_fill_price(working.is_buy, inst.price(working.price_ticks), bar)
            if price is not None:
                self._working.fill(working, inst, inst.units(working.leaves), price)
        for stop, price in self._stops.fire_on_bar(iid, bar):
            self._fire_on_bar(stop, inst, price)

    def _fire_on_bar(self, stop: ArmedStop, inst: Instrument, price: Decimal) -> None:
        """A stop a bar reached fills in full where it fired (no depth is known), as a taker."""
        desk = self._desk
        cmd = stop.cmd
        refusal = desk.reduce_only_refusal(cmd, inst)
        asset, need = desk.account.requirement(inst, cmd.side, cmd.quantity, price, inst.taker_fee)
        if refusal is not None or desk.account.shortfall(asset, need) is not None:
            desk.emit(OrderExpired(desk.hub.now_ns(), cmd.client_order_id))
            return
        desk.fill(cmd, stop.venue_order_id, inst, price, cmd.quantity, Liquidity.TAKER, ZERO)

    def _fill_at_open(self, cmd: SubmitOrder, voi: str, inst: Instrument, bar: Bar) -> None:
        """Fill at the bar's open, stamped with the open time, when that price traded."""
        desk = self._desk
        ts = max(bar.open_ts_ns, cmd.ts_ns)
        price = bar.open
        if cmd.price is not None and not marketable_at_open(cmd.side.sign > 0, cmd.price, bar):
            desk.emit(OrderAccepted(ts, cmd.client_order_id, voi))
            desk.emit(OrderCanceled(ts, cmd.client_order_id, f"{cmd.time_in_force}: limit not reached at the open"))
            return
        qty = cmd.quantity
        if cmd.quote_quantity is not None:
            qty = inst.round_lot_down(cmd.quote_quantity / (price * inst.contract_size * (1 + inst.taker_fee)))
            if qty <= 0:
                reason = f"quote quantity {cmd.quote_quantity} buys less than one lot at {price}"
                self._reject(cmd, RejectCode.BELOW_ONE_LOT, reason)
                return
        asset, need = desk.account.requirement(inst, cmd.side, qty, price, inst.taker_fee)
        shortfall = desk.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall)
            return
        desk.emit(OrderAccepted(ts, cmd.client_order_id, voi))
        desk.fill(cmd, voi, inst, price, qty, Liquidity.TAKER, ZERO, ts)
