"""Readers against the real recordings in ../shared/data (counts and times from its README)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import islice, pairwise
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spreadhawk.data.readers import (
    DataFormatError,
    iter_hftbacktest,
    read_freqtrade_funding,
    read_freqtrade_mark,
    read_freqtrade_ohlcv,
    read_freqtrade_trades,
    read_hftbacktest,
    read_lean_quotes,
    read_lean_trade_bars,
    read_link_books,
)
from spreadhawk.data.readers import instruments as inst
from spreadhawk.data.readers._common import Grid
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import (
    Aggressor,
    Bar,
    BookDeltas,
    BookSnapshot,
    FundingRate,
    MarketData,
    MarkPrice,
    QuoteTick,
    TradeTick,
)

T = TypeVar("T")
HFT = "hftbacktest"
MINUTE = 60_000_000_000


def utc_ns(text: str) -> int:
    stamp = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return int(stamp.replace(microsecond=0).timestamp()) * 1_000_000_000 + stamp.microsecond * 1000


def coinm(base: str, tick: str) -> Instrument:
    # COIN-M inverse perps have no factory (Instrument.notional does not model inverse contracts);
    # sizes are whole contracts, which is all the reader needs.
    return Instrument("BINANCE", f"{base}/USD:{base}", InstrumentKind.PERPETUAL, base, "USD", Decimal(tick), Decimal(1))


def of_type(records: Sequence[MarketData], cls: type[T]) -> list[T]:
    return [r for r in records if isinstance(r, cls)]


def assert_best_first(book: BookSnapshot) -> None:
    bids = [price for price, _ in book.bids]
    asks = [price for price, _ in book.asks]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert len(set(bids)) == len(bids)
    assert len(set(asks)) == len(asks)
    assert all(size > 0 for _, size in book.bids + book.asks)
    assert bids[0] < asks[0]


def assert_synced_chain(records: Sequence[MarketData], *, spot: bool) -> None:
    """Binance's sync procedure on the reader's output: the snapshot, then diffs with u > lastUpdateId
    (some arrived before the snapshot line) link up without a gap."""
    (snapshot,) = of_type(records, BookSnapshot)
    applied = [d for d in of_type(records, BookDeltas) if d.sequence > snapshot.sequence]
    first = applied[0]
    if spot:  # contiguous ids: the first diff spans lastUpdateId + 1
        assert first.first_sequence <= snapshot.sequence + 1 <= first.sequence
    else:  # futures: the snapshot's state lies within the first diff's (pu, u]
        assert first.prev_sequence <= snapshot.sequence < first.sequence
    for before, after in pairwise(applied):
        assert after.prev_sequence == before.sequence
        if spot:
            assert after.first_sequence == before.sequence + 1


def assert_non_decreasing(records: Sequence[MarketData]) -> None:
    assert all(a.ts_ns <= b.ts_ns for a, b in pairwise(records))


# --- hftbacktest ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spot_btc(shared_data: Path) -> list[MarketData]:
    return read_hftbacktest(shared_data / HFT / "binance_spot/btcusdt_20240808.gz", inst.binance_spot_btcusdt())


@pytest.fixture(scope="module")
def usdm_2023(shared_data: Path) -> list[MarketData]:
    folder = shared_data / HFT / "binance_usdm_futures"
    paths = [folder / "btcusdt_20230404.dat.gz", folder / "btcusdt_20230405.dat.gz"]
    return read_hftbacktest(paths, inst.binance_usdm_btcusdt())


@pytest.mark.real_data
def test_spot_capture_counts_snapshot_and_chain(spot_btc: list[MarketData]) -> None:
    kinds = Counter(type(r).__name__ for r in spot_btc)
    assert kinds == {"BookDeltas": 3451, "QuoteTick": 28040, "TradeTick": 9757, "BookSnapshot": 1}
    snapshot = spot_btc[7]  # line 8 of the file
    assert isinstance(snapshot, BookSnapshot)
    assert snapshot.sequence == 50093239218
    assert (len(snapshot.bids), len(snapshot.asks)) == (1000, 1000)
    assert snapshot.bids[0] == (6183763, 378826000)  # 61837.63 / 3.78826 BTC
    assert_best_first(snapshot)
    assert_synced_chain(spot_btc, spot=True)
    assert_non_decreasing(spot_btc)
    # first line: depthUpdate E=1723161255208 ms; the window ends at 2024-08-09 00:00 exchange time
    assert spot_btc[0].ts_ns == 1723161255208_000_000
    assert utc_ns("2024-08-09 00:00:00") < spot_btc[-1].ts_ns < utc_ns("2024-08-09 00:00:02")


@pytest.mark.real_data
def test_spot_quotes_without_event_time_are_put_on_the_exchange_clock(spot_btc: list[MarketData]) -> None:
    # Spot bookTicker has no E; the collector's clock is ~1.27 s behind Binance's, so quotes are shifted
    # by the latest E - receive offset and stay interleaved with trades a few ms apart at most.
    trades = of_type(spot_btc, TradeTick)
    quotes = of_type(spot_btc, QuoteTick)
    assert quotes[0].ts_ns > 1723161254087891268 + 1_200_000_000  # its receive time + the clock skew
    assert all(q.bid < q.ask for q in quotes)
    assert trades[0].ts_ns - 1_000_000_000 < quotes[0].ts_ns < trades[-1].ts_ns + 2_000_000_000


@pytest.mark.real_data
def test_spot_conversions_match_instrument_ticks_exactly(shared_data: Path, spot_btc: list[MarketData]) -> None:
    instrument = inst.binance_spot_btcusdt()
    raw: list[dict[str, object]] = []
    with gzip.open(shared_data / HFT / "binance_spot/btcusdt_20240808.gz", "rt") as lines:
        for line in lines:
            message = json.loads(line.split(" ", 1)[1])
            raw.append(message.get("data", message))
    for record, data in zip(spot_btc, raw, strict=True):
        if isinstance(record, QuoteTick):
            assert record.bid == instrument.ticks(str(data["b"]))
            assert record.ask_size == instrument.units(str(data["A"]))
        elif isinstance(record, TradeTick):
            assert (record.price, record.size) == (instrument.ticks(str(data["p"])), instrument.units(str(data["q"])))
            assert record.aggressor == (Aggressor.SELLER if data["m"] else Aggressor.BUYER)
            assert record.trade_id == str(data["t"])
        elif isinstance(record, BookDeltas):
            levels = data["b"]
            assert isinstance(levels, list)
            assert record.bids == tuple((instrument.ticks(p), instrument.units(q)) for p, q in levels)


@pytest.mark.real_data
def test_usdm_capture_across_midnight_with_mark_and_funding(usdm_2023: list[MarketData]) -> None:
    kinds = Counter(type(r).__name__ for r in usdm_2023)
    assert kinds == {
        "BookDeltas": 4322 + 11788,
        "QuoteTick": 6765 + 37440,
        "TradeTick": 2197 + 10738,
        "MarkPrice": 514,
        # 513 estimates (the update at 00:00:00.010 still says T = 00:00 with the next rate: dropped)
        # + the realised rate of 00:00, emitted at that update
        "FundingRate": 514,
        "BookSnapshot": 1,
    }
    assert_synced_chain(usdm_2023, spot=False)  # also across the file boundary
    assert_non_decreasing(usdm_2023)
    mark = of_type(usdm_2023, MarkPrice)[0]
    funding = of_type(usdm_2023, FundingRate)[0]
    # E = ...701000 ms, but earlier depth/trade events carried later E: clamped to stay non-decreasing
    assert 1680652701000_000_000 <= mark.ts_ns < 1680652701000_000_000 + 300_000_000
    assert (mark.mark, mark.index) == (Decimal("28147.27373413"), Decimal("28159.75642857"))
    assert funding.ts_ns == mark.ts_ns
    assert funding.rate == Decimal("0.00002754")
    assert funding.funding_ts_ns == utc_ns("2023-04-05 00:00:00")
    fundings = [f for f in of_type(usdm_2023, FundingRate) if f.ts_ns < f.funding_ts_ns]
    (settled,) = (f for f in of_type(usdm_2023, FundingRate) if f.ts_ns >= f.funding_ts_ns)
    # the settlement of 00:00: the last estimate for it, at the first update past it
    last = max((f for f in fundings if f.funding_ts_ns == settled.funding_ts_ns), key=lambda f: f.ts_ns)
    assert (settled.rate, settled.funding_ts_ns) == (last.rate, utc_ns("2023-04-05 00:00:00"))
    assert settled.ts_ns == min(m.ts_ns for m in of_type(usdm_2023, MarkPrice) if m.ts_ns >= settled.funding_ts_ns)
    before, after = (f for f in fundings if f.ts_ns // 10**9 in (1680652799, 1680652801))
    assert (before.rate, before.funding_ts_ns) == (Decimal("0.00002754"), utc_ns("2023-04-05 00:00:00"))
    assert (after.rate, after.funding_ts_ns) == (Decimal("0.00002760"), utc_ns("2023-04-05 08:00:00"))
    trade = of_type(usdm_2023, TradeTick)[0]  # line 2: p 28145.10, q 0.002, m true
    assert (trade.price, trade.size, trade.aggressor) == (281451, 2, Aggressor.SELLER)


@pytest.mark.real_data
def test_local_clock_reads_microsecond_receive_times(shared_data: Path) -> None:
    path = shared_data / HFT / "binance_usdm_futures/btcusdt_20230404.dat.gz"
    first = list(islice(iter_hftbacktest(path, inst.binance_usdm_btcusdt(), clock="local"), 3))
    assert [r.ts_ns for r in first] == [1680652700423575000, 1680652700441533000, 1680652700441685000]


@pytest.mark.real_data
def test_iterator_streams(shared_data: Path) -> None:
    path = shared_data / HFT / "binance_usdm_futures/btcusdt_20240808.gz"
    stream = iter_hftbacktest(path, inst.binance_usdm_btcusdt())
    assert isinstance(stream, Iterator)
    head = list(islice(stream, 5))
    assert isinstance(head[0], BookDeltas)
    assert head[0].prev_sequence == 5123107831937  # futures "pu"


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("relative", "factory", "spot"),
    [
        ("binance_spot/ethusdt_20240808.gz", inst.binance_spot_ethusdt, True),
        ("binance_usdm_futures/btcusdt_20240808.gz", inst.binance_usdm_btcusdt, False),
        ("binance_usdm_futures/ethusdt_20240808.gz", inst.binance_usdm_ethusdt, False),
        ("binance_coinm_futures/btcusd_perp_20240808.gz", lambda: coinm("BTC", "0.1"), False),
        ("binance_coinm_futures/ethusd_perp_20240808.gz", lambda: coinm("ETH", "0.01"), False),
    ],
)
def test_every_capture_is_exact_on_its_instrument_grid(
    shared_data: Path, relative: str, factory: Callable[[], Instrument], spot: bool
) -> None:
    records = read_hftbacktest(shared_data / HFT / relative, factory())
    assert_synced_chain(records, spot=spot)
    assert_non_decreasing(records)
    (snapshot,) = of_type(records, BookSnapshot)
    assert_best_first(snapshot)


# --- LINK/USDT ten-level books ---------------------------------------------------------------


@pytest.mark.real_data
def test_link_books_two_venues_same_clock(shared_data: Path) -> None:
    folder = shared_data / "defi_arbitrage_link_usdt"
    binance = read_link_books(folder / "orderbook_bnc.csv", inst.binance_link_usdt())
    huobi = read_link_books(folder / "orderbook_hb.csv", inst.huobi_link_usdt())
    assert len(binance) == len(huobi) == 7200
    assert [b.ts_ns for b in binance] == [h.ts_ns for h in huobi]
    assert binance[0].ts_ns == utc_ns("2021-08-20 00:00:00")
    assert binance[-1].ts_ns == utc_ns("2021-08-20 01:59:59")
    assert [b.sequence for b in binance] == list(range(1, 7201))
    assert binance[0].bids[0] == (27095, 98845000000)  # 27.095 / 988.45 LINK (Binance: 1e-8 units)
    assert huobi[-1].asks[0] == (272555, 470000000000000000)  # 27.2555 / 0.47 LINK in 1e-18 units
    # line 9 (data row 8), av2 = 26.88178831780013: Huobi's full-precision amount, kept exactly
    assert huobi[7].asks[1][1] == 26881788317800130000
    for book in (*binance, *huobi):
        assert len(book.bids) == len(book.asks) == 10
        assert_best_first(book)


def test_link_books_skip_empty_levels_sort_and_report_bad_values(tmp_path: Path) -> None:
    header = ["timestamp", "symbol"] + [f"{p}{i}" for p in ("b", "bv", "a", "av") for i in range(1, 11)]
    bids = ["1.2", "1.3", *["1.1"] * 8]
    bid_sizes = ["2", "nan", "0", *["0"] * 7]
    asks = ["1.5", "1.4", *["1.6"] * 8]
    ask_sizes = ["1", "3", "", *["0"] * 7]
    row = ["2021-08-20 00:00:00", "X", *bids, *bid_sizes, *asks, *ask_sizes]
    path = tmp_path / "book.csv"
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    (book,) = read_link_books(path, inst.binance_link_usdt())
    assert book.bids == ((1200, 2 * 10**8),)
    assert book.asks == ((1400, 3 * 10**8), (1500, 10**8))

    row[2] = "1.2345"  # not a multiple of the 0.001 tick
    path.write_text(",".join(header) + "\n" + ",".join(row) + "\n")
    with pytest.raises(DataFormatError, match=r"book\.csv: line 2: 1\.2345 is not a multiple of 0\.001"):
        read_link_books(path, inst.binance_link_usdt())

    path.write_text(",".join(header[:-1]) + "\n")
    with pytest.raises(DataFormatError, match=r"missing column\(s\) \['av10'\]"):
        read_link_books(path, inst.binance_link_usdt())


# --- freqtrade --------------------------------------------------------------------------------


@pytest.mark.real_data
def test_freqtrade_json_and_feather_bars(shared_data: Path) -> None:
    eth_btc = inst.bittrex_btc_pair("ETH")
    minute = read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/ETH_BTC-1m.json", eth_btc)
    assert len(minute) == 14397
    assert minute[0].open_ts_ns == utc_ns("2018-01-20 04:53:00")
    assert minute[0].ts_ns == utc_ns("2018-01-20 04:54:00")  # stamped at the close
    assert minute[-1].open_ts_ns == utc_ns("2018-01-30 04:50:00")
    assert minute[0] == Bar(
        eth_btc.id,
        utc_ns("2018-01-20 04:54:00"),
        MINUTE,
        Decimal("0.08939998"),
        Decimal("0.08939998"),
        Decimal("0.08909372"),
        Decimal("0.08909374"),
        Decimal("81.45320695"),
    )
    five = read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/ETH_BTC-5m.feather", eth_btc)
    assert len(five) == 5760
    assert five[0].open_ts_ns == utc_ns("2018-01-10 04:55:00")
    assert (five[0].interval_ns, five[0].open, five[0].high) == (5 * MINUTE, Decimal("0.0984"), Decimal("0.0994766"))
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in five)
    ada = read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/ADA_BTC-5m.feather", inst.bittrex_btc_pair("ADA"))
    assert len(ada) == 5720


@pytest.mark.real_data
def test_freqtrade_xrp_eth_minute_bars_equal_aggregated_trades(shared_data: Path) -> None:
    xrp_eth = inst.binance_spot_xrpeth()
    bars = read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/XRP_ETH-1m.feather", xrp_eth)
    trades = read_freqtrade_trades(shared_data / "freqtrade/trades/XRP_ETH-trades.feather", xrp_eth)
    assert (len(bars), len(trades)) == (2469, 12477)
    assert {t.aggressor for t in trades} == {Aggressor.BUYER, Aggressor.SELLER}
    last_price: dict[int, int] = {}
    volume: Counter[int] = Counter()
    for trade in trades:
        minute_open = trade.ts_ns - trade.ts_ns % MINUTE
        last_price[minute_open] = trade.price
        volume[minute_open] += trade.size
    for bar in bars:
        assert xrp_eth.price(last_price[bar.open_ts_ns]) == bar.close
        assert xrp_eth.size(volume[bar.open_ts_ns]) == bar.volume


@pytest.mark.real_data
def test_freqtrade_funding_and_mark(shared_data: Path) -> None:
    xrp = inst.binance_usdm_xrpusdt()
    funding = read_freqtrade_funding(shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather", xrp)
    assert len(funding) == 91
    assert funding[0] == FundingRate(
        xrp.id, utc_ns("2021-11-18 00:00:00.017"), Decimal("0.0001"), utc_ns("2021-11-18 00:00:00.017")
    )
    assert funding[-1].ts_ns == utc_ns("2021-12-18 00:00:00.014")
    marks = read_freqtrade_mark(shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-mark.feather", xrp)
    assert len(marks) == 91
    assert marks[0] == MarkPrice(xrp.id, utc_ns("2021-11-18 08:00:00"), Decimal("1.1074"))
    hourly = read_freqtrade_mark(shared_data / "freqtrade/futures/XRP_USDT_USDT-1h-mark.feather", xrp)
    assert len(hourly) == 100
    assert hourly[0] == MarkPrice(xrp.id, utc_ns("2021-11-15 07:00:00"), Decimal("1.21431"))
    # mark candles have NaN volume: reading them as OHLCV bars is an error that names the row
    with pytest.raises(DataFormatError, match=r"1h-mark\.feather: row 0: 'nan' is not a finite number"):
        read_freqtrade_ohlcv(shared_data / "freqtrade/futures/XRP_USDT_USDT-1h-mark.feather", xrp)
    bars = read_freqtrade_ohlcv(shared_data / "freqtrade/futures/XRP_USDT_USDT-5m-futures.feather", xrp)
    assert len(bars) == 1999


# --- Lean -------------------------------------------------------------------------------------


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("symbol", "factory"),
    [("btcusd", inst.coinbase_btcusd), ("ethusd", inst.coinbase_ethusd), ("ltcusd", inst.coinbase_ltcusd)],
)
def test_lean_minute_trade_and_quote_bars(shared_data: Path, symbol: str, factory: Callable[[], Instrument]) -> None:
    instrument = factory()
    folder = shared_data / "quantconnect_lean/crypto/coinbase/minute" / symbol
    for day in ("20180404", "20180405"):
        bars = read_lean_trade_bars(folder / f"{day}_trade.zip", instrument)
        quotes = read_lean_quotes(folder / f"{day}_quote.zip", instrument)
        midnight = utc_ns(f"{day[:4]}-{day[4:6]}-{day[6:]} 00:00:00")
        assert all(midnight < q.ts_ns <= midnight + 1440 * MINUTE for q in quotes)
        assert all(q.bid < q.ask and q.bid_size > 0 and q.ask_size > 0 for q in quotes)
        assert bars[0].ts_ns == midnight + MINUTE  # the 00:00 bar closes at 00:01
        assert_non_decreasing(bars)
        assert_non_decreasing(quotes)
    if symbol == "btcusd":
        assert (len(bars), len(quotes)) == (1440, 1436)  # 20180405
        first = read_lean_trade_bars(folder / "20180404_trade.zip", instrument)
        assert len(first) == 1007
        assert (first[0].open, first[0].volume) == (Decimal("7424.91"), Decimal("7.14319709"))
        assert first[-1].ts_ns == utc_ns("2018-04-04 16:48:00")
        quote = read_lean_quotes(folder / "20180404_quote.zip", instrument)[0]
        # bid_close 7424.9 / last bid size 1.88483821; ask 7424.91 / 33.35399601000002 (float noise)
        assert quote == QuoteTick(instrument.id, utc_ns("2018-04-04 00:01:00"), 742490, 188483821, 742491, 3335399601)


# --- errors and conversions -------------------------------------------------------------------


def test_missing_files_are_reported_by_name(tmp_path: Path) -> None:
    missing = tmp_path / "nope-1m.json"
    btc = inst.binance_spot_btcusdt()
    for read in (
        lambda: read_freqtrade_ohlcv(missing, btc),
        lambda: read_lean_quotes(tmp_path / "20180404_quote.zip", btc),
        lambda: read_link_books(missing, btc),
        lambda: read_hftbacktest(missing, btc),
        lambda: iter_hftbacktest(missing, btc),  # eager: before the first next()
    ):
        with pytest.raises(DataFormatError, match="file not found"):
            read()


def test_hftbacktest_bad_lines_name_file_and_line(tmp_path: Path) -> None:
    btc = inst.binance_spot_btcusdt()
    good = (
        '1723161254087891268 {"stream":"x","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.00","q":"1","m":true}}'
    )
    path = tmp_path / "capture.gz"
    cases = {
        "1723161254087891268 {not json": "line 2: Expecting property name",
        '1723161254087891268 {"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.00","m":false}': "line 2: missing field 'q'",
        '1723161254087891268 {"e":"trade","E":1,"s":"BTCUSDT","t":2,"p":"1.001","q":"1","m":false}': (
            r"line 2: 1\.001 is not a multiple of 0\.01 \(instrument BINANCE:BTC/USDT\)"
        ),
        '1723161254087891268 {"e":"trade","E":1,"s":"ETHUSDT","t":2,"p":"1.00","q":"1","m":false}': (
            "line 2: symbol 'ETHUSDT' in a capture of 'BTCUSDT'"
        ),
    }
    for bad, message in cases.items():
        with gzip.open(path, "wt") as handle:
            handle.write(good + "\n" + bad + "\n")
        with pytest.raises(DataFormatError, match=rf"capture\.gz: {message}"):
            read_hftbacktest(path, btc)
    path.write_text("not gzip")
    with pytest.raises(DataFormatError, match="cannot read gzip capture"):
        read_hftbacktest(path, btc)


def test_freqtrade_json_shape_and_interval_errors(tmp_path: Path) -> None:
    btc = inst.binance_spot_btcusdt()
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_text("[[1516423980000, 1.0, 1.0, 1.0, 1.0]]")
    with pytest.raises(DataFormatError, match=r"row 0: expected \[ts_ms, o, h, l, c, v\]"):
        read_freqtrade_ohlcv(path, btc)
    unnamed = tmp_path / "BTC_USDT.json"
    unnamed.write_text("[[1516423980000, 1.0, 2.0, 0.5, 1.5, 10]]")
    with pytest.raises(DataFormatError, match="no interval"):
        read_freqtrade_ohlcv(unnamed, btc)
    (bar,) = read_freqtrade_ohlcv(unnamed, btc, interval="1h")
    assert (bar.ts_ns, bar.interval_ns, bar.volume) == (1516423980000_000_000 + 3600 * 10**9, 3600 * 10**9, Decimal(10))


@pytest.mark.parametrize(
    ("step", "text", "count"),
    [
        ("0.01", "61837.63000000", 6183763),
        ("0.01", "61837.6", 6183760),
        ("0.1", "61800.20", 618002),
        ("0.00000001", "0.00000000", 0),
        ("1e-18", "0.000701852007775578", 701852007775578),
        ("1e-18", "46348.9", 46348900000000000000000),
        ("10", "120", 12),
        ("0.001", "1e-3", 1),
        ("0.5", "-1.5", -3),
    ],
)
def test_grid_counts_exactly(step: str, text: str, count: int) -> None:
    grid = Grid(Decimal(step))
    assert grid.count(text) == count
    assert grid.count(text) == Instrument("V", "S", InstrumentKind.SPOT, "A", "B", Decimal(step), Decimal(1)).ticks(
        text
    )


@pytest.mark.parametrize("text", ["0.015", "nan", "", "abc", "inf", "1e-5"])
def test_grid_rejects_values_off_the_grid(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a multiple|not a number|not a finite"):
        Grid(Decimal("0.01")).count(text)


@settings(max_examples=200)
@given(
    st.integers(-(10**20), 10**20),
    st.integers(0, 12),
    st.sampled_from(["0.01", "0.1", "0.00001", "5", "0.25", "1e-18"]),
    st.integers(0, 3),
)
def test_grid_agrees_with_instrument_ticks(units: int, extra: int, step: str, off: int) -> None:
    tick = Decimal(step)
    instrument = Instrument("V", "S", InstrumentKind.SPOT, "A", "B", tick, Decimal(1))
    value = units * tick + off * tick / 7  # off > 0 puts it between two ticks
    text = format(value, "f")
    if extra:  # trailing zeros, as in Binance's "61837.63000000"
        text += ("" if "." in text else ".") + "0" * extra
    if off:
        with pytest.raises(ValueError, match="not a multiple"):
            Grid(tick).count(text)
    else:
        assert Grid(tick).count(text) == instrument.ticks(text) == units


def test_float_noise_tolerance_is_tight() -> None:
    grid = Grid(Decimal("0.00000001"))
    assert grid.count_noisy("33.35399601000002") == 3335399601
    assert grid.count_noisy("2.5833652000000003") == 258336520
    with pytest.raises(ValueError, match="not a multiple"):
        grid.count_noisy("33.353996015")
