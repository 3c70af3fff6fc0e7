"""Triangular re-scan time per book update over the full Binance spot market list (issue #4).

The graph is built from the real ``/api/v3/exchangeInfo`` capture (cryptofeed ``BINANCE.0``: 1,222
TRADING spot markets, 345 assets). There are no books for all of them, so touch books are
synthesised from one consistent price vector:

* asset prices (USDT = 1) are fitted by least squares so that every market's price is close to
  10,000 of its ticks (Binance sizes ticks near 1e-4 of the price), so rounding to the tick grid
  does not invent arbitrage; prices are then clamped to at least 100 ticks per market;
* each book is 5 levels a side around that fair price, half-spread 1 bp (at least one tick);
* a seeded stream of top-of-book updates then picks a market uniformly and re-draws its touch
  around the fair price with a N(0, ``--jitter-bps``) offset (default 10 bps, so a few cycles in a
  thousand beat the 3 x 0.1% taker fees and the sizing path runs too).

Updates are applied to the ``OrderBook`` outside the timed region; what is timed is the re-scan
each consumer does after an update:

* ``evaluate``: one ``analytics.triangular.evaluate`` per cycle with a leg on the updated market
  (the loop the strategy ran before ``profitable``; kept as the reference);
* ``strategy``: ``TriangularArb``'s loop: ``profitable`` (the same floats at the touch, inlined) over
  every cycle with a leg on the updated market, keeping those beating 1;
* ``scanner``: ``TriangularDetector.scan`` of ``spreadhawk scan``: the updated market's touch rates
  refreshed in its ``CycleTable`` and its cycles re-quoted in one numpy product, then ``size`` in
  exact Decimals along the whole path for each cycle found.

The same is then done for the real Poloniex triangle (BCH/USDT, BCH/BTC, BTC/USDT) replaying the
recorded ``book_lv2`` stream (``POLONIEX.ws.1.0``).

    uv run python bench/bench_triangular.py [--updates N] [--seed S] [--jitter-bps B] [--legs 3|4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from spreadhawk.analytics.cycle_table import profitable
from spreadhawk.analytics.triangular import ConversionGraph, Cycle, cycle_index, evaluate
from spreadhawk.data.readers.cryptofeed import iter_poloniex_books, read_binance_exchange_info, read_poloniex_markets
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.runtime.scan_detectors import TriangularDetector
from spreadhawk.runtime.scanner import MarketView

SAMPLE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cryptofeed" / "sample_data"
TICKS_PER_PRICE = 1e4  # Binance ticks are about 1e-4 of the price
MIN_TICKS = 100
LEVELS = 5
HALF_SPREAD = 1e-4
BookRecord = BookSnapshot | BookDeltas
Books = dict[InstrumentId, OrderBook]
POLONIEX_TRIANGLE = {"BCH/USDT", "BCH/BTC", "BTC/USDT"}


def fair_prices(instruments: list[Instrument]) -> dict[str, float]:
    """Log prices with ``log p_base - log p_quote ~= log(tick * TICKS_PER_PRICE)``, USDT pinned to 1."""
    assets = sorted({a for i in instruments for a in (i.base, i.quote)})
    col = {a: k for k, a in enumerate(assets)}
    rows = np.zeros((len(instruments) + 1, len(assets)))
    rhs = np.zeros(len(instruments) + 1)
    for r, inst in enumerate(instruments):
        rows[r, col[inst.base]], rows[r, col[inst.quote]] = 1.0, -1.0
        rhs[r] = np.log(float(inst.tick_size) * TICKS_PER_PRICE)
    rows[-1, col["USDT"]] = 1e3  # the anchor: weighted far above any market
    solution, *_ = np.linalg.lstsq(rows, rhs, rcond=None)
    return {a: float(np.exp(solution[col[a]])) for a in assets}


def market_mid_ticks(inst: Instrument, prices: dict[str, float]) -> float:
    return max(MIN_TICKS, prices[inst.base] / prices[inst.quote] / float(inst.tick_size))


def touch_book(inst: Instrument, mid_ticks: float, ts_ns: int, seq: int) -> BookSnapshot:
    half = max(1.0, mid_ticks * HALF_SPREAD)
    bid, ask = int(np.floor(mid_ticks - half)), int(np.ceil(mid_ticks + half))
    size = max(1, int(1000 / float(inst.size_increment)))  # 1,000 base units a level, in size units
    bids = tuple((bid - k, size) for k in range(LEVELS))
    asks = tuple((ask + k, size) for k in range(LEVELS))
    return BookSnapshot(inst.id, ts_ns, seq, bids, asks)


def percentiles(samples_ns: list[int]) -> str:
    ordered = sorted(samples_ns)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, int(q * n))] / 1e3

    return (
        f"median {statistics.median(ordered) / 1e3:7.1f} us  p90 {at(0.90):7.1f} us  "
        f"p99 {at(0.99):7.1f} us  max {ordered[-1] / 1e3:8.1f} us"
    )


MODES = ("evaluate", "strategy", "scanner")


def make_rescan(
    mode: str,
    index: dict[InstrumentId, list[Cycle]],
    detector: TriangularDetector,
    books: dict[InstrumentId, OrderBook],
) -> Callable[[InstrumentId], int]:
    """What runs after an update of ``iid``; returns the number of profitable cycles found."""
    if mode == "evaluate":  # one ``evaluate`` (and a CycleQuote) per cycle: the loop before ``profitable``

        def by_evaluate(iid: InstrumentId) -> int:
            quotes = (evaluate(cycle, books) for cycle in index.get(iid, ()))
            return sum(1 for q in quotes if q is not None and q.net_rate > 1.0)

        return by_evaluate
    if mode == "strategy":  # TriangularArb._decide, without the take

        def by_strategy(iid: InstrumentId) -> int:
            return len(profitable(index.get(iid, []), books, 1.0))

        return by_strategy
    view = MarketView(books)
    detector.scan(detector.watched(), view)  # as the first instant: every book read (its rates are cached)

    def by_scanner(iid: InstrumentId) -> int:
        return sum(s is not None for s in detector.scan({iid}, view).values())

    return by_scanner


def fresh_books(instruments: list[Instrument], snapshots: Sequence[BookRecord]) -> dict[InstrumentId, OrderBook]:
    books = {i.id: OrderBook(i.id) for i in instruments}
    for snap in snapshots:
        books[snap.instrument_id].apply(snap)
    return books


def time_updates(
    updates: Sequence[BookRecord], books: dict[InstrumentId, OrderBook], rescan: Callable[[InstrumentId], int]
) -> tuple[list[int], int]:
    """Per-update re-scan times (ns) and how many updates found a profitable cycle."""
    clock = time.perf_counter_ns
    out = []
    found = 0
    for record in updates:
        books[record.instrument_id].apply(record)
        started = clock()
        hits = rescan(record.instrument_id)
        out.append(clock() - started)
        found += hits > 0
    return out, found


def report(name: str, samples: list[int], touched: list[int], found: int) -> None:
    print(f"  {name:9s} {percentiles(samples)}")
    print(
        f"            cycles re-quoted per update: mean {statistics.fmean(touched):.1f}, median "
        f"{statistics.median(touched):.0f}, max {max(touched)}; updates with a profitable cycle: {found}"
    )


class BinanceWorkload(NamedTuple):
    instruments: list[Instrument]
    cycles_of: dict[InstrumentId, list[Cycle]]  # the cycles with a leg on each market
    detector: TriangularDetector
    snapshots: Sequence[BookRecord]  # every market's first book
    updates: Sequence[BookRecord]  # the seeded touch updates


def binance_workload(args: argparse.Namespace, *, quiet: bool = False) -> BinanceWorkload:
    """The Binance spot market list, its cycles, and the books and updates replayed over them."""
    instruments = read_binance_exchange_info(SAMPLE / "BINANCE.0")
    started = time.perf_counter()
    graph = ConversionGraph.from_instruments(instruments)
    cycles = graph.cycles(args.legs)
    index = cycle_index(cycles)
    built = time.perf_counter() - started
    started = time.perf_counter()
    detector = TriangularDetector(instruments, max_legs=args.legs)
    detector_built = time.perf_counter() - started
    if not quiet:
        print(
            f"Binance spot: {len(graph.markets):,} markets, {len(graph.assets)} assets, {len(cycles):,} cycles of "
            f"3..{args.legs} legs on {len(index):,} markets; graph+cycles+index {built:.3f} s, "
            f"scanner detector {detector_built:.3f} s"
        )
    prices = fair_prices(instruments)
    mids = {i.id: market_mid_ticks(i, prices) for i in instruments}
    rng = np.random.default_rng(args.seed)
    markets = [i for i in instruments if i.id in index]  # a market in no cycle has nothing to re-scan
    picks = rng.integers(0, len(markets), args.updates)
    shocks = rng.standard_normal(args.updates) * args.jitter_bps * 1e-4
    snapshots = [touch_book(i, mids[i.id], 0, 1) for i in instruments]
    updates: list[BookRecord] = []
    for n, (pick, shock) in enumerate(zip(picks.tolist(), shocks.tolist(), strict=True)):
        inst = markets[pick]
        updates.append(touch_book(inst, mids[inst.id] * float(np.exp(shock)), n + 1, n + 2))
    return BinanceWorkload(instruments, index, detector, snapshots, updates)


def binance(args: argparse.Namespace) -> None:
    instruments, index, detector, snapshots, updates = binance_workload(args)
    markets = [i for i in instruments if i.id in index]
    touched = [len(index[u.instrument_id]) for u in updates]
    print(
        f"  {args.updates:,} touch updates over {len(markets):,} markets in a cycle (seed {args.seed}, "
        f"jitter {args.jitter_bps} bps)"
    )
    for mode in MODES:
        samples, found = time_mode(BinanceWorkload(instruments, index, detector, snapshots, updates), mode)
        report(mode, samples, touched, found)


def time_mode(work: BinanceWorkload, mode: str) -> tuple[list[int], int]:
    """``mode``'s re-scan after each update (after a warm-up on the first 2,000, on other books)."""
    warm = fresh_books(work.instruments, work.snapshots)
    rescan = make_rescan(mode, work.cycles_of, work.detector, warm)
    time_updates(work.updates[: min(2_000, len(work.updates))], warm, rescan)
    books = fresh_books(work.instruments, work.snapshots)
    return time_updates(work.updates, books, make_rescan(mode, work.cycles_of, work.detector, books))


