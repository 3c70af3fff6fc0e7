"""The opportunity scanner behind ``spreadhawk scan``: every kind of arbitrage the strategies trade,
watched on every venue of a feed, with no venue attached and no strategy (a scan never trades).

The scanner listens to an ``Engine``'s market data on its bus. After each instant (every record of
one timestamp applied, as strategies see them) it asks each ``Detector`` to re-evaluate only the
candidates touching the instruments that changed. The detectors (``runtime.scan_detectors``, which
also lists them in ``DETECTORS``) use the detection code the strategies use
(``spreadhawk.strategy.detectors`` and ``spreadhawk.analytics.triangular``); building a scan from a
config is ``runtime.scan_run``.

Sizes come from depth alone: a scanner knows no balances, so ``executable_size`` is what the books
give (base, pairs, or the start asset of a cycle; for funding, the touch of the spot ask and the
perp bid), not what an account could take. An opportunity is live from the first instant it is
seen until the first re-evaluation that no longer finds it (``closed_ns``); closed ones keep their
largest edge and their largest expected profit (with the size that gave it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import (
    BookDeltas,
    BookSide,
    BookSnapshot,
    FeedStatus,
    FundingRate,
    InstrumentSettled,
    MarketData,
    QuoteTick,
)
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.engine import Engine

Level = tuple[Decimal, Decimal]  # (price, size)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What a detector finds at one instant."""

    net_edge_bps: Decimal
    executable_size: Decimal
    expected_profit: Decimal
    profit_asset: str


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A live opportunity as last seen; ``age_ns(now)`` is how long it has persisted."""

    kind: str
    key: str
    net_edge_bps: Decimal
    executable_size: Decimal
    expected_profit: Decimal
    profit_asset: str
    first_seen_ns: int
    last_seen_ns: int
    max_edge_bps: Decimal
    peak_profit: Decimal  # largest expected profit while live, and the size that gave it
    peak_size: Decimal

    def age_ns(self, now_ns: int) -> int:
        return now_ns - self.first_seen_ns


@dataclass(frozen=True, slots=True)
class ClosedOpportunity:
    kind: str
    key: str
    first_seen_ns: int
    last_seen_ns: int
    closed_ns: int  # the first instant it was no longer found (or the end of the data)
    max_edge_bps: Decimal
    executable_size: Decimal  # at the peak expected profit
    expected_profit: Decimal  # the peak
    profit_asset: str

    @property
    def duration_ns(self) -> int:
        return self.closed_ns - self.first_seen_ns


@dataclass
class MarketView:
    """What detectors read: the engine's books, funding estimates and the time."""

    books: Mapping[InstrumentId, OrderBook]
    funding: dict[InstrumentId, Decimal] = field(default_factory=dict)  # latest estimate per perpetual
    funding_interval_ns: dict[InstrumentId, int] = field(default_factory=dict)  # observed per perpetual
    settled: set[InstrumentId] = field(default_factory=set)
    now_ns: int = 0


class Detector(Protocol):
    kind: str

    def watched(self) -> Set[InstrumentId]:
        """Instruments whose updates may change what this detector finds."""
        ...

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        """Every candidate touching ``changed``, by key: what it shows now (None: nothing)."""
        ...


# Helpers for detectors (here, not in scan_detectors, so that any detector module can import them).
def book_levels(inst: Instrument, book: OrderBook, side: BookSide, depth: int | None = None) -> list[Level]:
    """Up to ``depth`` levels of one side as Decimal (price, size), best first."""
    return [(inst.price(p), inst.size(s)) for p, s in book.levels(side, depth)]


def books_valid(market: MarketView, *insts: Instrument) -> bool:
    """Every instrument has a book in ``market`` that can be priced from."""
    return all((book := market.books.get(i.id)) is not None and book.is_valid for i in insts)


