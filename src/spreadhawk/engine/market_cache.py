"""The engine's picture of the market: one book per instrument, the last trade or bar price, and the
venues' taps (a simulated venue matches resting orders against each record before any strategy sees it).

A record moves the clock, marks stale the books older than their venue's age limit (``book_age``),
updates its book (or the last price), then goes to its venue's tap. A feed status reporting a gap, a
stale or a dropped stream invalidates the book at once.

Separate from ``engine``: this is the market half of the engine's read model, apart from the loop
that orders events and from the bookkeeping of orders and accounts. The engine hands it the clock,
the instruments and the bus explicitly, and keeps ``books`` and ``book_ages`` as its own names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import (
    Bar,
    BookDeltas,
    BookSnapshot,
    FeedState,
    FeedStatus,
    MarketData,
    QuoteTick,
    TradeTick,
)
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.book_age import BookAges
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.clock import Clock
from spreadhawk.engine.ports import MarketDataTap
from spreadhawk.engine.records import EngineError

__all__ = ["MarketCache"]

log = logging.getLogger(__name__)


class MarketCache:
    """Books, their ages, last prices and venue taps, by instrument."""

    __slots__ = ("_bus", "_clock", "_instruments", "_last_price", "_tap_of", "book_ages", "books")

    def __init__(self, instruments: Mapping[InstrumentId, Instrument], clock: Clock, bus: MessageBus) -> None:
        self._instruments = instruments
        self._clock = clock
        self._bus = bus
        self.books = {iid: OrderBook(iid) for iid in instruments}
        self.book_ages = BookAges(self.books)  # per-venue age limits: an older book is stale (set_book_age_limit)
        self._last_price: dict[InstrumentId, Decimal] = {}
        self._tap_of: dict[InstrumentId, MarketDataTap] = {}

    def tap(self, venue: str, tap: MarketDataTap) -> None:
        """Show the market data of ``venue``'s instruments to ``tap`` (see ``Engine.tap_market_data``)."""
        for iid, inst in self._instruments.items():
            if inst.venue == venue:
                self._tap_of[iid] = tap

    def apply(self, data: MarketData) -> None:
        ts = data.ts_ns
        self._clock.advance_to(ts)
        if ts >= self.book_ages.next_deadline_ns:
            self.expire_books(ts)
        kind = type(data)
        iid = data.instrument_id
        if kind is FeedStatus:
            self._apply_feed_status(data)  # type: ignore[arg-type]
        elif kind is BookDeltas or kind is BookSnapshot:
            book = self.books.get(iid)
            if book is None:
                raise EngineError(f"market data for {iid}, which is not a declared instrument")
            if kind is BookDeltas:
                book.apply_deltas(data)  # type: ignore[arg-type]
            else:
                book.apply_snapshot(data)  # type: ignore[arg-type]
            self.book_ages.updated(iid)
        elif kind is QuoteTick:
            book = self.books.get(iid)
            if book is not None and book.apply_quote(data):  # type: ignore[arg-type]
                self.book_ages.updated(iid)  # a book kept from quotes (no L2 data for it)
        elif kind is Bar:
            self._last_price[iid] = data.close  # type: ignore[union-attr]
        elif kind is TradeTick:
            self._last_price[iid] = self._instruments[iid].price(data.price)  # type: ignore[union-attr, arg-type]
        tap = self._tap_of.get(iid)
        if tap is not None:
            tap(data)

    def _apply_feed_status(self, status: FeedStatus) -> None:
        """A gap, a stale or a dropped stream makes the book invalid at once: nothing is priced from it
        (strategies, risk and the simulated venue all refuse an invalid book) until the feed resyncs
        it with a fresh snapshot."""
        book = self.books.get(status.instrument_id)
        if book is None or status.state is FeedState.LIVE:
            return
        reason = f"feed {status.state.name.lower()}: {status.reason}"
        if status.state is FeedState.ENDED:
            book.mark_stale(reason)  # nothing was lost: a later record of the book (another file) revives it
        else:
            book.invalidate(reason)

    def expire_books(self, now_ns: int) -> None:
        """Mark stale the books older than their venue's limit, and say so to whoever listens (the
        scanner closes what they showed; a strategy may pull its quotes)."""
        for status in self.book_ages.expire(now_ns):
            log.debug("%s: %s", status.instrument_id, status.reason)
            self._bus.publish(status, key=status.instrument_id)

    def price(self, instrument_id: InstrumentId) -> Decimal | None:
        """Book mid while the book is valid or only stale (its last mid is the latest price known: a
        mark, not a trade), else the last trade or bar close. Exact: integer ticks, never a float."""
        book = self.books.get(instrument_id)
        mark = book.mark(self._instruments[instrument_id].tick_size) if book is not None else None
        return mark if mark is not None else self._last_price.get(instrument_id)
