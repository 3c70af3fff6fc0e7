"""``spreadhawk data download`` against the local Binance emulator (real sockets, the real ccxt client).

What is downloaded is compared with an independent read of the recording the emulator serves: the
freqtrade feather files read with pandas, the hftbacktest capture read line by line with gzip and json.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.data.catalog import ParquetCatalog
from spreadhawk.domain.market import Aggressor, Bar, FundingRate, TradeTick
from spreadhawk.runtime.download import DownloadError, DownloadRequest, DownloadService, parse_time
from spreadhawk.venues.ccxt.history import CcxtHistory
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.emulator.history_api import HistoryFault

pytestmark = pytest.mark.real_data

TRADES_SINCE = "2024-08-08T23:00"


@dataclass
class Emulators:
    spot: BinanceEmulator
    usdm: BinanceEmulator

    def host(self, market: str) -> str:
        return f"127.0.0.1:{(self.spot if market == 'spot' else self.usdm).port}"


@pytest.fixture(scope="module")
def emulators(shared_data: Path) -> Iterator[Emulators]:
    """A spot and a USD-M emulator serving from a loop in a background thread (the download client is sync)."""
    ready = threading.Event()
    stop = threading.Event()
    holder: list[BinanceEmulator] = []

    async def serve() -> None:
        for market in (Market.SPOT, Market.USDM):
            emulator = BinanceEmulator.from_data_dir(shared_data, market, ["btcusdt"], autostart=False)
            await emulator.start()
            holder.append(emulator)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        for emulator in holder:
            await emulator.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60), "emulators did not start"
    yield Emulators(*holder)
    stop.set()
    thread.join(10)


@pytest.fixture(autouse=True)
def _no_armed_faults(emulators: Emulators) -> Iterator[None]:
    yield
    emulators.spot.history.disarm()
    emulators.usdm.history.disarm()


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["data", "download", *args])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


R = TypeVar("R", Bar, TradeTick, FundingRate)


def _read(catalog: Path, cls: type[R], instrument_id: str) -> list[R]:
    records = ParquetCatalog(catalog).read(cls, instrument_id)
    typed = [r for r in records if isinstance(r, cls)]
    assert len(typed) == len(records)
    return typed


def _capture_trades(path: Path) -> list[dict[str, object]]:
    """The ``trade`` events of an hftbacktest capture, read without the project's readers."""
    trades = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            obj = json.loads(line.partition(" ")[2])
            data = obj.get("data") if isinstance(obj, dict) else None
            if isinstance(data, dict) and data.get("e") == "trade":
                trades.append(data)
    return sorted(trades, key=lambda t: int(str(t["t"])))


