"""A Parquet catalog of normalised market data: one file per (record kind, instrument, UTC day, name).

Layout: ``<root>/<kind>/<instrument id, percent-encoded>/<YYYY-MM-DD>/<name>.parquet``, e.g.
``root/book_deltas/BINANCE%3ABTC%2FUSDT/2024-08-08/capture.parquet``, so a time window reads only
its days (``catalog_files``; catalogs of the earlier one-file-per-name layout,
``<instrument>/<name>.parquet``, are read as they are). Reading gives back records equal to the ones
written, lazily (``stream``: record batches, never a whole file of objects):

* integers (timestamps, sequence ids, tick and size-unit counts) are ``int64`` columns; a column with
  a value outside int64 (Huobi sizes in 1e-18 units) is written as ``decimal128(38, 0)`` instead, which
  holds every integer below 10**38 exactly; the reader accepts both;
* ``Decimal`` fields (bars, funding, marks) are stored as their ``str()``, which round-trips the exact
  value, exponent included (``1E-8`` stays ``1E-8``), without choosing a scale per column;
* book sides are ``list<struct<price, size>>`` columns, best first as in the record;
* the instrument id is not a column: it is in the path and in the file's schema metadata.
"""

from __future__ import annotations

import builtins
import itertools
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

from spreadhawk.data.catalog_files import (
    EVERYTHING,
    ROW_GROUP_ROWS,
    CatalogStream,
    Decoder,
    Opener,
    StoredFile,
    Window,
    day_of,
    stored_files,
)
from spreadhawk.data.checks import check_records
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import (
    Aggressor,
    Bar,
    BookDeltas,
    BookSnapshot,
    FundingRate,
    InstrumentSettled,
    Level,
    MarketData,
    MarkPrice,
    QuoteTick,
    TradeTick,
)

FORMAT_VERSION = 1
_META_KEY = b"spreadhawk"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_BIG_INT = pa.decimal128(38, 0)

KINDS: dict[type[Any], str] = {
    BookSnapshot: "book_snapshot",
    BookDeltas: "book_deltas",
    QuoteTick: "quote_tick",
    TradeTick: "trade_tick",
    Bar: "bar",
    FundingRate: "funding_rate",
    MarkPrice: "mark_price",
    InstrumentSettled: "instrument_settled",
}
_RECORD_TYPES = {kind: cls for cls, kind in KINDS.items()}


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    kind: str
    instrument_id: InstrumentId
    name: str
    path: Path  # its first file (by day)
    rows: int
    files: tuple[Path, ...] = ()  # every file, one per day (one for the earlier layout)


class ParquetCatalog:
    def __init__(self, root: Path, open_file: Opener = pq.ParquetFile) -> None:
        self.root = root
        self._open = open_file

    def write(self, records: Sequence[MarketData], name: str) -> builtins.list[Path]:
        """Store ``records`` as ``name`` (replacing what was stored under that name), one file per
        kind, instrument and UTC day.

        Records keep their order within each file. Returns the paths written.
        """
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid catalog name {name!r}: use letters, digits, '.', '_' and '-'")
        groups: dict[tuple[str, InstrumentId], builtins.list[MarketData]] = {}
        for record in records:
            kind = KINDS.get(type(record))
            if kind is None:
                raise TypeError(f"cannot store {type(record).__name__} in the catalog")
            groups.setdefault((kind, record.instrument_id), []).append(record)
        for (kind, iid), group in groups.items():  # all of them before any file: nothing half-written
            check_records(group, f"catalog {name!r}, {kind} of {iid}")
        written = []
        for (kind, iid), group in groups.items():
            previous = {f.path for f in stored_files(self.root, [kind], _escape(iid), name)}
            for day, records_of_day in itertools.groupby(group, key=lambda record: day_of(record.ts_ns)):
                path = self._path(kind, iid, day, name)
                self._write_file(_ENCODERS[kind](builtins.list(records_of_day)), kind, iid, path)
                written.append(path)
            for stale in sorted(previous - set(written)):  # days the name no longer has
                stale.unlink()
        return written

    def read(
        self, kind: str | type[MarketData], instrument_id: str, name: str | None = None
    ) -> builtins.list[MarketData]:
        """Records of one kind and instrument: one stored name, or all of them (empty if none).

        Several names are merged by ``ts_ns``, stably, in name order for equal times.
        """
        kind_name = _kind_name(kind)
        files = self._files(kind_name, instrument_id, name)
        if name is not None and not files:
            raise FileNotFoundError(f"{self.root / kind_name}: no {kind_name} data named {name!r} for {instrument_id}")
        return builtins.list(CatalogStream(files, EVERYTHING, self._open, _DECODERS))

    def stream(
        self, kind: str | type[MarketData], instrument_id: str, name: str | None = None, window: Window = EVERYTHING
    ) -> CatalogStream:
        """As ``read``, lazily, and only the records inside ``window`` (only the files it overlaps are opened)."""
        kind_name = _kind_name(kind)
        return CatalogStream(self._files(kind_name, instrument_id, name), window, self._open, _DECODERS)

    def stream_all(self, window: Window = EVERYTHING) -> CatalogStream:
        """Every record stored, merged by time; records at the same time in kind, instrument, name order."""
        return CatalogStream(stored_files(self.root, sorted(_RECORD_TYPES)), window, self._open, _DECODERS)

    def contents(self) -> builtins.list[tuple[str, InstrumentId]]:
        """The (kind, instrument) pairs stored, sorted, from the folders alone (no file is opened)."""
        return sorted({(f.kind, f.instrument_id) for f in stored_files(self.root, sorted(_RECORD_TYPES))})

    def list(self) -> builtins.list[CatalogEntry]:
        """Everything stored, sorted by kind, instrument and name."""
        by_name: dict[tuple[str, InstrumentId, str], builtins.list[StoredFile]] = {}
        for stored in stored_files(self.root, sorted(_RECORD_TYPES)):
            by_name.setdefault((stored.kind, stored.instrument_id, stored.name), []).append(stored)
        entries = []
        for (kind, iid, name), files in sorted(by_name.items()):
            rows = sum(pq.read_metadata(f.path).num_rows for f in files)
            paths = tuple(f.path for f in files)
            entries.append(CatalogEntry(kind, iid, name, paths[0], rows, paths))
        return entries

    def _files(self, kind: str, instrument_id: str, name: str | None) -> builtins.list[StoredFile]:
        return stored_files(self.root, [kind], _escape(instrument_id), "*" if name is None else name)

    def _path(self, kind: str, iid: str, day: str, name: str) -> Path:
        return self.root / kind / _escape(iid) / day / f"{name}.parquet"

    @staticmethod
    def _write_file(table: pa.Table, kind: str, iid: str, path: Path) -> None:
        meta = {"kind": kind, "instrument_id": iid, "version": FORMAT_VERSION}
        table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        pq.write_table(table, partial, row_group_size=ROW_GROUP_ROWS)  # row groups: what a reader holds at once
        os.replace(partial, path)  # readers never see a half-written file


