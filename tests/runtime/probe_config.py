"""The run config both parity tests use: the Binance spot BTCUSDT capture as ``[[data]]`` (the
backtest's) and as a ``[[live]]`` feed (paper's), one simulated venue, and the BookProbe strategy."""

from __future__ import annotations

from pathlib import Path

from spreadhawk.runtime.config import RunConfig, load_config


def probe_config(shared_data: Path, tmp_path: Path, *, trade_every: int, host: str = "") -> RunConfig:
    capture = shared_data / "hftbacktest" / "binance_spot" / "btcusdt_20240808.gz"
    text = f"""
[run]
valuation_currency = "USDT"

[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "hftbacktest"
instrument = "BINANCE:BTC/USDT"
path = "{capture}"

[[live]]
venue = "BINANCE"
exchange = "binance"
instruments = ["BINANCE:BTC/USDT"]
host = "{host}"

[venues.BINANCE]
latency_ms = 0
balances = {{ USDT = "100000", BTC = "1" }}

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
id = "probe"
params = {{ instrument_id = "BINANCE:BTC/USDT", trade_every = {trade_every}, quantity = "0.002" }}
"""
    path = tmp_path / "probe.toml"
    path.write_text(text)
    return load_config(path)
