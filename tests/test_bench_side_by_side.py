"""The side-by-side bench (bench/side_by_side.py, bench/side_spreadhawk.py): its tables on canned
records, and W2's spreadhawk side sending its orders through the engine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}_under_test", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def record(engine: str, workload: str, rate: float, rss: float, **extra: Any) -> dict[str, Any]:
    return {"engine": engine, "workload": workload, "rate": rate, "child_rss_mb": rss, **extra}


def test_table_gives_min_median_max_rss_fills_and_the_ratio_to_spreadhawk() -> None:
    side = load("side_by_side")
    records = [
        record("spreadhawk 0.1.0", "W1", 30_000, 900, fills=27_647, final_equity=5.6e11),
        record("nautilus_trader 1.221.0", "W1", 20_000, 1_500, fills=27_647, final_equity=5.6e11),
        record("spreadhawk 0.1.0", "W1", 10_000, 950, fills=27_647, final_equity=5.6e11),
        record("nautilus_trader 1.221.0", "W1", 40_000, 1_400, fills=27_647, final_equity=5.6e11),
        record("spreadhawk 0.1.0", "W1", 20_000, 920, fills=27_647, final_equity=5.6e11),
        record("nautilus_trader 1.221.0", "W1", 90_000, 1_450, fills=27_646, final_equity=5.6e11),
        {"engine": "backtrader (backtrader)", "workload": "W1", "status": "not installed"},
        {"engine": "spreadhawk 0.1.0", "workload": "W5", "p50_us": 80.0, "child_rss_mb": 200, "p99_us": 300.0},
    ]
    text = side.tables(records)
    w1 = text.split("### W5")[0].splitlines()
    assert w1[0] == "### W1"
    # best median first: nautilus (40k) ahead of spreadhawk (20k), which is its own reference
    assert w1[3].split(" | ") == [
        "| nautilus_trader 1.221.0", "3", "20,000", "40,000", "90,000", "1,500", "27,647/27,646",
        "560,000,000,000.00", "x2", "- |",
    ]  # fmt: skip
    assert w1[4].split(" | ")[1:6] == ["3", "10,000", "20,000", "30,000", "950"]
    assert w1[4].endswith("| x1 | - |")
    assert w1[5].startswith("| backtrader (backtrader) | not installed |")
    assert "| spreadhawk 0.1.0 | 1 | 80.0 | 80.0 | 80.0 | 200 | - | - | x1 | p99_us 300.0 |" in text  # lower is better


def test_only_picks_workloads_and_engines_and_keeps_spreadhawk() -> None:
    side = load("side_by_side")
    jobs = side.selected("W2,nautilus")
    assert [(j.key, j.workload) for j in jobs] == [("spreadhawk", "W2"), ("nautilus", "W2")]
    assert {j.workload for j in side.selected("")} == {"W1", "W2", "OB", "W3", "W4", "W5"}


def test_a_missing_peers_interpreter_means_every_peer_is_not_installed(tmp_path: Path) -> None:
    side = load("side_by_side")
    assert side.missing_modules(tmp_path / "no-python", ["numba", "vectorbt"]) == {"numba", "vectorbt"}


def quotes(n: int) -> dict[str, Any]:
    rng = np.random.default_rng(7)
    bid = np.round(30_000 + np.cumsum(rng.integers(-2, 3, n)) * 0.01, 2)
    return {
        "ts": 1_577_836_800_000_000_000 + np.arange(n, dtype=np.int64) * 100_000_000,
        "bid": bid,
        "ask": np.round(bid + rng.integers(1, 4, n) * 0.01, 2),
        "bid_size": np.full(n, 1.5),
        "ask_size": np.full(n, 2.0),
    }


def test_w2_reads_every_tick_and_alternates_market_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = load("side_spreadhawk")
    monkeypatch.setattr(ours, "ORDER_EVERY", 100)  # 10,000 ticks: the 100 orders of 1M ticks at 10,000
    n = 10_000
    arrays = quotes(n)
    bid = arrays["bid"]
    inst = ours.instrument("0.001")
    _, strategy, engine = ours.run_w2(ours.quote_snapshots(arrays, inst), inst)
    assert (strategy.ticks, strategy.orders, strategy.fills) == (n, 100, 100)
    assert strategy.mid_ticks_sum == int(np.rint((bid + arrays["ask"]) * 100).sum())
    sides = [order.side for order in engine.orders.values()]
    assert sides == [ours.OrderSide.BUY, ours.OrderSide.SELL] * 50
    assert engine.portfolio.position(inst.id).quantity == 0  # alternating: flat after an even count


def test_ob_level_updates_keep_the_book_at_each_quote() -> None:
    ours = load("side_spreadhawk")
    n = 2_000
    arrays = quotes(n)
    inst = ours.instrument("0.001")
    updates = ours.book_updates(arrays, inst)
    book = ours.OrderBook(inst.id)
    touches = []
    for update in updates:
        book.apply(update)
        touches.append((book.best_bid()[0], book.best_ask()[0], len(book.levels(0)), len(book.levels(1))))
    bid, ask = np.rint(arrays["bid"] * 100).astype(int), np.rint(arrays["ask"] * 100).astype(int)
    assert touches == [(b, a, 1, 1) for b, a in zip(bid.tolist(), ask.tolist(), strict=True)]
    moved = int((np.diff(bid) != 0).sum() + (np.diff(ask) != 0).sum())
    assert sum(len(u.bids) + len(u.asks) for u in updates) == 2 * n + moved  # the peers' row count
