"""Book age (#11): a book not updated for longer than its venue allows is stale, and nothing trades
against it, until its next update; a replayed recording that ends says so. Spot ``X:BTC/USDT``
(tick 0.5, lot 0.1, taker fee 0.1 %); times in ns from 0; the limit 1 s unless a test says otherwise."""

from __future__ import annotations

from decimal import Decimal

from sim_harness import BARS, PERP, SPOT, deltas, run, snapshot, submit

from spreadhawk.domain.events import OrderRejected, OrderSide, RejectCode
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar, FeedState, FeedStatus, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.runtime.scan_detectors import default_detectors
from spreadhawk.runtime.scanner import Scanner

D = Decimal
S = 1_000_000_000
BUY = OrderSide.BUY
BOOK = snapshot(0, bids=[("100", "5")], asks=[("100.5", "5")])


def _bar(ts: int) -> Bar:
    """Another instrument's record: it moves the clock and tells SPOT's book nothing."""
    return Bar(BARS.id, ts, 60 * S, D(1), D(1), D(1), D(1), D(1))


def _spot_book(feed: list[MarketData], limit_ns: int = S) -> OrderBook:
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    engine.limit_book_ages(lambda _venue: limit_ns)
    for record in feed:
        engine.process(record)
    return engine.books[SPOT.id]


def test_a_book_is_stale_once_older_than_the_limit_and_not_at_the_limit() -> None:
    assert _spot_book([BOOK, _bar(S)]).is_valid  # exactly 1 s old: within the limit
    book = _spot_book([BOOK, _bar(S + 1)])
    assert not book.is_valid
    assert book.invalid_reason == "stale: no update for 1.000 s (limit 1 s)"


def test_the_next_delta_makes_a_stale_book_current_again_without_a_snapshot() -> None:
    # a quiet spell in a delta stream is not a gap: the sequence carries on
    book = _spot_book([BOOK, _bar(5 * S), deltas(6 * S, 2, bids=[("100", "1")])])
    assert book.is_valid
    assert book.best_bid() == (200, 10)  # 100 x 1


def test_no_limit_no_staleness() -> None:
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    for record in (BOOK, _bar(3600 * S)):
        engine.process(record)
    assert engine.books[SPOT.id].is_valid


def test_an_order_reaching_the_venue_after_its_book_went_stale_is_refused() -> None:
    # sent at 0 with 2 s of latency: the book (last updated at 0) is 2 s old when the order arrives
    h = run([BOOK, _bar(3 * S)], {0: submit(BUY, "1")}, latency_ns=2 * S, max_book_age_ns=S)
    (rejected,) = [e for e in h.script.events if isinstance(e, OrderRejected)]
    assert rejected.code is RejectCode.BOOK_UNAVAILABLE
    assert "stale: no update for 2.000 s" in rejected.reason
    assert h.fills() == []
    # the same order within the limit fills at the ask
    h = run([BOOK, _bar(3 * S)], {0: submit(BUY, "1")}, latency_ns=2 * S, max_book_age_ns=3 * S)
    assert [(f.price, f.quantity) for f in h.fills()] == [(D("100.5"), D(1))]


def test_a_strategy_timer_sees_the_book_stale() -> None:
    seen: list[bool] = []
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    engine.limit_book_ages(lambda _venue: S)
    engine.schedule(S, lambda: seen.append(engine.books[SPOT.id].is_valid))
    engine.schedule(2 * S, lambda: seen.append(engine.books[SPOT.id].is_valid))
    run_replay(engine, [BOOK, _bar(10 * S)])
    assert seen == [True, False]


def test_the_replay_does_not_run_past_its_data_to_age_a_book() -> None:
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    engine.limit_book_ages(lambda _venue: S)
    run_replay(engine, ReplayFeed([[BOOK, deltas(5 * S, 2, bids=[("100", "1")])]]))
    assert engine.clock.now_ns() == 5 * S
    assert engine.equity_curve[-1][0] == 5 * S


# --------------------------------------------------------------------------- a recording that ends
def test_a_source_that_ends_before_the_others_is_followed_by_ended_statuses() -> None:
    short: list[MarketData] = [BOOK, deltas(S, 2, bids=[("100", "1")])]
    long: list[MarketData] = [_bar(0), _bar(60 * S), _bar(120 * S)]
    records = list(ReplayFeed([short, long]))
    ended = [r for r in records if isinstance(r, FeedStatus)]
    assert ended == [FeedStatus(SPOT.id, S + 1, FeedState.ENDED, "the recording ended")]
    assert records.index(ended[0]) == records.index(long[1]) - 1  # in time order, after SPOT's last record
    # the sources that end with the replay say nothing
    together: list[MarketData] = [_bar(0), _bar(S)]
    assert not any(isinstance(r, FeedStatus) for r in ReplayFeed([short, together]))


def test_a_book_whose_recording_ended_is_not_traded_but_a_later_file_of_it_revives_it() -> None:
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    day1 = [BOOK]
    day2 = [deltas(90 * S, 2, bids=[("100", "1")]), deltas(150 * S, 3, bids=[("100", "2")])]  # the sequence goes on
    clock = [_bar(0), _bar(30 * S), _bar(60 * S), _bar(120 * S)]
    validity: list[tuple[int, bool]] = []
    engine.bus.subscribe(Bar, lambda bar: validity.append((bar.ts_ns // S, engine.books[SPOT.id].is_valid)))
    run_replay(engine, ReplayFeed([day1, clock, day2]))
    assert validity == [(0, True), (30, False), (60, False), (120, True)]
    assert engine.books[SPOT.id].best_bid() == (200, 20)  # both of day 2's deltas applied: 100 x 2


# --------------------------------------------------------------------------- the scanner
def _other_spot() -> Instrument:
    return Instrument("Y", "BTC/USDT", SPOT.kind, "BTC", "USDT", tick_size=SPOT.tick_size, lot_size=SPOT.lot_size)


def test_the_scanner_closes_an_opportunity_when_its_book_goes_stale_whatever_else_updates() -> None:
    other = _other_spot()
    engine = Engine([SPOT, other, PERP], clock=SimClock(0))
    engine.limit_book_ages(lambda _venue: 5 * S)
    scanner = Scanner(d for d in default_detectors([SPOT, other]) if d.kind == "cross_exchange")
    scanner.attach(engine)
    cheap = snapshot(0, bids=[("99", "1")], asks=[("99.5", "1")], inst=other)  # buy on Y at 99.5, sell on X at 100
    unrelated = [snapshot(t * S, bids=[("50", "1")], asks=[("51", "1")], inst=PERP) for t in (3, 8, 9)]
    run_replay(engine, ReplayFeed([[BOOK, cheap, *unrelated]]))  # one source: no recording ends early
    (seen,) = scanner.history
    assert seen.key == f"{other.id}->{SPOT.id}"
    assert seen.closed_ns == 8 * S  # the first instant after both books turned stale (5 s + 1 ns), not 9 s


def test_a_stale_book_still_marks_positions_to_its_last_mid_but_a_gapped_one_does_not() -> None:
    engine = Engine([SPOT, BARS], clock=SimClock(0))
    engine.limit_book_ages(lambda _venue: S)
    for record in (BOOK, _bar(5 * S)):
        engine.process(record)
    assert not engine.books[SPOT.id].is_valid
    assert engine.price(SPOT.id) == D("100.25")  # (100 + 100.5) / 2: the latest price known is a mark
    engine.process(deltas(6 * S, 5, bids=[("100", "1")]))  # 2..4 lost: a gap, the prices may be wrong
    assert engine.price(SPOT.id) is None  # no trade or bar to fall back on
