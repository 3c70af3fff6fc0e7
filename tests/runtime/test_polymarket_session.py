"""A recorded Polymarket session backtests end to end (#12 item 1): the real SOL 15-minute up/down
market of 2025-12-11 11:00-11:15 UTC (Caiooooo/polymarket-l2-collector: 248 book messages of each
token, 247 prints, the Binance SOLUSDT mid), read by the ``polymarket_collector`` format and settled
on the resolution given in the config. Expected values come from the recorder's JSON, read here."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.domain.events import PostingReason
from spreadhawk.domain.market import QuoteTick
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.modes import build_backtest

SESSION = "polymarket_series/caiooooo_l2_collector/15m/sol"
UP = "POLYMARKET:sol-updown-15m-1765450800-UP"
DOWN = "POLYMARKET:sol-updown-15m-1765450800-DOWN"
CONFIG = """
[run]
valuation_currency = "USDC"

[[data]]
format = "polymarket_collector"
path = "{session}"
{winner}

[venues.POLYMARKET]
balances = {{ USDC = "1000" }}

[[strategies]]
path = "spreadhawk.strategy.library.binary_pair_arb:BinaryPairArb"
id = "pairs"
params = {{ venue = "POLYMARKET" }}

[[strategies]]
path = "updown_probe:UpDownProbe"
id = "hold"
params = {{ instrument_id = "{up}", quantity = "10" }}
"""


def _config(tmp_path: Path, shared_data: Path, winner: str = 'winner = "Up"') -> Path:
    path = tmp_path / "session.toml"
    path.write_text(CONFIG.format(session=shared_data / SESSION, winner=winner, up=UP), encoding="utf-8")
    return path


def _raw(shared_data: Path, kind: str, side: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((shared_data / SESSION / kind / f"1765450800{side}.json").read_text())
    return data


def test_the_session_replays_trades_and_settles(tmp_path: Path, shared_data: Path) -> None:
    node = build_backtest(load_config(_config(tmp_path, shared_data)))
    node.run()
    engine = node.engine
    # the recorder's first UP book: its best ask, 0.48 x 150, takes the probe's market buy of 10
    first_up = _raw(shared_data, "orderbooks", "up")[0]
    best_ask = min(first_up["asks"], key=lambda level: Decimal(level["price"]))
    assert (best_ask["price"], Decimal(best_ask["size"]) >= 10) == ("0.48", True)
    (fill,) = [f for f in engine.fills if f.instrument_id == UP]
    assert (fill.price, fill.quantity, fill.fee) == (Decimal("0.48"), Decimal(10), Decimal(0))
    assert fill.ts_ns == int(first_up["timestamp"]) * 10**6
    # no YES/NO arbitrage: UP ask + DOWN ask is at least 1.01 in every one of the 246 paired books
    ups, downs = _raw(shared_data, "orderbooks", "up"), _raw(shared_data, "orderbooks", "down")
    sums = [min(Decimal(a["price"]) for a in u["asks"]) + min(Decimal(a["price"]) for a in d["asks"])
            for u, d in zip(ups, downs, strict=True) if u["asks"] and d["asks"]]  # fmt: skip
    assert min(sums) == Decimal("1.01")
    assert [f for f in engine.fills if f.instrument_id == DOWN] == []
    # settled on the resolution: 10 Up tokens pay 1 each
    settled = [
        p for p in engine.portfolio.ledger.postings if p.reason is PostingReason.SETTLEMENT and p.asset == "USDC"
    ]
    assert sum((p.amount for p in settled), Decimal(0)) == Decimal(10)
    assert engine.portfolio.ledger.balance("POLYMARKET", "USDC") == Decimal(1000) - Decimal("4.8") + Decimal(10)
    assert engine.portfolio.ledger.balance("POLYMARKET", "sol-updown-15m-1765450800-UP") == 0


def test_the_reference_mid_is_the_recorded_one(tmp_path: Path, shared_data: Path) -> None:
    feed = load_feed(load_config(_config(tmp_path, shared_data)))
    quotes = [r for source in feed.sources for r in source if isinstance(r, QuoteTick)]
    recorded = [Decimal(repr(r["asset_price"])) for r in _raw(shared_data, "orderbooks", "up")]
    mids = {(q.bid + q.ask) * Decimal("0.01") / 2 for q in quotes}
    assert mids <= {m.quantize(Decimal("0.001")) for m in recorded}  # every quote's mid was recorded
    assert all(q.ask - q.bid in (1, 2) for q in quotes)  # the tightest 0.01 spread around the mid
    assert quotes[0].ts_ns == int(_raw(shared_data, "orderbooks", "up")[0]["timestamp"]) * 10**6


def test_a_bad_winner_is_a_config_error(tmp_path: Path, shared_data: Path) -> None:
    with pytest.raises(ConfigError, match=r"data\.0\.winner"):
        load_config(_config(tmp_path, shared_data, winner='winner = "up"'))
