"""Generation time of the fair-value price paths.

Run: ``uv run python bench/bench_price_paths.py [days] [repeats]``. Prints figures only (no
assertions). The budget is "well under 10 s" for one simulated day on the 100 ms grid: 864,000
steps × 3 risky assets, with the calibrated parameters (``prices.CALIBRATED``).
"""

from __future__ import annotations

import statistics
import sys
from time import perf_counter

from spreadhawk.venues.simulated.market.prices import CALIBRATED, simulate_paths

START_NS = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC


def main(days: float = 1.0, repeats: int = 5) -> None:
    simulate_paths(CALIBRATED, start_ns=START_NS, hours=1, seed=0)  # warm-up: imports, allocator
    timings = []
    steps = 0
    for seed in range(repeats):
        began = perf_counter()
        paths = simulate_paths(CALIBRATED, start_ns=START_NS, hours=24 * days, seed=seed)
        timings.append(perf_counter() - began)
        steps = paths.steps
    assets = len(CALIBRATED.assets)
    best, median = min(timings), statistics.median(timings)
    print(f"{days:g} simulated day(s) at {CALIBRATED.step_ns / 1e6:g} ms: {steps:,} steps × {assets} risky assets")
    print(f"  seconds per run: best {best:.3f}, median {median:.3f} over {repeats} seeds")
    print(f"  steps/s (median): {steps / median:,.0f}; asset-steps/s: {steps * assets / median:,.0f}")
    print(f"  seconds per simulated day (median): {median / days:.3f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0, int(sys.argv[2]) if len(sys.argv) > 2 else 5)
