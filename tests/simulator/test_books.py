"""The simulator's books: sequencing, validity, depth, trades consistent with the book, determinism.

Every book stream of a 20-minute run (three venues, two assets, spot and perpetuals, and the binary
markets) is fed to an ``OrderBook`` record by record, checking each record against the book as it
stood just before.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from itertools import islice, pairwise

import numpy as np
import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSide, BookSnapshot, MarketData, TradeTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.simulated.market.books import MS, Dislocation, S
from spreadhawk.venues.simulated.market.calibration_venues import book_samples
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.paths import FairValuePaths, Regime
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES, BookProfile, DislocationProfile

CONFIG = MarketSimulatorConfig(hours=20 / 60, seed=11)
MANY = DislocationProfile(per_hour=40.0, mean_bps=15.0, half_life_s=3.0)


@pytest.fixture(scope="module")
def sim() -> MarketSimulator:
    return MarketSimulator(CONFIG)


@pytest.fixture(scope="module")
def records(sim: MarketSimulator) -> list[MarketData]:
    return list(sim)


def by_instrument(records: list[MarketData]) -> dict[InstrumentId, list[MarketData]]:
    streams: dict[InstrumentId, list[MarketData]] = defaultdict(list)
    for record in records:
        streams[record.instrument_id].append(record)
    return streams


def test_feed_is_time_ordered_and_its_count_is_exact(sim: MarketSimulator, records: list[MarketData]) -> None:
    assert len(records) == sim.records_count
    assert all(a.ts_ns <= b.ts_ns for a, b in pairwise(records))
    assert {r.instrument_id for r in records} == {i.id for i in sim.instruments()}
    assert {i.venue for i in sim.instruments()} == {"ALPHA", "BETA", "GAMMA", "PREDICT"}
    kinds = {i.kind for i in sim.instruments()}
    assert kinds == {InstrumentKind.SPOT, InstrumentKind.PERPETUAL, InstrumentKind.BINARY}


def test_sequences_are_contiguous_and_every_delta_applies(records: list[MarketData]) -> None:
    for iid, stream in by_instrument(records).items():
        books = [r for r in stream if isinstance(r, BookSnapshot | BookDeltas)]
        if not books:
            continue  # mark/funding and settlement records of an instrument
        assert isinstance(books[0], BookSnapshot), iid
        sequence = books[0].sequence
        for d in books[1:]:
            assert isinstance(d, BookDeltas), iid
            assert d.prev_sequence == sequence, (iid, d)
            assert d.first_sequence == sequence + 1 <= d.sequence, (iid, d)
            sequence = d.sequence


def test_an_order_book_fed_the_stream_never_gaps_crosses_or_thins(
    sim: MarketSimulator, records: list[MarketData]
) -> None:
    kinds = {i.id: i.kind for i in sim.instruments()}
    checked = 0
    for iid, stream in by_instrument(records).items():
        book = OrderBook(iid)
        for record in stream:
            if not isinstance(record, BookSnapshot | BookDeltas):
                continue
            if isinstance(record, BookDeltas):
                _assert_only_changes(book, record)
            assert book.apply(record), (iid, record, book.invalid_reason)
            assert book.is_valid, (iid, book.invalid_reason)  # valid also means not crossed
            bids, asks = book.levels(BookSide.BID), book.levels(BookSide.ASK)
            if kinds[iid] is InstrumentKind.BINARY:  # as many levels as fit between 0.01 and 0.99
                assert bids
                assert asks
                assert bids[-1][0] >= 1
                assert asks[-1][0] <= 99
            else:
                assert min(len(bids), len(asks)) >= 10, (iid, record.ts_ns)
            checked += 1
    assert checked > 10_000


def _assert_only_changes(book: OrderBook, deltas: BookDeltas) -> None:
    """A delta lists only levels that change: a new size for an existing level, a new level, or a
    deletion of a level that exists."""
    for side, levels in ((BookSide.BID, deltas.bids), (BookSide.ASK, deltas.asks)):
        assert len({price for price, _ in levels}) == len(levels)
        for price, size in levels:
            assert size != book.size_at(side, price), (deltas, price)


def test_trades_are_at_the_touch_and_the_next_delta_shows_what_they_took(records: list[MarketData]) -> None:
    trades = 0
    for iid, stream in by_instrument(records).items():
        book = OrderBook(iid)
        for i, record in enumerate(stream):
            if isinstance(record, TradeTick):
                buyer = record.aggressor is Aggressor.BUYER
                touch = book.best_ask() if buyer else book.best_bid()
                assert touch is not None
                assert record.price == touch[0], (iid, record, touch)
                assert 0 < record.size <= touch[1]
                after = stream[i + 1]
                assert isinstance(after, BookDeltas)
                assert after.ts_ns == record.ts_ns
                side = after.asks if buyer else after.bids
                left = dict(side)[record.price]
                # What is left, or the level gone, or (a side's last level) replenished at once.
                assert (
                    left == touch[1] - record.size or (left == 0 and record.size == touch[1]) or record.size == touch[1]
                )
                trades += 1
            elif isinstance(record, BookSnapshot | BookDeltas):
                book.apply(record)
    assert trades > 1_000


def test_ten_levels_are_a_minimum(sim: MarketSimulator) -> None:
    with pytest.raises(ValueError, match="at least 10 levels"):
        replace(DEFAULT_VENUES[0].spot, levels=9)
    assert all(isinstance(v.spot, BookProfile) and v.spot.levels >= 10 for v in DEFAULT_VENUES)


def test_the_same_config_gives_the_same_records_and_another_seed_others(records: list[MarketData]) -> None:
    again = list(MarketSimulator(CONFIG))
    assert again == records
    other = list(islice(MarketSimulator(replace(CONFIG, seed=12)), 5_000))
    assert other != records[:5_000]


def test_a_stream_does_not_depend_on_the_other_venues() -> None:
    """Each stream has its own generator: dropping GAMMA leaves ALPHA's book record for record."""
    config = replace(CONFIG, hours=0.1, perps=False, binaries=False)
    alpha = InstrumentId("ALPHA:BTC/USDT")
    full = [r for r in MarketSimulator(config) if r.instrument_id == alpha]
    fewer = [r for r in MarketSimulator(replace(config, venues=DEFAULT_VENUES[:2])) if r.instrument_id == alpha]
    assert full == fewer


