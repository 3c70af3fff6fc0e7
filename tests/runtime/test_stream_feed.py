"""A run's feed from the catalog streams (``runtime.feeds``): the events the materialised readers give,
in the same order, and ``--start``/``--end`` (``run.start``/``run.end``) keep only the window."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.data.catalog import ParquetCatalog
from spreadhawk.data.times import to_ns
from spreadhawk.engine.replay import ReplayFeed
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.sources import build_instruments, load_source

REPO = Path(__file__).resolve().parents[2]
XRP_ETH = "BINANCE:XRP/ETH"
USDM = "BINANCE:BTC/USDT:USDT"


def config(shared_data: Path, data: list[dict[str, Any]], **run: str) -> RunConfig:
    body = {
        "run": {"seed": 1, **run},
        "instruments": [{"preset": "binance_spot_xrpeth"}, {"preset": "binance_usdm_btcusdt"}],
        "data": data,
        "strategy": {"path": "not.used:ByTheFeed"},
        "base_dir": str(shared_data),
    }
    return RunConfig.model_validate(body)


FILES = [
    {"format": "freqtrade_ohlcv", "instrument": XRP_ETH, "path": "freqtrade/ohlcv/XRP_ETH-5m.feather"},
    {"format": "freqtrade_trades", "instrument": XRP_ETH, "path": "freqtrade/trades/XRP_ETH-trades.feather"},
    {"format": "freqtrade_mark", "instrument": USDM, "path": "freqtrade/futures/XRP_USDT_USDT-1h-mark.feather"},
]
KINDS = ["bar", "trade_tick", "mark_price"]


@pytest.fixture(scope="module")
def catalog(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three file sources, imported to a catalog (one name per source, as ``spreadhawk import``)."""
    root = tmp_path_factory.mktemp("catalog")
    files = config(shared_data, FILES)
    instruments = build_instruments(files)
    for index, section in enumerate(files.data):
        ParquetCatalog(root).write(load_source(files, section, instruments), f"source{index}")
    return root


def from_catalog(root: Path) -> list[dict[str, Any]]:
    return [
        {"format": "catalog", "instrument": s["instrument"], "path": str(root), "kind": kind}
        for s, kind in zip(FILES, KINDS, strict=True)
    ]


@pytest.mark.real_data
def test_the_streamed_feed_replays_what_the_materialised_one_did(shared_data: Path, catalog: Path) -> None:
    materialised = load_feed(config(shared_data, FILES))
    streamed = load_feed(config(shared_data, from_catalog(catalog)))
    assert all(isinstance(source, list) for source in materialised.sources)
    assert not any(isinstance(source, list) for source in streamed.sources)
    expected = list(ReplayFeed(materialised.sources))
    assert list(ReplayFeed(streamed.sources)) == expected  # FeedStatus(ENDED) of the sources that stop included
    spans = (streamed.count, streamed.start_ns, streamed.end_ns)
    assert spans == (materialised.count, materialised.start_ns, materialised.end_ns)
    assert streamed.count == len([e for e in expected if type(e).__name__ != "FeedStatus"])


@pytest.mark.real_data
def test_start_and_end_keep_the_window_of_files_and_of_the_catalog(shared_data: Path, catalog: Path) -> None:
    window = {"start": "2019-10-12T06:00", "end": "2019-10-12 18:00:00+00:00"}
    start, end = to_ns(window["start"]), to_ns(window["end"])
    whole = load_feed(config(shared_data, FILES[:2])).sources
    cut = [[record for record in source if start <= record.ts_ns < end] for source in whole]
    inside = list(ReplayFeed(cut))  # (the bars end before the trades: a FeedStatus says so)
    times = sorted(record.ts_ns for source in cut for record in source)
    for data in (FILES[:2], from_catalog(catalog)[:2]):
        feed = load_feed(config(shared_data, data, **window))
        assert list(ReplayFeed(feed.sources)) == inside
        assert (feed.count, feed.start_ns, feed.end_ns) == (len(times), times[0], times[-1])
    with pytest.raises(ConfigError, match=r"data.2 .*no freqtrade_mark records inside --start/--end"):
        load_feed(config(shared_data, FILES, **window))  # the marks are of November 2021
    with pytest.raises(ConfigError, match=r"catalog .*: no mark_price data for BINANCE:BTC/USDT:USDT inside"):
        load_feed(config(shared_data, from_catalog(catalog), **window))
    simulated = [{"format": "market_simulator", "hours": 0.25}]
    with pytest.raises(ConfigError, match=r"--start/--end select recorded data; a market_simulator has 'hours'"):
        load_feed(config(shared_data, simulated, start="2024-01-01"))


def test_a_window_leaves_the_config_hash_of_runs_without_one_unchanged() -> None:
    data = [{"format": "market_simulator"}]
    plain = RunConfig.model_validate({"data": data, "strategy": {"path": "a:B"}})
    assert "start" not in plain.canonical_json()
    windowed = RunConfig.model_validate({"run": {"start": "2024-01-01"}, "data": data, "strategy": {"path": "a:B"}})
    assert windowed.config_hash() != plain.config_hash()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "yesterday"], "error: --start: 'yesterday' is not an ISO date or time (e.g. 2024-08-08"),
        (["--end", "2018-13-01"], "error: --end: '2018-13-01' is not an ISO date or time"),
        (["--start", "2018-01-20", "--end", "2018-01-20"], "error: --end 2018-01-20 must be after --start 2018-01-20"),
        (["--start", "2018-01-21T00:00", "--end", "2018-01-20"], "error: --end 2018-01-20 must be after --start"),
    ],
)
@pytest.mark.parametrize("command", ["backtest", "scan"])
def test_start_and_end_are_checked_before_anything_is_read(
    command: str, args: list[str], message: str, tmp_path: Path
) -> None:
    code, _out, err = invoke(command, str(REPO / "examples" / "sma_cross_eth_btc.toml"), *args, "--db", str(tmp_path))
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]  # one line, no traceback
    assert err.startswith(message), err


@pytest.mark.real_data
def test_a_backtest_replays_only_its_window(shared_data: Path, tmp_path: Path) -> None:
    example = str(REPO / "examples" / "sma_cross_eth_btc.toml")
    db = str(tmp_path / "runs.db")
    args = ["--json", "--db", db, "--no-report", "--start", "2018-01-20", "--end", "2018-01-22T12:00"]
    code, out, err = invoke("backtest", example, *args)
    assert code == 0, err
    assert json.loads(out)["events_processed"] == 2.5 * 24 * 12  # 5-minute bars of two and a half days
