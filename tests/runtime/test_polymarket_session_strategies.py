"""The recorded BTC and SOL up/down session with seed 004's four binary strategies (#12 acceptance):
``examples/polymarket_updown_session.toml`` backtests end to end, settles, and its PnL equals a
recomputation written here from the recorder's own JSON files (not from the engine's ledger).

What the recomputation checks, fill by fill: the price and size were on offer in the token's last
recorded book before the fill (the venue's 50 ms latency after the decision), and the cash each fill
moved. Then the settlement: the winning token pays 1 a share at 11:15 UTC (Up, as the last prints
show), the hourly market is not settled (its recording stops at 11:10) and is valued at its last mid.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.data.catalog import ParquetCatalog
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import QuoteTick
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.results import summarise
from spreadhawk.runtime.services import DataService

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "polymarket_updown_session.toml"
COLLECTOR = "polymarket_series/caiooooo_l2_collector"
START_USDC = Decimal(5000)
MS = 1_000_000


def _books(shared_data: Path, folder: str, side: str) -> list[tuple[int, list[tuple[Decimal, Decimal]]]]:
    """(timestamp ns, asks best first) of every recorded book of one token."""
    path = shared_data / COLLECTOR / folder / "orderbooks" / f"1765450800{side}.json"
    if not path.is_file():
        return []
    books: list[dict[str, Any]] = json.loads(path.read_text())
    return [
        (int(b["timestamp"]) * MS, sorted((Decimal(a["price"]), Decimal(a["size"])) for a in b["asks"])) for b in books
    ]


def _last_mid(shared_data: Path, folder: str, side: str) -> Decimal:
    path = shared_data / COLLECTOR / folder / "orderbooks" / f"1765450800{side}.json"
    last: dict[str, Any] = json.loads(path.read_text())[-1]
    bid = max(Decimal(b["price"]) for b in last["bids"])
    ask = min(Decimal(a["price"]) for a in last["asks"])
    return (bid + ask) / 2


@pytest.fixture(scope="module")
def run(shared_data: Path) -> Any:
    node = build_backtest(load_config(EXAMPLE))
    node.run()
    return node


def test_the_session_backtests_with_the_four_strategies_and_settles(run: Any, shared_data: Path) -> None:
    engine = run.engine
    assert sorted(s.id for s in run.strategies) == ["cross_btc", "fair_sol", "flow_btc", "pairs"]
    tokens = {
        f"POLYMARKET:{asset}-updown-{length}-1765450800-{side.upper()}": (f"{length}/{asset}", side)
        for asset, length in (("sol", "15m"), ("btc", "15m"), ("btc", "1h"))
        for side in ("up", "down")
    }
    assert engine.fills, "the session must trade for the recomputation to mean anything"
    cash = START_USDC
    held: dict[str, Decimal] = {}
    for fill in engine.fills:
        folder, side = tokens[fill.instrument_id]
        assert fill.side is OrderSide.BUY  # these strategies buy and hold to settlement
        # the book the venue matched against: the last recorded one at or before the fill
        (ts, asks), *_ = [b for b in reversed(_books(shared_data, folder, side)) if b[0] <= fill.ts_ns]
        assert fill.ts_ns - ts < 60_000 * MS
        on_offer = sum((size for price, size in asks if price <= fill.price), Decimal(0))
        assert fill.price in {price for price, _ in asks}
        assert fill.quantity <= on_offer
        assert fill.fee == 0  # no fee on these markets when recorded (the reader's default)
        cash -= fill.price * fill.quantity + fill.fee
        held[fill.instrument_id] = held.get(fill.instrument_id, Decimal(0)) + fill.quantity
    value = Decimal(0)
    for iid, shares in held.items():
        folder, side = tokens[iid]
        if folder.startswith("15m"):  # settled at 11:15: Up won
            value += shares * (1 if side == "up" else 0)
        else:  # the hourly market: still open when the recording ends
            value += shares * _last_mid(shared_data, folder, side)
    paid_out = sum(
        (shares for iid, shares in held.items() if tokens[iid][0].startswith("15m") and tokens[iid][1] == "up"),
        Decimal(0),
    )
    assert engine.portfolio.ledger.balance("POLYMARKET", "USDC") == cash + paid_out
    assert summarise(engine).final_equity == cash + value
    per_strategy = sum((engine.attribution.pnl(s.id) for s in run.strategies), Decimal(0))
    assert per_strategy == cash + value - START_USDC


def test_what_each_strategy_could_do_on_this_recording(run: Any) -> None:
    """The limits the example's header states, held to: no pair ever summed below 1 (nothing to
    lock), no 15-minute BTC book (no cross-market pair), no Binance prints (no order flow)."""
    stats = {s.id: s.stats() for s in run.strategies}
    assert stats["pairs"]["opportunities_seen"] == 0
    assert stats["cross_btc"]["opportunities_seen"] == 0
    assert stats["flow_btc"]["fit_pairs"] == 0
    assert stats["fair_sol"]["fills"] > 0


REFERENCE_TWICE = """
[run]
valuation_currency = "USDC"

