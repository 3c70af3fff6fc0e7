"""Dislocations are real opportunities: ``cross_exchange_arb`` catches a share of them, and a slower
venue connection (the profile's ``latency_ms``) catches fewer.

Ground truth comes from the generator: every dislocation injected on BETA, with its size and
half-life. One is *profitable* when its size exceeds both taker fees plus BETA's half spread and the
strategy's margin; it lives until it decays below that. It is *caught* when the strategy gets a fill
on BETA during its life. Three simulated hours, ALPHA and BETA only, two seeds; the dislocations are
made frequent (40 an hour) so each run has a few dozen profitable ones.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.loader import build_strategy
from spreadhawk.venues.simulated.market.books import Dislocation
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES, DislocationProfile, VenueProfile
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

MS = 1_000_000
MIN_PROFIT_BPS = 1.0
ALPHA, BETA = (
    DEFAULT_VENUES[0],
    replace(DEFAULT_VENUES[1], dislocations=DislocationProfile(per_hour=40.0, mean_bps=15.0, half_life_s=3.0)),
)
BETA_ID = InstrumentId("BETA:BTC/USDT")


def threshold_bps(a: VenueProfile, b: VenueProfile) -> float:
    """What a dislocation must exceed to pay: both taker fees, BETA's half spread, the margin."""
    return float(a.taker_fee + b.taker_fee) * 1e4 + b.spot.half_spread_bps + a.spot.half_spread_bps + MIN_PROFIT_BPS


def caught_share(seed: int, latency_ms: int) -> tuple[float, int]:
    venues = tuple(replace(v, latency_ms=latency_ms) for v in (ALPHA, BETA))
    config = MarketSimulatorConfig(hours=3, seed=seed, assets=("BTC",), perps=False, binaries=False, venues=venues)
    sim = MarketSimulator(config)
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    for profile in venues:
        venue = SimulatedVenue(profile.name, latency_ns=profile.latency_ms * MS)
        connect_simulated(engine, venue)
        for asset, amount in (("USDT", Decimal(1_000_000)), ("BTC", Decimal(20))):  # never the binding limit
            venue.deposit(asset, amount)
    strategy = build_strategy(
        "spreadhawk.strategy.library.cross_exchange_arb:CrossExchangeArb",
        {
            "instruments": [str(i.id) for i in sim.instruments()],
            "max_quantity": "0.05",
            "min_profit_bps": MIN_PROFIT_BPS,
        },
    )
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, sim)
    threshold = threshold_bps(*venues)
    profitable = [d for d in sim.dislocations if abs(d.size_bps) > threshold]
    fills = sorted(f.ts_ns for f in engine.fills if f.instrument_id == BETA_ID)
    caught = [d for d in profitable if _filled_during(fills, d, threshold)]
    return len(caught) / len(profitable), len(profitable)


def _filled_during(fills: list[int], d: Dislocation, threshold: float) -> bool:
    end = d.end_ns(threshold)
    return any(d.start_ns <= ts <= end for ts in fills)


@pytest.mark.parametrize("seed", [1, 2])
def test_arbitrage_catches_dislocations_and_latency_costs_some(seed: int) -> None:
    fast, profitable = caught_share(seed, latency_ms=0)
    slow, _ = caught_share(seed, latency_ms=1_500)
    assert profitable >= 20
    assert fast > 0
    assert slow < fast
