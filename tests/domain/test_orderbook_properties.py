"""Property tests: OrderBook against a naive reference book, and gap handling under any sequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, Level
from spreadhawk.domain.orderbook import BookInvalidError, OrderBook

IID = InstrumentId("TEST:X/Y")
BID, ASK = BookSide.BID, BookSide.ASK

# Bid and ask price ranges overlap a little so that some books cross (and uncross again). The ranges
# are narrow so that deltas hit existing levels; snapshots fill a book and deltas delete often, so
# books range from full to one-sided or empty.
_bid_price = st.integers(90, 103)
_ask_price = st.integers(100, 113)
_delta_size = st.one_of(st.just(0), st.integers(1, 40))
_levels_bid = st.lists(st.tuples(_bid_price, _delta_size), max_size=12)
_levels_ask = st.lists(st.tuples(_ask_price, _delta_size), max_size=12)
_snapshot_bid = st.lists(st.tuples(_bid_price, st.integers(0, 40)), max_size=20)
_snapshot_ask = st.lists(st.tuples(_ask_price, st.integers(0, 40)), max_size=20)
_snapshot_step = st.tuples(st.just("snapshot"), _snapshot_bid, _snapshot_ask, st.integers(0, 5))
# (kind, bids, asks, span of ids, how far the bridge reaches back / how far ids jump)
_delta_step = st.tuples(st.just("deltas"), _levels_bid, _levels_ask, st.integers(1, 4), st.integers(0, 3))
_stale_step = st.tuples(st.just("stale"))
_steps = st.lists(st.one_of(_snapshot_step, _delta_step, _delta_step, _delta_step, _stale_step), max_size=40)


@dataclass
class ReferenceBook:
    """The obvious book: one dict per side, sorted on every query."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)

    def snapshot(self, snap: BookSnapshot) -> None:
        self.bids = {p: s for p, s in snap.bids if s}
        self.asks = {p: s for p, s in snap.asks if s}

    def deltas(self, d: BookDeltas) -> None:
        for side, levels in ((self.bids, d.bids), (self.asks, d.asks)):
            for p, s in levels:
                if s:
                    side[p] = s
                else:
                    side.pop(p, None)

    def levels(self, side: BookSide) -> list[Level]:
        if side == BID:
            return sorted(self.bids.items(), reverse=True)
        return sorted(self.asks.items())

    def crossed(self) -> bool:
        return bool(self.bids and self.asks and max(self.bids) >= min(self.asks))

    def avg_price_to_fill(self, side: BookSide, size: int) -> tuple[int, int] | None:
        levels = self.levels(side)
        if not levels:
            return None
        notional = filled = 0
        for p, s in levels:
            take = min(s, size - filled)
            notional += p * take
            filled += take
        return notional, filled

    def size_within_bps(self, side: BookSide, bps: float) -> int:
        levels = self.levels(side)
        if not levels:
            return 0
        touch = levels[0][0]
        bound = Fraction(touch) * Fraction(repr(bps)) / 10_000  # bps as written
        return sum(s for p, s in levels if abs(p - touch) <= bound)


Records = list[tuple[BookSnapshot | BookDeltas, bool]]


def build_records(steps: list[tuple[object, ...]]) -> tuple[Records, bool]:
    """Turn generated steps into gap-free records, each paired with whether the book must apply it,
    and tell whether the book is left waiting for its bridging delta.

    Snapshots always apply; re-sent (stale) deltas must be ignored. Deltas before the first snapshot
    are left out here (the book buffers them for the snapshot; unit tests cover that).
    The first delta after a snapshot reaches back ``back`` ids (a Binance spot style bridge); later
    ones chain on ``prev_sequence`` and may jump ids (Binance futures style non-contiguous ids).
    """
    records: Records = []
    seq = 0
    has_snapshot = bridging = False
    last_deltas: BookDeltas | None = None
    for ts, step in enumerate(steps, 1):
        if step[0] == "snapshot":
            _, bids, asks, jump = step
            seq += jump  # type: ignore[operator]
            snap = BookSnapshot(IID, ts, seq, tuple(bids), tuple(asks))  # type: ignore[arg-type]
            records.append((snap, True))
            has_snapshot = bridging = True
        elif step[0] == "deltas":
            _, bids, asks, span, back = step
            if not has_snapshot:
                continue
            assert isinstance(span, int)
            assert isinstance(back, int)
            if bridging:
                first = seq + 1 - back
                prev = first - 1
            else:
                first = seq + 1 + back
                prev = seq
            last = max(first + span - 1, seq + 1)
            d = BookDeltas(IID, ts, first, last, prev, tuple(bids), tuple(asks))  # type: ignore[arg-type]
            records.append((d, has_snapshot))
            if has_snapshot:
                seq = last
                bridging = False
                last_deltas = d
        elif last_deltas is not None:
            records.append((last_deltas, False))
    return records, bridging


