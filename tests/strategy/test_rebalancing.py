"""Inventory rebalancing: the rule on its own, and cross-exchange arbitrage in a one-sided market.

The market: two venues list LINK/USDT; for an hour, every snapshot (one each 2 s) shows venue A
cheap and B dear (buy 20 LINK on A at 100, sell them on B at 101: 0.8 USDT a LINK net of both 0.1 %
taker fees). Nothing ever flows the other way, so the trades drain the LINK held on B (400: twenty
trades) and the USDT held on A. Withdrawal routes:
LINK costs a fee (in LINK) and takes 10 minutes, USDT 1 USDT and 5 minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from spreadhawk.domain.events import WithdrawalSent
from spreadhawk.domain.identifiers import venue_of
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, MarketData
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import BacktestNode, build_backtest
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.cross_exchange_arb import CrossExchangeArb, CrossExchangeArbConfig
from spreadhawk.strategy.rebalancing import Need, Rebalancer, RebalanceSettings
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
S = 1_000_000_000
MIN = 60 * S
STEP = 2 * S
HOUR = 3_600 * S
LINK_DELAY, USDT_DELAY = 10 * MIN, 5 * MIN


def _inst(venue: str) -> Instrument:
    return Instrument(
        venue=venue,
        symbol="LINK/USDT",
        kind=InstrumentKind.SPOT,
        base="LINK",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D("0.1"),
        maker_fee=D("0.001"),
        taker_fee=D("0.001"),
        min_notional=D(0),
        size_increment=D("0.001"),
    )


A, B = _inst("A"), _inst("B")
CHEAP = (("99.80", "500"), ("100.00", "20"))  # (bid, size), (ask, size): 20 LINK offered at 100
DEAR = (("101.00", "20"), ("101.20", "500"))  # 20 LINK bid at 101


def _snap(inst: Instrument, ts_ns: int, book: tuple[tuple[str, str], tuple[str, str]]) -> BookSnapshot:
    (bid, bid_size), (ask, ask_size) = book
    bids = ((inst.ticks(D(bid)), inst.units(D(bid_size))),)
    asks = ((inst.ticks(D(ask)), inst.units(D(ask_size))),)
    return BookSnapshot(inst.id, ts_ns, 1, bids, asks)


def one_sided_market(hours: float = 1.0) -> Iterator[MarketData]:
    for i in range(int(hours * HOUR / STEP)):
        yield _snap(A, i * STEP, CHEAP)
        yield _snap(B, i * STEP, DEAR)


@dataclass
class Session:
    engine: Engine
    strategy: CrossExchangeArb
    venues: dict[str, SimulatedVenue]
    pnl: Decimal

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()

    def sells_on(self, venue: str, after_ns: int = 0) -> int:
        return sum(
            1
            for f in self.engine.fills
            if venue_of(f.instrument_id) == venue and f.side.value == "sell" and f.ts_ns > after_ns
        )


def run_session(*, link_fee: str = "0.5", **rebalance: Any) -> Session:
    engine = Engine([A, B])
    routes = {"LINK": WithdrawalTerms(D(link_fee), LINK_DELAY), "USDT": WithdrawalTerms(D(1), USDT_DELAY)}
    venues = {name: SimulatedVenue(name, withdrawals=routes) for name in ("A", "B")}
    for venue in venues.values():
        connect_simulated(engine, venue)
    balances = {"A": {"USDT": D(200_000), "LINK": D(0)}, "B": {"USDT": D(0), "LINK": D(400)}}
    for name, held in balances.items():
        for asset, amount in held.items():
            venues[name].deposit(asset, amount)
    config = CrossExchangeArbConfig(
        instruments=[A.id, B.id], max_quantity=D(20), rebalance=RebalanceSettings(**rebalance)
    )
    strategy = CrossExchangeArb(config, "xarb")
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, one_sided_market())
    for name, venue in venues.items():  # the engine learned every balance change, transfers included
        engine_view = {a: v for a, v in engine.portfolio.ledger.venue_balances(name).items() if v}
        assert engine_view == {a: v for a, v in venue.balances().items() if v}, name
    return Session(engine, strategy, venues, engine.attribution.pnl("xarb"))


@pytest.fixture(scope="module")
def without() -> Session:
    return run_session(enabled=False)


@pytest.fixture(scope="module")
def with_rebalancing() -> Session:
    return run_session(enabled=True)


def test_without_rebalancing_the_dominant_direction_stops_once_inventory_is_used(without: Session) -> None:
    assert without.sells_on("B") > 0
    assert without.sells_on("B", after_ns=10 * MIN) == 0  # 400 LINK on B last 20 trades of 20
    assert without.stats["skipped"]["insufficient_balance_sell_venue"] > 1_000
    assert without.stats["rebalancing"]["requested"] == 0


def test_with_rebalancing_it_keeps_trading_and_earns_more_net_of_withdrawal_fees(
    without: Session, with_rebalancing: Session
) -> None:
    moves = with_rebalancing.stats["rebalancing"]
    assert moves["requested"] >= 1
    assert moves["credited"] >= 1
    assert moves["failed"] == 0
    sent = [t for t in with_rebalancing.engine.transfers.values() if t.asset == "LINK" and t.sent_ns is not None]
    first_landing = min(t.credited_ns for t in sent if t.credited_ns is not None)
    assert with_rebalancing.sells_on("B", after_ns=first_landing) > 0  # trading resumed on the refilled venue
    assert moves["fees"]["LINK"] == D("0.5") * len(sent)  # the fee, once per transfer sent
    assert set(moves["fees"]) == {"LINK"}  # USDT on A never ran low in this hour
    assert moves["mean_transit_s"] == LINK_DELAY / S  # requested to credited: exactly the route's delay
    assert with_rebalancing.sells_on("B") > 2 * without.sells_on("B")
    # Attribution charges the withdrawal fees to the strategy: more PnL net of them.
    assert with_rebalancing.pnl > without.pnl + moves["fees_quote"]
    print(
        f"\nno rebalancing: {without.sells_on('B')} sells on B, PnL {without.pnl:.2f} USDT; "
        f"rebalancing: {with_rebalancing.sells_on('B')} sells on B, PnL {with_rebalancing.pnl:.2f} USDT "
        f"after {moves['requested']} transfers ({moves['fees']}, {moves['fees_quote']:.2f} USDT of fees)"
    )


def test_a_prohibitive_withdrawal_fee_means_no_rebalancing_by_the_rule(without: Session) -> None:
    session = run_session(enabled=True, link_fee="5", min_benefit_to_cost=2.0)  # 5 LINK ~ 500 USDT a move
    moves = session.stats["rebalancing"]
    assert moves["requested"] == 0
    assert moves["declined_not_worth"] > 0
    assert moves["last_benefit_to_cost"] < 2
    assert [t for t in session.engine.transfers.values() if t.asset == "LINK"] == []
    # It traded exactly as without rebalancing on the LINK side.
    assert session.sells_on("B") == without.sells_on("B")


def test_the_same_session_gives_the_same_journal() -> None:
    assert run_session(enabled=True).engine.journal.digest == run_session(enabled=True).engine.journal.digest


# --------------------------------------------------------------------------- the rule on its own
def _need(short: str = "0", long: str = "400") -> Need:
    return Need("A->B", "LINK", "B", D(short), "A", D(long), D(20), D(100), D(1), D("0.1"))


def test_the_rule_weighs_the_recent_edge_against_the_fee() -> None:
    rule = Rebalancer(RebalanceSettings(enabled=True, min_benefit_to_cost=2.0, lookback_minutes=60))
    for i in range(30):  # 30 opportunities in 30 minutes, 0.8 USDT a LINK on 20 LINK each: 960 USDT/h
        rule.observe("A->B", i * MIN, D(16), D(20))
    per_hour, per_unit = rule.flow("A->B", 30 * MIN)
    assert (per_hour, per_unit) == (D(960), D("0.8"))
    # Move 200 LINK (half the total): benefit min(960 * 1/6 h, 0.8 * 200) = 160 USDT.
    cheap = rule.decide(_need(), WithdrawalTerms(D("0.5"), LINK_DELAY), 30 * MIN)
    assert cheap is not None
    assert (cheap.amount, cheap.benefit, cheap.cost) == (D(200), D(160), D(50))
    assert (cheap.from_venue, cheap.to_venue) == ("A", "B")
    assert rule.decide(_need(), WithdrawalTerms(D("0.81"), LINK_DELAY), 30 * MIN) is None  # 160 < 2 * 81
    assert rule.stats()["declined_not_worth"] == 1


def test_the_rule_waits_while_inventory_lasts_and_sends_one_transfer_at_a_time() -> None:
    rule = Rebalancer(RebalanceSettings(enabled=True))
    rule.observe("A->B", 0, D(16), D(20))
    terms = WithdrawalTerms(D("0.01"), LINK_DELAY)
    assert rule.decide(_need(short="20"), terms, MIN) is None  # one full-sized trade still possible
    decision = rule.decide(_need(short="19.9"), terms, MIN)
    assert decision is not None
    rule.record(decision, "xarb-tr1", MIN)
    assert rule.decide(_need(short="0"), terms, MIN) is None  # LINK already on its way
    rule.on_transfer_event(WithdrawalSent(MIN, "xarb-tr1", "LINK", decision.amount, D("0.01"), "A", "B", 11 * MIN))
    assert rule.stats()["in_flight"] == 1
    assert rule.decide(_need(short="0"), None, MIN) is None  # no route: counted, nothing sent


def test_rebalance_settings_accept_a_switch_and_reject_nonsense() -> None:
    params = {"instruments": [A.id, B.id], "max_quantity": "1"}
    assert CrossExchangeArbConfig.model_validate({**params, "rebalance": True}).rebalance.enabled
    with pytest.raises(ValidationError, match="target_split"):
        CrossExchangeArbConfig.model_validate({**params, "rebalance": {"target_split": 1.5}})


# --------------------------------------------------------------------------- on the market simulator
def test_the_simulated_example_rebalances_reproducibly() -> None:
    """Same config and seed, same journal: transfers, their fees and arrival times included."""
    example = Path(__file__).resolve().parents[2] / "examples" / "cross_exchange_rebalancing_sim.toml"
    overrides = ["data.0.hours=0.5", 'venues.GAMMA.withdrawals.BTC.fee="0.0002"']  # the default fee: it moves BTC

    def run() -> BacktestNode:
        node = build_backtest(load_config(example, overrides))
        node.run()  # reconciles every venue's balances with the engine's, or raises
        return node

    first, second = run(), run()
    assert first.engine.journal.digest == second.engine.journal.digest
    assert {t.asset for t in first.engine.transfers.values()} >= {"BTC"}
    stats = first.strategies[0].stats()["rebalancing"]
    assert stats["requested"] == len(first.engine.transfers) == stats["credited"] + stats["in_flight"]


def test_a_standing_opportunity_counts_once_per_episode_not_once_per_book_update() -> None:
    rebalancer = Rebalancer(RebalanceSettings(enabled=True, episode_gap_ms=1_000, lookback_minutes=60))
    for i in range(10):  # one opportunity seen on ten book updates 100 ms apart
        rebalancer.observe("A->B", i * 100 * 1_000_000, D(5) + i, D(1))
    rebalancer.observe("A->B", 1_500 * 1_000_000, D(2), D(1))  # a new episode 1.5 s after the first
    per_hour, per_unit = rebalancer.flow("A->B", 2 * S)
    # Best edge of the first episode (14) plus the second (2), over the one minute watched at least.
    assert per_unit == D(16) / 2
    assert abs(per_hour - D(16) * 60) < D("1e-20")