def poloniex(args: argparse.Namespace) -> None:
    markets = read_poloniex_markets(SAMPLE / "POLONIEX.0")
    triangle = [m for m in markets if m.symbol in POLONIEX_TRIANGLE]
    records = list(iter_poloniex_books(SAMPLE / "POLONIEX.ws.1.0", triangle))
    graph = ConversionGraph.from_instruments(triangle)
    cycles = graph.cycles(3, ["USDT"])
    index = cycle_index(cycles)
    detector = TriangularDetector(triangle)
    print(f"Poloniex triangle (real book_lv2 stream): {len(records)} book records, {len(cycles)} cycles")
    touched = [len(index[r.instrument_id]) for r in records]
    for mode in MODES:
        runs = []
        for _ in range(args.repeat):  # 242 records: repeat, keep the run with the lowest median
            books = fresh_books(triangle, [])
            runs.append(time_updates(records, books, make_rescan(mode, index, detector, books)))
        samples, found = min(runs, key=lambda run: statistics.median(run[0]))
        report(mode, samples, touched, found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=100_000, help="synthetic touch updates on Binance")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jitter-bps", type=float, default=10.0, help="std of a touch update around fair")
    parser.add_argument("--legs", type=int, default=3, choices=(3, 4), help="longest cycle")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the Poloniex stream")
    args = parser.parse_args()
    if not SAMPLE.is_dir():
        sys.exit(f"cryptofeed sample data not found at {SAMPLE.resolve()} (../shared/data)")
    binance(args)
    poloniex(args)
    print("(targets: median < 50 us, p99 < 500 us per update)")


if __name__ == "__main__":
    main()
