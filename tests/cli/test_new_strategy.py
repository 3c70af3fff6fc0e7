"""``spreadhawk new-strategy NAME``: the template it writes works, and its own test passes."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import build_backtest

runner = CliRunner()


def test_the_template_and_its_test_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> None:
    result = runner.invoke(app, ["new-strategy", "rain_breakout", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("rain_breakout", "test_rain_breakout"):
        sys.modules.pop(name, None)
    importlib.import_module("test_rain_breakout").test_buys_the_breakout_and_sells_the_breakdown()
    # and a config names it by path, on real candles
    config = tmp_path / "run.toml"
    config.write_text(
        f"""
[run]
valuation_currency = "BTC"
[[instruments]]
preset = "bittrex_btc_pair:ETH"
[[data]]
format = "freqtrade_ohlcv"
instrument = "BITTREX:ETH/BTC"
path = "{shared_data / "freqtrade/ohlcv/ETH_BTC-5m.feather"}"
[venues.BITTREX]
balances = {{ BTC = "1" }}
[strategy]
path = "rain_breakout:RainBreakout"
params = {{ instrument_id = "BITTREX:ETH/BTC", lookback = 48, quantity = "0.5" }}
""",
        encoding="utf-8",
    )
    node = build_backtest(load_config(config))
    node.run()
    assert node.engine.fills  # the breakouts of real candles trade


def test_bad_names_and_existing_files_are_refused(tmp_path: Path) -> None:
    for bad in ("Rain", "class", "test_x", "9lives", "rain-breakout"):
        result = runner.invoke(app, ["new-strategy", bad, "--dir", str(tmp_path)])
        assert result.exit_code == 2, bad
        assert "NAME must be a snake_case module name" in result.stderr
    assert runner.invoke(app, ["new-strategy", "rain", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(app, ["new-strategy", "rain", "--dir", str(tmp_path)])
    assert again.exit_code == 2
    assert "exists (--force to overwrite)" in again.stderr
    assert runner.invoke(app, ["new-strategy", "rain", "--dir", str(tmp_path), "--force"]).exit_code == 0
