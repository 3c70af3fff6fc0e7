"""Buying up/down tokens one IOC at a time, for the directional binary strategies.

The fair-value and order-flow strategies differ only in how they price a token; once a token looks
cheap, both refuse on the same grounds (``binary_guards``: a stale token or reference book, too
close to expiry; an order for the token still in flight; the market's position limit reached),
size the same way (order size, shown depth, room under the limit, what the venue balance affords
with the taker fee) and keep the same books: tokens held or in flight per market (by expiry),
released by the unfilled part of each final order and forgotten when the market settles.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import OrderSide, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.engine.context import StrategyContext
from spreadhawk.strategy.binary_guards import near_expiry, stale_books
from spreadhawk.strategy.skips import Skip

ZERO = Decimal(0)
MS = 1_000_000
S = 1_000_000_000


class TokenBuyer:
    def __init__(
        self,
        venue: str,
        reference: InstrumentId,
        *,
        order_shares: Decimal,
        max_shares_per_market: Decimal,
        max_book_age_ms: int,
        max_reference_age_ms: int,
        min_time_to_expiry_s: float,
    ) -> None:
        self.venue = venue
        self.reference = reference
        self.order_shares = order_shares
        self.max_shares_per_market = max_shares_per_market
        self.max_book_age_ns = max_book_age_ms * MS
        self.max_reference_age_ns = max_reference_age_ms * MS
        self.min_left_ns = round(min_time_to_expiry_s * S)
        self.inflight: set[InstrumentId] = set()  # tokens with an order not yet final (one at a time)
        self.held: dict[int, Decimal] = {}  # expiry -> tokens bought or in flight on the market
        self.skipped: dict[Skip, int] = {}

    def resume(self, ctx: StrategyContext) -> None:
        """Take back what the strategy holds and has in flight (its own positions and open orders,
        as a restarted node restored them from its journal): the position limit counts them, or a
        restart would let it buy the limit again."""
        for inst in ctx.instruments(self.venue):
            held = ctx.position(inst.id).quantity
            if held > 0 and inst.expiry_ns is not None:
                self.held[inst.expiry_ns] = self.held.get(inst.expiry_ns, ZERO) + held
        for order in ctx.open_orders():
            expiry = ctx.instrument(order.instrument_id).expiry_ns
            if order.side is OrderSide.BUY and expiry is not None:
                self.held[expiry] = self.held.get(expiry, ZERO) + order.quantity - order.filled_quantity
                self.inflight.add(order.instrument_id)

    def markets(self, ctx: StrategyContext) -> list[InstrumentId]:
        """What a buyer's strategy listens to: the reference and every instrument on the venue."""
        return [self.reference, *(inst.id for inst in ctx.instruments(self.venue))]

    def buy(self, ctx: StrategyContext, iid: InstrumentId, expiry: int, price: Decimal, shown: Decimal) -> Decimal:
        """Send an IOC buy for what the guards and balances allow; the quantity sent (0: skipped, counted)."""
        now = ctx.now_ns()
        reason = (
            stale_books(now, (ctx.book(iid).ts_ns,), self.max_book_age_ns)
            or stale_books(now, (ctx.book(self.reference).ts_ns,), self.max_reference_age_ns)
            or near_expiry(now, expiry, self.min_left_ns)
            or (Skip.ORDER_IN_FLIGHT if iid in self.inflight else None)
            or (Skip.POSITION_LIMIT if self.held.get(expiry, ZERO) >= self.max_shares_per_market else None)
        )
        quantity = ZERO if reason else self._quantity(ctx, iid, expiry, price, shown)
        if reason or quantity <= 0:
            reason = reason or Skip.INSUFFICIENT_BALANCE
            self.skipped[reason] = self.skipped.get(reason, 0) + 1
            return ZERO
        self.held[expiry] = self.held.get(expiry, ZERO) + quantity
        self.inflight.add(iid)
        order = ctx.submit(iid, OrderSide.BUY, quantity, price=price, time_in_force=TimeInForce.IOC)
        self.finish(ctx, order.client_order_id)  # with no latency the IOC is already done
        return quantity

    def _quantity(
        self, ctx: StrategyContext, iid: InstrumentId, expiry: int, price: Decimal, shown: Decimal
    ) -> Decimal:
        inst = ctx.instrument(iid)
        room = self.max_shares_per_market - self.held.get(expiry, ZERO)
        affordable = ctx.available(self.venue, inst.quote) / (price * (1 + inst.taker_fee) * inst.contract_size)
        return inst.round_lot_down(min(self.order_shares, shown, room, affordable))

    def finish(self, ctx: StrategyContext, coid: ClientOrderId) -> None:
        """Once an order is final: the token may trade again, and its unfilled part frees the limit."""
        order = ctx.order(coid)
        if order.is_terminal and order.instrument_id in self.inflight:
            self.inflight.discard(order.instrument_id)
            expiry = ctx.instrument(order.instrument_id).expiry_ns or 0
            self.held[expiry] = self.held.get(expiry, ZERO) - (order.quantity - order.filled_quantity)

    def settled(self, expiry: int) -> None:
        self.held.pop(expiry, None)
