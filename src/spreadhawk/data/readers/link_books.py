"""Ten-level book snapshots, one row per second (the LINK/USDT Binance and Huobi recordings).

Columns: ``timestamp,symbol,b1..b10,bv1..bv10,a1..a10,av1..av10`` (prices best first, sizes in base
units). The file does not state a timezone; ``timestamp`` is taken as UTC. Prices and sizes are read
as text, never as floats, so each value converts to an exact tick/size-unit count or is rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from spreadhawk.data.readers._common import NS_PER_SECOND, DataFormatError, Grid, require_file
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookSnapshot, Level

DEPTH = 10
_MISSING = frozenset({"", "nan", "NaN", "NAN"})


def read_link_books(path: Path, instrument: Instrument, depth: int = DEPTH) -> list[BookSnapshot]:
    """Snapshots of a ``timestamp,symbol,b1..,bv1..,a1..,av1..`` CSV, in file order.

    ``sequence`` is the 1-based data-row number. Levels with a missing (NaN) or zero size are skipped,
    and each side is sorted best first, whatever the column order in the file.
    """
    require_file(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return _read(path, csv.reader(handle), instrument, depth)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"{path}: unreadable CSV: {exc}") from None


def _read(path: Path, reader: Iterator[list[str]], instrument: Instrument, depth: int) -> list[BookSnapshot]:
    ticks, units = Grid(instrument.tick_size), Grid(instrument.size_increment)
    books: list[BookSnapshot] = []
    header = next(reader, None)
    if header is None:
        raise DataFormatError(f"{path}: empty file")
    index = _column_index(path, header, depth)
    for sequence, row in enumerate(reader, start=1):
        line = sequence + 1  # the header is line 1
        if len(row) != len(header):
            raise DataFormatError(f"{path}: line {line}: expected {len(header)} fields, got {len(row)}")
        try:
            bids = _side(row, index["b"], index["bv"], ticks, units)
            asks = _side(row, index["a"], index["av"], ticks, units)
            ts_ns = _utc_ns(row[index["timestamp"][0]])
        except ValueError as exc:
            raise DataFormatError(f"{path}: line {line}: {exc} (instrument {instrument.id})") from None
        bids.sort(reverse=True)  # highest bid first
        asks.sort()  # lowest ask first
        books.append(BookSnapshot(instrument.id, ts_ns, sequence, tuple(bids), tuple(asks)))
    return books


def _column_index(path: Path, header: list[str], depth: int) -> dict[str, list[int]]:
    position = {name: i for i, name in enumerate(header)}
    wanted = {"timestamp": ["timestamp"]} | {
        prefix: [f"{prefix}{level}" for level in range(1, depth + 1)] for prefix in ("b", "bv", "a", "av")
    }
    missing = [name for names in wanted.values() for name in names if name not in position]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}")
    return {key: [position[name] for name in names] for key, names in wanted.items()}


def _side(row: list[str], prices: list[int], sizes: list[int], ticks: Grid, units: Grid) -> list[Level]:
    levels: list[Level] = []
    for price_at, size_at in zip(prices, sizes, strict=True):
        size_text = row[size_at]
        if size_text in _MISSING:
            continue
        size = units.count(size_text)
        if size == 0:
            continue
        levels.append((ticks.count(row[price_at]), size))
    return levels


def _utc_ns(text: str) -> int:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    # timestamp() is a float; whole seconds plus microseconds keeps the value exact.
    whole = int(stamp.replace(microsecond=0).timestamp())
    return whole * NS_PER_SECOND + stamp.microsecond * 1_000
