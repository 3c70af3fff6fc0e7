"""Replay throughput of the engine on the real hftbacktest Binance BTCUSDT captures.

Prints events/second (every record: depth diffs, bookTicker quotes, trades) and book level
updates/second, with no strategy and with ``cross_exchange_arb`` trading Binance spot BTCUSDT
against the USD-M BTCUSDT book (the perpetual's book is modelled as a second spot venue here: the
point is the cost of the strategy's book walks on every update, not the basis trade itself).
Records are parsed before timing starts: this measures the engine, not gzip and json.

    uv run python bench/bench_replay.py [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from spreadhawk.data.readers import read_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSnapshot, MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.loader import build_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hftbacktest"


def level_updates(records: list[MarketData]) -> int:
    total = 0
    for r in records:
        if isinstance(r, BookDeltas | BookSnapshot):
            total += len(r.bids) + len(r.asks)
    return total


def run_once(
    instruments: list[Instrument], sources: list[list[MarketData]], with_strategy: bool, book_age_s: float = 0
) -> float:
    return run_engine(instruments, sources, with_strategy, book_age_s)[0]


def run_engine(
    instruments: list[Instrument], sources: list[list[MarketData]], with_strategy: bool, book_age_s: float = 0
) -> tuple[float, Engine]:
    """The replay's seconds, and the engine after it (its fills, its equity)."""
    engine = Engine(instruments, valuation_currency="USDT", equity_interval_ns=10**12)
    if book_age_s:  # what every backtest does (the default 60 s per venue): the cost of the age check
        engine.limit_book_ages(lambda _venue: int(book_age_s * 1e9))
    for inst in instruments:
        venue = SimulatedVenue(inst.venue)
        connect_simulated(engine, venue)
        for asset, amount in (("USDT", Decimal(1_000_000)), ("BTC", Decimal(10))):
            venue.deposit(asset, amount)
    if with_strategy:
        strategy = build_strategy(
            "spreadhawk.strategy.library.cross_exchange_arb:CrossExchangeArb",
            {"instruments": [str(i.id) for i in instruments], "min_profit_bps": 1.0, "max_quantity": "0.5"},
        )
        attach_strategy(engine, strategy)
    started = time.perf_counter()
    run_replay(engine, ReplayFeed(sources))
    return time.perf_counter() - started, engine


def captures() -> tuple[Instrument, Instrument, list[MarketData], list[MarketData]]:
    """Binance spot BTCUSDT and USD-M BTCUSDT (as a second spot venue) and their parsed records."""
    spot = binance_spot_btcusdt()
    perp = replace(binance_usdm_btcusdt(), venue="BINANCE_USDM", kind=InstrumentKind.SPOT)
    spot_records = read_hftbacktest(DATA / "binance_spot" / "btcusdt_20240808.gz", spot)
    perp_records = read_hftbacktest(DATA / "binance_usdm_futures" / "btcusdt_20240808.gz", perp)
    return spot, perp, spot_records, perp_records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"real recordings not found at {DATA.resolve()} (../shared/data)")
    spot, perp, spot_records, perp_records = captures()

    only_spot = [spot_records]
    n, levels = len(spot_records), level_updates(spot_records)
    best = min(run_once([spot], only_spot, False) for _ in range(args.repeat))
    print(f"spot BTCUSDT, no strategy:  {n:,} events ({levels:,} level updates) in {best:.3f} s")
    print(f"  {n / best:,.0f} events/s   {levels / best:,.0f} book level updates/s")

    both = [spot_records, perp_records]
    n2, levels2 = n + len(perp_records), levels + level_updates(perp_records)
    best = min(run_once([spot, perp], both, False) for _ in range(args.repeat))
    print(f"spot + USD-M, no strategy:  {n2:,} events ({levels2:,} level updates) in {best:.3f} s")
    print(f"  {n2 / best:,.0f} events/s   {levels2 / best:,.0f} book level updates/s")
    best = min(run_once([spot, perp], both, False, book_age_s=60) for _ in range(args.repeat))
    print(f"spot + USD-M, no strategy, book age limit 60 s:  {n2:,} events in {best:.3f} s")
    print(f"  {n2 / best:,.0f} events/s   {levels2 / best:,.0f} book level updates/s")
    best = min(run_once([spot, perp], both, True) for _ in range(args.repeat))
    print(f"spot + USD-M, cross_exchange_arb: {n2:,} events in {best:.3f} s")
    print(f"  {n2 / best:,.0f} events/s   {levels2 / best:,.0f} book level updates/s")


if __name__ == "__main__":
    main()
