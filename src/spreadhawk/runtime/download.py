"""``spreadhawk data download``: exchange history (candles, trades, funding) into the Parquet catalog, resumably.

Every page the exchange answers is written at once as its own catalog file (``ccxt-<tag>-p<n>``: tag the
timeframe, ``trades`` or ``funding``; ``n`` counts up), atomically (the catalog writes through a temporary file),
so an interrupted run loses at most the page in flight. A new run reads the last stored record and continues
right after it: the next candle open, the next trade id (exchanges with an id cursor, see
``venues.ccxt.history.ID_CURSOR``) or the next millisecond of funding. Reading the kind and instrument back
(``ParquetCatalog.read``) merges the pages in order. History before what is already stored is not back-filled,
and a ``since`` after it is refused (it would leave a gap in the series).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from spreadhawk.data.catalog import CatalogEntry, ParquetCatalog
from spreadhawk.data.readers._common import NS_PER_MS
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar, FundingRate, MarketData, TradeTick
from spreadhawk.venues.ccxt.history import HOUR_MS, CcxtHistory, HistoryError

__all__ = ["KINDS", "DownloadError", "DownloadRequest", "DownloadResult", "DownloadService", "parse_time"]

KINDS = {"ohlcv": "bar", "trades": "trade_tick", "funding": "funding_rate"}
_PAGE = re.compile(r"ccxt-(?P<tag>[A-Za-z0-9]+)-p(?P<n>\d{6,})")

# (position in ms, rows written so far) after each page: what a progress display needs.
ProgressFn = Callable[[int, int], None]


class DownloadError(Exception):
    """A download stopped; the message is one line and says what is stored and how to resume."""


def parse_time(text: str, name: str) -> int:
    """``2024-08-08``, ``2024-08-08T00:00[:ss][Z|+00:00]`` (UTC unless an offset is given) or epoch ms -> ms."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DownloadError(
            f"bad {name} {text!r}: use an ISO date such as 2024-08-08T00:00 (UTC) or epoch ms"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    kind: str  # ohlcv | trades | funding
    symbol: str
    since_ms: int
    until_ms: int | None = None  # None: up to now
    timeframe: str = "1m"
    max_pages: int | None = None  # stop after this many pages (a partial run that a later one resumes)
    page_limit: int = 1000


@dataclass(slots=True)
class DownloadResult:
    instrument_id: str
    catalog_kind: str
    since_ms: int
    until_ms: int
    resumed_after: str | None = None  # the last record already stored, when the run resumed
    pages: int = 0
    rows: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    complete: bool = False
    paths: list[str] = field(default_factory=list)


class DownloadService:
    """Runs one ``DownloadRequest`` against a ``CcxtHistory`` into a ``ParquetCatalog``."""

    def __init__(self, catalog: ParquetCatalog, source: CcxtHistory) -> None:
        self.catalog = catalog
        self.source = source

    def run(self, request: DownloadRequest, progress: ProgressFn | None = None) -> DownloadResult:
        if request.kind not in KINDS:
            raise DownloadError(f"unknown kind {request.kind!r}: use {', '.join(KINDS)}")
        if request.kind == "funding" and self.source.market_kind == "spot":
            raise DownloadError("funding rates exist only for perpetuals: use --market usdm")
        now = self.source.now_ms()
        until = min(request.until_ms, now) if request.until_ms is not None else now
        if request.since_ms >= until:
            raise DownloadError(f"--since {_iso(request.since_ms)} is not before --until {_iso(until)}")
        try:
            instrument = self.source.instrument(request.symbol)
            if request.kind == "ohlcv":
                self.source.timeframe_ms(request.timeframe)  # a clear error before anything is stored
        except HistoryError as exc:
            raise DownloadError(str(exc)) from None
        tag = request.timeframe if request.kind == "ohlcv" else request.kind
        run = _Run(self, instrument, request, until, tag, progress)
        try:
            run.go()
        except HistoryError as exc:
            pages = run.result.pages
            raise DownloadError(f"{exc} ({pages} new page(s) stored: run the same command again to resume)") from None
        return run.result

    def pages(self, kind: str, instrument_id: str, tag: str) -> list[CatalogEntry]:
        """The stored pages of one download series, in page order."""
        entries = []
        for entry in self.catalog.list():
            match = _PAGE.fullmatch(entry.name)
            if entry.kind == kind and entry.instrument_id == instrument_id and match and match["tag"] == tag:
                entries.append(entry)
        return sorted(entries, key=lambda e: int(_PAGE.fullmatch(e.name)["n"]))  # type: ignore[index]


