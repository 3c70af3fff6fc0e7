"""freqtrade data files: OHLCV (``.feather`` and legacy ``-1m.json``), funding rates, mark prices, trades.

freqtrade stamps a candle with its *open* time; our ``Bar.ts_ns`` is the close time (open + interval),
because a bar is known only once it has closed. Floats in the feather files are read through their
shortest repr (``Decimal(repr(x))``), which is the decimal text the exchange sent for every value
with up to 15 significant digits; the JSON files are parsed straight to ``Decimal``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from spreadhawk.data.readers._common import (
    NS_PER_MS,
    DataFormatError,
    Grid,
    decimal_of_float,
    interval_from_name,
    interval_ns,
    require_file,
)
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor, Bar, FundingRate, MarkPrice, TradeTick

if TYPE_CHECKING:
    import pandas as pd

_OHLCV = ("date", "open", "high", "low", "close", "volume")


def read_freqtrade_ohlcv(path: Path, instrument: Instrument, interval: str | None = None) -> list[Bar]:
    """Bars of a freqtrade OHLCV file (``*.feather`` or legacy ``*.json``), in file order.

    ``interval`` (``"1m"``, ``"5m"``, ``"1h"``, ...) defaults to the one in the file name.
    """
    step = interval_ns(interval) if interval is not None else interval_from_name(path)
    if path.suffix == ".json":
        return _read_json_ohlcv(path, instrument, step)
    frame = _read_feather(path, _OHLCV)
    opens = _epoch_ns(frame, path)
    columns = [frame[name].tolist() for name in _OHLCV[1:]]
    bars: list[Bar] = []
    for row, (open_ns, *values) in enumerate(zip(opens, *columns, strict=True)):
        o, h, low, c, v = (_finite(x, path, row) for x in values)
        bars.append(Bar(instrument.id, open_ns + step, step, o, h, low, c, v))
    return bars


def read_freqtrade_funding(path: Path, instrument: Instrument) -> list[FundingRate]:
    """Realised funding of a freqtrade ``*-funding_rate.feather`` (the rate is stored in ``open``).

    Each row is a funding event, so ``ts_ns == funding_ts_ns == date`` (ms jitter of the exchange kept).
    """
    frame = _read_feather(path, ("date", "open"))
    dates = _epoch_ns(frame, path)
    return [
        FundingRate(instrument.id, ts, _finite(rate, path, row), ts)
        for row, (ts, rate) in enumerate(zip(dates, frame["open"].tolist(), strict=True))
    ]


def read_freqtrade_mark(path: Path, instrument: Instrument, interval: str | None = None) -> list[MarkPrice]:
    """Mark prices of a freqtrade ``*-mark.feather``: the candle close, stamped at the candle close time
    (open + interval), when it became known; no index price in these files."""
    step = interval_ns(interval) if interval is not None else interval_from_name(path)
    frame = _read_feather(path, ("date", "close"))
    dates = _epoch_ns(frame, path)
    return [
        MarkPrice(instrument.id, ts + step, _finite(close, path, row))
        for row, (ts, close) in enumerate(zip(dates, frame["close"].tolist(), strict=True))
    ]


def read_freqtrade_trades(path: Path, instrument: Instrument) -> list[TradeTick]:
    """Public trades of a freqtrade ``*-trades.feather``; ``side`` is the taker's side."""
    frame = _read_feather(path, ("timestamp", "id", "side", "price", "amount"))
    ticks, units = Grid(instrument.tick_size), Grid(instrument.size_increment)
    sides = {"buy": Aggressor.BUYER, "sell": Aggressor.SELLER}
    trades: list[TradeTick] = []
    columns = (frame[name].tolist() for name in ("timestamp", "id", "side", "price", "amount"))
    for row, (ts_ms, trade_id, side, price, amount) in enumerate(zip(*columns, strict=True)):
        try:
            trades.append(
                TradeTick(
                    instrument.id,
                    int(ts_ms) * NS_PER_MS,
                    ticks.count_float(price),
                    units.count_float(amount),
                    sides.get(side, Aggressor.UNKNOWN),
                    str(trade_id),
                )
            )
        except ValueError as exc:
            raise DataFormatError(f"{path}: row {row}: {exc} (instrument {instrument.id})") from None
    return trades


def _read_json_ohlcv(path: Path, instrument: Instrument, step: int) -> list[Bar]:
    require_file(path)
    try:
        with path.open(encoding="utf-8") as handle:
            # parse_float=Decimal keeps the exact text of every number (no float round trip at all).
            rows = json.load(handle, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: not a JSON file: {exc}") from None
    if not isinstance(rows, list):
        raise DataFormatError(f"{path}: expected a JSON list of [ts_ms, o, h, l, c, v] rows")
    bars: list[Bar] = []
    for row, item in enumerate(rows):
        if not (isinstance(item, list) and len(item) == 6 and isinstance(item[0], int)):
            raise DataFormatError(f"{path}: row {row}: expected [ts_ms, o, h, l, c, v], got {item!r}")
        o, h, low, c, v = (Decimal(x) for x in item[1:])  # ints (e.g. volume 0) become exact Decimals too
        bars.append(Bar(instrument.id, item[0] * NS_PER_MS + step, step, o, h, low, c, v))
    return bars


def _read_feather(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    require_file(path)
    try:
        import pandas as pd  # noqa: PLC0415 -- ~1 s to import: only when a feather file is read

        frame = pd.read_feather(path)
    except Exception as exc:  # pyarrow raises its own error types for corrupt or non-feather files
        raise DataFormatError(f"{path}: not a readable feather file: {exc}") from None
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {missing}; has {list(frame.columns)}")
    return frame


def _epoch_ns(frame: pd.DataFrame, path: Path) -> list[int]:
    try:
        # A naive column is taken as UTC, which is what freqtrade writes.
        import pandas as pd  # noqa: PLC0415 -- see _read_feather

        dates = pd.to_datetime(frame["date"], utc=True).dt.as_unit("ns")
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: column 'date' is not a date: {exc}") from None
    if dates.isna().any():
        raise DataFormatError(f"{path}: column 'date' has missing values (row {int(dates.isna().argmax())})")
    return [int(x) for x in dates.astype("int64").tolist()]


def _finite(value: float, path: Path, row: int) -> Decimal:
    try:
        return decimal_of_float(float(value))
    except ValueError as exc:
        raise DataFormatError(f"{path}: row {row}: {exc}") from None