# --- downloads equal the recordings ------------------------------------------------------------
def test_ohlcv_download_equals_the_recorded_candles(emulators: Emulators, shared_data: Path, tmp_path: Path) -> None:
    code, out, err = _cli(
        "--host", emulators.host("spot"), "--symbol", "XRP/ETH", "--kind", "ohlcv", "--timeframe", "1m",
        "--since", "2019-10-10", "--until", "2019-10-14", "--catalog", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert "(complete)" in out
    bars = _read(tmp_path, Bar, "BINANCE:XRP/ETH")
    recorded = pd.read_feather(shared_data / "freqtrade/ohlcv/XRP_ETH-1m.feather")
    assert len(bars) == len(recorded) == 2469
    assert all(isinstance(b, Bar) and b.interval_ns == 60_000_000_000 for b in bars)
    opens_ms = [int(ts.value // 1_000_000) for ts in recorded["date"]]
    assert [b.open_ts_ns // 1_000_000 for b in bars] == opens_ms  # every bar, in order, none twice
    for i in (0, 1234, len(bars) - 1):
        bar, row = bars[i], recorded.iloc[i]
        assert isinstance(bar, Bar)
        got = (bar.open, bar.high, bar.low, bar.close, bar.volume)
        assert got == tuple(Decimal(repr(float(row[c]))) for c in ("open", "high", "low", "close", "volume"))
    assert bars[0].open == Decimal("0.00141342")


def test_trades_download_equals_the_capture_aggregated(emulators: Emulators, shared_data: Path, tmp_path: Path) -> None:
    code, _out, err = _cli(
        "--host", emulators.host("usdm"), "--market", "usdm", "--symbol", "BTC/USDT:USDT", "--kind", "trades",
        "--since", TRADES_SINCE, "--catalog", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    ticks = _read(tmp_path, TradeTick, "BINANCE:BTC/USDT:USDT")
    raw = _capture_trades(shared_data / "hftbacktest/binance_usdm_futures/btcusdt_20240808.gz")
    # One aggregate per run of consecutive trades at the same time, price and side.
    keys = [(t["T"], t["p"], t["m"]) for t in raw]
    runs = sum(1 for i, key in enumerate(keys) if i == 0 or key != keys[i - 1])
    assert len(ticks) == runs
    assert all(isinstance(t, TradeTick) for t in ticks)
    assert ticks[0].ts_ns == int(str(raw[0]["T"])) * 1_000_000
    assert ticks[-1].ts_ns == int(str(raw[-1]["T"])) * 1_000_000
    size_step, tick = Decimal("0.001"), Decimal("0.01")  # the recorded exchangeInfo's BTCUSDT rules
    assert sum(t.size for t in ticks if isinstance(t, TradeTick)) * size_step == sum(Decimal(str(t["q"])) for t in raw)
    first = ticks[0]
    assert isinstance(first, TradeTick)
    assert first.price * tick == Decimal(str(raw[0]["p"]))
    assert first.aggressor is (Aggressor.SELLER if raw[0]["m"] else Aggressor.BUYER)
    ids = [int(t.trade_id) for t in ticks if isinstance(t, TradeTick)]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # consecutive aggregate ids: no gap, no repeat


def test_funding_download_equals_the_recorded_rates(emulators: Emulators, shared_data: Path, tmp_path: Path) -> None:
    code, _out, err = _cli(
        "--host", emulators.host("usdm"), "--market", "usdm", "--symbol", "XRP/USDT:USDT", "--kind", "funding",
        "--since", "2021-11-01", "--until", "2022-01-01", "--catalog", str(tmp_path), "--page-size", "40",
    )  # fmt: skip
    assert code == 0, err
    rates = _read(tmp_path, FundingRate, "BINANCE:XRP/USDT:USDT")
    recorded = pd.read_feather(shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather")
    assert len(rates) == len(recorded) == 91
    times = [int(ts.value // 1_000_000) for ts in recorded["date"]]
    assert [r.ts_ns // 1_000_000 for r in rates] == times
    for i in (0, 45, 90):
        rate = rates[i]
        assert isinstance(rate, FundingRate)
        assert rate.funding_ts_ns == rate.ts_ns
        assert rate.rate == Decimal(repr(float(recorded["open"].iloc[i])))


# --- resuming ----------------------------------------------------------------------------------
def _download(
    host: str,
    catalog: Path,
    waits: list[float],
    max_pages: int | None = None,
    *,
    id_cursor: bool = True,
    page_limit: int = 400,
) -> None:
    source = CcxtHistory("binance", "spot", host, sleep=waits.append, max_retries=2, id_cursor=id_cursor)
    since = parse_time(TRADES_SINCE, "since")
    request = DownloadRequest("trades", "BTC/USDT", since, max_pages=max_pages, page_limit=page_limit)
    try:
        DownloadService(ParquetCatalog(catalog), source).run(request)
    finally:
        source.close()


def test_an_interrupted_and_resumed_download_equals_one_run(emulators: Emulators, tmp_path: Path) -> None:
    host = emulators.host("spot")
    waits: list[float] = []
    _download(host, tmp_path / "whole", waits)
    whole = ParquetCatalog(tmp_path / "whole").read("trade_tick", "BINANCE:BTC/USDT")

    resumed = tmp_path / "resumed"
    _download(host, resumed, waits, max_pages=2)  # a run stopped by --max-pages
    emulators.spot.history.arm(HistoryFault(status=503, count=3, after=3))  # then one the exchange breaks off
    with pytest.raises(DownloadError, match=r"cannot reach .*\(3 new page\(s\) stored: run the same command"):
        _download(host, resumed, waits)
    assert waits == [1.0, 2.0]  # two retries with back-off, then it gave up
    _download(host, resumed, waits)
    again = ParquetCatalog(resumed).read("trade_tick", "BINANCE:BTC/USDT")
    assert again == whole
    ids = [int(t.trade_id) for t in again if isinstance(t, TradeTick)]
    assert ids == list(range(ids[0], ids[0] + len(again)))  # no aggregate twice, none skipped
    assert len(list((resumed / "trade_tick").glob("*/*/*.parquet"))) > 5  # instrument/day/page


def test_trades_paged_by_time_and_resumed_equal_trades_paged_by_id(emulators: Emulators, tmp_path: Path) -> None:
    host, waits = emulators.spot.http_url.removeprefix("http://"), list[float]()
    _download(host, tmp_path / "ids", waits)
    # The capture has 416 aggregates in the millisecond 23:58:35.302 (a sweep through many price levels):
    # pages of 400 cannot get past it by time, and the download says so instead of looping.
    with pytest.raises(DownloadError, match=r"more than 400 trades in one millisecond at 2024-08-08T23:58:35.302Z"):
        _download(host, tmp_path / "small", waits, id_cursor=False)
    _download(host, tmp_path / "times", waits, max_pages=2, id_cursor=False, page_limit=1000)
    _download(host, tmp_path / "times", waits, id_cursor=False, page_limit=1000)  # resumes at the last ms
    by_id = ParquetCatalog(tmp_path / "ids").read("trade_tick", "BINANCE:BTC/USDT")
    assert ParquetCatalog(tmp_path / "times").read("trade_tick", "BINANCE:BTC/USDT") == by_id
    assert waits == []


def test_a_rerun_after_a_complete_download_adds_nothing(
    emulators: Emulators, shared_data: Path, tmp_path: Path
) -> None:
    args = ("--host", emulators.host("spot"), "--symbol", "XRP/ETH", "--timeframe", "5m", "--since", "2019-10-11",
            "--until", "2019-10-14", "--catalog", str(tmp_path), "--max-pages", "1", "--page-size", "300")  # fmt: skip
    code, out, _ = _cli(*args)
    assert code == 0
    assert "300 bar rows" in out
    assert "run again to continue" in out
    code, out, _ = _cli(*args[:-4])
    assert code == 0
    assert "resumed after bar opening 2019-10-12T01:00:00.000Z" in out
    code, out, _ = _cli(*args[:-4])
    assert code == 0
    assert "0 bar rows" in out
    assert "(complete)" in out
    code, _out, err = _cli(*args[:7], "2019-10-13T12:00", *args[8:-4])  # a later --since: a gap, refused
    assert code == 1
    assert "--since 2019-10-13T12:00:00.000Z would leave a gap; use --since 2019-10-13T11:20:00.000Z" in err
    bars = _read(tmp_path, Bar, "BINANCE:XRP/ETH")
    opens = [b.open_ts_ns for b in bars]
    assert opens == sorted(set(opens))
    assert len(opens) == len(pd.read_feather(shared_data / "freqtrade/ohlcv/XRP_ETH-5m.feather")) == 706


# --- rate limits --------------------------------------------------------------------------------
def test_a_429_is_waited_out_for_its_retry_after(emulators: Emulators, tmp_path: Path) -> None:
    emulators.usdm.history.arm(HistoryFault(status=429, count=1, retry_after=2))
    started = time.monotonic()
    code, out, err = _cli(
        "--host", emulators.host("usdm"), "--market", "usdm", "--symbol", "XRP/USDT:USDT", "--kind", "funding",
        "--since", "2021-11-01", "--until", "2022-01-01", "--catalog", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert time.monotonic() - started >= 2.0
    assert "waited 2.0 s in 1 retry pause(s)" in out
    assert len(_read(tmp_path, FundingRate, "BINANCE:XRP/USDT:USDT")) == 91


def test_requests_are_spaced_by_ccxt_rate_limit(emulators: Emulators, tmp_path: Path) -> None:
    source = CcxtHistory("binance", "usdm", emulators.host("usdm"))
    try:
        source.instrument("XRP/USDT:USDT")
        started, count = time.monotonic(), emulators.usdm.history.requests
        request = DownloadRequest(
            "ohlcv", "XRP/USDT:USDT", parse_time("2021-11-15", "since"), parse_time("2021-11-22", "until"), "5m",
            page_limit=100,
        )  # fmt: skip
        DownloadService(ParquetCatalog(tmp_path), source).run(request, None)
        requests = emulators.usdm.history.requests - count
        assert requests >= 20  # 1,999 recorded bars in pages of 100
        # ccxt's binance table: fapi klines with limit 100..499 cost 2, times rateLimit 50 ms = 100 ms apart
        assert source.exchange.rateLimit == 50
        assert time.monotonic() - started >= (requests - 1) * 0.1 * 0.95
    finally:
        source.close()


# --- errors are one line ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--symbol", "BTC/USDX"), "unknown symbol 'BTC/USDX' on binance spot (did you mean"),
        (("--since", "yesterday"), "bad --since 'yesterday'"),
        (("--until", "2019-10-01"), "is not before --until"),
        (("--kind", "candles"), "unknown kind 'candles'"),
        (("--kind", "funding"), "funding rates exist only for perpetuals"),
        (("--timeframe", "7m"), "unknown timeframe '7m'"),
        (("--market", "options"), "unknown market 'options'"),
        (("--exchange", "binanse"), "unknown exchange 'binanse' (did you mean binance"),
        (("--host", "127.0.0.1:1"), "cannot reach 127.0.0.1:1"),
    ],
)
def test_bad_arguments_give_one_line_errors(
    emulators: Emulators, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    base = {
        "--host": emulators.host("spot"),
        "--symbol": "XRP/ETH",
        "--since": "2019-10-11",
        "--catalog": str(tmp_path),
    }
    merged = {**base, **dict(zip(args[::2], args[1::2], strict=True))}
    code, _out, err = _cli(*[part for pair in merged.items() for part in pair])
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0], lines[0]
    assert not list(tmp_path.rglob("*.parquet"))


def test_an_unreachable_host_is_said_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    code, _out, err = _cli(
        "--host", "127.0.0.1:1", "--symbol", "BTC/USDT", "--since", "2024-08-08", "--catalog", str(tmp_path)
    )  # fmt: skip
    assert code == 1
    assert err.startswith("error: cannot reach 127.0.0.1:1: NetworkError")
    assert time.monotonic() - started < 15  # the first contact is not retried (five retries wait 31 s)
