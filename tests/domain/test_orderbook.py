"""Unit tests of OrderBook: sequencing (bridge, gaps, stale, resync), crossing, and depth queries."""

from __future__ import annotations

import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, Level, QuoteTick
from spreadhawk.domain.orderbook import BookInvalidError, OrderBook

IID = InstrumentId("BINANCE:BTC/USDT")
BID, ASK = BookSide.BID, BookSide.ASK


def snap(seq: int, bids: tuple[Level, ...], asks: tuple[Level, ...], ts_ns: int = 1) -> BookSnapshot:
    return BookSnapshot(IID, ts_ns, seq, bids, asks)


def deltas(
    first: int,
    last: int,
    bids: tuple[Level, ...] = (),
    asks: tuple[Level, ...] = (),
    *,
    prev: int | None = None,
    ts_ns: int = 2,
) -> BookDeltas:
    """Deltas ``first..last``; ``prev`` defaults to ``first - 1`` (contiguous ids, as on Binance spot)."""
    return BookDeltas(IID, ts_ns, first, last, first - 1 if prev is None else prev, bids, asks)


def valid(book: OrderBook) -> bool:
    """``book.is_valid``, read through a call: mypy keeps an asserted attribute narrowed across the
    method calls that change it, and would call the next opposite assertion unreachable."""
    return book.is_valid


def book_at_100() -> OrderBook:
    """A valid book at sequence 100: bids 100x5, 99x3, 97x10; asks 101x4, 102x6, 105x20."""
    book = OrderBook(IID)
    book.apply_snapshot(snap(100, ((100, 5), (99, 3), (97, 10)), ((101, 4), (102, 6), (105, 20))))
    return book


def bridged_book() -> OrderBook:
    """book_at_100 after an empty bridging delta, so later deltas must chain on prev_sequence."""
    book = book_at_100()
    assert book.apply_deltas(deltas(101, 101))
    return book


# --- initial state and snapshots ------------------------------------------------------


def test_new_book_is_invalid_and_queries_raise() -> None:
    book = OrderBook(IID)
    assert not valid(book)
    assert book.invalid_reason == "no snapshot yet"
    assert book.sequence == -1
    assert book.update_count == 0
    with pytest.raises(BookInvalidError, match="no snapshot yet"):
        book.best_bid()


def test_deltas_before_any_snapshot_are_ignored() -> None:
    book = OrderBook(IID)
    assert not book.apply_deltas(deltas(1, 5, bids=((10, 1),)))
    assert not valid(book)
    assert book.sequence == -1
    assert book.update_count == 0


def test_snapshot_sets_both_sides_sequence_and_validity() -> None:
    book = book_at_100()
    assert valid(book)
    assert book.invalid_reason is None
    assert book.sequence == 100
    assert book.ts_ns == 1
    assert book.update_count == 1
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 4)
    assert book.levels(BID) == [(100, 5), (99, 3), (97, 10)]
    assert book.levels(ASK) == [(101, 4), (102, 6), (105, 20)]


def test_snapshot_ignores_zero_size_levels_and_any_input_order() -> None:
    book = OrderBook(IID)
    book.apply_snapshot(snap(7, ((97, 1), (100, 0), (99, 2)), ((110, 3), (101, 0), (105, 1))))
    assert book.levels(BID) == [(99, 2), (97, 1)]
    assert book.levels(ASK) == [(105, 1), (110, 3)]


def test_a_one_level_snapshot_is_a_book_like_any_other() -> None:
    """The top-of-book shortcut (one level a side): then deltas add and remove levels around it, a
    zero-size level empties its side, a locked or crossed quote is invalid."""
    book = OrderBook(IID)
    book.apply_snapshot(snap(10, ((100, 5),), ((102, 4),)))
    book.apply_deltas(deltas(11, 11, ((99, 7), (100, 0)), ((101, 1),)))
    assert (book.levels(BID), book.levels(ASK)) == ([(99, 7)], [(101, 1), (102, 4)])
    book.apply_snapshot(snap(20, ((100, 0),), ((102, 4),)))
    assert (book.levels(BID), book.levels(ASK), valid(book)) == ([], [(102, 4)], True)
    for bid, ask in ((102, 102), (103, 102)):
        book.apply_snapshot(snap(30, ((bid, 1),), ((ask, 1),)))
        assert not book.is_valid
        assert "crossed book" in (book.invalid_reason or "")


