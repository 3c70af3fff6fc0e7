"""BinaryPairArb: unit tests on hand-made YES/NO books, and runs on the simulated 15-minute markets.

The simulator runs check the strategy against the generator's ground truth (``sim.mispricings``):
it buys pairs while a mispricing lasts and not otherwise, the pairs settle into the ledger with a
profit net of fees equal to the edge it expected, and a slow venue catches fewer mispricings and
loses legs (the legs move apart while the orders travel), which the paired-leg executor completes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from spreadhawk.domain.events import OrderSide, PostingReason
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, InstrumentSettled, MarketData
from spreadhawk.domain.orders import Order
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.binary_pair_arb import BinaryPairArb, BinaryPairArbConfig
from spreadhawk.venues.simulated.market.binaries import BinaryParams
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
MS = 1_000_000
D = Decimal
T0 = 1_704_067_200 * S  # 2024-01-01 00:00 UTC
EXPIRY = T0 + 900 * S
Book = Sequence[tuple[str, int]]  # (price, size) best first


# =========================================================================== harness
def _token(
    outcome: str, *, fee: str = "0", symbol: str = "BTC-UPDOWN-20240101T0000", expiry: int = EXPIRY
) -> Instrument:
    return Instrument(
        venue="PREDICT",
        symbol=f"{symbol}-{outcome}",
        kind=InstrumentKind.BINARY,
        base=f"{symbol}-{outcome}",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D(1),
        taker_fee=D(fee),
        expiry_ns=expiry,
    )


YES, NO = _token("YES"), _token("NO")


def _snap(inst: Instrument, ts_ns: int, asks: Book, bids: Book = (("0.01", 10),)) -> BookSnapshot:
    def levels(side: Book) -> tuple[tuple[int, int], ...]:
        return tuple((inst.ticks(price), inst.units(size)) for price, size in side)

    return BookSnapshot(inst.id, ts_ns, 1, levels(bids), levels(asks))


def _both(ts_ns: int, yes: Book, no: Book, *, pair: tuple[Instrument, Instrument] = (YES, NO)) -> list[MarketData]:
    return [_snap(pair[0], ts_ns, yes), _snap(pair[1], ts_ns, no)]


@dataclass
class Run:
    engine: Engine
    strategy: BinaryPairArb

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()

    @property
    def orders(self) -> list[Order]:
        return list(self.engine.orders.values())

    def bought(self, inst: Instrument) -> list[tuple[Decimal, Decimal]]:
        return [(f.price, f.quantity) for f in self.engine.fills if f.instrument_id == inst.id]

    def usdt(self) -> Decimal:
        return self.engine.portfolio.ledger.balance("PREDICT", "USDT")


def _run(
    records: Sequence[MarketData],
    *,
    instruments: Sequence[Instrument] = (YES, NO),
    usdt: str = "10000",
    latency_ms: int = 0,
    **config: Any,
) -> Run:
    engine = Engine(instruments)
    venue = SimulatedVenue("PREDICT", latency_ns=latency_ms * MS)
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(usdt))
    strategy = BinaryPairArb(BinaryPairArbConfig(**config))
    attach_strategy(engine, strategy)
    run_replay(engine, records)
    stats = strategy.stats()
    assert stats["opportunities_seen"] == stats["opportunities_taken"] + sum(stats["skipped"].values())
    assert {a: v for a, v in engine.portfolio.ledger.venue_balances("PREDICT").items() if v} == {
        a: v for a, v in venue.balances().items() if v
    }
    return Run(engine, strategy)


# =========================================================================== the rule
@pytest.mark.parametrize(("min_edge", "taken"), [("0.01", False), ("0.0099", True)])
def test_an_edge_exactly_at_the_threshold_is_not_taken(min_edge: str, taken: bool) -> None:
    run = _run(_both(T0, [("0.48", 100)], [("0.51", 100)]), min_edge=D(min_edge))  # 1 - 0.99 = 0.01
    assert run.stats["opportunities_taken"] == int(taken)
    assert run.stats["opportunities_seen"] == int(taken)  # below the edge is not an opportunity at all
    assert run.stats["pairs_bought"] == (100 if taken else 0)


@pytest.mark.parametrize(("yes_fee", "no_fee", "taken"), [("0", "0.02", True), ("0.02", "0", False)])
def test_each_side_pays_its_own_fee_on_its_own_price(yes_fee: str, no_fee: str, taken: bool) -> None:
    # 0.60 + 0.38 × 1.02 = 0.9876 pays 0.0124 > 0.01; 0.60 × 1.02 + 0.38 = 0.992 pays 0.008 only.
    yes, no = _token("YES", fee=yes_fee), _token("NO", fee=no_fee)
    settle = [InstrumentSettled(yes.id, EXPIRY, D(1)), InstrumentSettled(no.id, EXPIRY, D(0))]
    records = [*_both(T0, [("0.60", 100)], [("0.38", 100)], pair=(yes, no)), *settle]
    run = _run(records, instruments=(yes, no), min_edge=D("0.01"))
    assert run.stats["opportunities_taken"] == int(taken)
    if taken:
        assert run.stats["expected_edge"] == 100 * (1 - D("0.9876"))
        assert run.usdt() == 10_000 + 100 * (1 - D("0.9876"))  # settled: the whole edge, net of the fee
        postings = run.engine.portfolio.ledger.postings
        assert sum(p.amount for p in postings if p.reason is PostingReason.FEE) == -100 * D("0.38") * D("0.02")


def test_the_two_ask_books_are_walked_together_while_each_slice_pays() -> None:
    yes = [("0.40", 100), ("0.41", 100), ("0.45", 100)]
    no = [("0.55", 150), ("0.56", 100)]
    run = _run(_both(T0, yes, no))
    # (0.40, 0.55) × 100, (0.41, 0.55) × 50, (0.41, 0.56) × 50; (0.45, 0.56) costs 1.01.
    assert run.bought(YES) == [(D("0.40"), D(100)), (D("0.41"), D(100))]
    assert run.bought(NO) == [(D("0.55"), D(150)), (D("0.56"), D(50))]
    assert [o.price for o in run.orders] == [D("0.41"), D("0.56")]  # IOC at the worst level taken
    assert run.stats["pairs_bought"] == 200
    assert run.stats["expected_edge"] == 100 * D("0.05") + 50 * D("0.04") + 50 * D("0.03")


def test_max_pairs_bounds_one_opportunity_and_taken_liquidity_is_not_counted_twice() -> None:
    records = [*_both(T0, [("0.40", 100), ("0.41", 100)], [("0.55", 300)]), _snap(NO, T0 + S, [("0.55", 300)])]
    run = _run(records, max_pairs=D(120))
    # 100 + 20 pairs, then, once NO refreshed (YES did not: its 0.40 level is still ours), 80 more at 0.41.
    assert run.bought(YES) == [(D("0.40"), D(100)), (D("0.41"), D(20)), (D("0.41"), D(80))]
    assert run.stats["pairs_bought"] == 200
    assert run.stats["legged"] == 0


def test_the_quote_balance_and_the_market_budget_cap_the_pairs() -> None:
    book = _both(T0, [("0.40", 1000)], [("0.55", 1000)])
    assert _run(book, usdt="100").stats["pairs_bought"] == 105  # 100 / 0.95 = 105.3
    assert _run(book, usdt="0.9").stats["skipped"] == {"insufficient_balance": 1}
    later = _both(T0 + S, [("0.40", 1000)], [("0.55", 1000)])
    run = _run([*book, *later], max_quote_per_market=D(50))
    assert run.stats["pairs_bought"] == 52  # 49.40 spent; 0.60 left buys no pair
    assert run.stats["skipped"] == {"market_budget_spent": 1}


# =========================================================================== guards
def test_a_stale_book_is_not_traded() -> None:
    yes = [("0.40", 100)]
    no = [("0.55", 100)]
    records = [_snap(YES, T0, yes), _snap(NO, T0 + 20 * S, no), _snap(YES, T0 + 21 * S, yes)]
    run = _run(records, max_book_age_ms=15_000)
    assert run.stats["skipped"] == {"stale_book": 1}  # at 20 s YES is 20 s old
    assert run.stats["opportunities_taken"] == 1  # at 21 s both are fresh
    assert all(o.ts_init > T0 + 21 * S for o in run.orders)


def test_no_trade_near_expiry() -> None:
    records = [*_both(EXPIRY - 45 * S, [("0.40", 100)], [("0.55", 100)])]
    records += _both(EXPIRY - 20 * S, [("0.40", 100)], [("0.55", 100)])
    run = _run(records, min_time_to_expiry_s=30, max_pairs=D(50))
    assert run.stats["opportunities_taken"] == 1
    assert run.stats["skipped"] == {"near_expiry": 1}


LOST_LEG = [
    *_both(T0, [("0.40", 100)], [("0.55", 100)]),
    _snap(NO, T0 + 500 * MS, [("0.55", 30), ("0.70", 100)]),  # before the legs arrive: NO thins out
    _snap(YES, T0 + 1500 * MS, [("0.40", 100)], bids=[("0.38", 200)]),
]


def test_a_lost_leg_is_completed_at_market_within_the_loss_bound() -> None:
    run = _run(LOST_LEG, latency_ms=1000)
    assert run.stats["skipped"] == {"leg_in_flight": 1}
    assert run.bought(YES) == [(D("0.40"), D(100))]
    # The 70 missing NO tokens are bought at market: estimated at 30 @ 0.55 + 40 @ 0.70 (6 over the
    # decision, within the bound of 25), filled at 0.70 (the venue had already given us the 30 @ 0.55).
    assert run.bought(NO) == [(D("0.55"), D(30)), (D("0.70"), D(70))]
    (unit,) = run.strategy.executor.units.values()
    assert (unit.status, unit.estimated_completion_cost, unit.legging_loss) == ("hedged", D("6.00"), D("10.50"))
    assert run.stats["legged"] == 1
    assert run.stats["pairs_bought"] == 100
    assert run.stats["unmatched_quantity"] == 0
    assert run.stats["execution"]["hedged"] == 1


def test_a_lost_leg_too_dear_to_complete_is_unwound() -> None:
    run = _run(LOST_LEG, latency_ms=1000, max_legging_loss="5")  # the completion would cost 6
    assert run.bought(NO) == [(D("0.55"), D(30))]
    (unit,) = run.strategy.executor.units.values()
    assert unit.status == "unwound"
    assert "max_legging_loss" in unit.note
    assert run.engine.fills[-1].side is OrderSide.SELL  # the 70 excess YES sold into the bid
    assert (run.engine.fills[-1].price, run.engine.fills[-1].quantity) == (D("0.38"), D(70))
    assert run.stats["legged"] == 1
    assert run.stats["pairs_bought"] == 30
    assert run.stats["unmatched_quantity"] == 0
    assert run.usdt() == D(10_000) - 30 * D("0.95") - 70 * (D("0.40") - D("0.38"))


def test_only_the_yes_and_no_tokens_of_one_market_are_paired() -> None:
    lone = _token("YES", symbol="ETH-UPDOWN-20240101T0000")
    later = _token("NO", symbol="BTC-UPDOWN-20240101T0000", expiry=EXPIRY + 900 * S)  # another expiry
    spot = Instrument("PREDICT", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D(1))
    records = [_snap(lone, T0, [("0.10", 100)]), _snap(later, T0, [("0.10", 100)])]
    records += [_snap(YES, T0, [("0.10", 100)]), _snap(spot, T0, [("0.10", 100)])]
    run = _run(records, instruments=(lone, later, YES, spot))
    assert run.stats["opportunities_seen"] == 0
    assert not run.orders


# =========================================================================== on the market simulator
FEE = D("0.002")  # per side, on the price: the default markets charge none, so "net of fees" would be moot
WINDOW_S = 120  # a mispricing of the largest size drawn has decayed below one tick by then (half-life 20 s)


@dataclass(frozen=True)
class SimRun:
    sim: MarketSimulator
    engine: Engine
    strategy: BinaryPairArb
    stats: dict[str, Any]

    def decisions(self) -> list[tuple[int, Instrument, Decimal]]:
        """(time, YES token, pairs the legs matched, before any hedge) of every unit of legs sent."""
        return [
            (u.created_ns, self.engine.instruments[u.legs[0].instrument_id], min(u.filled(0), u.filled(1)))
            for u in self.strategy.executor.units.values()
        ]

    def caught(self) -> list[bool]:
        """Per mispricing: was at least one pair bought on its market while it lasted?"""
        by_expiry = {m.expiry_ns: m.yes.id for m in self.sim.binary_markets}
        decisions = self.decisions()
        return [
            any(
                inst.id == by_expiry[m.expiry_ns] and m.start_ns <= ts <= m.start_ns + WINDOW_S * S and pairs > 0
                for ts, inst, pairs in decisions
            )
            for m in self.sim.mispricings
        ]


@cache
def _sim_run(seed: int, latency_ms: int) -> SimRun:
    config = MarketSimulatorConfig(
        hours=6, seed=seed, assets=(), perps=False, binary_params=BinaryParams(taker_fee=FEE)
    )
    sim = MarketSimulator(config)
    engine = Engine(sim.instruments())
    venue = SimulatedVenue("PREDICT", latency_ns=latency_ms * MS)
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(10_000))
    strategy = BinaryPairArb(BinaryPairArbConfig())
    attach_strategy(engine, strategy)
    run_replay(engine, sim)
    return SimRun(sim, engine, strategy, strategy.stats())


@pytest.mark.parametrize("seed", [1, 2])
def test_pairs_are_bought_during_the_injected_mispricings_and_only_then(seed: int) -> None:
    run = _sim_run(seed, 0)
    caught = run.caught()
    assert sum(caught) / len(caught) > 0.5
    # Every mispricing big enough to push the two asks below 1 by the margin was caught.
    assert all(c for c, m in zip(caught, run.sim.mispricings, strict=True) if m.size >= 0.03)
    starts = [(m.expiry_ns, m.start_ns) for m in run.sim.mispricings]
    for ts, inst, _ in run.decisions():  # no "arbitrage" outside the ground truth's windows
        assert any(inst.expiry_ns == e and s <= ts <= s + WINDOW_S * S for e, s in starts)


@pytest.mark.parametrize("seed", [1, 2])
def test_settled_pairs_reach_the_ledger_with_a_profit_net_of_fees(seed: int) -> None:
    run = _sim_run(seed, 0)
    assert run.stats["legged"] == 0
    ledger = run.engine.portfolio.ledger
    settlement = [p for p in ledger.postings if p.reason is PostingReason.SETTLEMENT]
    assert settlement
    usdt = [p for p in ledger.postings if p.asset == "USDT" and p.reason is not PostingReason.DEPOSIT]
    fees = sum((p.amount for p in usdt if p.reason is PostingReason.FEE), D(0))
    pnl = sum((p.amount for p in usdt), D(0))  # paid for the tokens, fees, payouts
    assert fees < 0
    assert pnl > 0
    assert pnl == run.stats["expected_edge"]  # no latency: every leg filled at the prices planned
    tokens = {a: v for a, v in ledger.venue_balances("PREDICT").items() if a != "USDT" and v}
    assert not tokens  # every pair settled


@pytest.mark.parametrize("seed", [1, 2])
def test_a_slow_venue_catches_fewer_mispricings_and_hedges_its_lost_legs(seed: int) -> None:
    fast, slow = _sim_run(seed, 0), _sim_run(seed, 2000)
    assert sum(slow.caught()) < sum(fast.caught())
    assert slow.stats["legged"] > 0
    assert slow.stats["skipped"]["leg_in_flight"] > 0
    # Every lost leg was completed (or unwound): nothing is left to settle as a bet on the outcome.
    execution = slow.stats["execution"]
    assert execution["hedged"] > 0
    assert execution["failed"] == execution["open"] == 0
    assert slow.stats["unmatched_quantity"] == 0
    assert execution["total_legging_loss"] > 0
    # Completing legs pays for itself here: still a profit, below the fast venue's.
    assert 0 < _pnl(slow) < _pnl(fast)


def _pnl(run: SimRun) -> Decimal:
    postings = run.engine.portfolio.ledger.postings
    return sum((p.amount for p in postings if p.asset == "USDT" and p.reason is not PostingReason.DEPOSIT), D(0))
