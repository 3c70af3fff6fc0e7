"""Orders and their state machine.

``Order.apply(event)`` returns the next immutable ``Order``; a transition that is not in
``TRANSITIONS`` raises ``IllegalTransitionError`` (fail fast: a venue report we did not expect is a
bug or a desync, never something to paper over).

Late fills are legal: a fill the venue matched before our cancel reached it may be reported after
the cancel's acknowledgement (CANCELED or EXPIRED -> fill) or while the cancel is in flight
(PENDING_CANCEL -> fill). Money moved, so the fill is applied; the order stays CANCELED (or
EXPIRED) unless the fill completes it.

UNKNOWN is a state, not an error: an order whose submit timed out may exist; it leaves UNKNOWN only
through a venue report (accepted, filled, canceled, rejected, ...) or reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from spreadhawk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderRejected,
    OrderSide,
    OrderStatusUnknown,
    OrderSubmitted,
    OrderType,
    RejectCode,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId


class OrderStatus(StrEnum):
    INITIALIZED = "initialized"
    DENIED = "denied"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


S = OrderStatus
_OPEN = (S.ACCEPTED, S.PARTIALLY_FILLED)
_LIVE = (S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED, S.PENDING_CANCEL, S.UNKNOWN)

# (status, event type) -> status; OrderFilled resolves to FILLED or PARTIALLY_FILLED by quantity.
TRANSITIONS: dict[tuple[OrderStatus, type], OrderStatus] = {
    (S.INITIALIZED, OrderDenied): S.DENIED,
    (S.INITIALIZED, OrderSubmitted): S.SUBMITTED,
    (S.SUBMITTED, OrderAccepted): S.ACCEPTED,
    (S.SUBMITTED, OrderRejected): S.REJECTED,
    (S.UNKNOWN, OrderAccepted): S.ACCEPTED,
    (S.UNKNOWN, OrderRejected): S.REJECTED,
    **{(s, OrderFilled): S.PARTIALLY_FILLED for s in _LIVE},
    # late fills (see the module docstring): the status is kept unless the fill completes the order
    (S.PENDING_CANCEL, OrderFilled): S.PENDING_CANCEL,
    (S.CANCELED, OrderFilled): S.CANCELED,
    (S.EXPIRED, OrderFilled): S.EXPIRED,
    **{(s, OrderStatusUnknown): S.UNKNOWN for s in (S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED)},
    **{(s, OrderPendingCancel): S.PENDING_CANCEL for s in (*_OPEN, S.SUBMITTED, S.UNKNOWN, S.PENDING_CANCEL)},
    # A cancel sent after a fill (or a cancel) the engine has not applied yet: where it ended stands.
    **{(s, OrderPendingCancel): s for s in (S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED)},
    **{(s, OrderCanceled): S.CANCELED for s in _LIVE},
    **{(s, OrderExpired): S.EXPIRED for s in _LIVE},
    # A refused cancel leaves the order working; which state depends on how much has filled.
    (S.PENDING_CANCEL, OrderCancelRejected): S.ACCEPTED,
    (S.ACCEPTED, OrderCancelRejected): S.ACCEPTED,
    (S.PARTIALLY_FILLED, OrderCancelRejected): S.PARTIALLY_FILLED,
    # A cancel that lost the race with a fill (or with another cancel) is refused by the venue:
    # the order stays where it ended.
    **{(s, OrderCancelRejected): s for s in (S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED)},
}

TERMINAL = frozenset({S.DENIED, S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED})


class IllegalTransitionError(Exception):
    pass


class OverfillError(IllegalTransitionError):
    pass


@dataclass(frozen=True, slots=True)
class Order:
    client_order_id: ClientOrderId
    strategy_id: str
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    quote_quantity: Decimal | None
    reduce_only: bool
    ts_init: int
    status: OrderStatus = OrderStatus.INITIALIZED
    filled_quantity: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)  # sum of quantity * price over fills
    fees: Decimal = Decimal(0)
    venue_order_id: str | None = None
    reason: str = ""
    trade_ids: frozenset[str] = frozenset()
    reject_code: RejectCode | None = None  # a venue's refusal, by kind (``reason`` is its text)
    trigger_price: Decimal | None = None  # conditional (stop / take-profit) orders

    @property
    def is_protective(self) -> bool:
        """A reduce-only conditional order: it exists to close a position, and is an orphan without one."""
        return self.reduce_only and self.order_type.is_conditional

    @classmethod
    def from_command(cls, cmd: SubmitOrder) -> Order:
        return cls(
            client_order_id=cmd.client_order_id,
            strategy_id=cmd.strategy_id,
            instrument_id=cmd.instrument_id,
            side=cmd.side,
            order_type=cmd.order_type,
            quantity=cmd.quantity,
            price=cmd.price,
            time_in_force=cmd.time_in_force,
            post_only=cmd.post_only,
            quote_quantity=cmd.quote_quantity,
            reduce_only=cmd.reduce_only,
            ts_init=cmd.ts_ns,
            trigger_price=cmd.trigger_price,
        )

    def as_command(self) -> SubmitOrder:
        """The command that created this order (a restarted venue re-rests it from this)."""
        return SubmitOrder(
            ts_ns=self.ts_init,
            client_order_id=self.client_order_id,
            strategy_id=self.strategy_id,
            instrument_id=self.instrument_id,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            price=self.price,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            quote_quantity=self.quote_quantity,
            reduce_only=self.reduce_only,
            trigger_price=self.trigger_price,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_open(self) -> bool:
        return not self.is_terminal and self.status is not OrderStatus.INITIALIZED

    @property
    def leaves_quantity(self) -> Decimal:
        """Unfilled quantity; for a quote-sized market order the base size is unknown until filled."""
        if self.quote_quantity is not None:
            return Decimal(0) if self.is_terminal else self.quantity
        return self.quantity - self.filled_quantity

    @property
    def avg_price(self) -> Decimal | None:
        return self.filled_notional / self.filled_quantity if self.filled_quantity else None

    def apply(self, event: OrderEvent) -> Order:
        if event.client_order_id != self.client_order_id:
            raise IllegalTransitionError(f"{event!r} is not for order {self.client_order_id}")
        if isinstance(event, OrderFilled) and event.trade_id in self.trade_ids:
            return self  # the same fill reported twice (stream and poll), in any state: applied once
        target = TRANSITIONS.get((self.status, type(event)))
        if target is None:
            raise IllegalTransitionError(
                f"order {self.client_order_id}: {type(event).__name__} is illegal in state {self.status}"
            )
        if isinstance(event, OrderFilled):
            return self._apply_fill(event, target)
        if isinstance(event, OrderAccepted):
            return replace(self, status=target, venue_order_id=event.venue_order_id)
        if isinstance(event, OrderCancelRejected) and not self.is_terminal and self.filled_quantity > 0:
            target = S.PARTIALLY_FILLED
        reason = getattr(event, "reason", self.reason)
        if isinstance(event, OrderRejected):
            return replace(self, status=target, reason=reason, reject_code=event.code)
        return replace(self, status=target, reason=reason)

    def _apply_fill(self, fill: OrderFilled, target: OrderStatus) -> Order:
        if fill.quantity <= 0:
            raise IllegalTransitionError(
                f"order {self.client_order_id}: fill quantity {fill.quantity} must be positive"
            )
        filled = self.filled_quantity + fill.quantity
        if self.quote_quantity is None and filled > self.quantity:
            raise OverfillError(
                f"order {self.client_order_id}: fill of {fill.quantity} would fill {filled} > {self.quantity}"
            )
        if fill.leaves_quantity is not None:
            complete = fill.leaves_quantity == 0
        else:
            complete = filled == self.quantity
        if complete:
            status = S.FILLED
        else:
            status = target  # PARTIALLY_FILLED, or the terminal status a late fill keeps
        return replace(
            self,
            status=status,
            filled_quantity=filled,
            filled_notional=self.filled_notional + fill.quantity * fill.price,
            fees=self.fees + fill.fee,
            venue_order_id=self.venue_order_id or fill.venue_order_id,
            trade_ids=self.trade_ids | {fill.trade_id},
        )
