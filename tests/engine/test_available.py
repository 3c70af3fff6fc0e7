"""What a strategy may still spend on a venue: ``ctx.available`` vs the ledger balance.

Strategies sharing a venue share its balances. Sizing by the ledger balance over-states what an
order may use once resting orders lock funds or other orders are on their way: in the demo the
cross-exchange arbitrage's buy legs were refused by the venue ("insufficient balance") while their
sell legs filled, and every such unit was unwound at a loss (71 units in a day).
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
MS = 1_000_000
BTC = Instrument(
    venue="V",
    symbol="BTC/USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.001"),
    maker_fee=D("0.001"),
    taker_fee=D("0.001"),
    min_notional=D(0),
    size_increment=D("0.001"),
)


def _engine(latency_ns: int) -> tuple[Engine, SimulatedVenue, StrategyContext]:
    engine = Engine([BTC])
    venue = SimulatedVenue("V", latency_ns=latency_ns)
    connect_simulated(engine, venue)
    for asset, amount in (("USDT", D(10_000)), ("BTC", D(1))):
        venue.deposit(asset, amount)
    bids, asks = ((BTC.ticks(D(49_990)), BTC.units(D(5))),), ((BTC.ticks(D(50_010)), BTC.units(D(5))),)
    engine.process(BookSnapshot(BTC.id, 0, 1, bids, asks))
    return engine, venue, StrategyContext(engine, "s")


def test_a_resting_buy_locks_its_quote_and_a_resting_sell_its_base() -> None:
    _eng, _venue, ctx = _engine(latency_ns=0)
    ctx.submit(BTC.id, OrderSide.BUY, D("0.1"), price=D(40_000))  # rests below the ask
    ctx.submit(BTC.id, OrderSide.SELL, D("0.2"), price=D(60_000))  # rests above the bid
    assert ctx.account_balance("V", "USDT") == D(10_000)  # the ledger has not moved
    assert ctx.available("V", "USDT") == D(10_000) - D("0.1") * D(40_000) * D("1.001")
    assert ctx.available("V", "BTC") == D(1) - D("0.2")


def test_an_order_still_on_its_way_to_the_venue_is_counted_before_it_arrives() -> None:
    engine, venue, ctx = _engine(latency_ns=50 * MS)
    order = ctx.submit(BTC.id, OrderSide.BUY, D("0.1"), price=D(40_000))
    assert order.status is OrderStatus.SUBMITTED
    assert venue.free_balance("USDT") == D(10_000)  # the venue has not seen it yet
    locked = D("0.1") * D(40_000) * D("1.001")
    assert ctx.available("V", "USDT") == D(10_000) - locked
    engine.run_until(60 * MS)  # arrived and acknowledged: the venue's own figure counts it, once
    assert engine.orders[order.client_order_id].status is OrderStatus.ACCEPTED
    assert ctx.available("V", "USDT") == D(10_000) - locked


def test_an_unknown_venue_has_nothing_available() -> None:
    _eng, _venue, ctx = _engine(latency_ns=0)
    assert ctx.available("NOWHERE", "USDT") == 0
