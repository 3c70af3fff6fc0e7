"""The order state machine: every (status, event) pair against a lifecycle written out by hand, fills and UNKNOWN."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from spreadhawk.domain.events import (
    Liquidity,
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
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.orders import (
    IllegalTransitionError,
    Order,
    OrderStatus,
    OverfillError,
)

S = OrderStatus
IID = InstrumentId("SIM:BTC/USDT")
COID = ClientOrderId("strat-1")
EVENT_TYPES: tuple[type, ...] = (
    OrderDenied,
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderPendingCancel,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderStatusUnknown,
)


def new_order(quantity: str = "1", *, quote_quantity: str | None = None) -> Order:
    cmd = SubmitOrder(
        ts_ns=1,
        client_order_id=COID,
        strategy_id="strat",
        instrument_id=IID,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT if quote_quantity is None else OrderType.MARKET,
        quantity=Decimal(quantity),
        price=Decimal(100) if quote_quantity is None else None,
        time_in_force=TimeInForce.GTC,
        quote_quantity=None if quote_quantity is None else Decimal(quote_quantity),
    )
    return Order.from_command(cmd)


def fill(
    quantity: str,
    trade_id: str = "t1",
    *,
    price: str = "100",
    fee: str = "0.1",
    leaves: str | None = None,
    coid: ClientOrderId = COID,
) -> OrderFilled:
    return OrderFilled(
        ts_ns=5,
        client_order_id=coid,
        venue_order_id="v1",
        trade_id=trade_id,
        instrument_id=IID,
        side=OrderSide.BUY,
        quantity=Decimal(quantity),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_currency="USDT",
        liquidity=Liquidity.TAKER,
        leaves_quantity=None if leaves is None else Decimal(leaves),
    )


def event_of(kind: type, coid: ClientOrderId = COID) -> OrderEvent:
    """One event of type ``kind`` for ``coid``; a fill is a partial fill (0.4 of 1)."""
    events: dict[type, OrderEvent] = {
        OrderDenied: OrderDenied(2, coid, "risk"),
        OrderSubmitted: OrderSubmitted(2, coid),
        OrderAccepted: OrderAccepted(2, coid, "v1"),
        OrderRejected: OrderRejected(2, coid, "no funds"),
        OrderFilled: fill("0.4", coid=coid),
        OrderPendingCancel: OrderPendingCancel(2, coid),
        OrderCanceled: OrderCanceled(2, coid, "client"),
        OrderCancelRejected: OrderCancelRejected(2, coid, "too late"),
        OrderExpired: OrderExpired(2, coid),
        OrderStatusUnknown: OrderStatusUnknown(2, coid, "timeout"),
    }
    return events[kind]


def in_status(status: OrderStatus) -> Order:
    return replace(new_order(), status=status)


# Every (status, event) pair, written out by hand from the venues' documented order lifecycle
# (Binance: NEW -> PARTIALLY_FILLED -> FILLED, or CANCELED / REJECTED / EXPIRED; a cancel that loses
# the race with the last fill is refused with -2011 "Unknown order"; a fill matched before a cancel
# arrived is reported after it; a timed-out submit is looked up, not assumed) -- not from the
# engine's TRANSITIONS table, so an edit of that table that changes behaviour fails here. The event
# in each column is the one ``event_of`` builds (a fill is a partial fill, 0.4 of 1); "-" is illegal.
#
#                 denied    submitted accepted  rejected  fill      pend_cxl  canceled  cxl_rej   expired   unknown
LIFECYCLE = """
initialized      denied    submitted -         -         -         -         -         -         -         -
denied           -         -         -         -         -         -         -         -         -         -
submitted        -         -         accepted  rejected  partial   pend_cxl  canceled  -         expired   unknown
accepted         -         -         -         -         partial   pend_cxl  canceled  accepted  expired   unknown
partially_filled -         -         -         -         partial   pend_cxl  canceled  partial   expired   unknown
filled           -         -         -         -         -         filled    -         filled    -         -
pending_cancel   -         -         -         -         pend_cxl  pend_cxl  canceled  accepted  expired   -
canceled         -         -         -         -         canceled  canceled  -         canceled  -         -
rejected         -         -         -         -         -         rejected  -         rejected  -         -
expired          -         -         -         -         expired   expired   -         expired   -         -
unknown          -         -         accepted  rejected  partial   pend_cxl  canceled  -         expired   -
"""
_SHORT = {"partial": S.PARTIALLY_FILLED, "pend_cxl": S.PENDING_CANCEL}


def _lifecycle() -> list[tuple[OrderStatus, type, OrderStatus | None]]:
    rows = [line.split() for line in LIFECYCLE.strip().splitlines()]
    assert sorted(row[0] for row in rows) == sorted(status.value for status in OrderStatus)  # every status
    cases = []
    for status, *targets in rows:
        assert len(targets) == len(EVENT_TYPES)
        for kind, target in zip(EVENT_TYPES, targets, strict=True):
            after = None if target == "-" else _SHORT.get(target) or OrderStatus(target)
            cases.append((OrderStatus(status), kind, after))
    return cases


CASES = _lifecycle()


@pytest.mark.parametrize(("status", "kind", "target"), CASES, ids=[f"{s.value}+{k.__name__}" for s, k, _ in CASES])
def test_every_status_and_event_pair_does_what_the_lifecycle_says(
    status: OrderStatus, kind: type, target: OrderStatus | None
) -> None:
    order = in_status(status)
    if target is None:
        with pytest.raises(IllegalTransitionError, match=kind.__name__):
            order.apply(event_of(kind))
        return
    after = order.apply(event_of(kind))
    assert after.status is target
    assert order.status is status  # immutable: the original is untouched


def test_event_of_another_order_is_rejected() -> None:
    order = in_status(S.ACCEPTED)
    with pytest.raises(IllegalTransitionError, match="not for order"):
        order.apply(event_of(OrderCanceled, ClientOrderId("other-9")))


def test_happy_path_and_bookkeeping() -> None:
    order = new_order("1").apply(OrderSubmitted(2, COID)).apply(OrderAccepted(3, COID, "venue-42"))
    assert order.status is S.ACCEPTED
    assert order.venue_order_id == "venue-42"
    assert order.is_open
    order = order.apply(fill("0.25", "t1", price="100", fee="0.5"))
    assert order.status is S.PARTIALLY_FILLED
    assert order.leaves_quantity == Decimal("0.75")
    order = order.apply(fill("0.75", "t2", price="104", fee="1.5"))
    assert order.status is S.FILLED
    assert order.is_terminal
    assert not order.is_open
    assert order.filled_quantity == Decimal(1)
    assert order.leaves_quantity == 0
    assert order.fees == Decimal(2)
    assert order.avg_price == Decimal(103)  # (0.25*100 + 0.75*104) / 1
    assert order.trade_ids == frozenset({"t1", "t2"})


def test_new_order_is_neither_open_nor_terminal_and_has_no_avg_price() -> None:
    order = new_order()
    assert order.status is S.INITIALIZED
    assert not order.is_open
    assert not order.is_terminal
    assert order.avg_price is None


def test_rejection_and_denial_keep_their_reason() -> None:
    assert in_status(S.SUBMITTED).apply(OrderRejected(2, COID, "no funds")).reason == "no funds"
    assert new_order().apply(OrderDenied(2, COID, "lot size")).reason == "lot size"


# --- fills ------------------------------------------------------------------------------------


def test_overfill_raises_and_leaves_the_order_unchanged() -> None:
    order = in_status(S.ACCEPTED).apply(fill("0.6", "t1"))
    with pytest.raises(OverfillError):
        order.apply(fill("0.6", "t2"))
    assert order.filled_quantity == Decimal("0.6")
    assert order.status is S.PARTIALLY_FILLED


def test_single_fill_larger_than_the_order_raises() -> None:
    with pytest.raises(OverfillError):
        in_status(S.ACCEPTED).apply(fill("1.001"))


def test_same_fill_twice_is_applied_once() -> None:
    once = in_status(S.ACCEPTED).apply(fill("0.4", "t1", fee="0.2"))
    twice = once.apply(fill("0.4", "t1", fee="0.2"))
    assert twice == once
    assert twice.filled_quantity == Decimal("0.4")
    assert twice.fees == Decimal("0.2")
    # a different trade id with the same content is a different fill
    assert once.apply(fill("0.4", "t2", fee="0.2")).filled_quantity == Decimal("0.8")


def test_duplicate_of_the_completing_fill_is_ignored() -> None:
    filled = in_status(S.ACCEPTED).apply(fill("1", "t1"))
    assert filled.status is S.FILLED
    assert filled.apply(fill("1", "t1")) == filled


def test_duplicate_fill_after_cancel_is_ignored() -> None:
    canceled = in_status(S.ACCEPTED).apply(fill("0.4", "t1")).apply(OrderCanceled(6, COID))
    assert canceled.apply(fill("0.4", "t1")) == canceled


def test_new_fill_after_terminal_is_illegal() -> None:
    filled = in_status(S.ACCEPTED).apply(fill("1", "t1"))
    with pytest.raises(IllegalTransitionError):
        filled.apply(fill("0.1", "t9"))


def test_fill_reported_leaves_overrides_derived_completion() -> None:
    """When the venue says nothing is left, the order is complete; when it says something is, it is not."""
    order = in_status(S.ACCEPTED)
    assert order.apply(fill("0.4", leaves="0")).status is S.FILLED
    assert order.apply(fill("1", leaves="0.5")).status is S.PARTIALLY_FILLED


def test_fill_while_pending_cancel_then_cancel_rejected_keeps_partial_state() -> None:
    order = in_status(S.ACCEPTED).apply(OrderPendingCancel(2, COID))
    assert order.status is S.PENDING_CANCEL
    # refused cancel without fills: back to accepted
    assert order.apply(OrderCancelRejected(3, COID, "late")).status is S.ACCEPTED
    partially = order.apply(fill("0.3", "t1"))
    assert partially.status is S.PENDING_CANCEL  # the cancel is still on its way
    assert partially.filled_quantity == Decimal("0.3")
    rejected = partially.apply(OrderCancelRejected(5, COID, "late"))
    assert rejected.status is S.PARTIALLY_FILLED
    assert rejected.reason == "late"


def test_fill_completing_while_pending_cancel_is_filled() -> None:
    order = in_status(S.PENDING_CANCEL).apply(fill("1"))
    assert order.status is S.FILLED


# --- UNKNOWN ----------------------------------------------------------------------------------


def unknown_order() -> Order:
    order = new_order().apply(OrderSubmitted(2, COID)).apply(OrderStatusUnknown(3, COID, "timeout"))
    assert order.status is S.UNKNOWN
    assert order.is_open
    assert not order.is_terminal
    return order


def test_unknown_then_accepted() -> None:
    order = unknown_order().apply(OrderAccepted(4, COID, "v-7"))
    assert order.status is S.ACCEPTED
    assert order.venue_order_id == "v-7"


def test_unknown_then_filled_in_full_and_in_part() -> None:
    full = unknown_order().apply(fill("1"))
    assert full.status is S.FILLED
    assert full.venue_order_id == "v1"  # learned from the fill
    part = unknown_order().apply(fill("0.5"))
    assert part.status is S.PARTIALLY_FILLED
    assert part.apply(fill("0.5", "t2")).status is S.FILLED


def test_unknown_then_canceled_rejected_or_expired() -> None:
    assert unknown_order().apply(OrderCanceled(4, COID, "not found")).status is S.CANCELED
    assert unknown_order().apply(OrderRejected(4, COID, "no funds")).status is S.REJECTED
    assert unknown_order().apply(OrderExpired(4, COID)).status is S.EXPIRED


def test_unknown_after_partial_fill_keeps_the_fill() -> None:
    order = in_status(S.ACCEPTED).apply(fill("0.5")).apply(OrderStatusUnknown(4, COID, "timeout"))
    assert order.status is S.UNKNOWN
    assert order.filled_quantity == Decimal("0.5")
    assert order.apply(fill("0.5", "t2")).status is S.FILLED


def test_unknown_cannot_be_submitted_again() -> None:
    with pytest.raises(IllegalTransitionError):
        unknown_order().apply(OrderSubmitted(4, COID))


# --- quote-quantity orders --------------------------------------------------------------------


def test_quote_quantity_order_completes_only_on_zero_leaves() -> None:
    order = new_order("0", quote_quantity="1000").apply(OrderSubmitted(2, COID)).apply(OrderAccepted(3, COID, "v"))
    # base size unknown until the venue says it is done: no overfill check, not complete yet
    order = order.apply(fill("3", "t1", price="100", leaves=None))
    assert order.status is S.PARTIALLY_FILLED
    assert not order.is_terminal
    order = order.apply(fill("6", "t2", price="101", leaves="0"))
    assert order.status is S.FILLED
    assert order.filled_quantity == Decimal(9)
    assert order.filled_notional == Decimal(906)
    assert order.leaves_quantity == 0


def test_quote_quantity_order_single_final_fill() -> None:
    order = in_status(S.ACCEPTED)
    quote = replace(order, quantity=Decimal(0), quote_quantity=Decimal(500))
    done = quote.apply(fill("4.9", leaves="0"))
    assert done.status is S.FILLED
    assert done.filled_quantity == Decimal("4.9")