[[instruments]]
venue = "BINANCE"
symbol = "BTC/USDT"
kind = "spot"
base = "BTC"
quote = "USDT"
tick_size = "{tick}"
lot_size = "0.00001"
size_increment = "0.00000001"

[[data]]
format = "polymarket_collector"
path = "{folder}"

[venues.POLYMARKET]
balances = {{ USDC = "100" }}

[[strategies]]
path = "spreadhawk.strategy.library.binary_pair_arb:BinaryPairArb"
params = {{ venue = "POLYMARKET" }}
"""


def test_a_reference_declared_twice_must_be_the_same_instrument(shared_data: Path, tmp_path: Path) -> None:
    """[[instruments]] may declare what a recording declares (a paper config that backtests too) only
    with the very same definition; another tick size is an error naming the instrument."""
    folder = shared_data / COLLECTOR / "1h" / "btc"
    same, other = tmp_path / "same.toml", tmp_path / "other.toml"
    same.write_text(REFERENCE_TWICE.format(tick="0.01", folder=folder), encoding="utf-8")
    other.write_text(REFERENCE_TWICE.format(tick="0.1", folder=folder), encoding="utf-8")
    assert "BINANCE:BTC/USDT" in build_backtest(load_config(same)).engine.instruments
    with pytest.raises(ConfigError, match=r"BINANCE:BTC/USDT is declared and also read from polymarket_collector"):
        build_backtest(load_config(other))


def test_the_session_imports_into_the_catalog_with_the_shared_reference_merged(
    shared_data: Path, tmp_path: Path
) -> None:
    """``spreadhawk import``: the two BTC recordings' Binance quotes go into one file, in time order
    (appended source after source, the catalog refused them: time went back)."""
    config = load_config(EXAMPLE)
    entries = DataService(ParquetCatalog(tmp_path / "catalog")).import_config(config, "pm")
    rows = {(e.kind, str(e.instrument_id)): e.rows for e in entries}
    feed = load_feed(config)
    quotes = [r for source in feed.sources for r in source if isinstance(r, QuoteTick)]
    btc = [q for q in quotes if q.instrument_id == "BINANCE:BTC/USDT"]
    assert rows[("quote_tick", "BINANCE:BTC/USDT")] == len(btc) > 0
    assert rows[("instrument_settled", "POLYMARKET:sol-updown-15m-1765450800-UP")] == 1


def test_the_imported_session_backtests_from_the_catalog_alone(shared_data: Path, tmp_path: Path) -> None:
    """The tokens exist for fifteen minutes and were declared by the recording, not the config: the
    import keeps their definitions beside the data, so a config naming only the catalog replays the
    session with the same fills and PnL as the recording read directly."""
    catalog = tmp_path / "catalog"
    config = load_config(EXAMPLE)
    DataService(ParquetCatalog(catalog)).import_config(config, "pm")
    body = EXAMPLE.read_text(encoding="utf-8")
    head, _, rest = body.partition("[[data]]")
    strategies = "[venues.POLYMARKET]" + rest.partition("[venues.POLYMARKET]")[2]
    from_catalog = tmp_path / "from_catalog.toml"
    from_catalog.write_text(f'{head}[[data]]\nformat = "catalog"\npath = "{catalog}"\n\n{strategies}', encoding="utf-8")
    direct, stored = build_backtest(config), build_backtest(load_config(from_catalog))
    direct.run()
    stored.run()
    fills = [
        [(f.instrument_id, f.side, f.price, f.quantity, f.fee) for f in node.engine.fills] for node in (direct, stored)
    ]
    assert fills[0] == fills[1]
    assert fills[0]  # the session traded
    assert summarise(stored.engine).final_equity == summarise(direct.engine).final_equity
    up = stored.engine.instruments[InstrumentId("POLYMARKET:sol-updown-15m-1765450800-UP")]
    assert (up.kind, up.expiry_ns, up.size_increment) == (
        InstrumentKind.BINARY,
        1_765_451_700 * 10**9,
        Decimal("0.000001"),
    )