def test_snapshot_replaces_the_previous_book_entirely() -> None:
    book = book_at_100()
    book.apply_snapshot(snap(200, ((50, 1),), ((60, 2),)))
    assert book.levels(BID) == [(50, 1)]
    assert book.levels(ASK) == [(60, 2)]
    assert book.sequence == 200


def test_empty_and_one_sided_books_are_valid() -> None:
    book = OrderBook(IID)
    book.apply_snapshot(snap(1, (), ()))
    assert valid(book)
    assert book.best_bid() is None
    assert book.best_ask() is None
    assert book.mid_ticks() is None
    assert book.spread_ticks() is None
    assert book.levels(BID) == []
    assert book.avg_price_to_fill(ASK, 5) is None
    assert book.size_within_bps(BID, 10.0) == 0
    book.apply_snapshot(snap(2, ((100, 1),), ()))
    assert valid(book)
    assert book.best_bid() == (100, 1)
    assert book.best_ask() is None
    assert book.spread_ticks() is None


def test_records_of_another_instrument_are_rejected() -> None:
    book = book_at_100()
    other = InstrumentId("BINANCE:ETH/USDT")
    with pytest.raises(ValueError, match="ETH/USDT"):
        book.apply_snapshot(BookSnapshot(other, 1, 300, (), ()))
    with pytest.raises(ValueError, match="ETH/USDT"):
        book.apply_deltas(BookDeltas(other, 1, 101, 101, 100, (), ()))
    assert book.sequence == 100


# --- level updates ----------------------------------------------------------------------


def test_deltas_insert_update_and_delete_levels() -> None:
    book = book_at_100()
    applied = book.apply_deltas(
        deltas(
            101,
            103,
            bids=((98, 7), (100, 2), (99, 0)),  # insert between levels, resize the touch, delete
            asks=((103, 1), (101, 0), (110, 9)),  # insert, delete the touch, insert at the back
        )
    )
    assert applied
    assert book.sequence == 103
    assert book.ts_ns == 2
    assert book.update_count == 2
    assert book.levels(BID) == [(100, 2), (98, 7), (97, 10)]
    assert book.levels(ASK) == [(102, 6), (103, 1), (105, 20), (110, 9)]


def test_deleting_an_absent_level_is_a_no_op() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 102, bids=((50, 0),), asks=((500, 0),)))
    assert book.levels(BID) == [(100, 5), (99, 3), (97, 10)]
    assert book.levels(ASK) == [(101, 4), (102, 6), (105, 20)]
    assert book.sequence == 102


def test_deltas_can_empty_a_side_and_refill_it() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 102, asks=((105, 0), (101, 0), (102, 0))))
    assert valid(book)
    assert book.best_ask() is None
    assert book.levels(ASK) == []
    assert book.best_bid() == (100, 5)
    assert book.apply_deltas(deltas(103, 103, bids=((99, 0), (97, 0), (100, 0))))
    assert book.best_bid() is None
    assert book.apply_deltas(deltas(104, 104, bids=((90, 1),), asks=((120, 2),)))
    assert book.levels(BID) == [(90, 1)]
    assert book.levels(ASK) == [(120, 2)]


def test_a_new_best_level_on_either_side() -> None:
    book = bridged_book()
    # A bid above the old touch becomes best, once the ask it would cross is gone.
    assert book.apply_deltas(deltas(102, 102, bids=((101, 7),), asks=((101, 0),)))
    assert book.best_bid() == (101, 7)
    assert book.best_ask() == (102, 6)
    # And back: an ask below the old best ask becomes best.
    assert book.apply_deltas(deltas(103, 103, bids=((101, 0),), asks=((101, 2),)))
    assert book.best_bid() == (100, 5)
    assert book.best_ask() == (101, 2)


