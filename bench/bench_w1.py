"""W1 of the peer workloads (../shared/bench/README.md): an SMA(10)/SMA(50) cross of the close,
long only, all in, 0.1 % fee per fill, over seeded GBM one-minute bars -- spreadhawk's side, with
its own engine, simulated venue and ``sma_cross`` strategy.

The bars follow the workload's rules (seed 42, start 30,000, sigma 0.0008 a bar, prices to 0.01,
every open the previous close) and are built before timing starts. Prints bars/s and microseconds
a bar for each length, so whether the cost grows with the data shows in one run (it did, with the
square of the fills, while a position copied its trade ids at every fill and the orphan guard
scanned every order at every position change: 35.6 us a bar at 1M bars then, 15.3 since).

    uv run python bench/bench_w1.py [--bars 62500 250000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from decimal import Decimal

import numpy as np

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Bar, MarketData
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.loader import build_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

MINUTE_NS = 60_000_000_000
T0_NS = 1_577_836_800_000_000_000  # 2020-01-01 UTC


def bars(n: int, instrument: InstrumentId, seed: int = 42) -> list[MarketData]:
    """The workload's bars: GBM closes, each open the previous close, wicks around them."""
    rng = np.random.default_rng(seed)
    sigma = 0.0008
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(-0.5 * sigma * sigma, sigma, n)))
    opens = np.concatenate([[30_000.0], close[:-1]])
    up, down = np.abs(rng.normal(0.0, sigma / 2, n)), np.abs(rng.normal(0.0, sigma / 2, n))
    opens, close = np.round(opens, 2), np.round(close, 2)
    high = np.maximum(np.round(np.maximum(opens, close) * (1 + up), 2), np.maximum(opens, close))
    low = np.minimum(np.round(np.minimum(opens, close) * (1 - down), 2), np.minimum(opens, close))
    volume = np.round(rng.lognormal(1.0, 0.75, n), 3) + 0.001
    return [
        Bar(instrument, T0_NS + (k + 1) * MINUTE_NS, MINUTE_NS, Decimal(f"{o:.2f}"), Decimal(f"{h:.2f}"),
            Decimal(f"{lo:.2f}"), Decimal(f"{c:.2f}"), Decimal(f"{v:.3f}"))
        for k, (o, h, lo, c, v) in enumerate(zip(opens, high, low, close, volume, strict=True))
    ]  # fmt: skip


def run_once(records: list[MarketData], instrument: Instrument) -> tuple[float, int]:
    seconds, engine = run_engine(records, instrument)
    return seconds, len(engine.fills)


def run_engine(records: list[MarketData], instrument: Instrument) -> tuple[float, Engine]:
    """The run's seconds, and the engine after it (its fills, its equity)."""
    engine = Engine([instrument], clock=SimClock(T0_NS), valuation_currency="USDT")
    venue = SimulatedVenue(instrument.venue, balances={"USDT": Decimal(1_000_000_000_000)})
    connect_simulated(engine, venue)
    strategy = build_strategy(
        "spreadhawk.strategy.library.sma_cross:SmaCross", {"instrument_id": str(instrument.id), "fast": 10, "slow": 50}
    )
    attach_strategy(engine, strategy)
    started = time.perf_counter()
    run_replay(engine, ReplayFeed([records]))
    return time.perf_counter() - started, engine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[62_500, 250_000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    instrument = Instrument(
        "SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", Decimal("0.01"), Decimal("0.000001"),
        maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
    )  # fmt: skip
    print("W1: SMA(10)/SMA(50) cross, long only, all in, 0.1 % fee; best of", args.repeat)
    for n in args.bars:
        records = bars(n, instrument.id)
        best, fills = min(run_once(records, instrument) for _ in range(args.repeat))
        print(f"  {n:>9,} bars: {n / best:>9,.0f} bars/s  {best / n * 1e6:6.1f} us/bar  {fills:,} fills  {best:.1f} s")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS {rss_mb:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
