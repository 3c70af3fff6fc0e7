"""Cross pairs of the market simulator: an ETH/BTC book per venue, consistent with its X/USDT books.

A venue's ETH/BTC shows its displayed ETH/USDT over its displayed BTC/USDT (plus dislocations of its
own), so the triangle ETH/USDT - ETH/BTC - BTC/USDT closes at the mids up to the books' spreads and
publication grids; triangular arbitrage finds a few small opportunities, which latency takes away.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES

S = 1_000_000_000


def test_cross_books_rules_and_default_unchanged() -> None:
    plain = MarketSimulator(MarketSimulatorConfig(hours=0.1, seed=2, perps=False, binaries=False))
    cross = MarketSimulator(
        MarketSimulatorConfig(hours=0.1, seed=2, perps=False, binaries=False, cross_pairs=(("ETH", "BTC"),))
    )
    # Adding the cross pair leaves every other stream as it was.
    assert {k: v for k, v in cross.stream_counts().items() if not k.startswith("cross/")} == plain.stream_counts()
    books = {str(i.id): i for i in cross.instruments() if i.quote == "BTC"}
    assert sorted(books) == ["ALPHA:ETH/BTC", "BETA:ETH/BTC", "GAMMA:ETH/BTC"]
    for venue in DEFAULT_VENUES:
        inst = books[f"{venue.name}:ETH/BTC"]
        assert (inst.base, inst.quote) == ("ETH", "BTC")
        assert (inst.tick_size, inst.lot_size, inst.min_notional) == (
            Decimal("0.00001"),
            Decimal("0.0001"),
            Decimal("0.0001"),
        )
        assert (inst.maker_fee, inst.taker_fee) == (venue.maker_fee, venue.taker_fee)
    only = MarketSimulator(
        MarketSimulatorConfig(
            hours=0.1, perps=False, binaries=False, cross_pairs=(("ETH", "BTC"),), cross_venues=("BETA",)
        )
    )
    assert [str(i.id) for i in only.instruments() if i.quote == "BTC"] == ["BETA:ETH/BTC"]
    # A cross book's own dislocations are ground truth like the others.
    assert all(d.venue in ("BETA", "GAMMA") for d in cross.dislocations if d.asset == "ETH/BTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cross_pairs": (("ETH", "SOL"),)}, "not among the simulated assets"),
        ({"cross_pairs": (("ETH", "ETH"),)}, "two different assets"),
        ({"cross_pairs": (("ETH", "BTC"), ("ETH", "BTC"))}, "listed twice"),
        ({"cross_pairs": (("ETH", "BTC"),), "cross_venues": ("DELTA",)}, "not simulated venues"),
    ],
)
def test_bad_cross_pairs(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MarketSimulatorConfig(**kwargs)


def _triangle_deviation_bps(venue: str, hours: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Once a second: ln(ETH/USDT) - ln(ETH/BTC) - ln(BTC/USDT) at the mids, and the three books'
    summed relative spreads, both in bps."""
    sim = MarketSimulator(
        MarketSimulatorConfig(
            hours=hours, seed=seed, perps=False, binaries=False, cross_pairs=(("ETH", "BTC"),), cross_venues=(venue,)
        )
    )
    insts = {i.symbol: i for i in sim.instruments() if i.venue == venue}
    books = {inst.id: OrderBook(inst.id) for inst in insts.values()}
    ids = [insts[s].id for s in ("ETH/USDT", "ETH/BTC", "BTC/USDT")]
    ticks = {inst.id: float(inst.tick_size) for inst in insts.values()}
    deviation, spreads = [], []
    next_ns = sim.config.start_ns + S
    for record in sim:
        if record.ts_ns >= next_ns and all(books[i].update_count for i in ids):
            next_ns = record.ts_ns + S
            mids = [_mid(books[i]) * ticks[i] for i in ids]
            deviation.append((math.log(mids[0]) - math.log(mids[1]) - math.log(mids[2])) * 1e4)
            spread = sum((books[i].spread_ticks() or 0) * ticks[i] / m for i, m in zip(ids, mids, strict=True))
            spreads.append(spread * 1e4)
        if isinstance(record, BookSnapshot | BookDeltas) and record.instrument_id in books:
            assert books[InstrumentId(record.instrument_id)].apply(record)
    return np.array(deviation), np.array(spreads)


