"""Market data checked at the edge, before a run: a record no exchange could have sent stops the run
with one line naming the source, the record and the field (issue #11: negative prices ran to
completion and reported a final equity of -0.97 BTC as "completed").

The rules: prices > 0 (a settlement may pay 0), sizes and volumes >= 0 (> 0 for a trade), a bar's
low <= open, close <= high, and timestamps that never go back within one source. Readers parse;
this decides whether what they parsed is market data at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from spreadhawk.domain.market import (
    Bar,
    BookDeltas,
    BookSnapshot,
    FundingRate,
    InstrumentSettled,
    MarketData,
    MarkPrice,
    QuoteTick,
    TradeTick,
)

__all__ = ["BadMarketDataError", "check_records", "checked", "sort_records"]


class BadMarketDataError(ValueError):
    """One record that is not market data; the message names where it is and what is wrong."""


def check_records(records: Sequence[MarketData], source: str, *, disorder_hint: str = "") -> None:
    """Raise ``BadMarketDataError`` at the first record of ``source`` that breaks a rule;
    ``disorder_hint`` is added to the message when timestamps go back (how to have them sorted)."""
    for _ in checked(records, source, disorder_hint=disorder_hint):
        pass


def checked(records: Iterable[MarketData], source: str, *, disorder_hint: str = "") -> Iterator[MarketData]:
    """``records`` as they stream, each checked as ``check_records`` does before it is passed on."""
    last_ts = None
    for index, record in enumerate(records):
        problem = _problem(record)
        if problem is None and last_ts is not None and record.ts_ns < last_ts:
            problem = (
                f"ts_ns {record.ts_ns} is earlier than the record before it ({last_ts}): timestamps must not go back"
                + disorder_hint
            )
        if problem is not None:
            kind = type(record).__name__
            raise BadMarketDataError(f"{source}: record {index + 1} ({kind} {record.instrument_id}): {problem}")
        last_ts = record.ts_ns
        yield record


def sort_records(records: list[MarketData]) -> tuple[list[MarketData], int]:
    """``records`` in time order (ties keep their order) and how many were out of order: those
    earlier than a record before them."""
    latest = -1
    out_of_order = 0
    for record in records:
        if record.ts_ns < latest:
            out_of_order += 1
        latest = max(latest, record.ts_ns)
    if not out_of_order:
        return records, 0
    return sorted(records, key=lambda record: record.ts_ns), out_of_order


def _problem(record: MarketData) -> str | None:  # noqa: PLR0911 -- one return per kind of record
    kind = type(record)
    if kind is BookDeltas or kind is BookSnapshot:
        return _levels(record)  # type: ignore[arg-type]
    if kind is TradeTick:
        trade: TradeTick = record  # type: ignore[assignment]
        if trade.price <= 0 or trade.size <= 0:
            return f"price {trade.price} and size {trade.size} (ticks, lots) must be positive"
        return None
    if kind is QuoteTick:
        quote: QuoteTick = record  # type: ignore[assignment]
        if quote.bid <= 0 or quote.ask <= 0 or quote.bid_size < 0 or quote.ask_size < 0:
            return f"bid {quote.bid} x {quote.bid_size}, ask {quote.ask} x {quote.ask_size}: prices > 0, sizes >= 0"
        return None
    if kind is Bar:
        return _bar(record)  # type: ignore[arg-type]
    if kind is MarkPrice:
        mark: MarkPrice = record  # type: ignore[assignment]
        return None if _finite(mark.mark) and mark.mark > 0 else f"mark {mark.mark} must be positive"
    if kind is FundingRate:
        rate: FundingRate = record  # type: ignore[assignment]
        return None if _finite(rate.rate) else f"funding rate {rate.rate} must be a number"
    if kind is InstrumentSettled:
        settled: InstrumentSettled = record  # type: ignore[assignment]
        return None if _finite(settled.price) and settled.price >= 0 else f"settlement price {settled.price} < 0"
    return None


def _levels(book: BookSnapshot | BookDeltas) -> str | None:
    for side, levels in (("bid", book.bids), ("ask", book.asks)):
        for price, size in levels:
            if price <= 0 or size < 0:
                return f"{side} level {price} x {size} (ticks, lots): price must be positive, size not negative"
    return None


def _bar(bar: Bar) -> str | None:
    prices = {"open": bar.open, "high": bar.high, "low": bar.low, "close": bar.close}
    for name, value in prices.items():
        if not _finite(value) or value <= 0:
            return f"{name} {value} must be positive"
    if not _finite(bar.volume) or bar.volume < 0:
        return f"volume {bar.volume} must not be negative"
    if not bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high:
        return f"low {bar.low} <= open {bar.open}, close {bar.close} <= high {bar.high} does not hold"
    return None


def _finite(value: Decimal) -> bool:
    return value.is_finite()
