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


# --------------------------------------------------------------------------- the market channel, recorded
POLY = "nautilus_trader/polymarket"
YES_TOKEN = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
NO_TOKEN = "48331043336612883890938759509493159234755048973500640148014422747788308965732"
MARKET_ID = "0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917"
T0 = 1_730_000_000_000  # ms: the real payloads below are put on one timeline, a second apart


def _session(tmp_path: Path, shared_data: Path, extra: list[object] | None = None) -> Path:
    """Real market-channel payloads of the Trump 2024 market (book, price_change, last_trade_price),
    restamped into one session, with messages the format skips and a resolution (YES won)."""

    def real(name: str, at_s: int) -> dict[str, Any]:
        message: dict[str, Any] = json.loads((shared_data / POLY / "ws_messages" / f"{name}.json").read_text())
        return {**message, "timestamp": str(T0 + at_s * 1000)}

    lines: list[object] = [
        {"received_ms": T0 + 90, "message": [real("book", 0)]},  # the first books come as a list
        real("price_change", 1),
        {"event_type": "best_bid_ask", "asset_id": NO_TOKEN, "best_bid": "0.51", "best_ask": "0.514", "timestamp": "1"},
        {**real("last_trade_price", 2), "some_new_field": 1},
        {**real("book", 3), "asset_id": "999"},  # a token the markets file does not define
        {"event_type": "new_market", "id": "1", "timestamp": str(T0 + 3000)},
        *(extra or []),
        {"event_type": "market_resolved", "market": MARKET_ID, "winning_asset_id": YES_TOKEN, "winning_outcome": "Yes",
         "timestamp": str(T0 + 10_000)},
    ]  # fmt: skip
    path = tmp_path / "session.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    config = tmp_path / "market_channel.toml"
    config.write_text(
        f"""
[run]
valuation_currency = "USDC"

[[data]]
format = "polymarket"
path = "{path}"
markets_file = "{shared_data / POLY / "http_responses" / "market.json"}"

[venues.POLYMARKET]
balances = {{ USDC = "1000" }}

[[strategies]]
path = "updown_probe:UpDownProbe"
id = "hold"
params = {{ instrument_id = "POLYMARKET:will-donald-trump-win-the-2024-us-presidential-election-NO", quantity = "10" }}
""",
        encoding="utf-8",
    )
    return config


def test_a_recorded_market_channel_session_backtests_and_settles_on_its_resolution(
    tmp_path: Path, shared_data: Path
) -> None:
    node = build_backtest(load_config(_session(tmp_path, shared_data)))
    node.run()
    engine = node.engine
    book = json.loads((shared_data / POLY / "ws_messages" / "book.json").read_text())
    best_ask = min(Decimal(level["price"]) for level in book["asks"])
    assert best_ask == Decimal("0.514")
    (fill,) = engine.fills
    assert (fill.price, fill.quantity, fill.ts_ns) == (best_ask, Decimal(10), T0 * 10**6)
    # YES won: the 10 NO shares pay nothing
    assert engine.portfolio.ledger.balance("POLYMARKET", "USDC") == Decimal(1000) - 10 * best_ask - fill.fee
    assert engine.portfolio.ledger.balance("POLYMARKET", NO_TOKEN) == 0
    assert engine.portfolio.position(fill.instrument_id).quantity == 0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("{not json", "session.jsonl: line 7: invalid JSON"),
        (
            {
                "event_type": "tick_size_change",
                "asset_id": NO_TOKEN,
                "old_tick_size": "0.001",
                "new_tick_size": "0.01",
                "timestamp": str(T0 + 4000),
            },
            "session.jsonl: line 7: tick size of POLYMARKET:will-donald-trump-win-the-2024-us-presidential-election-NO "
            "changed to 0.01 (from 0.001)",
        ),
        ({"event_type": "book", "asset_id": NO_TOKEN, "bids": [], "timestamp": "1"}, "line 7: missing field 'asks'"),
    ],
    ids=["json", "tick-change", "field"],
)
def test_a_bad_line_names_the_file_and_the_line(
    tmp_path: Path, shared_data: Path, extra: object, expected: str
) -> None:
    config = _session(tmp_path, shared_data, [extra])
    if extra == "{not json":
        session = tmp_path / "session.jsonl"
        lines = session.read_text().splitlines()
        lines[6] = "{not json"
        session.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_feed(load_config(config))
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)
