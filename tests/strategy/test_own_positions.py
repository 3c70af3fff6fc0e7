"""A strategy's position is its own: two strategies on one instrument never trade each other's holdings.

Two sma_cross instances (different ids and averages) share one venue and one instrument. The fast one
enters first and exits on a dip the slow one does not see as a cross; meanwhile the slow one has
entered. With an account-wide ``ctx.position`` a strategy saw the other's holding as its own: the slow
one could not enter while the fast one held, an exit sold both holdings, and the fast one could not
re-enter while the slow one held. With its own position each sells exactly what it bought.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from spreadhawk.data.readers.instruments import bittrex_btc_pair
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.sma_cross import SmaCross, SmaCrossConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

FIVE_MINUTES_NS = 300 * 1_000_000_000
# Flat, a dip (both averages fall), a rally (fast enters, then slow), a small pullback (only the
# fast averages cross down), and a new high (fast enters again).
CLOSES = [10] * 10 + [9, 8, 8, 9, 10, 11, 12, 13, 14, 13.5, 13, 14, 15, 16, 17]


def _bars(inst: Instrument) -> list[Bar]:
    return [
        Bar(inst.id, (i + 1) * FIVE_MINUTES_NS, FIVE_MINUTES_NS, *(Decimal(repr(float(c))),) * 4, Decimal(0))
        for i, c in enumerate(CLOSES)
    ]


def _fills(engine: Engine, strategy_id: str) -> list[tuple[OrderSide, Decimal]]:
    return [(f.side, f.quantity) for f in engine.fills if engine.orders[f.client_order_id].strategy_id == strategy_id]


def test_one_strategys_exit_never_sells_the_others_holding() -> None:
    inst = dataclasses.replace(bittrex_btc_pair("ETH"), min_notional=Decimal(0))
    engine = Engine([inst], valuation_currency=inst.quote)
    venue = SimulatedVenue(inst.venue)
    connect_simulated(engine, venue)
    venue.deposit(inst.quote, Decimal(10))
    fast = SmaCross(SmaCrossConfig(instrument_id=inst.id, fast=2, slow=3, max_quote=Decimal(1)), "fast")
    slow = SmaCross(SmaCrossConfig(instrument_id=inst.id, fast=3, slow=8, max_quote=Decimal(1)), "slow")
    attach_strategy(engine, fast)  # no attribution built by hand: the engine owns it
    attach_strategy(engine, slow)

    run_replay(engine, _bars(inst))

    fast_fills, slow_fills = _fills(engine, "fast"), _fills(engine, "slow")
    assert [side for side, _ in fast_fills] == [OrderSide.BUY, OrderSide.SELL, OrderSide.BUY]
    assert fast_fills[1][1] == fast_fills[0][1]  # the exit sold exactly its own entry
    assert [side for side, _ in slow_fills] == [OrderSide.BUY]  # never sold by the other's exit
    assert slow.ctx.position(inst.id).quantity == slow_fills[0][1]
    assert fast.ctx.position(inst.id).quantity == fast_fills[2][1]  # re-entered though slow was long
    account = engine.portfolio.position(inst.id).quantity
    assert fast.ctx.account_position(inst.id).quantity == account == slow_fills[0][1] + fast_fills[2][1]
    assert engine.attribution.fills == {"fast": 3, "slow": 1}
