"""The catalog read lazily (``catalog_files``): the same records in the same order as a stable sort of
everything, only the day files a window needs opened, and memory that does not grow with the data."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spreadhawk.data.catalog import KINDS, ParquetCatalog
from spreadhawk.data.catalog_files import Window, merge_by_time
from spreadhawk.data.readers import instruments as inst
from spreadhawk.data.readers import (
    iter_hftbacktest,
    read_freqtrade_ohlcv,
    read_freqtrade_trades,
    read_lean_quotes,
    read_link_books,
)
from spreadhawk.data.times import to_ns
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import MarketData, QuoteTick
from spreadhawk.engine.replay import ReplayFeed


@pytest.fixture(scope="module")
def recordings(shared_data: Path) -> list[MarketData]:
    """Several formats and kinds: a Binance USD-M capture across midnight (books, quotes, trades,
    marks, funding at the same instants), Huobi books, three days of freqtrade bars and trades, Lean quotes."""
    usdm = inst.binance_usdm_btcusdt()
    capture = shared_data / "hftbacktest/binance_usdm_futures"
    xrp_eth = inst.binance_spot_xrpeth()
    huobi = inst.huobi_link_usdt()
    return [
        *iter_hftbacktest(capture / "btcusdt_20230404.dat.gz", usdm),
        *islice(iter_hftbacktest(capture / "btcusdt_20230405.dat.gz", usdm), 3000),
        *islice(read_link_books(shared_data / "defi_arbitrage_link_usdt/orderbook_hb.csv", huobi), 500),
        *read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/XRP_ETH-5m.feather", xrp_eth),
        *read_freqtrade_trades(shared_data / "freqtrade/trades/XRP_ETH-trades.feather", xrp_eth),
        *read_lean_quotes(
            shared_data / "quantconnect_lean/crypto/coinbase/minute/btcusd/20180404_quote.zip", inst.coinbase_btcusd()
        ),
    ]


def materialised(groups: list[list[MarketData]]) -> list[MarketData]:
    """What a run replayed before streaming: everything in memory, stably sorted by time."""
    return sorted((record for group in groups for record in group), key=lambda record: record.ts_ns)


class CountingOpener:
    """Opens Parquet files as the catalog does, and remembers which (the port ``ParquetCatalog`` takes)."""

    def __init__(self) -> None:
        self.opened: list[Path] = []

    def __call__(self, path: Path) -> pq.ParquetFile:
        self.opened.append(path)
        return pq.ParquetFile(path)


@pytest.mark.real_data
def test_the_stream_yields_what_the_materialised_sort_gives(tmp_path: Path, recordings: list[MarketData]) -> None:
    """Two names per kind and instrument (every other record), so that equal times tie across files
    and across kinds; the lazy merge must give exactly the stable sort of everything."""
    catalog = ParquetCatalog(tmp_path)
    by_source: dict[tuple[str, str], list[MarketData]] = {}
    for record in recordings:
        by_source.setdefault((KINDS[type(record)], record.instrument_id), []).append(record)
    groups: dict[tuple[str, str, str], list[MarketData]] = {}
    for (kind, iid), mine in by_source.items():
        groups[(kind, iid, "a")] = mine[::2]
        groups[(kind, iid, "b")] = mine[1::2]
    for name in ("a", "b"):
        catalog.write([r for (_, _, n), group in groups.items() if n == name for r in group], name)
    days = {path.parent.name for path in tmp_path.rglob("*.parquet")}
    assert {"2023-04-04", "2023-04-05", "2019-10-11", "2019-10-12", "2019-10-13"} <= days
    stream = catalog.stream_all()
    expected = materialised([groups[key] for key in sorted(groups)])
    assert list(stream) == expected
    assert list(stream) == expected  # iterating again reads the files again
    assert (stream.rows, stream.first_ns, stream.last_ns) == (len(expected), expected[0].ts_ns, expected[-1].ts_ns)
    usdm = InstrumentId("BINANCE:BTC/USDT:USDT")
    for kind in ("book_deltas", "quote_tick", "trade_tick", "mark_price"):
        both = materialised([groups[(kind, usdm, "a")], groups[(kind, usdm, "b")]])
        assert catalog.read(kind, usdm) == both
        assert catalog.read(kind, usdm, name="b") == groups[(kind, usdm, "b")]


@pytest.mark.real_data
def test_a_window_opens_only_the_days_it_needs(tmp_path: Path, shared_data: Path) -> None:
    xrp_eth = inst.binance_spot_xrpeth()
    bars = list(read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/XRP_ETH-5m.feather", xrp_eth))
    ParquetCatalog(tmp_path).write(bars, "xrp")
    assert len(list(tmp_path.rglob("*.parquet"))) == 3  # 2019-10-11 to 10-13
    window = Window(to_ns("2019-10-12T06:00"), to_ns("2019-10-12T18:00:00+00:00"))
    opener = CountingOpener()
    stream = ParquetCatalog(tmp_path, open_file=opener).stream("bar", xrp_eth.id, window=window)
    expected = [bar for bar in bars if window.start_ns <= bar.ts_ns < window.end_ns]  # type: ignore[operator]
    assert 100 < len(expected) < len(bars)
    assert (stream.rows, stream.first_ns, stream.last_ns) == (len(expected), expected[0].ts_ns, expected[-1].ts_ns)
    assert {path.parent.name for path in opener.opened} == {"2019-10-12"}
    assert list(stream) == expected
    assert {path.parent.name for path in opener.opened} == {"2019-10-12"}
    before = Window(None, to_ns("2019-10-11"))
    assert ParquetCatalog(tmp_path, open_file=opener).stream("bar", xrp_eth.id, window=before).rows == 0
    assert {path.parent.name for path in opener.opened} == {"2019-10-12"}  # no file is opened for it


@pytest.mark.real_data
def test_a_catalog_of_the_earlier_layout_reads_the_same_and_windows_by_row_group(
    tmp_path: Path, shared_data: Path
) -> None:
    """One file per name, no day folders (catalogs written before): read as it is, and a window
    reads the ``ts_ns`` column of the row groups it cuts, nothing else."""
    xrp_eth = inst.binance_spot_xrpeth()
    trades = list(read_freqtrade_trades(shared_data / "freqtrade/trades/XRP_ETH-trades.feather", xrp_eth))
    ParquetCatalog(tmp_path / "new").write(trades, "xrp")
    folder = tmp_path / "old" / "trade_tick" / "BINANCE%3AXRP%2FETH"
    folder.mkdir(parents=True)
    days = sorted((tmp_path / "new").rglob("*.parquet"))
    pq.write_table(pa.concat_tables(pq.read_table(day) for day in days), folder / "xrp.parquet", row_group_size=1000)
    old = ParquetCatalog(tmp_path / "old")
    assert old.read("trade_tick", xrp_eth.id) == trades
    [entry] = old.list()
    assert (entry.name, entry.rows, entry.files) == ("xrp", len(trades), (folder / "xrp.parquet",))
    window = Window(to_ns("2019-10-12"), to_ns("2019-10-12T12:00"))
    stream = old.stream("trade_tick", xrp_eth.id, window=window)
    expected = [t for t in trades if window.start_ns <= t.ts_ns < window.end_ns]  # type: ignore[operator]
    assert list(stream) == expected
    assert stream.rows == len(expected)
    old.write(trades[:10], "xrp")  # rewriting the name replaces the old file with the new layout
    assert [p.relative_to(tmp_path / "old").parts[2] for p in (tmp_path / "old").rglob("*.parquet")] == ["2019-10-11"]


def quotes(iid: InstrumentId, n: int, step: int, offset: int) -> Iterator[MarketData]:
    for i in range(n):
        yield QuoteTick(iid, offset + i * step, 100 + i % 7, 5, 101 + i % 7, 5)


def peak_bytes(records: Iterator[MarketData]) -> tuple[int, int]:
    """(records seen, tracemalloc's peak while they went through)."""
    gc.collect()
    tracemalloc.start()
    seen = 0
    for _ in records:
        seen += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seen, peak


@pytest.mark.parametrize("merge", ["catalog", "replay"])
def test_merging_generator_sources_holds_no_more_memory_for_four_times_the_events(merge: str) -> None:
    """Two synthetic sources (25k, then 100k events in all) through the catalog's lazy merge and
    through the replay's (``ReplayFeed``, which merges a run's sources): the peak is a buffer's, the
    same for both (materialised, 100k quotes would hold ~20 MB; kept small for the tracer's sake:
    bench/bench_stream_memory.py runs millions)."""
    a, b = InstrumentId("X:A/USDT"), InstrumentId("Y:A/USDT")

    def merged(n: int) -> Iterator[MarketData]:
        if merge == "replay":
            return iter(ReplayFeed([quotes(a, n // 2, 2, 0), quotes(b, n // 2, 2, 1)]))
        return merge_by_time([(0, lambda: quotes(a, n // 2, 2, 0)), (1, lambda: quotes(b, n // 2, 2, 1))])

    small_seen, small = peak_bytes(merged(25_000))
    large_seen, large = peak_bytes(merged(100_000))
    ended = 1 if merge == "replay" else 0  # the replay says when source a ended (before b)
    assert (small_seen, large_seen) == (25_000 + ended, 100_000 + ended)
    assert large < 64 * 1024
    assert large < small * 1.5 + 8 * 1024


def test_streaming_a_catalog_holds_no_more_memory_for_four_times_the_rows(tmp_path: Path) -> None:
    """Python objects (tracemalloc) and Arrow buffers (its pool's high-water mark) stay bounded
    by the batch and row-group sizes, not by the rows stored. The files are rewritten in row groups
    of 2,000 rows, so that many row groups are read (one Arrow reader over all of a file's row
    groups held them all decoded: the pool's peak grew with the file)."""
    iid = InstrumentId("X:A/USDT")
    peaks = {}
    for n in (25_000, 100_000):
        root = tmp_path / str(n)
        ParquetCatalog(root).write(list(quotes(iid, n, 1_000_000_000, 0)), "q")  # one a second: one day, then two
        for path in root.rglob("*.parquet"):
            pq.write_table(pq.read_table(path), path, row_group_size=2_000)
        before = pa.default_memory_pool()
        reading = pa.proxy_memory_pool(before)  # its own high-water mark: the reads', not the writes'
        pa.set_memory_pool(reading)
        try:
            seen, python_peak = peak_bytes(iter(ParquetCatalog(root).stream("quote_tick", iid)))
        finally:
            pa.set_memory_pool(before)
        assert seen == n
        peaks[n] = (python_peak, reading.max_memory())
    (small_py, small_arrow), (large_py, large_arrow) = peaks[25_000], peaks[100_000]
    assert large_py < 8 * 1024 * 1024  # a batch of records, not 100k of them (~20 MB)
    assert large_py < small_py * 1.5 + 1024 * 1024
    assert large_arrow < small_arrow * 1.5 + 256 * 1024  # a row group's columns, whatever the rows
