"""A venue report the order state machine refuses (an overfill; RELIABILITY.md §4.2 scenario 7):
in live and paper the node halts new orders and says why, and keeps running; in a replay it stops
at once (the simulator itself would be wrong)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide, OrderType, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orders import OrderStatus, OverfillError
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.records import UnknownOrders
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

START = 1_700_000_000_000_000_000
SPOT = Instrument("X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", tick_size=Decimal(1), lot_size=Decimal("0.1"))
CID = ClientOrderId("s-1")


def _engine_with_resting_order(policy: UnknownOrders) -> Engine:
    engine = Engine([SPOT], clock=SimClock(START), unknown_orders=policy)
    connect_simulated(engine, SimulatedVenue(SPOT.venue, balances={"USDT": Decimal(100_000)}))
    engine.process(BookSnapshot(SPOT.id, START, 1, ((99, 50),), ((101, 50),)))
    engine.submit(SubmitOrder(START + 1, CID, "s", SPOT.id, OrderSide.BUY, OrderType.LIMIT, Decimal("0.5"),
                              Decimal("100")))  # fmt: skip
    engine.drain()
    return engine


def _overfill(quantity: str) -> OrderFilled:
    return OrderFilled(START + 2, CID, "v-1", "t-1", SPOT.id, OrderSide.BUY, Decimal(quantity), Decimal("100"),
                       Decimal(0), "USDT", Liquidity.MAKER)  # fmt: skip


def test_an_overfill_halts_new_orders_in_live_and_paper_and_is_not_booked() -> None:
    engine = _engine_with_resting_order(UnknownOrders.ADOPT)
    engine.on_venue_event(_overfill("0.7"))  # 0.7 of an order of 0.5
    assert engine.orders[CID].filled_quantity == 0  # not silently accepted
    assert engine.halt_reason is not None
    assert "OverfillError" in engine.halt_reason
    assert engine.anomalies == [engine.halt_reason]
    later = engine.submit(SubmitOrder(START + 3, ClientOrderId("s-2"), "s", SPOT.id, OrderSide.BUY, OrderType.LIMIT,
                                      Decimal("0.1"), Decimal("100")))  # fmt: skip
    assert later.status is OrderStatus.DENIED


def test_an_overfill_in_a_replay_stops_the_run() -> None:
    engine = _engine_with_resting_order(UnknownOrders.FAIL)
    with pytest.raises(OverfillError):
        engine.on_venue_event(_overfill("0.7"))