def assert_same(book: OrderBook, ref: ReferenceBook) -> None:
    assert book.is_valid == (not ref.crossed())
    if not book.is_valid:
        assert book.invalid_reason is not None
        assert book.invalid_reason.startswith("crossed book")
        return
    bids, asks = ref.levels(BID), ref.levels(ASK)
    assert book.best_bid() == (bids[0] if bids else None)
    assert book.best_ask() == (asks[0] if asks else None)
    assert book.levels(BID) == bids
    assert book.levels(ASK) == asks
    assert book.levels(BID, 3) == bids[:3]
    assert book.levels(ASK, 2) == asks[:2]
    for side in (BID, ASK):
        for size in (1, 7, 40, 10_000):
            assert book.avg_price_to_fill(side, size) == ref.avg_price_to_fill(side, size)
        for bps in (0.0, 0.3, 50.0, 99.99, 150.0, 297.03, 1_000.0, 5_000.0):
            assert book.size_within_bps(side, bps) == ref.size_within_bps(side, bps)
    for p in (90, 100, 103, 113):
        assert book.size_at(BID, p) == ref.bids.get(p, 0)
        assert book.size_at(ASK, p) == ref.asks.get(p, 0)


@settings(max_examples=300, deadline=None)
@given(_steps)
def test_book_matches_reference_on_any_gap_free_sequence(steps: list[tuple[object, ...]]) -> None:
    book = OrderBook(IID)
    ref = ReferenceBook()
    has_snapshot = False
    for record, must_apply in build_records(steps)[0]:
        assert book.apply(record) == must_apply
        if must_apply:
            if isinstance(record, BookSnapshot):
                ref.snapshot(record)
                has_snapshot = True
            else:
                ref.deltas(record)
            assert book.sequence == record.sequence
        if has_snapshot:
            assert_same(book, ref)
        else:
            assert not book.is_valid


@settings(max_examples=200, deadline=None)
@given(
    _steps,
    st.integers(1, 5),  # how far prev_sequence is off
    st.lists(st.tuples(_levels_bid, _levels_ask), max_size=5),
    _snapshot_step,
)
def test_any_gap_invalidates_until_next_snapshot(
    steps: list[tuple[object, ...]],
    off_by: int,
    after_gap: list[tuple[list[Level], list[Level]]],
    resync: tuple[object, ...],
) -> None:
    # A snapshot first, so the gap is a real one rather than "no snapshot yet".
    records, bridging = build_records([("snapshot", [(100, 1)], [(101, 1)], 0), *steps])
    book = OrderBook(IID)
    for record, _ in records:
        book.apply(record)
    seq = book.sequence
    # A message whose prev_sequence does not match (and, on a bridge, that does not reach back).
    first = seq + 1 + off_by
    gap = BookDeltas(IID, 0, first, first + 1, seq + off_by, ((100, 3),), ())
    assert not book.apply_deltas(gap)
    assert not book.is_valid
    assert book.invalid_reason is not None
    expected = f"expected first_sequence <= {seq + 1}" if bridging else f"expected prev_sequence {seq}"
    assert expected in book.invalid_reason
    # Nothing applies afterwards, not even deltas that chain perfectly from the gap message.
    prev = gap.sequence
    for bids, asks in after_gap:
        assert not book.apply_deltas(BookDeltas(IID, 0, prev + 1, prev + 1, prev, tuple(bids), tuple(asks)))
        prev += 1
        assert not book.is_valid
        with pytest.raises(BookInvalidError, match="sequence gap"):
            book.best_bid()
    assert book.sequence == seq
    # A snapshot resyncs it; it then matches a reference built from that snapshot alone.
    snap = BookSnapshot(IID, 0, prev + 10, tuple(resync[1]), tuple(resync[2]))  # type: ignore[arg-type]
    book.apply(snap)
    ref = ReferenceBook()
    ref.snapshot(snap)
    assert_same(book, ref)