def test_within_a_message_later_updates_of_a_level_win() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 102, bids=((98, 1), (98, 0), (98, 4))))
    assert book.size_at(BID, 98) == 4
    assert book.levels(BID) == [(100, 5), (99, 3), (98, 4), (97, 10)]


# --- sequencing: bridge after a snapshot ---------------------------------------------------


def test_bridge_accepts_a_message_that_spans_the_snapshot_id() -> None:
    # Binance spot: U <= lastUpdateId + 1 <= u.
    book = book_at_100()
    assert book.apply_deltas(deltas(95, 104, bids=((100, 8),)))
    assert book.sequence == 104
    assert book.best_bid() == (100, 8)


def test_bridge_accepts_a_message_starting_right_after_the_snapshot() -> None:
    book = book_at_100()
    assert book.apply_deltas(deltas(101, 101))
    assert book.sequence == 101


def test_bridge_accepts_futures_style_span_including_the_snapshot_id() -> None:
    # Binance futures: U <= lastUpdateId <= u (and u > lastUpdateId, else it is stale).
    book = book_at_100()
    assert book.apply_deltas(deltas(98, 103, prev=97))
    assert book.sequence == 103


def test_bridge_accepts_an_exact_chain_even_if_ids_jump() -> None:
    # Futures ids are not contiguous: the message after the snapshot may start well past it,
    # but pu == lastUpdateId still proves nothing was missed.
    book = book_at_100()
    assert book.apply_deltas(deltas(150, 160, prev=100))
    assert book.sequence == 160
    assert valid(book)


def test_bridge_rejects_a_message_starting_past_the_snapshot() -> None:
    book = book_at_100()
    assert not book.apply_deltas(deltas(102, 105, bids=((100, 9),)))
    assert not valid(book)
    assert book.invalid_reason is not None
    assert "expected first_sequence <= 101" in book.invalid_reason
    assert "got 102" in book.invalid_reason
    assert book.sequence == 100  # nothing applied
    with pytest.raises(BookInvalidError, match="sequence gap"):
        book.best_bid()


def test_stale_messages_before_the_bridge_are_skipped_without_harm() -> None:
    book = book_at_100()
    assert not book.apply_deltas(deltas(90, 95))
    assert not book.apply_deltas(deltas(96, 100))  # ends exactly at the snapshot: already in it
    assert valid(book)
    assert book.update_count == 1
    assert book.apply_deltas(deltas(101, 102))  # the bridge still applies afterwards
    assert book.sequence == 102


# --- sequencing: after the bridge ------------------------------------------------------------


def test_contiguous_deltas_apply() -> None:
    book = bridged_book()
    for first in range(102, 110, 2):
        assert book.apply_deltas(deltas(first, first + 1, bids=((first - 10, 1),)))
    assert book.sequence == 109
    assert book.update_count == 6


def test_stale_deltas_after_the_bridge_are_ignored_and_book_stays_valid() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 105, bids=((100, 1),)))
    assert not book.apply_deltas(deltas(102, 105, bids=((100, 99),)))  # a duplicate
    assert not book.apply_deltas(deltas(104, 104, bids=((100, 99),)))  # an old one
    assert valid(book)
    assert book.sequence == 105
    assert book.best_bid() == (100, 1)


