"""Peak memory and cost per event of a backtest over N one-minute bars read from the Parquet catalog.

For each N a catalog of one instrument's bars is written straight with pyarrow (in the catalog's
one-file-per-name layout, which every version reads, so the same files measure the code before
and after streaming), then a child process runs ``spreadhawk backtest``'s path (``build_backtest``
and ``run``) with a strategy that receives every bar and does nothing (``Idle``) on it, and reports
its peak RSS (``ru_maxrss``, the whole process: interpreter, imports, engine) and wall time per
bar. A child per N: a process's peak RSS never goes down, so runs in one process would hide each
other's.

    .venv/bin/python bench/bench_stream_memory.py [--sizes 62500,250000,1000000,4000000] [--keep DIR]

To measure another checkout (e.g. the commit before streaming), put its ``src`` first:
``PYTHONPATH=/tmp/before/src .venv/bin/python bench/bench_stream_memory.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spreadhawk.domain.market import Bar
from spreadhawk.strategy.base import Strategy

INSTRUMENT = "BINANCE:BTC/USDT"
MINUTE_NS = 60 * 1_000_000_000
START_NS = 1_514_764_800 * 1_000_000_000  # 2018-01-01 UTC
ROW_GROUP = 65_536
CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from spreadhawk.runtime.config import load_config
    from spreadhawk.runtime.modes import build_backtest
    started = time.perf_counter()
    node = build_backtest(load_config(Path(sys.argv[1])))
    built = time.perf_counter()
    node.run()
    done = time.perf_counter()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = {"wall_s": done - started, "load_s": built - started, "peak_mb": peak_kb / 1024}
    print(json.dumps(figures | {"events": node.event_count}))
    """
)
CONFIG = """\
[run]
seed = 7
valuation_currency = "USDT"
equity_interval_s = 3600

[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "catalog"
instrument = "{instrument}"
kind = "bar"
path = "{catalog}"

[venues.BINANCE]
balances = {{ USDT = "100000" }}

[strategy]
path = "bench_stream_memory:Idle"
"""


def write_bars(folder: Path, n: int, seed: int = 7) -> Path:
    """``n`` one-minute bars of a random walk, written in row groups (never all of them as objects)."""
    path = folder / "bar" / INSTRUMENT.replace(":", "%3A").replace("/", "%2F") / "bench.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [("ts_ns", pa.int64()), ("interval_ns", pa.int64())] + [(c, pa.string()) for c in _PRICES]
    ).with_metadata({b"spreadhawk": json.dumps({"kind": "bar", "instrument_id": INSTRUMENT, "version": 1}).encode()})
    log_level = 0.0  # a multiplicative walk: prices stay positive however long it runs
    with pq.ParquetWriter(path, schema) as writer:
        for first in range(0, n, ROW_GROUP):
            rows = min(ROW_GROUP, n - first)
            walk = rng.normal(0.0, 0.0003, size=rows * 4).cumsum() + log_level
            log_level = float(walk[-1])
            steps = 30_000.0 * np.exp(walk.reshape(rows, 4))
            opens, closes = steps[:, 0].round(2), steps[:, 3].round(2)
            highs = np.maximum(steps.max(axis=1), np.maximum(opens, closes)).round(2)
            lows = np.minimum(steps.min(axis=1), np.minimum(opens, closes)).round(2)
            volume = rng.integers(1, 5_000, size=rows) / 1000
            columns = {
                "ts_ns": pa.array(START_NS + (np.arange(first, first + rows) + 1) * MINUTE_NS, pa.int64()),
                "interval_ns": pa.array(np.full(rows, MINUTE_NS), pa.int64()),
            }
            for name, values in zip(_PRICES, (opens, highs, lows, closes, volume), strict=True):
                columns[name] = pa.array([f"{v:.2f}" if name != "volume" else f"{v:.3f}" for v in values.tolist()])
            writer.write_table(pa.table(columns, schema=schema), row_group_size=ROW_GROUP)
    return path


_PRICES = ("open", "high", "low", "close", "volume")


class Idle(Strategy):
    """Receives every bar and does nothing: what is measured is the data path and the engine."""

    def on_bar(self, bar: Bar) -> None:
        pass


def measure(n: int, work: Path) -> dict[str, float]:
    catalog = work / f"catalog-{n}"
    write_bars(catalog, n)
    config = work / f"bench-{n}.toml"
    config.write_text(CONFIG.format(instrument=INSTRUMENT, catalog=catalog), encoding="utf-8")
    env = os.environ.copy()  # the child imports Idle from this file's folder
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(Path(__file__).parent)) if p)
    command = [sys.executable, "-c", CHILD, str(config)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"N={n}: the backtest failed: {done.stderr.strip().splitlines()[-1:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="62500,250000,1000000,4000000", help="bar counts, comma-separated")
    parser.add_argument("--keep", type=Path, help="write the catalogs here (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"{'bars':>10} {'peak RSS MB':>12} {'us/bar':>8} {'wall s':>8} {'of which load s':>16}", flush=True)
        for n in sizes:
            figures = measure(n, work)
            us = figures["wall_s"] / n * 1e6
            wall, load = figures["wall_s"], figures["load_s"]
            print(f"{n:>10,} {figures['peak_mb']:>12,.0f} {us:>8.1f} {wall:>8.1f} {load:>16.1f}", flush=True)
            for path in (work / f"catalog-{n}").rglob("*.parquet"):
                path.unlink()  # the next size's catalog only: the disk is shared


if __name__ == "__main__":
    main()
