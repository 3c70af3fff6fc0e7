"""Market data that no exchange could have sent stops the run before it starts, with one line naming
the file's source, the record and the field (#11: negative prices ran to completion). The files are
real freqtrade candles from ../shared/data, copied to a temporary folder and broken one way each."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.feeds import load_feed

pytestmark = pytest.mark.real_data
CANDLES = "freqtrade/ohlcv/ADA_BTC-1m.json"


def _config(tmp_path: Path, candles: list[list[float]]) -> Path:
    data = tmp_path / "ADA_BTC-1m.json"
    data.write_text(json.dumps(candles))
    path = tmp_path / "bars.toml"
    path.write_text(f"""
[run]
valuation_currency = "BTC"

[[instruments]]
preset = "bittrex_btc_pair:ADA"

[[data]]
format = "freqtrade_ohlcv"
instrument = "BITTREX:ADA/BTC"
path = "{data}"

[venues.BITTREX]
balances = {{ BTC = "1" }}

[strategy]
path = "spreadhawk.strategy.library.sma_cross:SmaCross"
params = {{ instrument_id = "BITTREX:ADA/BTC", fast = 10, slow = 50 }}
""")
    return path


@pytest.mark.parametrize(
    ("row", "column", "value", "expected"),
    [
        (120, 4, -5.3e-05, "record 121 (Bar BITTREX:ADA/BTC): close -0.000053 must be positive"),
        (7, 1, 0.0, "record 8 (Bar BITTREX:ADA/BTC): open 0.0 must be positive"),
        (30, 5, -1.0, "record 31 (Bar BITTREX:ADA/BTC): volume -1.0 must not be negative"),
        (40, 2, 1e-08, "record 41 (Bar BITTREX:ADA/BTC): low"),  # a high under the low
        (50, 0, 1516424100000, "record 51 (Bar BITTREX:ADA/BTC): ts_ns"),  # back to the first candle's time
    ],
)
def test_a_broken_candle_stops_the_run_naming_the_record_and_the_field(
    shared_data: Path, tmp_path: Path, row: int, column: int, value: float, expected: str
) -> None:
    candles = json.loads((shared_data / CANDLES).read_text())[:200]
    candles[row][column] = value
    config = load_config(_config(tmp_path, candles))
    with pytest.raises(ConfigError) as raised:
        load_feed(config)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("data.0 (")
    assert expected in message


def test_the_same_candles_unbroken_load(shared_data: Path, tmp_path: Path) -> None:
    candles = json.loads((shared_data / CANDLES).read_text())[:200]
    feed = load_feed(load_config(_config(tmp_path, candles)))
    assert feed.count == 200


def test_a_file_that_yields_no_record_is_an_error_not_an_empty_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"data.0 \(.*ADA_BTC-1m.json\): no freqtrade_ohlcv records read"):
        load_feed(load_config(_config(tmp_path, [])))


def test_out_of_order_candles_stop_the_run_unless_sorting_is_asked_for(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    candles = json.loads((shared_data / CANDLES).read_text())[:200]
    candles[50], candles[51] = candles[51], candles[50]
    path = _config(tmp_path, candles)
    with pytest.raises(ConfigError) as raised:
        load_feed(load_config(path))
    assert "record 52 (Bar BITTREX:ADA/BTC): ts_ns" in str(raised.value)
    assert "set sort = true on this [[data]] to sort them" in str(raised.value)
    with caplog.at_level(logging.WARNING):
        feed = load_feed(load_config(path, ["data.0.sort=true"]))
    times = [record.ts_ns for record in feed.sources[0]]
    assert times == sorted(times)
    assert len(times) == 200
    assert "data.0 (" in caplog.text
    assert "1 record out of time order: sorted (sort = true)" in caplog.text


def test_ordered_candles_with_sort_asked_for_say_nothing(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    candles = json.loads((shared_data / CANDLES).read_text())[:200]
    with caplog.at_level(logging.WARNING):
        feed = load_feed(load_config(_config(tmp_path, candles), ["data.0.sort=true"]))
    assert feed.count == 200
    assert "out of time order" not in caplog.text
