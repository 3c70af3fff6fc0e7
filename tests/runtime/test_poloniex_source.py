"""The ``poloniex_books`` data source: a Poloniex book_lv2 capture that declares its own markets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.modes import build_backtest

SAMPLE = ("cryptofeed", "sample_data")
STRATEGY = {
    "path": "spreadhawk.strategy.library.triangular_arb:TriangularArb",
    "params": {"venue": "POLONIEX", "start_assets": ["USDT"], "max_start_amount": {"USDT": "1000"}},
}


def _config(data: dict[str, Any], base_dir: Path, **extra: Any) -> RunConfig:
    return RunConfig.model_validate({"data": [data], "strategy": STRATEGY, "base_dir": str(base_dir), **extra})


def test_declares_the_markets_with_books_in_the_capture(shared_data: Path) -> None:
    sample = shared_data.joinpath(*SAMPLE)
    data = {"format": "poloniex_books", "path": "POLONIEX.ws.1.0", "markets_file": "POLONIEX.0"}
    config = _config(data, sample, venues={"POLONIEX": {"balances": {"USDT": "5000", "BTC": "0.1", "BCH": "20"}}})
    node = build_backtest(config)
    ids = sorted(str(iid) for iid in node.engine.instruments)
    assert {"POLONIEX:BTC/USDT", "POLONIEX:BCH/USDT", "POLONIEX:BCH/BTC", "POLONIEX:SOL/USDT"} <= set(ids)
    assert len(ids) < 20  # of the hundreds of markets listed, only those the capture has books for
    assert node.event_count > 200
    node.run()
    stats = node.strategies[0].stats()
    assert stats["cycles"] == 2  # the BCH triangle, both directions, through USDT
    assert stats["opportunities_seen"] == 0  # three 15.5 bps taker fees: nothing pays in this capture


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path": "POLONIEX.ws.1.0"}, "needs 'markets_file'"),
        ({"path": "missing.ws", "markets_file": "POLONIEX.0"}, "data file not found"),
        ({"path": "POLONIEX.ws.1.0", "markets_file": "missing.0"}, "data file not found"),
        ({"markets_file": "POLONIEX.0"}, "needs 'path'"),
        ({"path": "BINANCE.0", "markets_file": "BINANCE.0"}, "data error"),
    ],
)
def test_bad_paths_are_one_line_config_errors(shared_data: Path, data: dict[str, Any], message: str) -> None:
    config = _config({"format": "poloniex_books", **data}, shared_data.joinpath(*SAMPLE))
    with pytest.raises(ConfigError, match=message) as info:
        build_backtest(config)
    assert "\n" not in str(info.value)
