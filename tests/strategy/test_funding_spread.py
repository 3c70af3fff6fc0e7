"""FundingSpread (perp-perp across venues): the pure rule, decisions on hand-made books and funding records,
the liquidation defence, and no free lunch on the market simulator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest

from spreadhawk.domain.events import OrderSide, PostingReason
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, FundingRate, MarketData, MarkPrice
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.runtime.scan_funding_spread import FundingSpreadDetector
from spreadhawk.runtime.scanner import MarketView
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.funding_spread import (
    FundingSpread,
    FundingSpreadConfig,
    liquidation_distance,
    plan_funding_spread,
)
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.perps import PerpParams
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
H = 3600 * S
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _perp(venue: str, taker: str = "0.0005") -> Instrument:
    return Instrument(
        venue=venue,
        symbol="BTC/USDT:USDT",
        kind=InstrumentKind.PERPETUAL,
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D("0.001"),
        taker_fee=D(taker),
        size_increment=D("0.001"),
        settlement="USDT",
    )


X, Y = _perp("X"), _perp("Y")
QTY = D(10)  # 1000 USDT at the long's mid of 100
BASE: dict[str, Any] = {"perp_a": str(X.id), "perp_b": str(Y.id), "notional": D(1000), "funding_interval_hours": 1.0}
BASE |= {"horizon_hours": 8.0, "min_edge_bps": 8.0, "max_spread_move_bps": 50.0, "max_hold_hours": 100.0}


# =========================================================================== the pure rule
def test_the_rule_longs_the_lower_rate_and_walks_both_books_for_the_size() -> None:
    # 3 BTC: X's asks give 1 @ 100.02 + 2 @ 100.04, its bids 2 @ 99.98 + 1 @ 99.96.
    x_book = ([(D("99.98"), D(2)), (D("99.96"), D(5))], [(D("100.02"), D(1)), (D("100.04"), D(5))])
    y_book = ([(D("100.09"), D(9))], [(D("100.11"), D(9))])
    plan = plan_funding_spread(Y, D("0.0003"), y_book, X, D("-0.0001"), x_book, periods=D(3), base=D(3))
    assert plan is not None
    assert (plan.long, plan.short) == (X, Y)  # X pays less (it pays the longs here)
    assert plan.expected_bps == D("0.0004") * 3 * 10_000  # 12 bps
    x_buy, x_sell = (D("100.02") + 2 * D("100.04")) / 3, (2 * D("99.98") + D("99.96")) / 3
    spreads = (x_buy - x_sell) / 100 * 10_000 + D("0.02") / D("100.10") * 10_000
    assert plan.cost_bps == 2 * (D("0.0005") + D("0.0005")) * 10_000 + spreads
    assert plan.edge_bps == plan.expected_bps - plan.cost_bps
    assert plan_funding_spread(X, D(0), x_book, Y, D(0), y_book, periods=D(3), base=D(7)) is None  # asks: 6


def test_liquidation_distance_of_a_cross_margined_short_and_long() -> None:
    mm = D("0.005")
    for held, entry, collateral, mark in ((D(-2), D(100), D(50), D(105)), (D(3), D(100), D(60), D(95))):
        distance = liquidation_distance(held, entry, collateral, mark, mm)
        price = mark * (1 + distance) if held < 0 else mark * (1 - distance)
        # at that price the venue's equity is exactly the maintenance margin
        equity = collateral + held * (price - entry)
        assert equity == pytest.approx(mm * abs(held) * price, rel=D("1e-20"))
    assert liquidation_distance(D(1), D(100), D(200), D(100), mm) == 1  # fully collateralised long


# =========================================================================== hand-made harness
def _snap(inst: Instrument, ts: int, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot(inst.id, ts, 1, ((inst.ticks(bid), inst.units(1000)),), ((inst.ticks(ask), inst.units(1000)),))


def _books(ts: int, y_bid: str = "99.99", y_ask: str = "100.01") -> list[MarketData]:
    """Spreads 2 bps: costs are 2 x (5 + 5) bps of fees + 2 + 2 bps of spread = 24 bps."""
    return [_snap(X, ts, "99.99", "100.01"), _snap(Y, ts, y_bid, y_ask)]


def _rates(ts: int, x: str, y: str) -> list[MarketData]:
    return [FundingRate(X.id, ts, D(x), 10 * H), FundingRate(Y.id, ts, D(y), 10 * H)]


@dataclass
class Run:
    engine: Engine
    strategy: FundingSpread

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()

    @property
    def fills(self) -> list[tuple[InstrumentId, OrderSide, Decimal, Decimal]]:
        return [(f.instrument_id, f.side, f.quantity, f.price) for f in self.engine.fills]

    def funding_postings(self) -> list[Decimal]:
        return [p.amount for p in self.engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]


def _run(
    records: Sequence[MarketData],
    *,
    deposits: dict[str, Decimal] | None = None,
    leverage: Decimal = Decimal(1),
    **config: Any,
) -> Run:
    engine = Engine((X, Y))
    for name in ("X", "Y"):
        venue = SimulatedVenue(name, leverage=leverage)
        connect_simulated(engine, venue)
        amount = (deposits or {}).get(name, D(100_000))
        if amount:
            venue.deposit("USDT", amount)
    strategy = FundingSpread(FundingSpreadConfig(**(BASE | config)))
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, records)
    return Run(engine, strategy)


ENTRY = [(X.id, BUY, QTY, D("100.01")), (Y.id, SELL, QTY, D("99.99"))]
CLOSE = [(X.id, SELL, QTY, D("99.99")), (Y.id, BUY, QTY, D("100.01"))]


@pytest.mark.parametrize(("y_rate", "enters"), [("0.0005", False), ("0.00051", True)])
def test_enters_when_the_differential_beats_costs_by_more_than_the_margin(y_rate: str, enters: bool) -> None:
    # 8 periods x (Y - X) = 8 x 4 bps = 32 bps - 24 bps of costs = 8 bps: the margin met, not beaten.
    run = _run([*_books(S), *_rates(2 * S, "0.0001", y_rate)])
    assert run.fills == (ENTRY if enters else [])
    assert run.stats["entries"] == int(enters)
    assert run.stats["best_edge_bps"] == (D(y_rate) - D("0.0001")) * 8 * 10_000 - 24


def test_the_long_is_whichever_perp_pays_less() -> None:
    run = _run([*_books(S), *_rates(2 * S, "0.001", "-0.0002")])
    assert run.fills == [(Y.id, BUY, QTY, D("100.01")), (X.id, SELL, QTY, D("99.99"))]  # the long leg first


def test_exits_when_the_differential_flips() -> None:
    run = _run([*_books(S), *_rates(2 * S, "0.0001", "0.001"), *_rates(3 * S, "0.0003", "0.0002")])
    assert run.fills == ENTRY + CLOSE
    assert run.stats["exits"] == {"funding_flip": 1}


def test_exits_when_the_price_spread_blows_out() -> None:
    blown: list[MarketData] = [_snap(Y, 3 * S, "100.59", "100.61"), MarkPrice(Y.id, 3 * S, D("100.60"))]  # 60 bps
    run = _run([*_books(S), *_rates(2 * S, "0.0001", "0.001"), *blown])
    assert run.fills == [*ENTRY, (X.id, SELL, QTY, D("99.99")), (Y.id, BUY, QTY, D("100.61"))]
    assert run.stats["exits"] == {"spread": 1}


def test_funding_of_both_legs_reaches_the_ledger_and_the_holding_limit_closes() -> None:
    records = [
        *_books(S),
        *_rates(2 * S, "0.0001", "0.001"),
        MarkPrice(X.id, H, D("100.02")),
        MarkPrice(Y.id, H, D("100.04")),
        FundingRate(X.id, H, D("-0.0001"), H),  # the long receives a negative rate
        FundingRate(Y.id, H, D("0.0009"), H),  # the short receives a positive one
        MarkPrice(X.id, 2 * H + 2 * S, D("100.02")),
    ]
    run = _run(records, max_hold_hours=2.0)
    assert run.fills == ENTRY + CLOSE
    assert run.stats["exits"] == {"max_hold": 1}
    expected = [QTY * D("100.02") * D("0.0001"), QTY * D("100.04") * D("0.0009")]
    assert run.funding_postings() == expected
    assert run.stats["funding_received"] == sum(expected)


def test_a_leg_near_liquidation_is_defended_by_halving_both_legs() -> None:
    # Y holds 300 USDT for a 1000 USDT short (leverage 10): liquidated near 129, 29 % away at entry.
    records = [*_books(S), *_rates(2 * S, "0.0001", "0.001"), MarkPrice(Y.id, 3 * S, D(110))]
    run = _run(records, deposits={"Y": D(300)}, leverage=D(10), min_liquidation_distance=0.2)
    half = QTY / 2
    assert run.fills == [*ENTRY, (X.id, SELL, half, D("99.99")), (Y.id, BUY, half, D("100.01"))]
    assert run.stats["defences"] == 1
    assert run.stats["exits"] == {}
    distances = run.strategy.liquidation_distances()
    assert distances[Y.id] > D("0.2")  # cut in half, the short's collateral covers a larger move
    assert run.engine.portfolio.position(Y.id).quantity == -half


def test_a_refused_short_is_unwound_and_entries_stop() -> None:
    records = [*_books(S), *_rates(2 * S, "0.0001", "0.001"), *_rates(3 * S, "0.0001", "0.001")]
    run = _run(records, deposits={"Y": D(0)})
    assert run.fills == [ENTRY[0], (X.id, SELL, QTY, D("99.99"))]
    assert (run.stats["entries"], run.stats["halted"], run.stats["legging_incidents"]) == (1, True, 1)


def test_perps_on_one_venue_are_rejected() -> None:
    with pytest.raises(ValueError, match="on one venue"):
        _run([], perp_b=str(X.id))


def test_the_scanner_detector_applies_the_same_rule() -> None:
    engine = Engine((X, Y))
    run_replay(engine, _books(S))
    detector = FundingSpreadDetector((X, Y), horizon_hours=8.0, interval_hours=1.0)
    market = MarketView(engine.books, funding={X.id: D("0.0001"), Y.id: D("0.001")})
    (sighting,) = detector.scan({X.id}, market).values()
    assert sighting is not None
    assert sighting.net_edge_bps == D("0.0009") * 8 * 10_000 - 24
    assert sighting.executable_size == 1000  # the touches
    market.funding[Y.id] = D("0.0002")  # 8 bps expected < 24 bps of costs
    assert list(detector.scan({Y.id}, market).values()) == [None]


# =========================================================================== no free lunch, on the simulator
def _simulate(perp_taker: str, **config: Any) -> Run:
    """Two venues, hourly funding, BETA's perp 40 bps richer (its funding ~3.75 bps an hour above ALPHA's)."""
    venues = tuple(replace(v, perp_taker_fee=D(perp_taker)) for v in DEFAULT_VENUES[:2])
    params = PerpParams(funding_interval_h=1.0, venue_premium_bps=(("BETA", 40.0),))
    sim = MarketSimulator(
        MarketSimulatorConfig(hours=2.5, seed=5, assets=("BTC",), venues=venues, binaries=False, perp_params=params)
    )
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    for name in ("ALPHA", "BETA"):
        venue = SimulatedVenue(name)
        connect_simulated(engine, venue)
        venue.deposit("USDT", D(20_000))
    strategy = FundingSpread(
        FundingSpreadConfig(
            perp_a="ALPHA:BTC/USDT:USDT",
            perp_b="BETA:BTC/USDT:USDT",
            notional=D(10_000),
            funding_interval_hours=1.0,
            **({"horizon_hours": 2.0, "max_hold_hours": 2.0, "min_edge_bps": 1.0} | config),
        )
    )
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, sim)
    return Run(engine, strategy)


def _pnl(run: Run) -> Decimal:
    return run.engine.portfolio.equity(run.engine.price) - D(40_000)


def test_on_the_simulator_it_trades_when_the_differential_beats_costs_and_not_when_fees_are_raised() -> None:
    cheap = _simulate("0.0001")  # 4 bps a round trip against ~7.5 bps of differential over 2 h
    assert cheap.stats["entries"] >= 1
    assert cheap.stats["exits"].get("max_hold", 0) >= 1
    assert cheap.stats["legging_incidents"] == 0
    assert cheap.stats["funding_received"] > 0
    assert cheap.stats["funding_received"] == sum(cheap.funding_postings())
    dear = _simulate("0.001")  # 40 bps a round trip
    assert dear.stats["entries"] == 0
    assert dear.stats["best_edge_bps"] < 0
    assert dear.engine.fills == []


def test_forced_in_at_high_fees_it_loses_money() -> None:
    forced = _simulate("0.001", min_edge_bps=-1000.0)
    stats = forced.stats
    assert stats["entries"] >= 1
    assert 0 < stats["funding_received"] < stats["fees_paid"]["USDT"]
    assert _pnl(forced) < 0
