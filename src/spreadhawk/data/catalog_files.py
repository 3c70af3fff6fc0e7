"""The catalog's files, found by kind, instrument, name and day, and read lazily in record batches.

Layout: ``<root>/<kind>/<instrument>/<YYYY-MM-DD>/<name>.parquet``, one file
per UTC day of the records' ``ts_ns``, so a time window opens only the days it overlaps. Catalogs
written before (``<root>/<kind>/<instrument>/<name>.parquet``, all days in one file) are read as
they are: their row groups' ``ts_ns`` statistics say which to read.

``CatalogStream`` is what a run replays: how many records a selection holds and its first and last
times come from the files' footers (a row group cut by the window reads its ``ts_ns`` column only),
and iterating it merges the files by ``ts_ns`` with no more than one record batch per open file in
memory. A file is opened only when the merge reaches its first time, so consecutive files (days,
download pages) are read one after the other, not all at once.
"""

from __future__ import annotations

import heapq
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import MarketData

NS_PER_DAY = 86_400 * 1_000_000_000
BATCH_ROWS = 4_096  # records decoded at a time per open file: the buffer that bounds memory
ROW_GROUP_ROWS = 65_536  # rows per row group written: what the reader holds decoded in Arrow form
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_EPOCH = date(1970, 1, 1)

Opener = Callable[[Path], pq.ParquetFile]  # how files are opened (a port: tests count the files opened)
Decoder = Callable[[pa.Table, InstrumentId], list[MarketData]]


@dataclass(frozen=True, slots=True)
class Window:
    """``start_ns <= ts_ns < end_ns``; ``None`` leaves that side open."""

    start_ns: int | None = None
    end_ns: int | None = None

    def overlaps(self, first_ns: int, last_ns: int) -> bool:
        """Whether any time in ``[first_ns, last_ns]`` is inside."""
        return (self.start_ns is None or last_ns >= self.start_ns) and (self.end_ns is None or first_ns < self.end_ns)

    def covers(self, first_ns: int, last_ns: int) -> bool:
        """Whether every time in ``[first_ns, last_ns]`` is inside."""
        return (self.start_ns is None or first_ns >= self.start_ns) and (self.end_ns is None or last_ns < self.end_ns)

    @property
    def is_open(self) -> bool:
        return self.start_ns is None and self.end_ns is None


EVERYTHING = Window()


@dataclass(frozen=True, slots=True)
class StoredFile:
    kind: str
    instrument_id: InstrumentId
    name: str
    day: str  # "YYYY-MM-DD", or "" for a file of the one-file-per-name layout
    path: Path

    def may_overlap(self, window: Window) -> bool:
        if not self.day or window.is_open:
            return True
        first = (date.fromisoformat(self.day) - _EPOCH).days * NS_PER_DAY
        return window.overlaps(first, first + NS_PER_DAY - 1)