def _kind_name(kind: str | type[MarketData]) -> str:
    kind_name = kind if isinstance(kind, str) else KINDS.get(kind, "")
    if kind_name not in _RECORD_TYPES:
        raise ValueError(f"unknown record kind {kind!r}; known: {sorted(_RECORD_TYPES)}")
    return kind_name


def _escape(iid: str) -> str:
    # "BINANCE:BTC/USDT:USDT" -> "BINANCE%3ABTC%2FUSDT%3AUSDT": one directory, reversible, portable.
    return quote(iid, safe="")


# --- columns ------------------------------------------------------------------------------


def _ints(values: builtins.list[int]) -> pa.Array:
    if all(_INT64_MIN <= v <= _INT64_MAX for v in values):
        return pa.array(values, type=pa.int64())
    try:
        return pa.array(values, type=_BIG_INT)
    except (pa.ArrowInvalid, OverflowError):
        raise ValueError("an integer in the records has more than 38 digits") from None


def _from_ints(column: pa.ChunkedArray) -> builtins.list[int]:
    values = column.to_pylist()
    return [int(v) for v in values] if pa.types.is_decimal(column.type) else values


def _decimals(values: builtins.list[Decimal | None]) -> pa.Array:
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _from_decimals(column: pa.ChunkedArray) -> builtins.list[Decimal]:
    return [Decimal(v) for v in column.to_pylist()]


def _levels(sides: builtins.list[tuple[Level, ...]]) -> pa.Array:
    offsets = [0]
    prices: builtins.list[int] = []
    sizes: builtins.list[int] = []
    for side in sides:
        for price, size in side:
            prices.append(price)
            sizes.append(size)
        offsets.append(len(prices))
    entries = pa.StructArray.from_arrays([_ints(prices), _ints(sizes)], names=["price", "size"])
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), entries)


def _from_levels(column: pa.ChunkedArray) -> builtins.list[tuple[Level, ...]]:
    array = column.combine_chunks()
    # offsets index into the full child array (values), which is how Arrow lays out lists.
    offsets = array.offsets.to_pylist()
    entries = array.values
    levels = list(zip(_from_ints(entries.field("price")), _from_ints(entries.field("size")), strict=True))
    return [tuple(levels[start:end]) for start, end in itertools.pairwise(offsets)]


def _table(columns: dict[str, pa.Array]) -> pa.Table:
    return pa.table(columns)


# --- one encoder and decoder per record kind ------------------------------------------------


def _encode_snapshots(records: Sequence[Any]) -> pa.Table:
    return _table(
        {
            "ts_ns": _ints([r.ts_ns for r in records]),
            "sequence": _ints([r.sequence for r in records]),
            "bids": _levels([r.bids for r in records]),
            "asks": _levels([r.asks for r in records]),
        }
    )


