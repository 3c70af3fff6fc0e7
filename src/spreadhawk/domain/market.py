"""Market-data records. Every record has ``ts_ns`` (exchange event time, ns since the epoch).

Book prices are integer ticks and book sizes integer size units of the record's instrument
(see ``Instrument.price``/``Instrument.size``); bars, funding and mark prices are exact Decimals,
because they are few and are read by people.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum

from spreadhawk.domain.identifiers import InstrumentId

# (price_ticks, size_units); size 0 in a delta deletes the level.
Level = tuple[int, int]


class BookSide(IntEnum):
    BID = 0
    ASK = 1


class Aggressor(IntEnum):
    """Which side took liquidity in a public trade."""

    BUYER = 0
    SELLER = 1
    UNKNOWN = 2


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """Full replacement of a book. ``bids`` best (highest) first, ``asks`` best (lowest) first."""

    instrument_id: InstrumentId
    ts_ns: int
    sequence: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class BookDeltas:
    """One exchange diff message: absolute new sizes for changed levels.

    Sequencing follows the exchanges' documented rules:
    ``first_sequence`` (Binance ``U``) .. ``sequence`` (``u``) are the update ids this message
    spans; ``prev_sequence`` is the ``sequence`` the book must be at for this message to apply
    without a gap (Binance futures ``pu``; ``U - 1`` on venues with contiguous ids).
    """

    instrument_id: InstrumentId
    ts_ns: int
    first_sequence: int
    sequence: int
    prev_sequence: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class QuoteTick:
    """Top of book (for example Binance ``bookTicker``)."""

    instrument_id: InstrumentId
    ts_ns: int
    bid: int
    bid_size: int
    ask: int
    ask_size: int


@dataclass(frozen=True, slots=True)
class TradeTick:
    instrument_id: InstrumentId
    ts_ns: int
    price: int
    size: int
    aggressor: Aggressor
    trade_id: str


@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV bar; ``ts_ns`` is the bar's close time (open time + interval): a bar is known only
    once it has closed, so that is when it enters the engine."""

    instrument_id: InstrumentId
    ts_ns: int
    interval_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @property
    def open_ts_ns(self) -> int:
        return self.ts_ns - self.interval_ns


@dataclass(frozen=True, slots=True)
class FundingRate:
    """Funding rate of a perpetual for the period ending at ``funding_ts_ns``.

    A record whose ``ts_ns`` equals ``funding_ts_ns`` is a realised funding event (payments are made);
    earlier ones are estimates for the coming funding time.
    """

    instrument_id: InstrumentId
    ts_ns: int
    rate: Decimal
    funding_ts_ns: int


@dataclass(frozen=True, slots=True)
class MarkPrice:
    instrument_id: InstrumentId
    ts_ns: int
    mark: Decimal
    index: Decimal | None = None


@dataclass(frozen=True, slots=True)
class InstrumentSettled:
    """An instrument settles: every unit held is paid ``price`` of the settlement currency (a binary
    outcome pays 1 if it happened, else 0) and the instrument stops trading."""

    instrument_id: InstrumentId
    ts_ns: int
    price: Decimal


class FeedState(IntEnum):
    """What a live feed knows about one instrument's stream."""

    LIVE = 0  # in sync: records flow and apply without gaps
    GAP = 1  # a message was lost, duplicated or out of order: the book is wrong until resynced
    STALE = 2  # nothing arrived for longer than the feed's staleness limit
    DISCONNECTED = 3  # the connection is down; reconnecting
    ENDED = 4  # a replayed source has no more records (its recording ended before the others)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A feed's word on an instrument: anything but ``LIVE`` makes its book invalid at once (no
    decision is taken on it) until the feed has resynced it with a fresh snapshot; ``ENDED`` (a
    replayed recording that stopped) until a later record of it, if any, arrives."""

    instrument_id: InstrumentId
    ts_ns: int
    state: FeedState
    reason: str


MarketData = (
    BookSnapshot | BookDeltas | QuoteTick | TradeTick | Bar | FundingRate | MarkPrice | InstrumentSettled | FeedStatus
)