def test_gap_invalidates_names_sequences_and_blocks_deltas_until_snapshot() -> None:
    book = bridged_book()  # at 101
    assert not book.apply_deltas(deltas(103, 104, bids=((100, 9),)))  # 102 is missing
    assert not valid(book)
    assert book.invalid_reason == "sequence gap: expected prev_sequence 101, got 102 (deltas 103..104)"
    assert book.sequence == 101
    # The message that was missed arrives late and the chain would continue: still ignored,
    # because the book cannot know what else it missed.
    assert not book.apply_deltas(deltas(102, 102))
    assert not book.apply_deltas(deltas(103, 104))
    assert not valid(book)
    assert book.sequence == 101
    for query in (book.best_bid, book.best_ask, book.mid_ticks, book.spread_ticks):
        with pytest.raises(BookInvalidError, match="expected prev_sequence 101"):
            query()
    with pytest.raises(BookInvalidError):
        book.levels(BID)
    with pytest.raises(BookInvalidError):
        book.size_at(ASK, 101)
    with pytest.raises(BookInvalidError):
        book.avg_price_to_fill(ASK, 1)
    with pytest.raises(BookInvalidError):
        book.size_within_bps(BID, 5.0)


def test_gap_detected_on_prev_sequence_not_on_first_sequence() -> None:
    # With non-contiguous ids (futures), first_sequence may jump; only pu must match.
    book = bridged_book()
    assert book.apply_deltas(deltas(120, 130, prev=101))
    assert not book.apply_deltas(deltas(131, 140, prev=129))
    assert book.invalid_reason == "sequence gap: expected prev_sequence 130, got 129 (deltas 131..140)"


def test_snapshot_resyncs_after_a_gap() -> None:
    book = bridged_book()
    assert not book.apply_deltas(deltas(110, 111))
    assert not valid(book)
    book.apply_snapshot(snap(300, ((90, 1),), ((95, 2),), ts_ns=9))
    assert valid(book)
    assert book.invalid_reason is None
    assert book.sequence == 300
    assert book.ts_ns == 9
    assert book.levels(BID) == [(90, 1)]
    # The new snapshot needs its own bridge: a chain on the old sequence is a gap.
    assert not book.apply_deltas(deltas(305, 306))
    assert not valid(book)
    book.apply_snapshot(snap(300, ((90, 1),), ((95, 2),)))
    assert book.apply_deltas(deltas(299, 301, bids=((91, 1),)))
    assert book.apply_deltas(deltas(302, 302))
    assert book.best_bid() == (91, 1)


def test_invalidate_requires_a_new_snapshot() -> None:
    book = bridged_book()
    book.invalidate("feed disconnected")
    assert not valid(book)
    assert book.invalid_reason == "feed disconnected"
    assert not book.apply_deltas(deltas(102, 102))
    book.apply_snapshot(snap(400, ((1, 1),), ((2, 1),)))
    assert valid(book)


# --- crossed books ---------------------------------------------------------------------------


def test_crossed_snapshot_is_invalid_but_deltas_still_apply_and_uncross_it() -> None:
    book = OrderBook(IID)
    book.apply_snapshot(snap(10, ((102, 1), (100, 2)), ((101, 3), (103, 1))))
    assert not valid(book)
    assert book.invalid_reason == "crossed book: best bid 102 >= best ask 101"
    with pytest.raises(BookInvalidError, match="crossed"):
        book.best_bid()
    assert book.apply_deltas(deltas(11, 11, bids=((102, 0),)))
    assert valid(book)
    assert book.best_bid() == (100, 2)
    assert book.best_ask() == (101, 3)


def test_delta_that_crosses_then_one_that_uncrosses() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 102, bids=((101, 1),)))  # bid == best ask: crossed (locked)
    assert not valid(book)
    assert book.invalid_reason == "crossed book: best bid 101 >= best ask 101"
    assert book.apply_deltas(deltas(103, 103, asks=((99, 2),)))  # still crossed, deeper
    assert book.invalid_reason == "crossed book: best bid 101 >= best ask 99"
    assert book.apply_deltas(deltas(104, 104, bids=((101, 0), (100, 0), (99, 0)), asks=((99, 0),)))
    assert valid(book)
    assert book.best_bid() == (97, 10)
    assert book.best_ask() == (101, 4)