# =========================================================================== the scanner
class Scanner:
    """Live and closed opportunities of ``detectors`` over an engine's books (see the module docstring)."""

    def __init__(self, detectors: Iterable[Detector], *, keep_closed: int | None = None) -> None:
        """``keep_closed``: how many closed opportunities to keep (a node that runs for weeks must not
        keep them all); None keeps every one (a scan's summary counts them all)."""
        self.detectors = list(detectors)
        self.live: dict[str, Opportunity] = {}
        self.history: list[ClosedOpportunity] = []
        self.keep_closed = keep_closed
        self.evaluations = 0
        self._market: MarketView | None = None
        self._engine: Engine | None = None
        self._changed: set[InstrumentId] = set()
        self._watched = set().union(*(d.watched() for d in self.detectors))
        self._next_funding: dict[InstrumentId, int] = {}
        # Called when an opportunity opens: a live display redraws then, or short-lived
        # opportunities would open and close between two periodic frames and never be shown.
        self.opened_listeners: list[Callable[[Opportunity], None]] = []

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        self._market = MarketView(engine.books)
        # FeedStatus: a book that went stale, or whose feed ended or broke, closes what it showed
        # QuoteTick: a quote keeps the book of an instrument that has no L2 data
        for kind in (BookSnapshot, BookDeltas, QuoteTick, FundingRate, InstrumentSettled, FeedStatus):
            engine.bus.subscribe(kind, self._on_record)

    @property
    def market(self) -> MarketView:
        if self._market is None:
            raise RuntimeError("the scanner is not attached to an engine")
        return self._market

    def _on_record(self, record: MarketData) -> None:
        iid = record.instrument_id
        if iid not in self._watched:
            return
        if isinstance(record, QuoteTick) and not self.market.books[iid].from_quotes:
            return  # the book has L2 data: the quote changed nothing
        if isinstance(record, FundingRate):
            self._on_funding(record)
        elif isinstance(record, InstrumentSettled):
            self.market.settled.add(iid)
        if not self._changed:
            # Evaluate once the whole instant is applied: the timer fires before the next instant.
            assert self._engine is not None
            self._engine.schedule(self._engine.clock.now_ns(), self._evaluate)
        self._changed.add(iid)

    def _on_funding(self, funding: FundingRate) -> None:
        if funding.ts_ns >= funding.funding_ts_ns:
            return  # a realised rate: what was paid, not what is expected
        self.market.funding[funding.instrument_id] = funding.rate
        previous = self._next_funding.get(funding.instrument_id)
        if previous is not None and funding.funding_ts_ns > previous:
            self.market.funding_interval_ns[funding.instrument_id] = funding.funding_ts_ns - previous
        self._next_funding[funding.instrument_id] = funding.funding_ts_ns

    def _evaluate(self) -> None:
        assert self._engine is not None
        now = self.market.now_ns = self._engine.clock.now_ns()
        changed, self._changed = self._changed, set()
        self.evaluations += 1
        for detector in self.detectors:
            if changed.isdisjoint(detector.watched()):
                continue
            for key, sighting in detector.scan(changed, self.market).items():
                if sighting is None:
                    self._close(key, now)
                else:
                    self._see(detector.kind, key, sighting, now)

    def _see(self, kind: str, key: str, s: Sighting, now: int) -> None:
        old = self.live.get(key)
        if old is None:
            self.live[key] = Opportunity(
                kind, key, s.net_edge_bps, s.executable_size, s.expected_profit, s.profit_asset,
                now, now, s.net_edge_bps, s.expected_profit, s.executable_size,
            )  # fmt: skip
            for listener in self.opened_listeners:
                listener(self.live[key])
            return
        peak = s.expected_profit > old.peak_profit
        self.live[key] = replace(
            old,
            net_edge_bps=s.net_edge_bps,
            executable_size=s.executable_size,
            expected_profit=s.expected_profit,
            last_seen_ns=now,
            max_edge_bps=max(old.max_edge_bps, s.net_edge_bps),
            peak_profit=s.expected_profit if peak else old.peak_profit,
            peak_size=s.executable_size if peak else old.peak_size,
        )

    def _close(self, key: str, now: int) -> None:
        o = self.live.pop(key, None)
        if o is None:
            return
        closed = ClosedOpportunity(
            kind=o.kind,
            key=o.key,
            first_seen_ns=o.first_seen_ns,
            last_seen_ns=o.last_seen_ns,
            closed_ns=now,
            max_edge_bps=o.max_edge_bps,
            executable_size=o.peak_size,
            expected_profit=o.peak_profit,
            profit_asset=o.profit_asset,
        )
        self.history.append(closed)
        if self.keep_closed is not None and len(self.history) > 2 * self.keep_closed:
            del self.history[: -self.keep_closed]  # amortised: trimmed once per keep_closed closings

    def finish(self, now_ns: int) -> None:
        """Close what is still live at the end of the data (its duration is cut there)."""
        for key in sorted(self.live):
            self._close(key, now_ns)

    def top(self, n: int) -> list[Opportunity]:
        """The ``n`` live opportunities with the largest edge."""
        return sorted(self.live.values(), key=lambda o: (-o.net_edge_bps, o.key))[:n]
