"""Perpetuals (basis, funding, mark and index) and the 15-minute binary markets of the simulator,
down to the ledger: an engine run holding a perpetual and a YES token shows the funding payments
and the settlement, with the right signs and amounts."""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest

from spreadhawk.domain.events import OrderSide, PostingReason
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSnapshot, FundingRate, InstrumentSettled, MarketData, MarkPrice
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.market.binaries import fair_probability
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.perps import PerpParams
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
D = Decimal
PERP = InstrumentId("ALPHA:BTC/USDT:USDT")
HOURLY = PerpParams(funding_interval_h=1.0)
ALPHA_ONLY = MarketSimulatorConfig(hours=2.25, seed=3, assets=("BTC",), venues=DEFAULT_VENUES[:1], perp_params=HOURLY)


def funding(
    records: list[MarketData], iid: InstrumentId
) -> tuple[list[FundingRate], list[FundingRate], list[MarkPrice]]:
    rates = [r for r in records if isinstance(r, FundingRate) and r.instrument_id == iid]
    marks = [r for r in records if isinstance(r, MarkPrice) and r.instrument_id == iid]
    return [r for r in rates if r.ts_ns == r.funding_ts_ns], [r for r in rates if r.ts_ns < r.funding_ts_ns], marks


# --------------------------------------------------------------------------- funding
def test_the_funding_formula_pays_interest_inside_the_clamp_and_follows_the_premium_beyond() -> None:
    p = PerpParams()
    assert p.funding_rate(0.0) == pytest.approx(0.0001)  # Binance's 0.01 % per 8 h
    assert p.funding_rate(0.0003) == pytest.approx(0.0001)  # within the ±0.05 % clamp
    assert p.funding_rate(0.0020) == pytest.approx(0.0015)
    assert p.funding_rate(-0.0020) == pytest.approx(-0.0015)
    assert p.funding_rate(0.05) == pytest.approx(0.003)  # capped
    assert HOURLY.funding_rate(0.0) == pytest.approx(0.0001 / 8)  # a 1 h period pays an eighth


@pytest.mark.parametrize("basis_bps", [20.0, -20.0])
def test_realised_funding_follows_the_sign_of_the_basis(basis_bps: float) -> None:
    params = replace(HOURLY, basis_mean_bps=basis_bps, basis_std_bps=2.0)
    sim = MarketSimulator(replace(ALPHA_ONLY, perp_params=params, binaries=False))
    realised, estimates, marks = funding(list(sim), PERP)
    assert len(realised) == 2  # 01:00 and 02:00 in a 2 h 15 min run from midnight
    assert all((r.rate > 0) == (basis_bps > 0) and r.rate != 0 for r in realised)
    # The realised rate is the formula applied to the period's average premium of the published marks.
    for r in realised:
        window = [m for m in marks if r.funding_ts_ns - 3600 * S < m.ts_ns <= r.funding_ts_ns]
        premium = float(np.mean([float((m.mark - m.index) / m.index) for m in window if m.index]))
        assert float(r.rate) == pytest.approx(params.funding_rate(premium), abs=2e-6)
        assert premium * 1e4 == pytest.approx(basis_bps, abs=5)
    assert estimates
    assert all(e.funding_ts_ns - 3600 * S < e.ts_ns < e.funding_ts_ns for e in estimates)


def test_mark_is_the_perp_price_and_index_the_median_of_the_spot_venues() -> None:
    sim = MarketSimulator(replace(ALPHA_ONLY, hours=0.25, venues=DEFAULT_VENUES, binaries=False))
    records = list(sim)
    _, _, marks = funding(records, PERP)
    assert [m.ts_ns for m in marks] == list(range(sim.config.start_ns, sim.config.end_ns, S))  # every second
    book = OrderBook(PERP)
    gaps = []
    for record in records:
        if record.instrument_id == PERP and isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
        elif record.instrument_id == PERP and isinstance(record, MarkPrice) and book.is_valid:
            mid = book.mid_ticks()
            assert mid is not None
            assert record.index is not None
            gaps.append(float(record.mark) / (mid * 0.1) - 1)
            basis = float((record.mark - record.index) / record.index) * 1e4
            assert -30 < basis < 20  # the calibrated basis: -4.5 bps, sd 2.5 bps
    assert abs(float(np.median(gaps))) < 1e-4  # the published book is at most a requote (1 bp) stale


