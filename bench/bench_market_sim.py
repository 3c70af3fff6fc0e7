"""Throughput of the market simulator: records generated per second, and replayed per second through
the engine (one ``SimulatedVenue`` per venue, no strategy), for one simulated hour, extrapolated to a day.

    uv run python bench/bench_market_sim.py [--hours H] [--seed N] [--day]

``--day`` also runs a whole simulated day end to end (generation streamed into the replay), which
is what a one-day backtest costs.
"""

from __future__ import annotations

import argparse
import time

from spreadhawk.domain.market import BookDeltas, BookSnapshot, MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated


def engine_for(sim: MarketSimulator) -> Engine:
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    for name in sorted({inst.venue for inst in sim.instruments()}):
        connect_simulated(engine, SimulatedVenue(name))
    return engine


def rate(label: str, count: int, seconds: float, unit: str = "records") -> None:
    print(f"{label:<44} {count:>11,} {unit} in {seconds:7.2f} s = {count / seconds:>11,.0f} {unit}/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day", action="store_true", help="also run a full simulated day end to end")
    args = parser.parse_args()

    started = time.perf_counter()
    sim = MarketSimulator(MarketSimulatorConfig(hours=args.hours, seed=args.seed))
    planned = time.perf_counter() - started
    started = time.perf_counter()
    levels = 0
    for record in sim:  # streamed, as a backtest consumes it (a list would time the garbage collector)
        if type(record) is BookDeltas or type(record) is BookSnapshot:
            levels += len(record.bids) + len(record.asks)
    generated = time.perf_counter() - started
    records: list[MarketData] = list(sim)  # the same records again, held for the replay timing
    print(f"{args.hours:g} simulated hour(s), {len(sim.instruments())} instruments, {len(records):,} records")
    rate("price paths + plans", len(records), planned)
    rate("generation (writing records)", len(records), generated)
    rate("generation, total", len(records), planned + generated)
    print(f"{'book level changes':<44} {levels:>11,} ({levels / len(records):.1f} per record)")

    engine = engine_for(sim)
    started = time.perf_counter()
    run_replay(engine, records)
    replayed = time.perf_counter() - started
    rate("replay through the engine (no strategy)", len(records), replayed)

    day = MarketSimulator(MarketSimulatorConfig(hours=24, seed=args.seed)).records_count
    per_record = (planned + generated + replayed) / len(records)
    print(
        f"extrapolated day: {day:,} records, ~{day * (planned + generated) / len(records):.1f} s to generate, "
        f"~{day * replayed / len(records):.1f} s to replay, ~{day * per_record:.0f} s in all"
    )

    if args.day:
        started = time.perf_counter()
        sim = MarketSimulator(MarketSimulatorConfig(hours=24, seed=args.seed))
        engine = engine_for(sim)
        run_replay(engine, sim)
        rate("full day, generated while replayed", engine.events_processed, time.perf_counter() - started)


if __name__ == "__main__":
    main()
