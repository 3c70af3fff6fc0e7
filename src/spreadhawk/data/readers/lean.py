"""QuantConnect Lean crypto minute zips: ``<symbol>/<YYYYMMDD>_{trade,quote}.zip``.

Each zip holds one header-less CSV whose first column is milliseconds since midnight UTC of the
date in the file name; minutes without activity are absent. A Lean row is stamped with the bar's
*open* minute; our records are stamped at the minute's close (open + 60 s), when the bar is known.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from spreadhawk.data.readers._common import (
    NS_PER_MS,
    NS_PER_SECOND,
    DataFormatError,
    Grid,
    decimal_of,
    require_file,
)
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar, QuoteTick

MINUTE_NS = 60 * NS_PER_SECOND
_NAME = re.compile(r"(\d{8})_(trade|quote)\.zip")
_TRADE_COLUMNS = 6  # ms, open, high, low, close, volume
_QUOTE_COLUMNS = 11  # ms, bid o/h/l/c, last bid size, ask o/h/l/c, last ask size


def read_lean_trade_bars(path: Path, instrument: Instrument) -> list[Bar]:
    """One-minute OHLCV bars of a Lean ``*_trade.zip`` (volume in base units), exact Decimals."""
    midnight = _midnight_ns(path, "trade")
    bars: list[Bar] = []
    for line, row in _rows(path, _TRADE_COLUMNS):
        try:
            o, h, low, c, v = (decimal_of(x) for x in row[1:])
            ts = midnight + int(row[0]) * NS_PER_MS + MINUTE_NS
        except ValueError as exc:
            raise DataFormatError(f"{path}: line {line}: {exc}") from None
        bars.append(Bar(instrument.id, ts, MINUTE_NS, o, h, low, c, v))
    return bars


def read_lean_quotes(path: Path, instrument: Instrument) -> list[QuoteTick]:
    """Top of book at each minute's close from a Lean ``*_quote.zip``.

    This is the *close* of the minute's quote bar (``bid_close``/``ask_close`` with the last sizes),
    not every quote change; ``ts_ns`` is the minute's close time. Lean summed the sizes in double
    precision (``33.35399601000002``), so sizes are snapped to the size increment when they are within
    float noise of it; anything farther off is still an error.
    """
    midnight = _midnight_ns(path, "quote")
    ticks, units = Grid(instrument.tick_size), Grid(instrument.size_increment)
    quotes: list[QuoteTick] = []
    for line, row in _rows(path, _QUOTE_COLUMNS):
        try:
            quotes.append(
                QuoteTick(
                    instrument.id,
                    midnight + int(row[0]) * NS_PER_MS + MINUTE_NS,
                    bid=ticks.count(row[4]),
                    bid_size=units.count_noisy(row[5]),
                    ask=ticks.count(row[9]),
                    ask_size=units.count_noisy(row[10]),
                )
            )
        except ValueError as exc:
            raise DataFormatError(f"{path}: line {line}: {exc} (instrument {instrument.id})") from None
    return quotes


def _midnight_ns(path: Path, kind: str) -> int:
    match = _NAME.fullmatch(path.name)
    if match is None or match.group(2) != kind:
        raise DataFormatError(f"{path}: expected a Lean file named <YYYYMMDD>_{kind}.zip")
    try:
        day = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise DataFormatError(f"{path}: bad date in file name: {exc}") from None
    return int(day.timestamp()) * NS_PER_SECOND


def _rows(path: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    """(1-based line number, fields) of the single CSV inside the zip."""
    require_file(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(f"{path}: not a readable zip file: {exc}") from None
    with archive:
        names = archive.namelist()
        if len(names) != 1:
            raise DataFormatError(f"{path}: expected one CSV in the zip, found {names}")
        with archive.open(names[0]) as raw:
            text = io.TextIOWrapper(raw, encoding="ascii", newline="")
            try:
                for line, row in enumerate(csv.reader(text), start=1):
                    if len(row) != width:
                        raise DataFormatError(f"{path}: line {line}: expected {width} fields, got {len(row)}")
                    yield line, row
            except (UnicodeDecodeError, csv.Error, zipfile.BadZipFile) as exc:
                raise DataFormatError(f"{path}: unreadable CSV in the zip: {exc}") from None