# --------------------------------------------------------------------------- binaries
def test_binary_books_track_the_fair_probability_and_settle_at_expiry() -> None:
    sim = MarketSimulator(replace(ALPHA_ONLY, hours=1, perps=False))
    markets = sim.binary_markets
    assert [m.expiry_ns - m.open_ns for m in markets] == [900 * S] * 4
    assert all(
        m.yes.expiry_ns == m.expiry_ns and m.strike == pytest.approx(float(sim.paths.prices["BTC"][0]), rel=0.01)
        for m in markets[:1]
    )
    settled = {r.instrument_id: r for r in sim if isinstance(r, InstrumentSettled)}
    for m in markets:
        yes, no = settled[m.yes.id], settled[m.no.id]
        assert yes.ts_ns == no.ts_ns == m.expiry_ns
        assert (yes.price, no.price) == ((D(1), D(0)) if m.outcome_up else (D(0), D(1)))
    books = {m.yes.id: OrderBook(m.yes.id) for m in markets}
    errors = []
    for record in sim:
        book = books.get(record.instrument_id)
        if book is not None and isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
            market = next(m for m in markets if m.yes.id == record.instrument_id)
            fair = fair_probability(sim.paths, "BTC", market, np.array([record.ts_ns]))[0]
            mid = book.mid_ticks()
            assert mid is not None
            errors.append(mid / 100 - fair)
    assert abs(float(np.mean(errors))) < 0.01
    assert float(np.mean(np.abs(errors))) < 0.05


def test_yes_plus_no_asks_fall_below_one_only_during_mispricings() -> None:
    sim = MarketSimulator(replace(ALPHA_ONLY, hours=3, perps=False, seed=2))
    books = {i.id: OrderBook(i.id) for i in sim.instruments() if i.venue == "PREDICT"}
    young = [(m.start_ns, m.start_ns + int(m.half_life_s * S)) for m in sim.mispricings if m.size > 0.02]
    inside: list[bool] = []
    outside: list[bool] = []
    next_ns = sim.config.start_ns + S
    for record in sim:
        while record.ts_ns >= next_ns:  # once a second: the open market's two best asks
            market = next((m for m in sim.binary_markets if m.open_ns < next_ns < m.expiry_ns), None)
            if market is not None:
                yes, no = books[market.yes.id].best_ask(), books[market.no.id].best_ask()
                assert yes is not None
                assert no is not None
                cheap = yes[0] + no[0] < 100
                (inside if any(a <= next_ns < b for a, b in young) else outside).append(cheap)
            next_ns += S
        if record.instrument_id in books and isinstance(record, BookSnapshot | BookDeltas):
            books[record.instrument_id].apply(record)
    assert inside
    assert np.mean(inside) > 0.5
    assert np.mean(outside) < 0.01


# --------------------------------------------------------------------------- into the ledger
class HoldConfig(StrategyConfig):
    buy: dict[str, Decimal]  # instrument id -> quantity, bought once at the first valid book


class Hold(Strategy):
    config_class = HoldConfig

    def __init__(self, config: HoldConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.todo = {InstrumentId(iid): qty for iid, qty in config.buy.items()}

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        quantity = self.todo.pop(deltas.instrument_id, None)
        if quantity is not None:
            self.ctx.submit(deltas.instrument_id, OrderSide.BUY, quantity)


def test_funding_and_settlement_reach_the_ledger() -> None:
    sim = MarketSimulator(ALPHA_ONLY)
    first = sim.binary_markets[0]
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    for name in ("ALPHA", "PREDICT"):
        venue = SimulatedVenue(name)
        connect_simulated(engine, venue)
        venue.deposit("USDT", D(100_000))
    strategy = Hold(HoldConfig(buy={str(PERP): D("0.5"), str(first.yes.id): D(10)}))
    attach_strategy(engine, strategy)
    records = list(sim)
    run_replay(engine, records)
    assert not strategy.todo
    assert len(engine.fills) >= 2

    postings = engine.portfolio.ledger.postings
    paid = [p for p in postings if p.reason is PostingReason.FUNDING]
    realised, _, marks = funding(records, PERP)
    mark_at = {m.ts_ns: m.mark for m in marks}
    assert len(paid) == len(realised) == 2
    for posting, rate in zip(paid, realised, strict=True):
        # A long position pays a positive rate: -quantity x mark x rate, at the mark of that second.
        assert posting.venue == "ALPHA"
        assert posting.asset == "USDT"
        assert posting.reference == str(rate.funding_ts_ns)
        # as the venue books it: 8 decimals, half to even
        assert posting.amount == (-D("0.5") * mark_at[rate.ts_ns] * rate.rate).quantize(D("1e-8"), ROUND_HALF_EVEN)
        assert (posting.amount < 0) == (rate.rate > 0)

    settlement = [p for p in postings if p.reason is PostingReason.SETTLEMENT]
    payout = D(1) if first.outcome_up else D(0)
    assert sorted((p.asset, p.amount) for p in settlement) == sorted(
        [(str(first.yes.base), D(-10)), ("USDT", 10 * payout)]
    )
    assert all(p.venue == "PREDICT" and p.ts_ns == first.expiry_ns for p in settlement)
    for name, port in engine.venues.items():  # the engine's books agree with each venue's
        assert isinstance(port, SimulatedVenue)
        assert {a: v for a, v in engine.portfolio.ledger.venue_balances(name).items() if v} == {
            a: v for a, v in port.balances().items() if v
        }