class _Run:
    """One run's cursor and bookkeeping."""

    def __init__(
        self,
        service: DownloadService,
        instrument: Instrument,
        request: DownloadRequest,
        until_ms: int,
        tag: str,
        progress: ProgressFn | None,
    ) -> None:
        self.catalog = service.catalog
        self.source = service.source
        self.instrument = instrument
        self.request = request
        self.until = until_ms
        self.tag = tag
        self.progress = progress
        kind = KINDS[request.kind]
        stored = service.pages(kind, instrument.id, tag)
        self.next_page = int(_PAGE.fullmatch(stored[-1].name)["n"]) + 1 if stored else 0  # type: ignore[index]
        self.last: MarketData | None = None
        self.ids_at_last_ms: set[str] = set()  # trade ids stored at the last trade's millisecond
        if stored:
            records = self.catalog.read(kind, instrument.id, stored[-1].name)
            self.last = records[-1] if records else None
            last_ns = records[-1].ts_ns if records else None
            self.ids_at_last_ms = {r.trade_id for r in records if isinstance(r, TradeTick) and r.ts_ns == last_ns}
        self.result = DownloadResult(instrument.id, kind, request.since_ms, until_ms)
        if self.last is not None:
            self.result.resumed_after = _describe(self.last)
            # The next record may be at the last one's millisecond (trades) or its bar's close (bars).
            continues_at = self.last.ts_ns // NS_PER_MS + (1 if isinstance(self.last, FundingRate) else 0)
            if request.since_ms > continues_at:
                raise DownloadError(
                    f"the catalog's {tag} {kind} of {instrument.id} end with {self.result.resumed_after}: "
                    f"--since {_iso(request.since_ms)} would leave a gap; use --since {_iso(continues_at)} "
                    "or earlier, or another --catalog"
                )

    def go(self) -> None:
        step = {"ohlcv": self._bars, "trades": self._trades, "funding": self._funding}[self.request.kind]
        while self.request.max_pages is None or self.result.pages < self.request.max_pages:
            if not step():
                self.result.complete = True
                return

    # Each step fetches and stores one page; False when there is nothing more to fetch.
    def _bars(self) -> bool:
        interval = self.source.timeframe_ms(self.request.timeframe)
        start = self.request.since_ms
        if isinstance(self.last, Bar):
            start = max(start, self.last.open_ts_ns // NS_PER_MS + interval)
        if start >= self.until:
            return False
        page = self.source.bars(self.instrument, self.request.timeframe, start, self.until, self.request.page_limit)
        page = [b for b in page if b.open_ts_ns // NS_PER_MS >= start]
        return self._store(page, (page[-1].open_ts_ns // NS_PER_MS + interval) if page else self.until)

    def _funding(self) -> bool:
        start = self.request.since_ms
        if isinstance(self.last, FundingRate):
            start = max(start, self.last.funding_ts_ns // NS_PER_MS + 1)
        if start >= self.until:
            return False
        page = self.source.funding(self.instrument, start, self.until, self.request.page_limit)
        return self._store(page, page[-1].ts_ns // NS_PER_MS if page else self.until)

    def _trades(self) -> bool:
        if self.source.trade_cursor is None:
            return self._trades_by_time()
        if isinstance(self.last, TradeTick):
            page = self.source.trades(
                self.instrument, since_ms=None, until_ms=self.until, from_id=int(self.last.trade_id) + 1,
                limit=self.request.page_limit,
            )  # fmt: skip
        else:
            page = self._first_trades()
        after = int(self.last.trade_id) if isinstance(self.last, TradeTick) else -1
        kept = [t for t in page if t.ts_ns < self.until * NS_PER_MS and int(t.trade_id) > after]
        self._store(kept, kept[-1].ts_ns // NS_PER_MS if kept else self.until)
        return len(kept) == len(page) and bool(page)

    def _first_trades(self) -> list[TradeTick]:
        """The first page at or after ``since``: hour windows are probed until one holds a trade."""
        start = self.request.since_ms
        while start < self.until:
            page = self.source.trades(
                self.instrument, since_ms=start, until_ms=self.until, from_id=None, limit=self.request.page_limit
            )
            if page:
                return page
            start += HOUR_MS
            if self.progress is not None:
                self.progress(min(start, self.until), self.result.rows)
        return []

    def _trades_by_time(self) -> bool:
        """Exchanges without an id cursor: ask from the last stored millisecond again (more trades may share
        it) and drop the ones stored already. A gap without trades longer than the exchange's answer window
        (an hour on Binance) ends the download early."""
        start, at_last = self.request.since_ms, set[str]()
        if isinstance(self.last, TradeTick):
            start = max(start, self.last.ts_ns // NS_PER_MS)
            at_last = self.ids_at_last_ms
        page = self.source.trades(
            self.instrument, since_ms=start, until_ms=self.until, from_id=None, limit=self.request.page_limit
        )
        last_ns = self.last.ts_ns if self.last is not None else -1
        new = [
            t
            for t in page
            if start * NS_PER_MS <= t.ts_ns < self.until * NS_PER_MS
            and (t.ts_ns > last_ns or (t.ts_ns == last_ns and t.trade_id not in at_last))
        ]
        if not new and len(page) >= self.request.page_limit:
            raise HistoryError(f"more than {len(page)} trades in one millisecond at {_iso(start)}: cannot page by time")
        self._store(new, new[-1].ts_ns // NS_PER_MS if new else self.until)
        return bool(new)

    def _store(self, page: Sequence[MarketData], position_ms: int) -> bool:
        if page and self.last is not None and page[-1].ts_ns < self.last.ts_ns:
            raise HistoryError(f"the exchange answered older data than stored ({_describe(page[-1])}): stopping")
        if page and self.last is not None and page[-1] == self.last:
            raise HistoryError(f"the exchange answered nothing newer than {_describe(self.last)}: stopping")
        if page:
            last_ns = page[-1].ts_ns
            ids = {t.trade_id for t in page if isinstance(t, TradeTick) and t.ts_ns == last_ns}
            same_ms = self.last is not None and self.last.ts_ns == last_ns
            self.ids_at_last_ms = (self.ids_at_last_ms | ids) if same_ms else ids
            name = f"ccxt-{self.tag}-p{self.next_page:06d}"
            try:
                paths = self.catalog.write(page, name)
            except ValueError as exc:  # a record no exchange could have sent: nothing of the page is stored
                raise HistoryError(f"the exchange answered data that is not market data: {exc}") from None
            self.result.paths.extend(str(p) for p in paths)
            self.next_page += 1
            self.result.pages += 1
            self.result.rows += len(page)
            if self.result.first_ts_ns is None:
                self.result.first_ts_ns = page[0].ts_ns
            self.result.last_ts_ns = page[-1].ts_ns
            self.last = page[-1]
        if self.progress is not None:
            self.progress(min(position_ms, self.until), self.result.rows)
        return bool(page)


def _describe(record: MarketData) -> str:
    if isinstance(record, TradeTick):
        return f"trade {record.trade_id} at {_iso(record.ts_ns // NS_PER_MS)}"
    if isinstance(record, Bar):
        return f"bar opening {_iso(record.open_ts_ns // NS_PER_MS)}"
    return f"{type(record).__name__} at {_iso(record.ts_ns // NS_PER_MS)}"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
