"""L2 order book of one instrument, kept from ``BookSnapshot`` and ``BookDeltas`` records.

Prices are integer ticks and sizes integer size units (see ``spreadhawk.domain.market``): the book
holds ints only. Floats appear only in ``mid_ticks`` (a result) and ``size_within_bps`` (an argument,
read exactly once per distinct value).

Layout, chosen for the hot path (hundreds of thousands of delta messages per second):

* each side is a sorted ``list`` of integer *keys* plus a ``dict`` key -> size. Bid keys are the
  prices, ask keys the negated prices, so both lists are ascending with the best level at the *end*.
  Most updates land near the touch, and inserting/deleting near the end of a list moves few pointers.
* a delta that only changes the size of an existing level costs two dict operations and no bisect.
* sizes are trusted: 0 deletes, anything else is stored (readers reject malformed data, not the book).
* no per-level objects: the book stores ints only, and builds ``Level`` tuples only when queried.

Nothing may be priced from a book that is not known to be right, so every query raises
``BookInvalidError`` while ``is_valid`` is False (before the first snapshot, after a sequence gap
until the next snapshot, while crossed, and while stale: see ``mark_stale``). Callers that must not
raise check ``is_valid`` first.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal
from functools import lru_cache

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, Level, QuoteTick

__all__ = ["BookInvalidError", "OrderBook"]

_NO_SNAPSHOT = "no snapshot yet"


class BookInvalidError(Exception):
    """A query on a book that is not valid; the message is ``"<instrument_id>: <invalid_reason>"``."""


MAX_BUFFERED_DELTAS = 10_000


@lru_cache(maxsize=256)
def _bps_ratio(bps: float) -> tuple[int, int]:
    """``bps`` as an exact fraction of the decimal it was written as; cached because callers use a
    few fixed values and the Decimal round trip costs ~7x a cache hit (~350 ns against ~50 ns)."""
    if not (math.isfinite(bps) and bps >= 0):  # also rejects NaN
        raise ValueError(f"bps must be finite and >= 0, got {bps}")
    return Decimal(repr(bps)).as_integer_ratio()


def _update_bids(keys: list[int], sizes: dict[int, int], levels: Iterable[Level]) -> None:
    # Kept separate from _update_asks (rather than one function with a sign) because the per-level
    # branch or multiplication is measurable at this call rate.
    for price, size in levels:
        if size:
            if price not in sizes:
                insort(keys, price)
            sizes[price] = size
        elif sizes.pop(price, None) is not None:
            del keys[bisect_left(keys, price)]


def _update_asks(keys: list[int], sizes: dict[int, int], levels: Iterable[Level]) -> None:
    for price, size in levels:
        key = -price
        if size:
            if key not in sizes:
                insort(keys, key)
            sizes[key] = size
        elif sizes.pop(key, None) is not None:
            del keys[bisect_left(keys, key)]


class OrderBook:
    """L2 book of ``instrument_id``.

    Attributes (read them, never assign them):
        instrument_id: the instrument every applied record must belong to.
        sequence: exchange sequence of the last applied record (-1 before the first snapshot).
        ts_ns: ``ts_ns`` of the last applied record (0 before the first snapshot).
        is_valid: True when the book can be priced from.
        is_stale: True when the book is invalid only because it is old (``mark_stale``).
        from_quotes: True while the book is kept from top-of-book quotes (``apply_quote``).
        invalid_reason: why ``is_valid`` is False, else None.
        update_count: number of records applied (snapshots and deltas; ignored ones do not count).
    """

    __slots__ = (
        "_ask_keys",
        "_ask_sizes",
        "_bid_keys",
        "_bid_sizes",
        "_bridging",
        "_buffer",
        "_needs_snapshot",
        "from_quotes",
        "instrument_id",
        "invalid_reason",
        "is_stale",
        "is_valid",
        "sequence",
        "ts_ns",
        "update_count",
    )

    def __init__(self, instrument_id: InstrumentId) -> None:
        self.instrument_id = instrument_id
        self.sequence = -1
        self.ts_ns = 0
        self.is_valid = False
        self.is_stale = False
        self.invalid_reason: str | None = _NO_SNAPSHOT
        self.update_count = 0
        self.from_quotes = False  # kept from top-of-book quotes (no L2 record of it seen)
        self._bid_keys: list[int] = []  # prices, ascending: best bid last
        self._bid_sizes: dict[int, int] = {}
        self._ask_keys: list[int] = []  # negated prices, ascending: best (lowest) ask last
        self._ask_sizes: dict[int, int] = {}
        # True until a snapshot arrives and again after a gap: deltas are ignored meanwhile.
        self._needs_snapshot = True
        # True between a snapshot and the first delta applied after it (the bridging delta).
        self._bridging = False
        # Deltas received while waiting for a snapshot (Binance's sync procedure: buffer the
        # stream, fetch a snapshot, drop what it already contains, apply the rest).
        self._buffer: list[BookDeltas] = []

    def __repr__(self) -> str:
        state = "valid" if self.is_valid else f"invalid: {self.invalid_reason}"
        return (
            f"OrderBook({self.instrument_id}, seq={self.sequence}, "
            f"{len(self._bid_keys)} bids, {len(self._ask_keys)} asks, {state})"
        )

    # --- updates ----------------------------------------------------------------------
    def apply_snapshot(self, snap: BookSnapshot) -> None:
        """Replace both sides with ``snap`` (zero-size levels ignored) and resync sequencing.

        A snapshot is accepted whatever its sequence: it is how a book recovers from a gap, and the
        feed decides when one is needed. The book is valid afterwards unless the snapshot is crossed.
        """
        if snap.instrument_id != self.instrument_id:
            raise ValueError(f"snapshot of {snap.instrument_id} applied to the book of {self.instrument_id}")
        bids, asks = snap.bids, snap.asks
        if len(bids) == 1 and len(asks) == 1 and bids[0][1] and asks[0][1]:
            # one level a side (a top-of-book quote as a snapshot): nothing to filter or sort
            (bid, bid_size), (ask, ask_size) = bids[0], asks[0]
            self._bid_sizes, self._ask_sizes = {bid: bid_size}, {-ask: ask_size}
            self._bid_keys, self._ask_keys = [bid], [-ask]
        else:
            bid_sizes = {price: size for price, size in bids if size}
            ask_sizes = {-price: size for price, size in asks if size}
            self._bid_sizes = bid_sizes
            self._ask_sizes = ask_sizes
            self._bid_keys = sorted(bid_sizes)
            self._ask_keys = sorted(ask_sizes)
        self.sequence = snap.sequence
        self.ts_ns = snap.ts_ns
        self.update_count += 1
        self.from_quotes = False
        self._needs_snapshot = False
        self._bridging = True
        self._check_crossed()
        buffered, self._buffer = self._buffer, []
        for d in buffered:
            if d.sequence > self.sequence:
                self.apply_deltas(d)

    def apply_deltas(self, d: BookDeltas) -> bool:
        """Apply one diff message if it follows the book's sequence; True when applied.

        Sequencing rules, checked in this order:

        1. No snapshot yet, or a gap since the last one: buffered (False); the next snapshot applies
           the buffered deltas it does not already contain (at most ``MAX_BUFFERED_DELTAS``).
        2. Stale (``d.sequence <= self.sequence``, already contained in the book): ignored (False);
           the book stays valid.
        3. First delta after a snapshot (the bridge): applied when it reaches back to the snapshot,
           ``d.first_sequence <= self.sequence + 1`` (with rule 2 this is Binance spot's
           ``U <= lastUpdateId + 1 <= u``, and covers futures' ``U <= lastUpdateId <= u``), or when the
           snapshot falls inside the span it follows on from (``d.prev_sequence <= self.sequence``,
           Binance futures' ``pu <= lastUpdateId < u``; ids there are not contiguous). Levels carry
           absolute sizes, so re-applying changes the snapshot already holds is harmless.
        4. Later deltas: applied iff ``d.prev_sequence == self.sequence``.

        A delta failing rule 3 or 4 is a gap: the book becomes invalid with a reason naming the
        expected and received sequence, and ignores deltas (rule 1) until a snapshot resyncs it.

        Applying sets each listed level to its new absolute size; size 0 deletes the level (deleting
        an absent level is a no-op). Afterwards a crossed book (best bid >= best ask) is invalid, but
        unlike a gap it keeps applying deltas, and becomes valid again when a later delta uncrosses it.
        """
        if d.instrument_id != self.instrument_id:
            raise ValueError(f"deltas of {d.instrument_id} applied to the book of {self.instrument_id}")
        if self._needs_snapshot:
            if len(self._buffer) >= MAX_BUFFERED_DELTAS:
                del self._buffer[0]
            self._buffer.append(d)
            return False
        seq = self.sequence
        if d.sequence <= seq:
            return False
        if self._bridging:
            if d.first_sequence > seq + 1 and d.prev_sequence > seq:
                self._gap(
                    f"sequence gap after snapshot {seq}: expected first_sequence <= {seq + 1}, "
                    f"got {d.first_sequence} (deltas {d.first_sequence}..{d.sequence})"
                )
                return False
            self._bridging = False
        elif d.prev_sequence != seq:
            self._gap(
                f"sequence gap: expected prev_sequence {seq}, got {d.prev_sequence} "
                f"(deltas {d.first_sequence}..{d.sequence})"
            )
            return False
        if d.bids:
            _update_bids(self._bid_keys, self._bid_sizes, d.bids)
        if d.asks:
            _update_asks(self._ask_keys, self._ask_sizes, d.asks)
        self.sequence = d.sequence
        self.ts_ns = d.ts_ns
        self.update_count += 1
        self._check_crossed()
        return True

    def apply_quote(self, quote: QuoteTick) -> bool:
        """Make the book ``quote``'s top of book (one level a side; a zero size empties that side)
        when the instrument has no L2 data; True when applied.

        A quote is all some feeds give (Lean quote bars, a ``bookTicker``-only capture), and without a
        book no detector or strategy could read them. An instrument with L2 records keeps its depth:
        once a snapshot has been applied, or deltas wait for one, quotes are ignored. Sequencing is
        left as it was, so deltas arriving later still wait for a snapshot.
        """
        if quote.instrument_id != self.instrument_id:
            raise ValueError(f"quote of {quote.instrument_id} applied to the book of {self.instrument_id}")
        if (self.update_count and not self.from_quotes) or self._buffer:
            return False
        self.from_quotes = True
        self._bid_sizes = {quote.bid: quote.bid_size} if quote.bid_size else {}
        self._ask_sizes = {-quote.ask: quote.ask_size} if quote.ask_size else {}
        self._bid_keys = list(self._bid_sizes)
        self._ask_keys = list(self._ask_sizes)
        self.ts_ns = quote.ts_ns
        self.update_count += 1
        self._check_crossed()
        return True

    def apply(self, record: BookSnapshot | BookDeltas) -> bool:
        """Apply a snapshot (always True) or deltas (as ``apply_deltas``)."""
        if isinstance(record, BookDeltas):
            return self.apply_deltas(record)
        if isinstance(record, BookSnapshot):
            self.apply_snapshot(record)
            return True
        raise TypeError(f"not a book record: {type(record).__name__}")

    def invalidate(self, reason: str) -> None:
        """Mark the book invalid until the next snapshot (for example when the feed disconnects)."""
        self._gap(reason)

    def mark_stale(self, reason: str) -> None:
        """Mark the book invalid until its next applied record (snapshot or deltas).

        Unlike ``invalidate`` no snapshot is needed: nothing was lost, the book is only old (no
        update for longer than its venue allows, or its recording ended). The next delta in
        sequence makes it current again, so a quiet spell in a delta stream is not a gap. A book
        already invalid for another reason keeps that reason.
        """
        if self.is_valid:
            self.is_valid = False
            self.is_stale = True
            self.invalid_reason = reason

    def _gap(self, reason: str) -> None:
        self._needs_snapshot = True
        self.is_valid = False
        self.is_stale = False
        self.invalid_reason = reason

    def _check_crossed(self) -> None:
        self.is_stale = False
        bids = self._bid_keys
        asks = self._ask_keys
        if bids and asks and bids[-1] >= -asks[-1]:
            self.is_valid = False
            self.invalid_reason = f"crossed book: best bid {bids[-1]} >= best ask {-asks[-1]}"
        else:
            self.is_valid = True
            self.invalid_reason = None

    def mark(self, tick_size: Decimal) -> Decimal | None:
        """The mid price, exactly (integer ticks times ``tick_size``), of a valid or a stale book:
        what the market last showed, to mark a position to (never to trade on). None when the book
        is invalid for another reason or a side is empty."""
        if not (self.is_valid or self.is_stale) or not self._bid_keys or not self._ask_keys:
            return None
        return tick_size * (self._bid_keys[-1] - self._ask_keys[-1]) / 2

    # --- queries (raise BookInvalidError unless is_valid) ----------------------------
    def _invalid_error(self) -> BookInvalidError:
        return BookInvalidError(f"{self.instrument_id}: {self.invalid_reason}")

    def best_bid(self) -> Level | None:
        """Highest bid ``(price, size)``, or None when there are no bids."""
        if not self.is_valid:
            raise self._invalid_error()
        keys = self._bid_keys
        if not keys:
            return None
        price = keys[-1]
        return price, self._bid_sizes[price]

    def best_ask(self) -> Level | None:
        """Lowest ask ``(price, size)``, or None when there are no asks."""
        if not self.is_valid:
            raise self._invalid_error()
        keys = self._ask_keys
        if not keys:
            return None
        key = keys[-1]
        return -key, self._ask_sizes[key]

    def mid_ticks(self) -> float | None:
        """``(best bid + best ask) / 2`` in ticks, or None when a side is empty."""
        if not self.is_valid:
            raise self._invalid_error()
        bids = self._bid_keys
        asks = self._ask_keys
        if not bids or not asks:
            return None
        return (bids[-1] - asks[-1]) / 2

    def spread_ticks(self) -> int | None:
        """``best ask - best bid`` in ticks (> 0 in a valid book), or None when a side is empty."""
        if not self.is_valid:
            raise self._invalid_error()
        bids = self._bid_keys
        asks = self._ask_keys
        if not bids or not asks:
            return None
        return -asks[-1] - bids[-1]

    def levels(self, side: BookSide, depth: int | None = None) -> list[Level]:
        """The ``depth`` best levels of ``side`` (all when None), best first."""
        if not self.is_valid:
            raise self._invalid_error()
        if depth is not None and depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth}")
        if side == BookSide.BID:
            keys, sizes = self._bid_keys, self._bid_sizes
            best_first = keys[::-1] if depth is None else keys[: -depth - 1 : -1]
            return [(price, sizes[price]) for price in best_first]
        keys, sizes = self._ask_keys, self._ask_sizes
        best_first = keys[::-1] if depth is None else keys[: -depth - 1 : -1]
        return [(-key, sizes[key]) for key in best_first]

    def size_at(self, side: BookSide, price: int) -> int:
        """Size resting at ``price`` on ``side`` (0 when there is no level)."""
        if not self.is_valid:
            raise self._invalid_error()
        if side == BookSide.BID:
            return self._bid_sizes.get(price, 0)
        return self._ask_sizes.get(-price, 0)

    def avg_price_to_fill(self, side_to_hit: BookSide, size_units: int) -> tuple[int, int] | None:
        """Cost of taking ``size_units`` from ``side_to_hit``, walking its levels best first.

        Returns ``(notional, filled)``: ``notional`` is the exact sum of ``price_ticks * units`` over
        the levels taken and ``filled <= size_units`` the units taken (less when depth runs out), so
        the average price is ``notional / filled`` ticks, exactly, in the caller's own arithmetic.
        None when the side is empty.
        """
        if not self.is_valid:
            raise self._invalid_error()
        if size_units <= 0:
            raise ValueError(f"size_units must be positive, got {size_units}")
        if side_to_hit == BookSide.BID:
            keys, sizes, sign = self._bid_keys, self._bid_sizes, 1
        else:
            keys, sizes, sign = self._ask_keys, self._ask_sizes, -1
        if not keys:
            return None
        remaining = size_units
        notional = 0
        for i in range(len(keys) - 1, -1, -1):
            key = keys[i]
            size = sizes[key]
            if size >= remaining:
                notional += key * remaining
                remaining = 0
                break
            notional += key * size
            remaining -= size
        return sign * notional, size_units - remaining

    def size_within_bps(self, side: BookSide, bps: float) -> int:
        """Total size on ``side`` priced within ``bps`` basis points of that side's touch (inclusive).

        A bid ``p`` counts when ``best_bid - p <= best_bid * bps / 10_000``, an ask when
        ``p - best_ask <= best_ask * bps / 10_000``, computed exactly with ``bps`` read as written
        (its shortest repr, as ``Instrument.ticks`` reads floats), so a level exactly on the boundary
        is always included: 0.3 bps of 100_000 ticks is 3 ticks, although the float 0.3 is slightly
        less than 3/10. 0 when the side is empty. Costs O(levels within reach).
        """
        if not self.is_valid:
            raise self._invalid_error()
        num, den = _bps_ratio(bps)
        if side == BookSide.BID:
            keys, sizes, sign = self._bid_keys, self._bid_sizes, 1
        else:
            keys, sizes, sign = self._ask_keys, self._ask_sizes, -1
        if not keys:
            return 0
        best_key = keys[-1]
        touch = sign * best_key
        # Largest whole-tick distance d with d <= touch * bps / 10_000; keys grow towards the touch
        # on both sides, so the levels within reach are those with key >= best_key - d.
        max_distance = (num * touch) // (10_000 * den)
        start = bisect_left(keys, best_key - max_distance)
        return sum(map(sizes.__getitem__, keys[start:]))
