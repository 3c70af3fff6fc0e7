"""Time bars aggregated from trades, inserted into a feed as it streams.

A bar covers ``[close - interval, close)`` and enters the stream at its close time, just before
the first record at or after it, as a recorded bar would. An interval without trades yields a bar
at the previous close with zero volume, so bar-driven strategies see a regular clock (documented
choice: freqtrade leaves such gaps out; a gap would shift every moving average in time). When the
data ends inside an interval, the trades seen so far close one last bar at the interval's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar, MarketData, TradeTick

ZERO = Decimal(0)


class _Building:
    __slots__ = ("close", "high", "low", "open", "volume")

    def __init__(self, price: int, size: int) -> None:
        self.open = self.high = self.low = self.close = price
        self.volume = size

    def add(self, price: int, size: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += size


class _Aggregator:
    def __init__(self, instruments: Iterable[Instrument], interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"bar interval must be positive, got {interval_ns} ns")
        self.interval_ns = interval_ns
        self.wanted: dict[InstrumentId, Instrument] = {i.id: i for i in instruments}
        self.building: dict[InstrumentId, _Building] = {}
        self.last_close: dict[InstrumentId, int] = {}
        self.next_close: int | None = None

    def close_before(self, ts_ns: int) -> Iterator[Bar]:
        """Bars of every interval that ended at or before ``ts_ns``."""
        if self.next_close is None:
            self.next_close = (ts_ns // self.interval_ns + 1) * self.interval_ns
        while ts_ns >= self.next_close:
            yield from self._close_interval(include_quiet=True)
            self.next_close += self.interval_ns

    def add(self, trade: TradeTick) -> None:
        current = self.building.get(trade.instrument_id)
        if current is None:
            self.building[trade.instrument_id] = _Building(trade.price, trade.size)
        else:
            current.add(trade.price, trade.size)

    def flush(self) -> Iterator[Bar]:
        if self.next_close is not None:
            yield from self._close_interval(include_quiet=False)

    def _close_interval(self, *, include_quiet: bool) -> Iterator[Bar]:
        assert self.next_close is not None
        close_ns, interval = self.next_close, self.interval_ns
        for iid, inst in self.wanted.items():
            bar = self.building.pop(iid, None)
            if bar is not None:
                self.last_close[iid] = bar.close
                yield Bar(
                    iid, close_ns, interval, inst.price(bar.open), inst.price(bar.high), inst.price(bar.low),
                    inst.price(bar.close), inst.size(bar.volume),
                )  # fmt: skip
            elif include_quiet and iid in self.last_close:
                price = inst.price(self.last_close[iid])
                yield Bar(iid, close_ns, interval, price, price, price, price, ZERO)


def with_trade_bars(
    records: Iterable[MarketData], instruments: Iterable[Instrument], interval_ns: int
) -> Iterator[MarketData]:
    """``records`` with bars of ``instruments`` inserted, built from their trade ticks."""
    aggregator = _Aggregator(instruments, interval_ns)
    wanted = aggregator.wanted
    for record in records:
        yield from aggregator.close_before(record.ts_ns)
        if type(record) is TradeTick and record.instrument_id in wanted:
            aggregator.add(record)
        yield record
    yield from aggregator.flush()