def test_gap_while_crossed_keeps_the_gap_reason_until_snapshot() -> None:
    book = bridged_book()
    assert book.apply_deltas(deltas(102, 102, bids=((110, 1),)))
    assert not book.apply_deltas(deltas(104, 104, bids=((110, 0),)))
    assert book.invalid_reason is not None
    assert book.invalid_reason.startswith("sequence gap")
    assert not book.apply_deltas(deltas(103, 103))
    assert not valid(book)


# --- queries ---------------------------------------------------------------------------------


def test_mid_and_spread() -> None:
    book = book_at_100()
    assert book.spread_ticks() == 1
    assert book.mid_ticks() == 100.5
    book.apply_snapshot(snap(1, ((100, 5),), ((104, 1),)))
    assert book.spread_ticks() == 4
    assert book.mid_ticks() == 102.0


def test_levels_depth() -> None:
    book = book_at_100()
    assert book.levels(BID, 0) == []
    assert book.levels(BID, 1) == [(100, 5)]
    assert book.levels(BID, 2) == [(100, 5), (99, 3)]
    assert book.levels(ASK, 2) == [(101, 4), (102, 6)]
    assert book.levels(ASK, 3) == book.levels(ASK)
    assert book.levels(ASK, 50) == [(101, 4), (102, 6), (105, 20)]
    with pytest.raises(ValueError, match="depth"):
        book.levels(BID, -1)


def test_size_at() -> None:
    book = book_at_100()
    assert book.size_at(BID, 99) == 3
    assert book.size_at(ASK, 105) == 20
    assert book.size_at(BID, 101) == 0  # an ask price, not a bid
    assert book.size_at(ASK, 100) == 0
    assert book.size_at(ASK, 1_000) == 0


def test_avg_price_to_fill_hand_computed() -> None:
    book = book_at_100()
    # Buying hits the asks: 101x4 + 102x6 + 105x20.
    assert book.avg_price_to_fill(ASK, 1) == (101, 1)
    assert book.avg_price_to_fill(ASK, 4) == (404, 4)
    assert book.avg_price_to_fill(ASK, 5) == (404 + 102, 5)
    assert book.avg_price_to_fill(ASK, 10) == (404 + 612, 10)
    assert book.avg_price_to_fill(ASK, 15) == (404 + 612 + 525, 15)
    # Depth runs out at 30 units.
    assert book.avg_price_to_fill(ASK, 100) == (404 + 612 + 2100, 30)
    # Selling hits the bids: 100x5 + 99x3 + 97x10.
    assert book.avg_price_to_fill(BID, 6) == (500 + 99, 6)
    assert book.avg_price_to_fill(BID, 8) == (500 + 297, 8)
    assert book.avg_price_to_fill(BID, 18) == (500 + 297 + 970, 18)
    assert book.avg_price_to_fill(BID, 19) == (500 + 297 + 970, 18)
    with pytest.raises(ValueError, match="positive"):
        book.avg_price_to_fill(BID, 0)


def test_size_within_bps_hand_computed() -> None:
    book = OrderBook(IID)
    # Touch 10_000 ticks: 1 bp is exactly 1 tick, so boundaries are easy to check.
    book.apply_snapshot(
        snap(
            1,
            ((10_000, 1), (9_999, 2), (9_995, 4), (9_990, 8)),
            ((10_001, 1), (10_002, 2), (10_011, 4), (10_012, 8)),
        )
    )
    assert book.size_within_bps(BID, 0.0) == 1
    assert book.size_within_bps(BID, 0.5) == 1
    assert book.size_within_bps(BID, 1.0) == 3
    assert book.size_within_bps(BID, 5.0) == 7  # 9_995 is exactly 5 bps away: included
    assert book.size_within_bps(BID, 9.99) == 7
    assert book.size_within_bps(BID, 10.0) == 15
    assert book.size_within_bps(BID, 1e6) == 15
    # Asks: the touch is 10_001, so 10 bps is 10.001 ticks: 10_011 is in, 10_012 out.
    assert book.size_within_bps(ASK, 0.0) == 1
    assert book.size_within_bps(ASK, 1.0) == 3
    assert book.size_within_bps(ASK, 10.0) == 7
    assert book.size_within_bps(ASK, 11.0) == 15
    with pytest.raises(ValueError, match="bps"):
        book.size_within_bps(BID, -1.0)
    with pytest.raises(ValueError, match="bps"):
        book.size_within_bps(BID, float("nan"))


