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


def with_trade_bars(
    records: Iterable[MarketData], instruments: Iterable[Instrument], interval_ns: int
) -> Iterator[MarketData]:
    """``records`` with bars of ``instruments`` inserted, built from their trade ticks."""
    if interval_ns <= 0:
        raise ValueError(f"bar interval must be positive, got {interval_ns} ns")
    wanted: dict[InstrumentId, Instrument] = {i.id: i for i in instruments}
    building: dict[InstrumentId, _Building | None] = dict.fromkeys(wanted)
    last_close: dict[InstrumentId, int] = {}
    next_close: int | None = None
    for record in records:
        ts = record.ts_ns
        if next_close is None:
            next_close = (ts // interval_ns + 1) * interval_ns
        while ts >= next_close:
            for iid, inst in wanted.items():
                bar = _close(inst, building[iid], last_close.get(iid), next_close, interval_ns)
                if bar is not None:
                    last_close[iid] = inst.ticks(bar.close)
                    yield bar
                building[iid] = None
            next_close += interval_ns
        if type(record) is TradeTick and record.instrument_id in wanted:
            current = building[record.instrument_id]
            if current is None:
                building[record.instrument_id] = _Building(record.price, record.size)
            else:
                current.add(record.price, record.size)
        yield record
    if next_close is not None:  # the data ends inside an interval: its bar closes at the boundary
        for iid, inst in wanted.items():
            if building[iid] is not None:
                bar = _close(inst, building[iid], last_close.get(iid), next_close, interval_ns)
                if bar is not None:
                    yield bar


def _close(inst: Instrument, bar: _Building | None, last: int | None, close_ns: int, interval_ns: int) -> Bar | None:
    if bar is None:
        if last is None:
            return None  # no trade yet: nothing to report
        price = inst.price(last)
        return Bar(inst.id, close_ns, interval_ns, price, price, price, price, ZERO)
    return Bar(
        inst.id,
        close_ns,
        interval_ns,
        inst.price(bar.open),
        inst.price(bar.high),
        inst.price(bar.low),
        inst.price(bar.close),
        inst.size(bar.volume),
    )
