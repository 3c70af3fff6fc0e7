"""Reports as exchanges really send them: a fill after the cancel was acknowledged, a report about an
order this node never sent, the same fill twice. Each must leave the ledgers right.

Expected balances are computed by hand from the fills' prices, sizes and the fee rate (not from the
ledger's own posting rules).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_harness import SPOT, VENUE, deltas, snapshot, submit
from sim_harness import run as run_harness

from spreadhawk.domain.events import Liquidity, OrderCanceled, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.records import EngineError, ExternalOrderReported, UnknownOrders
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
FEE = D("0.0002")  # SPOT's maker fee


def _fill(coid: str, trade_id: str, qty: str, price: str, side: OrderSide = OrderSide.BUY) -> OrderFilled:
    quantity, px = D(qty), D(price)
    return OrderFilled(
        ts_ns=5,
        client_order_id=ClientOrderId(coid),
        venue_order_id="v-1",
        trade_id=trade_id,
        instrument_id=SPOT.id,
        side=side,
        quantity=quantity,
        price=px,
        fee=quantity * px * FEE,
        fee_currency="USDT",
        liquidity=Liquidity.MAKER,
    )


def test_a_fill_reported_after_the_cancel_was_acknowledged_is_booked_and_the_order_stays_canceled() -> None:
    h = run_harness(
        [snapshot(1, bids=[("99", "5")], asks=[("101", "5")]), deltas(2, 2, bids=[("99", "4")])],
        {1: submit(OrderSide.BUY, "1", "99")},  # rests at 99
        timers={3: lambda ctx: ctx.cancel(ClientOrderId("script-1"))},
    )
    assert h.order("script-1").status is OrderStatus.CANCELED
    # the venue had matched 0.3 before our cancel reached it; its report comes after the cancel's
    late = _fill("script-1", "late-1", "0.3", "99")
    h.engine.on_venue_event(late)
    order = h.order("script-1")
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELED, D("0.3"))
    assert h.balance("BTC") == D("0.3")
    assert h.balance("USDT") == D(10_000) - D("0.3") * 99 - D("0.3") * 99 * FEE
    assert h.engine.portfolio.position(SPOT.id).quantity == D("0.3")
    # the same late fill reported again (stream and poll) changes nothing
    h.engine.on_venue_event(late)
    assert h.balance("BTC") == D("0.3")
    assert h.balance("USDT") == D(10_000) - D("0.3") * 99 * (1 + FEE)


def test_a_fill_while_the_cancel_is_in_flight_then_the_cancel_is_booked_once() -> None:
    h = run_harness(
        [snapshot(1, bids=[("99", "5")], asks=[("101", "5")]), deltas(2, 2, bids=[("99", "4")])],
        {1: submit(OrderSide.BUY, "1", "99")},
    )
    h.engine.on_venue_event(_fill("script-1", "t-a", "0.4", "99"))
    h.engine.on_venue_event(OrderCanceled(6, ClientOrderId("script-1"), "canceled by client"))
    h.engine.on_venue_event(_fill("script-1", "t-b", "0.1", "98.5"))
    order = h.order("script-1")
    assert (order.status, order.filled_quantity) == (OrderStatus.CANCELED, D("0.5"))
    spent = D("0.4") * 99 + D("0.1") * D("98.5")
    assert h.balance("USDT") == D(10_000) - spent - spent * FEE
    assert h.balance("BTC") == D("0.5")


def test_the_same_fill_twice_is_applied_once() -> None:
    h = run_harness(
        [snapshot(1, bids=[("99", "5")], asks=[("101", "5")]), deltas(2, 2, asks=[("101", "4")])],
        {1: submit(OrderSide.BUY, "1")},  # market: takes 1 at 101
    )
    (fill,) = h.fills("script-1")
    before = h.engine.portfolio.ledger.balances()
    postings = len(h.engine.portfolio.ledger.postings)
    h.engine.on_venue_event(fill)
    assert h.engine.portfolio.ledger.balances() == before
    assert len(h.engine.portfolio.ledger.postings) == postings
    assert h.fills("script-1") == [fill]
    h.assert_books_agree()


def _adopting_engine() -> Engine:
    engine = Engine([SPOT], unknown_orders=UnknownOrders.ADOPT)
    connect_simulated(engine, SimulatedVenue(VENUE, balances={"USDT": D(10_000)}))
    engine.drain()
    return engine


def test_a_fill_of_an_order_this_node_never_sent_is_booked_as_external_in_paper_and_live() -> None:
    engine = _adopting_engine()
    seen: list[ExternalOrderReported] = []
    engine.bus.subscribe(ExternalOrderReported, seen.append)
    web_order = _fill("web-placed-77", "w-1", "0.2", "100", OrderSide.BUY)
    engine.on_venue_event(web_order)
    engine.on_venue_event(web_order)  # reported twice: booked once
    ledger = engine.portfolio.ledger
    assert ledger.balance(VENUE, "BTC") == D("0.2")
    assert ledger.balance(VENUE, "USDT") == D(10_000) - D(20) - D(20) * FEE
    assert [r.client_order_id for r in seen] == ["web-placed-77", "web-placed-77"]
    assert "buy 0.2" in seen[0].detail
    assert "web-placed-77" not in engine.orders  # no strategy owns it
    # a cancel of an order nobody here knows is recorded, and changes nothing
    engine.on_venue_event(OrderCanceled(7, ClientOrderId("web-placed-78")))
    assert ledger.balance(VENUE, "BTC") == D("0.2")
    assert len(engine.external_reports) == 3


def test_a_report_about_an_unknown_order_stops_a_replay() -> None:
    h = run_harness([snapshot(1, bids=[("99", "5")], asks=[("101", "5")])])
    with pytest.raises(EngineError, match="unknown order web-placed-77"):
        h.engine.on_venue_event(_fill("web-placed-77", "w-1", "0.2", "100"))