def test_size_within_bps_reads_bps_as_written_at_the_boundary() -> None:
    # 0.3 bps of 100_000 ticks is exactly 3 ticks. The float 0.3 is slightly below 3/10, so a bound
    # from its exact binary value would drop the level 3 ticks away; read as written, it counts.
    book = OrderBook(IID)
    book.apply_snapshot(snap(1, ((100_000, 1), (99_997, 2), (99_996, 4)), ((100_001, 1), (100_031, 2))))
    assert book.size_within_bps(BID, 0.3) == 3
    assert book.size_within_bps(BID, 0.7) == 7
    # Asks: 3 bps of 100_001 is 30.0003 ticks, so 100_031 (30 ticks away) is in.
    assert book.size_within_bps(ASK, 3.0) == 3
    assert book.size_within_bps(ASK, 2.99) == 1
    assert book.size_within_bps(ASK, 10) == 3  # an int is accepted as it is
    with pytest.raises(ValueError, match="bps"):
        book.size_within_bps(ASK, float("inf"))


# --- apply() dispatch and repr -----------------------------------------------------------------


def test_apply_dispatches_snapshots_and_deltas() -> None:
    book = OrderBook(IID)
    assert book.apply(snap(5, ((10, 1),), ((11, 1),)))
    assert book.apply(deltas(6, 6, bids=((10, 2),)))
    assert not book.apply(deltas(6, 6))
    assert book.best_bid() == (10, 2)
    with pytest.raises(TypeError, match="QuoteTick"):
        book.apply(QuoteTick(IID, 1, 10, 1, 11, 1))  # type: ignore[arg-type]


def test_repr_shows_state() -> None:
    book = book_at_100()
    assert repr(book) == "OrderBook(BINANCE:BTC/USDT, seq=100, 3 bids, 3 asks, valid)"
    assert "no snapshot yet" in repr(OrderBook(IID))


def test_deltas_before_the_first_snapshot_are_buffered_and_applied_after_it() -> None:
    """Binance's sync procedure: the stream is buffered, the REST snapshot arrives later, and the
    buffered diffs it does not contain yet are applied on top of it."""
    book = OrderBook(IID)
    older = BookDeltas(IID, 1, 95, 99, 94, bids=((100, 7),), asks=())
    bridge = BookDeltas(IID, 2, 100, 103, 99, bids=((101, 5),), asks=())
    assert book.apply_deltas(older) is False
    assert book.apply_deltas(bridge) is False
    book.apply_snapshot(BookSnapshot(IID, 3, 101, bids=((100, 1),), asks=((110, 2),)))
    assert book.is_valid
    assert book.sequence == 103
    assert book.levels(BookSide.BID) == [(101, 5), (100, 1)]  # the older diff was already in the snapshot
    assert book.apply_deltas(BookDeltas(IID, 4, 104, 104, 103, bids=((101, 0),), asks=())) is True
    assert book.levels(BookSide.BID) == [(100, 1)]


def test_futures_bridge_spanning_the_snapshot_by_prev_sequence() -> None:
    """Binance futures ids are not contiguous: the first diff to apply has pu <= lastUpdateId < u."""
    book = OrderBook(IID)
    book.apply_snapshot(BookSnapshot(IID, 1, 500, bids=((100, 1),), asks=((110, 2),)))
    assert book.apply_deltas(BookDeltas(IID, 2, 520, 530, 490, bids=((100, 3),), asks=())) is True
    assert book.sequence == 530
    assert book.is_valid
