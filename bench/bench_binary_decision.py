"""Seed 004's latency target inside the process: from a binary strategy's decision (its
``ctx.submit``) to the order reaching the venue port (``Venue.submit``), p99 under 1 ms.

What lies between the two is the order path a paper or live node runs: the exchange rules, the risk
engine's pre-trade checks (``[risk]`` on), the order intent appended to the journal *with an fsync*
(paper and live durability: an intent is on disk before it may leave), and the hand-over to the
venue. The strategies are the four of seed 004 on the embedded market's 15-minute up/down markets
(``examples/binary_*_sim.toml``, six hours each); the clock is simulated, so only the order path's own
time is measured (``perf_counter_ns`` around it), not waiting for market data.

    uv run python bench/bench_binary_decision.py [--hours 1] [--no-fsync]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import build_backtest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CONFIGS = ("binary_pairs_sim", "binary_fair_value_sim", "binary_cross_market_sim", "binary_order_flow_sim")


def measure(name: str, hours: float, fsync: bool, folder: Path) -> list[int]:
    """Decision-to-venue latencies (ns) of every order the strategies of ``name`` sent."""
    config = load_config(EXAMPLES / f"{name}.toml", [f"data.0.hours={hours}", "risk.enabled=true"])
    node = build_backtest(config)
    engine = node.engine
    durability = Durability.SYNC_INTENTS if fsync else Durability.BUFFERED
    engine.journal = Journal(folder / f"{name}.journal", durability=durability)
    decided: list[int] = []
    latencies: list[int] = []

    submit = engine.submit

    def timed_submit(command: Any) -> Any:  # the decision: a strategy's ctx.submit calls this
        decided.append(time.perf_counter_ns())
        return submit(command)

    engine.submit = timed_submit  # type: ignore[method-assign]
    for venue in node.venues.values():
        venue_submit: Callable[[Any], None] = venue.submit

        def arrived(command: Any, forward: Callable[[Any], None] = venue_submit) -> None:
            latencies.append(time.perf_counter_ns() - decided[-1])
            forward(command)

        venue.submit = arrived  # type: ignore[method-assign]
    node.run()
    engine.journal.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--no-fsync", action="store_true", help="buffered journal (the backtest's)")
    args = parser.parse_args()
    fsync = not args.no_fsync
    print(f"decision -> venue port, in process; journal {'fsynced per intent' if fsync else 'buffered'}")
    everything: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        for name in CONFIGS:
            found = measure(name, args.hours, fsync, Path(folder))
            everything += found
            print(f"  {name:<24} {_quantiles(found)}")
    print(f"  {'all':<24} {_quantiles(everything)}")
    return 0


def _quantiles(values: list[int]) -> str:
    if len(values) < 2:
        return f"{len(values)} orders"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"{len(values):>6,} orders  p50 {cuts[49] / 1000:7.1f} us  p99 {cuts[98] / 1000:7.1f} us  "
        f"max {max(values) / 1000:8.1f} us"
    )


if __name__ == "__main__":
    sys.exit(main())
