"""ParquetCatalog: exact round trips of real recordings and of generated records."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spreadhawk.data.catalog import KINDS, CatalogEntry, ParquetCatalog
from spreadhawk.data.catalog_files import day_of
from spreadhawk.data.readers import instruments as inst
from spreadhawk.data.readers import (
    iter_hftbacktest,
    read_freqtrade_funding,
    read_freqtrade_ohlcv,
    read_freqtrade_trades,
    read_lean_quotes,
    read_link_books,
)
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

LEVELS = pa.list_(pa.struct([("price", pa.int64()), ("size", pa.int64())]))


@pytest.fixture(scope="module")
def recordings(shared_data: Path) -> list[MarketData]:
    """A mix of every record kind from five real recordings (kept small for speed)."""
    usdm = shared_data / "hftbacktest/binance_usdm_futures/btcusdt_20230404.dat.gz"
    huobi = inst.huobi_link_usdt()
    xrp_eth = inst.binance_spot_xrpeth()
    return [
        *iter_hftbacktest(usdm, inst.binance_usdm_btcusdt()),  # snapshot, deltas, quotes, trades, mark, funding
        *islice(read_link_books(shared_data / "defi_arbitrage_link_usdt/orderbook_hb.csv", huobi), 1500),
        *read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/XRP_ETH-5m.feather", xrp_eth),
        *read_freqtrade_trades(shared_data / "freqtrade/trades/XRP_ETH-trades.feather", xrp_eth),
        *read_freqtrade_funding(
            shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather", inst.binance_usdm_xrpusdt()
        ),
        *read_lean_quotes(
            shared_data / "quantconnect_lean/crypto/coinbase/minute/btcusd/20180404_quote.zip", inst.coinbase_btcusd()
        ),
    ]


def by_kind_and_instrument(records: list[MarketData]) -> dict[tuple[str, str], list[MarketData]]:
    groups: dict[tuple[str, str], list[MarketData]] = {}
    for record in records:
        groups.setdefault((KINDS[type(record)], record.instrument_id), []).append(record)
    return groups


@pytest.mark.real_data
def test_real_recordings_round_trip_exactly(tmp_path: Path, recordings: list[MarketData]) -> None:
    catalog = ParquetCatalog(tmp_path)
    written = catalog.write(recordings, "sample")
    expected = by_kind_and_instrument(recordings)
    days = {(KINDS[type(r)], r.instrument_id, day_of(r.ts_ns)) for r in recordings}
    assert len(expected) == 11
    assert len(written) == len(days)  # one file per kind, instrument and UTC day
    entries = catalog.list()
    assert [(e.kind, e.instrument_id, e.name, e.rows) for e in entries] == sorted(
        (kind, iid, "sample", len(group)) for (kind, iid), group in expected.items()
    )
    assert sorted(f for e in entries for f in e.files) == sorted(written)
    for (kind, iid), group in expected.items():
        assert catalog.read(kind, iid) == group
    # the Huobi book's 1e-18 size units do not fit int64 and fall back to decimal128
    huobi = pq.read_schema(tmp_path / "book_snapshot" / "HUOBI%3ALINK%2FUSDT" / "2021-08-20" / "sample.parquet")
    assert huobi.field("bids").type == pa.list_(pa.struct([("price", pa.int64()), ("size", pa.decimal128(38, 0))]))
    binance = tmp_path / "book_deltas" / "BINANCE%3ABTC%2FUSDT%3AUSDT" / "2023-04-04" / "sample.parquet"
    assert pq.read_schema(binance).field("asks").type == LEVELS
    bars = pq.read_schema(tmp_path / "bar" / "BINANCE%3AXRP%2FETH" / "2019-10-11" / "sample.parquet")
    assert bars.field("close").type == pa.string()


def test_read_merges_names_by_time_and_write_replaces(tmp_path: Path) -> None:
    iid = InstrumentId("BINANCE:BTC/USDT")
    catalog = ParquetCatalog(tmp_path)
    early = [QuoteTick(iid, ts, 1, 2, 3, 4) for ts in (10, 30)]
    late = [QuoteTick(iid, ts, 5, 6, 7, 8) for ts in (20, 40)]
    catalog.write(late, "b")
    catalog.write(early, "a")
    assert [q.ts_ns for q in catalog.read(QuoteTick, iid)] == [10, 20, 30, 40]
    assert catalog.read("quote_tick", iid, name="b") == late
    catalog.write(early, "b")  # same name: replaced, not appended
    assert catalog.read("quote_tick", iid, name="b") == early
    assert [e.name for e in catalog.list()] == ["a", "b"]
    assert catalog.read("quote_tick", InstrumentId("BINANCE:ETH/USDT")) == []
    assert not list(tmp_path.rglob("*.partial"))


def test_catalog_rejects_bad_names_and_kinds(tmp_path: Path) -> None:
    catalog = ParquetCatalog(tmp_path)
    iid = InstrumentId("X:Y")
    with pytest.raises(ValueError, match="invalid catalog name"):
        catalog.write([QuoteTick(iid, 1, 1, 1, 2, 1)], "../escape")
    with pytest.raises(ValueError, match="unknown record kind 'quotes'"):
        catalog.read("quotes", iid)
    with pytest.raises(FileNotFoundError, match="no quote_tick data named 'nope'"):
        catalog.read("quote_tick", iid, name="nope")
    with pytest.raises(TypeError, match="cannot store str"):
        catalog.write(["not a record"], "x")  # type: ignore[list-item]
    assert catalog.write([], "empty") == []
    assert catalog.list() == []


# --- generated records ------------------------------------------------------------------------

IIDS = st.sampled_from(["BINANCE:BTC/USDT", "HUOBI:LINK/USDT", "V:odd %2F name/with:colons"]).map(InstrumentId)
TS = st.integers(0, 2**63 - 1)
# Counts up to 10**37 - 1: beyond int64 the column becomes decimal128(38, 0), which must still be exact.
# Sequences may be anything; prices are positive and sizes not negative (a write checks them).
COUNT = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-(10**37) + 1, 10**37 - 1))
PRICE = st.one_of(st.integers(1, 2**63 - 1), st.integers(1, 10**37 - 1))
SIZE = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 10**37 - 1))
DECIMAL = st.decimals(allow_nan=False, allow_infinity=False)
POSITIVE = st.decimals(min_value=Decimal("1e-30"), allow_nan=False, allow_infinity=False)
LEVEL: st.SearchStrategy[Level] = st.tuples(PRICE, SIZE)
SIDE = st.lists(LEVEL, max_size=4).map(tuple)


def _bar(iid: InstrumentId, ts: int, interval: int, prices: list[Decimal], volume: Decimal) -> Bar:
    low, open_, close, high = sorted(prices)
    return Bar(iid, ts, interval, open_, high, low, close, volume)


RECORD: st.SearchStrategy[MarketData] = st.one_of(
    st.builds(BookSnapshot, IIDS, TS, COUNT, SIDE, SIDE),
    st.builds(BookDeltas, IIDS, TS, COUNT, COUNT, COUNT, SIDE, SIDE),
    st.builds(QuoteTick, IIDS, TS, PRICE, SIZE, PRICE, SIZE),
    st.builds(TradeTick, IIDS, TS, PRICE, st.integers(1, 10**37 - 1), st.sampled_from(Aggressor), st.text(max_size=8)),
    st.builds(_bar, IIDS, TS, TS, st.lists(POSITIVE, min_size=4, max_size=4), POSITIVE | st.just(Decimal(0))),
    st.builds(FundingRate, IIDS, TS, DECIMAL, TS),
    st.builds(MarkPrice, IIDS, TS, POSITIVE, st.none() | DECIMAL),
    st.builds(InstrumentSettled, IIDS, TS, POSITIVE | st.just(Decimal(0))),
)


@settings(max_examples=30, deadline=None)
@given(st.lists(RECORD, min_size=1, max_size=12).map(lambda rs: sorted(rs, key=lambda r: r.ts_ns)))
def test_generated_records_round_trip_exactly(records: list[MarketData]) -> None:
    with tempfile.TemporaryDirectory() as root:
        catalog = ParquetCatalog(Path(root))
        catalog.write(records, "gen")
        for (kind, iid), group in by_kind_and_instrument(records).items():
            back = catalog.read(kind, iid, name="gen")
            assert back == group
            # Decimal equality ignores the exponent; the stored text keeps it too
            for before, after in zip(group, back, strict=True):
                assert repr(before) == repr(after)
        assert {(e.kind, e.instrument_id) for e in catalog.list()} == set(by_kind_and_instrument(records))
        assert all(isinstance(e, CatalogEntry) and e.path.is_file() for e in catalog.list())


def test_integers_beyond_decimal128_are_refused(tmp_path: Path) -> None:
    iid = InstrumentId("X:Y")
    with pytest.raises(ValueError, match="more than 38 digits"):
        ParquetCatalog(tmp_path).write([QuoteTick(iid, 1, 10**40, 1, 2, 1)], "big")


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        (QuoteTick(InstrumentId("X:B"), 30, -1, 2, 3, 4), "record 2 (QuoteTick X:B): bid -1 x 2"),
        (QuoteTick(InstrumentId("X:B"), 5, 1, 2, 3, 4), "record 2 (QuoteTick X:B): ts_ns 5 is earlier"),
    ],
)
def test_a_write_with_one_bad_record_stores_nothing(tmp_path: Path, bad: QuoteTick, expected: str) -> None:
    """Catalog writes validate as runs do (#11), and all-or-nothing: the good instrument's file is
    not written either, so a catalog never holds half of an import."""
    good = [QuoteTick(InstrumentId("X:A"), ts, 1, 2, 3, 4) for ts in (10, 20)]
    catalog = ParquetCatalog(tmp_path)
    with pytest.raises(ValueError, match="catalog 'day1'") as raised:
        catalog.write([*good, QuoteTick(InstrumentId("X:B"), 10, 1, 2, 3, 4), bad], "day1")
    assert expected in str(raised.value)
    assert list(tmp_path.rglob("*.parquet")) == []