def day_of(ts_ns: int) -> str:
    return (_EPOCH + timedelta(days=ts_ns // NS_PER_DAY)).isoformat()


def stored_files(root: Path, kinds: Sequence[str], folder: str = "*", name: str = "*") -> list[StoredFile]:
    """The files of ``kinds`` under ``root`` (both layouts), sorted by kind, instrument, name and day:
    the order in which records at the same time are replayed."""
    found = []
    for kind in kinds:
        base = root / kind
        for pattern in (f"{folder}/{name}.parquet", f"{folder}/*/{name}.parquet"):
            for path in base.glob(pattern):
                day = path.parent.name if path.parent.parent.parent == base else ""
                if day and not _DAY.fullmatch(day):
                    continue
                instrument = (path.parent.parent if day else path.parent).name
                found.append(StoredFile(kind, InstrumentId(unquote(instrument)), path.stem, day, path))
    return sorted(found, key=lambda f: (f.kind, f.instrument_id, f.name, f.day))


@dataclass(frozen=True, slots=True)
class _Part:
    """One file's share of a selection: its row groups in the window, how many rows, first and last time."""

    file: StoredFile
    row_groups: tuple[int, ...]
    rows: int
    first_ns: int
    last_ns: int


class CatalogStream:
    """The records of some catalog files inside a window, merged by ``ts_ns`` (ties: file order);
    re-iterable, and each iteration reads the files again."""

    def __init__(self, files: Sequence[StoredFile], window: Window, opener: Opener, decoders: dict[str, Decoder]):
        self._window = window
        self._opener = opener
        self._decoders = decoders
        self._parts = [part for f in files if f.may_overlap(window) and (part := self._part(f)) is not None]
        self.rows = sum(part.rows for part in self._parts)
        self.first_ns = min((part.first_ns for part in self._parts), default=None)
        self.last_ns = max((part.last_ns for part in self._parts), default=None)

    @property
    def files(self) -> list[Path]:
        return [part.file.path for part in self._parts]

    def __iter__(self) -> Iterator[MarketData]:
        return merge_by_time([(part.first_ns, partial(self._read, part)) for part in self._parts])

    def _part(self, stored: StoredFile) -> _Part | None:
        parquet = self._opener(stored.path)
        meta = parquet.metadata
        column = meta.schema.to_arrow_schema().get_field_index("ts_ns")
        groups, rows, firsts, lasts = [], 0, [], []
        for index in range(meta.num_row_groups):
            group = meta.row_group(index)
            if group.num_rows == 0:
                continue
            stats = group.column(column).statistics
            bounds = (stats.min, stats.max) if stats is not None and stats.has_min_max else None
            if bounds is not None and not isinstance(bounds[0], int):
                bounds = None  # a decimal128 column: counted from its values below
            if bounds is not None and not self._window.overlaps(*bounds):
                continue
            if bounds is not None and self._window.covers(*bounds):
                count, first, last = group.num_rows, bounds[0], bounds[1]
            else:  # cut by the window, or no statistics: its times, and nothing else, are read
                times = self._inside(parquet.read_row_group(index, columns=["ts_ns"])["ts_ns"])
                if not len(times):
                    continue
                count, first, last = len(times), int(times[0].as_py()), int(times[-1].as_py())
            groups.append(index)
            rows += count
            firsts.append(first)
            lasts.append(last)
        if not rows:
            return None
        return _Part(stored, tuple(groups), rows, min(firsts), max(lasts))

    def _inside(self, times: pa.ChunkedArray) -> pa.ChunkedArray:
        if self._window.is_open:
            return times
        return times.filter(self._mask(times))

    def _mask(self, times: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        start, end = self._window.start_ns, self._window.end_ns
        if pa.types.is_decimal(times.type):
            times = times.cast(pa.float64())  # never at a window's edge: timestamps fit int64
        keep = pc.greater_equal(times, start) if start is not None else None
        if end is not None:
            below = pc.less(times, end)
            keep = below if keep is None else pc.and_(keep, below)
        return keep

    def _read(self, part: _Part) -> Iterator[MarketData]:
        decode = self._decoders[part.file.kind]
        iid = part.file.instrument_id
        parquet = self._opener(part.file.path)
        for group in part.row_groups:  # one reader per row group: one over several holds them all decoded
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, row_groups=[group]):
                table = pa.Table.from_batches([batch])
                if not self._window.is_open:
                    table = table.filter(self._mask(table["ts_ns"]))
                yield from decode(table, iid)


def merge_by_time(parts: Sequence[tuple[int, Callable[[], Iterator[MarketData]]]]) -> Iterator[MarketData]:
    """The records of ``parts`` (each a lower bound of its first time and how to read it, in tie
    order) merged by ``ts_ns``; records at the same time come in part order, as a stable sort of
    the parts' records concatenated would give. A part is read only once the merge reaches its
    lower bound: a part whose records all come after another's is not opened before that one ends.
    """
    waiting = deque(sorted(range(len(parts)), key=lambda rank: (parts[rank][0], rank)))
    heap: list[tuple[int, int, MarketData, Iterator[MarketData]]] = []
    while heap or waiting:
        # open every part that may hold a record at or before the earliest one in hand
        while waiting and (not heap or parts[waiting[0]][0] <= heap[0][0]):
            rank = waiting.popleft()
            records = parts[rank][1]()
            first = next(records, None)
            if first is not None:  # (rank is unique in the heap: records are never compared)
                heapq.heappush(heap, (first.ts_ns, rank, first, records))
        if not heap:
            continue
        _, rank, record, records = heap[0]
        yield record
        following = next(records, None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following.ts_ns, rank, following, records))