def _decode_snapshots(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    columns = _int_columns(table, "ts_ns", "sequence")
    sides = (_from_levels(table["bids"]), _from_levels(table["asks"]))
    return [BookSnapshot(iid, *values) for values in zip(*columns, *sides, strict=True)]


def _encode_deltas(records: Sequence[Any]) -> pa.Table:
    names = ("ts_ns", "first_sequence", "sequence", "prev_sequence")
    columns = {name: _ints([getattr(r, name) for r in records]) for name in names}
    columns["bids"] = _levels([r.bids for r in records])
    columns["asks"] = _levels([r.asks for r in records])
    return _table(columns)


def _decode_deltas(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    columns = _int_columns(table, "ts_ns", "first_sequence", "sequence", "prev_sequence")
    sides = (_from_levels(table["bids"]), _from_levels(table["asks"]))
    return [BookDeltas(iid, *values) for values in zip(*columns, *sides, strict=True)]


_QUOTE_FIELDS = ("ts_ns", "bid", "bid_size", "ask", "ask_size")


def _encode_quotes(records: Sequence[Any]) -> pa.Table:
    return _table({name: _ints([getattr(r, name) for r in records]) for name in _QUOTE_FIELDS})


def _decode_quotes(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    return [QuoteTick(iid, *values) for values in zip(*_int_columns(table, *_QUOTE_FIELDS), strict=True)]


def _encode_trades(records: Sequence[Any]) -> pa.Table:
    columns = {name: _ints([getattr(r, name) for r in records]) for name in ("ts_ns", "price", "size")}
    columns["aggressor"] = pa.array([int(r.aggressor) for r in records], type=pa.int8())
    columns["trade_id"] = pa.array([r.trade_id for r in records], type=pa.string())
    return _table(columns)


def _decode_trades(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    ts, price, size = _int_columns(table, "ts_ns", "price", "size")
    aggressors = [Aggressor(a) for a in table["aggressor"].to_pylist()]
    trade_ids = table["trade_id"].to_pylist()
    return [TradeTick(iid, *values) for values in zip(ts, price, size, aggressors, trade_ids, strict=True)]


_BAR_PRICES = ("open", "high", "low", "close", "volume")


def _encode_bars(records: Sequence[Any]) -> pa.Table:
    columns = {name: _ints([getattr(r, name) for r in records]) for name in ("ts_ns", "interval_ns")}
    columns |= {name: _decimals([getattr(r, name) for r in records]) for name in _BAR_PRICES}
    return _table(columns)


def _decode_bars(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    ints = _int_columns(table, "ts_ns", "interval_ns")
    prices = [_from_decimals(table[name]) for name in _BAR_PRICES]
    return [Bar(iid, *values) for values in zip(*ints, *prices, strict=True)]


def _encode_funding(records: Sequence[Any]) -> pa.Table:
    return _table(
        {
            "ts_ns": _ints([r.ts_ns for r in records]),
            "rate": _decimals([r.rate for r in records]),
            "funding_ts_ns": _ints([r.funding_ts_ns for r in records]),
        }
    )


def _decode_funding(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    ts, funding_ts = _int_columns(table, "ts_ns", "funding_ts_ns")
    rates = _from_decimals(table["rate"])
    return [FundingRate(iid, *values) for values in zip(ts, rates, funding_ts, strict=True)]


def _encode_marks(records: Sequence[Any]) -> pa.Table:
    return _table(
        {
            "ts_ns": _ints([r.ts_ns for r in records]),
            "mark": _decimals([r.mark for r in records]),
            "index": _decimals([r.index for r in records]),
        }
    )


def _decode_marks(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    (ts,) = _int_columns(table, "ts_ns")
    marks = _from_decimals(table["mark"])
    indexes = [None if v is None else Decimal(v) for v in table["index"].to_pylist()]
    return [MarkPrice(iid, *values) for values in zip(ts, marks, indexes, strict=True)]


def _encode_settlements(records: Sequence[Any]) -> pa.Table:
    return _table({"ts_ns": _ints([r.ts_ns for r in records]), "price": _decimals([r.price for r in records])})


def _decode_settlements(table: pa.Table, iid: InstrumentId) -> builtins.list[MarketData]:
    (ts,) = _int_columns(table, "ts_ns")
    return [InstrumentSettled(iid, t, p) for t, p in zip(ts, _from_decimals(table["price"]), strict=True)]


def _int_columns(table: pa.Table, *names: str) -> builtins.list[builtins.list[int]]:
    return [_from_ints(table[name]) for name in names]


_ENCODERS: dict[str, Callable[[Sequence[Any]], pa.Table]] = {
    "book_snapshot": _encode_snapshots,
    "book_deltas": _encode_deltas,
    "quote_tick": _encode_quotes,
    "trade_tick": _encode_trades,
    "bar": _encode_bars,
    "funding_rate": _encode_funding,
    "mark_price": _encode_marks,
    "instrument_settled": _encode_settlements,
}
_DECODERS: dict[str, Decoder] = {
    "book_snapshot": _decode_snapshots,
    "book_deltas": _decode_deltas,
    "quote_tick": _decode_quotes,
    "trade_tick": _decode_trades,
    "bar": _decode_bars,
    "funding_rate": _decode_funding,
    "mark_price": _decode_marks,
    "instrument_settled": _decode_settlements,
}
