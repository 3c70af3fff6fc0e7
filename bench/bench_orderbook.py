"""Throughput of OrderBook.apply_deltas and of its queries on seeded random data.

Run: ``uv run python bench/bench_orderbook.py [messages]``. Prints figures only (no assertions):
the budget is 300,000 book events/s for the whole engine, so a delta message should cost a few µs.

The synthetic book looks like a liquid spot pair: 1,000 levels a side around a fixed mid, messages
of 10-50 level changes concentrated near the touch, of which ~20% delete a level, ~15% add a new
one and the rest resize an existing one (Binance diff depth streams look roughly like that).
Bids stay below the mid and asks above, so the book never crosses and every query is valid.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from time import perf_counter

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, Level
from spreadhawk.domain.orderbook import OrderBook

IID = InstrumentId("BENCH:BTC/USDT")
MID = 1_000_000
DEPTH = 1_000
SEED = 20240601


def _distance(rng: random.Random) -> int:
    # Most activity is within a few ticks of the touch, with a long tail into the book.
    return 1 + min(int(rng.expovariate(1 / 25)), 3 * DEPTH)


def build(n_messages: int) -> tuple[BookSnapshot, list[BookDeltas]]:
    rng = random.Random(SEED)
    bids = {MID - i: rng.randint(1, 500) for i in range(1, DEPTH + 1)}
    asks = {MID + i: rng.randint(1, 500) for i in range(1, DEPTH + 1)}
    snapshot = BookSnapshot(IID, 0, 1_000, tuple(sorted(bids.items(), reverse=True)), tuple(sorted(asks.items())))
    messages = []
    seq = 1_000
    for n in range(n_messages):
        changes: tuple[list[Level], list[Level]] = ([], [])
        for _ in range(rng.randint(10, 50)):
            is_bid = rng.random() < 0.5
            side = bids if is_bid else asks
            distance = _distance(rng)
            price = MID - distance if is_bid else MID + distance
            roll = rng.random()
            if roll < 0.20:
                size = 0
            elif roll < 0.35 or price in side:
                size = rng.randint(1, 500)
            else:  # absent level and not chosen as an insert: delete one that is (a no-op otherwise)
                size = 0
            if size:
                side[price] = size
            else:
                side.pop(price, None)
            changes[0 if is_bid else 1].append((price, size))
        messages.append(BookDeltas(IID, n + 1, seq + 1, seq + 1, seq, tuple(changes[0]), tuple(changes[1])))
        seq += 1
    return snapshot, messages


def rate(label: str, count: int, unit: str, seconds: float) -> None:
    print(f"{label:<42} {count / seconds:>14,.0f} {unit}/s  ({seconds / count * 1e9:,.0f} ns each)")


def time_query(label: str, fn: Callable[[], object], calls: int) -> None:
    start = perf_counter()
    for _ in range(calls):
        fn()
    rate(label, calls, "calls", perf_counter() - start)


def main() -> None:
    n_messages = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    snapshot, messages = build(n_messages)
    n_levels = sum(len(m.bids) + len(m.asks) for m in messages)

    best_seconds = float("inf")
    book = OrderBook(IID)
    for _ in range(3):  # best of three: the first pass also warms caches and the allocator
        book = OrderBook(IID)
        book.apply_snapshot(snapshot)
        apply = book.apply_deltas
        start = perf_counter()
        for message in messages:
            apply(message)
        best_seconds = min(best_seconds, perf_counter() - start)
        if not book.is_valid or book.sequence != messages[-1].sequence:
            # A bench that silently skipped messages would report nonsense figures.
            raise SystemExit(f"deltas were not all applied: {book!r}")

    print(f"{n_messages:,} messages, {n_levels:,} level changes ({n_levels / n_messages:.1f} per message)")
    print(f"book after: {len(book.levels(BookSide.BID))} bids, {len(book.levels(BookSide.ASK))} asks")
    rate("apply_deltas: messages", n_messages, "msg", best_seconds)
    rate("apply_deltas: level updates", n_levels, "levels", best_seconds)

    start = perf_counter()
    for _ in range(5):
        book.apply_snapshot(snapshot)
    rate(f"apply_snapshot ({DEPTH} levels a side)", 5, "snapshots", perf_counter() - start)

    calls = 500_000
    time_query("best_bid", book.best_bid, calls)
    time_query("best_ask", book.best_ask, calls)
    time_query("mid_ticks", book.mid_ticks, calls)
    time_query("levels(BID, depth=10)", lambda: book.levels(BookSide.BID, 10), calls // 5)
    time_query("avg_price_to_fill(ASK, 2,000 units)", lambda: book.avg_price_to_fill(BookSide.ASK, 2_000), calls // 5)
    time_query("size_within_bps(BID, 5.0)", lambda: book.size_within_bps(BookSide.BID, 5.0), calls // 5)


if __name__ == "__main__":
    main()