def test_dislocations_move_the_venue_book_away_from_the_leader() -> None:
    """While a BETA dislocation is young, BETA's mid sits off ALPHA's by about its size."""
    config = MarketSimulatorConfig(
        hours=1, seed=5, assets=("BTC",), perps=False, binaries=False, venues=DEFAULT_VENUES[:2]
    )
    config = replace(config, venues=(config.venues[0], replace(config.venues[1], dislocations=MANY)))
    sim = MarketSimulator(config)
    big = [d for d in sim.dislocations if abs(d.size_bps) > 20]
    assert big
    assert all(d.venue == "BETA" and d.asset == "BTC" for d in sim.dislocations)
    books = {iid: OrderBook(iid) for iid in (InstrumentId("ALPHA:BTC/USDT"), InstrumentId("BETA:BTC/USDT"))}
    checks = iter(sorted(d.start_ns + 500_000_000 for d in big))  # half a second in: published, barely decayed
    observed: list[float] = []
    due = next(checks)
    for record in sim:
        while record.ts_ns >= due:
            alpha, beta = (book.mid_ticks() for book in books.values())
            assert alpha is not None
            assert beta is not None
            observed.append((beta - alpha) / alpha * 1e4)
            due = next(checks, 2**63)
        if isinstance(record, BookSnapshot | BookDeltas):
            books[record.instrument_id].apply(record)
    expected = [d.size_bps * 0.5 ** (0.5 / d.half_life_s) for d in sorted(big, key=lambda d: d.start_ns)]
    assert np.corrcoef(observed, expected)[0, 1] > 0.9


def test_dislocation_end_is_when_it_decays_below_a_threshold() -> None:
    d = Dislocation("BETA", "BTC", 1_000, -40.0, 2.0)
    assert d.end_ns(10.0) == 1_000 + 4_000_000_000  # 40 -> 10 bps: two half-lives
    assert d.end_ns(50.0) == 1_000


def test_spreads_widen_and_depth_thins_with_volatility_and_in_a_crisis() -> None:
    """First hour calm (RANGING, 50 % vol), second hour CRISIS at three times the volatility."""
    steps, step_ns = 36_000, 100 * MS
    rng = np.random.default_rng(0)
    vol = np.repeat([0.5, 1.5], steps // 2)
    returns = rng.standard_normal(steps) * vol * np.sqrt(step_ns / 1e9 / (365 * 86400))
    regime = np.repeat(np.array([Regime.RANGING, Regime.CRISIS], dtype=np.int8), steps // 2)
    start = CONFIG.start_ns
    paths = FairValuePaths(
        start + np.arange(steps, dtype=np.int64) * step_ns,
        step_ns,
        {"BTC": 60_000 * np.exp(np.cumsum(returns))},
        {"BTC": vol},
        regime,
    )
    beta = replace(DEFAULT_VENUES[1], dislocations=DislocationProfile())
    config = replace(CONFIG, hours=1.0, assets=("BTC",), venues=(beta,), perps=False, binaries=False)
    sim = MarketSimulator(config, paths=paths)
    (inst,) = sim.instruments()
    samples = book_samples(sim, inst)
    middle = start + 1800 * S
    calm, crisis = samples.between(start, middle), samples.between(middle, config.end_ns)
    assert np.median(crisis.spread_bps) > 3 * np.median(calm.spread_bps)
    assert np.median(crisis.touch_notional) < np.median(calm.touch_notional) / 3
