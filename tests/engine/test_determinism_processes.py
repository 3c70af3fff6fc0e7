"""Determinism across processes (#11): the same config and seed give the same orders, fills, equity and
journal in two interpreters started with different string-hash seeds (``PYTHONHASHSEED``), so no
result depends on set or dict-of-str iteration order. In one process this cannot be caught."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "src/spreadhawk/runtime/presets/demo_market.toml"  # eleven strategies, every kind of venue
RUN = """
import hashlib, sys
from dataclasses import replace
from pathlib import Path
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import build_backtest
config = load_config(Path(sys.argv[1]), ["data.0.hours=0.5", f"run.journal={sys.argv[2]!r}"])
node = build_backtest(config)
node.run()
engine = node.engine
digest = hashlib.sha256()
# an order's trade ids are a frozenset, whose repr follows the hash seed: compared sorted (as stored)
orders = [(cid, replace(o, trade_ids=frozenset()), sorted(o.trade_ids)) for cid, o in sorted(engine.orders.items())]
for part in (orders, engine.fills, engine.equity_curve, engine.portfolio.ledger.postings):
    digest.update(repr(part).encode())
digest.update(Path(sys.argv[2]).read_bytes())
print(len(engine.fills), digest.hexdigest())
"""


def _run(hash_seed: str, journal: Path) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run([sys.executable, "-c", RUN, str(DEMO), str(journal)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_two_interpreters_with_different_hash_seeds_give_identical_runs(tmp_path: Path) -> None:
    first = _run("1", tmp_path / "a.journal")
    second = _run("4242", tmp_path / "b.journal")
    fills = int(first.split()[0])
    assert fills > 50  # eleven strategies traded: there was something to compare
    assert first == second