def _mid(book: OrderBook) -> float:
    mid = book.mid_ticks()
    assert mid is not None
    return mid


@pytest.mark.parametrize("venue", ["ALPHA", "BETA"])
def test_triangle_closes_at_the_mids(venue: str) -> None:
    deviation, spreads = _triangle_deviation_bps(venue, hours=1.0, seed=5)
    assert len(deviation) > 3000
    within = np.abs(deviation) <= 3 * spreads
    print(
        f"\n{venue}: |triangle deviation| median {np.median(np.abs(deviation)):.2f} bps, p99 "
        f"{np.percentile(np.abs(deviation), 99):.2f} bps; summed spreads median {np.median(spreads):.2f} bps; "
        f"within 3 spreads {within.mean():.1%}"
    )
    assert within.mean() > 0.95  # BETA's own cross dislocations make the rest
    assert abs(float(np.median(deviation))) < 1.0  # no bias


def _tri_run(latency_ms: float, hours: float = 4.0) -> dict[str, dict[str, Any]]:
    body: dict[str, Any] = {
        "run": {"seed": 11},
        "data": [
            {
                "format": "market_simulator",
                "hours": hours,
                "perps": False,
                "binaries": False,
                "cross_pairs": [["ETH", "BTC"]],
                "cross_venues": ["BETA", "GAMMA"],
            }
        ],
        "venues": {
            name: {"latency_ms": latency_ms, "balances": {"USDT": "20000", "BTC": "1", "ETH": "15"}}
            for name in ("ALPHA", "BETA", "GAMMA")
        },
        "strategies": [
            {
                "id": f"tri_{name.lower()}",
                "path": "spreadhawk.strategy.library.triangular_arb:TriangularArb",
                "params": {
                    "venue": name,
                    "start_assets": ["USDT"],
                    "max_start_amount": {"USDT": "2000"},
                    "max_legging_loss": "0.002",
                },
            }
            for name in ("BETA", "GAMMA")
        ],
    }
    node = build_backtest(RunConfig.model_validate(body))
    node.run()
    out = {}
    for strategy in node.strategies:
        stats = strategy.stats()
        stats["pnl"] = node.attribution.pnl(strategy.id)  # net of fees, USDT
        out[strategy.id] = stats
    return out


def test_triangular_arb_finds_few_small_opportunities_that_latency_takes() -> None:
    low, high = _tri_run(latency_ms=30.0), _tri_run(latency_ms=1000.0)
    for sid in ("tri_beta", "tri_gamma"):
        a, b = low[sid], high[sid]
        print(
            f"\n{sid}: seen {a['opportunities_seen']}, taken {a['opportunities_taken']} -> {b['opportunities_taken']}, "
            f"complete {a['execution']['complete']} -> {b['execution']['complete']}, "
            f"expected {a['expected_profit']} -> {b['expected_profit']}, PnL net of fees {a['pnl']:.2f} -> "
            f"{b['pnl']:.2f} USDT"
        )
        assert a["cycles"] == 2
        assert 1 <= a["opportunities_seen"] <= 20 * 4  # a few an hour at most
        taken = a["opportunities_taken"]
        assert taken >= 1
        per_cycle_bps = float(a["expected_profit"]["USDT"]) / taken / 2000 * 1e4
        assert per_cycle_bps < 50  # small: tens of bps on the start amount at most
        # The books are the same; what latency changes is what is left when the legs arrive.
        assert a["opportunities_seen"] == b["opportunities_seen"]
        assert b["execution"]["complete"] <= a["execution"]["complete"] / 2


def test_config_cross_pairs_errors() -> None:
    body: dict[str, Any] = {
        "data": [{"format": "market_simulator", "hours": 0.1, "cross_pairs": [["ETH", "BTC", "SOL"]]}],
        "strategy": {"path": "spreadhawk.strategy.library.sma_cross:SmaCross", "params": {}},
    }
    with pytest.raises(ConfigError, match="cross_pairs: expected"):
        build_backtest(RunConfig.model_validate(body))
