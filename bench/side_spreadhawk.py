"""spreadhawk's side of the side-by-side bench (bench/side_by_side.py): one workload, one timed run,
in this process, printed as one ``RESULT {json}`` line per figure -- the protocol of the peers'
scripts (../shared/bench/common.py ``emit``), so the driver reads both alike.

* ``w1``: SMA(10)/SMA(50) cross over the workload's bars (``bars_1m.npz`` of the peers' ``gen_data.py``
  when ``--data`` holds it, else the same seeded bars from ``bench_w1.bars``), through the engine, the
  simulated venue and the ``sma_cross`` strategy (``bench_w1.run_once``); fills and final equity;
* ``w2``: the workload's top-of-book quotes (``quotes_1m.npz``), each replayed as a one-level
  ``BookSnapshot`` through the engine; a strategy reads the book on every tick (sums the mid) and
  sends a 0.01 market order every 10,000 ticks, alternating buy and sell (100 orders at 1M ticks);
* ``ob``: the peers' L2 book floor: those quotes as level updates on an ``OrderBook`` alone, best bid and
  ask read after each (no engine);
* ``w3``/``w3s``: the real Binance BTCUSDT spot + USD-M L2 captures (``bench_replay``), without and
  with ``cross_exchange_arb``;
* ``w4``: the triangular re-scan over Binance's exchangeInfo markets (``bench_triangular``), the
  strategy's loop and the scanner's;
* ``w5``: tick-to-order latency of a paper node, in-memory journal (``bench_tick_to_order``).

Records are built before timing starts (as the peers build theirs): the time is the engine's.

    uv run python bench/side_spreadhawk.py w2 --n 100000 [--data ~/peers/data]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from spreadhawk.domain.events import OrderFilled, OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Bar, BookDeltas, BookSnapshot, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

ENGINE = f"spreadhawk {version('spreadhawk')}"
ORDER_EVERY = 10_000  # the workload's rules (../shared/bench/common.py)
W2_QTY = Decimal("0.01")
T0_NS = 1_577_836_800_000_000_000
MINUTE_NS = 60_000_000_000


def emit(workload: str, n: int, seconds: float, **extra: Any) -> None:
    out = {
        "engine": ENGINE,
        "workload": workload,
        "n": n,
        "seconds": round(seconds, 4),
        "rate": round(n / seconds, 1) if seconds > 0 else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out.update(extra)
    print("RESULT " + json.dumps(out), flush=True)


def instrument(size_increment: str) -> Instrument:
    return Instrument(
        "SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", Decimal("0.01"), Decimal(size_increment),
        maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
    )  # fmt: skip


def load(data: Path | None, name: str, n: int) -> dict[str, np.ndarray] | None:
    if data is None or not (data / name).is_file():
        return None
    with np.load(data / name) as arrays:
        return {k: arrays[k][:n] if n else arrays[k] for k in arrays.files}


def w1(n: int, data: Path | None) -> None:
    import bench_w1  # bench/ is on the path when this file runs as a script; imported here, not at the top: RSS

    # sizes to 1e-8 BTC, as NautilusTrader's W1 (PEERS_NT_SIZE_PREC=8): the equity ends near 0.56 of 1e12 at 1M bars,
    # where bench_w1's 1e-6 leaves up to 4 % of it out of each entry (0.5698 instead of 0.5601; exact: 0.55995)
    inst = instrument("0.00000001")
    arrays = load(data, "bars_1m.npz", n)
    if arrays is None:
        records = bench_w1.bars(n or 1_000_000, inst.id)
        source = "bench_w1.bars (seed 42)"
    else:
        records = [
            Bar(inst.id, int(ts), MINUTE_NS, Decimal(f"{o:.2f}"), Decimal(f"{h:.2f}"), Decimal(f"{lo:.2f}"),
                Decimal(f"{c:.2f}"), Decimal(f"{v:.3f}"))
            for ts, o, h, lo, c, v in zip(
                arrays["ts"].tolist(), arrays["open"].tolist(), arrays["high"].tolist(), arrays["low"].tolist(),
                arrays["close"].tolist(), arrays["volume"].tolist(), strict=True,
            )
        ]  # fmt: skip
        source = "bars_1m.npz"
    seconds, engine = bench_w1.run_engine(records, inst)
    equity = engine.portfolio.equity(engine.price)
    emit("W1", len(records), seconds, fills=len(engine.fills), final_equity=float(equity), data=source)


class TickReaderConfig(StrategyConfig):
    instrument_id: str


class TickReader(Strategy):
    """W2's strategy: reads the book on every tick, a market order every ``ORDER_EVERY`` ticks."""

    config_class = TickReaderConfig

    def __init__(self, config: TickReaderConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.instrument_id = InstrumentId(config.instrument_id)
        self.ticks = 0
        self.mid_ticks_sum = 0
        self.orders = 0
        self.fills = 0

    def subscriptions(self) -> tuple[InstrumentId, ...]:
        return (self.instrument_id,)

    def on_book_snapshot(self, _: BookSnapshot) -> None:
        book = self.ctx.book(self.instrument_id)
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return
        self.mid_ticks_sum += bid[0] + ask[0]  # twice the mid, in ticks: exact
        self.ticks += 1
        if self.ticks % ORDER_EVERY == 0:
            side = OrderSide.BUY if self.orders % 2 == 0 else OrderSide.SELL
            self.ctx.submit(self.instrument_id, side, W2_QTY)
            self.orders += 1

    def on_order_filled(self, _: OrderFilled) -> None:
        self.fills += 1


def quote_snapshots(arrays: dict[str, np.ndarray], inst: Instrument) -> list[MarketData]:
    """Each quote as a one-level book snapshot (integer ticks and size units)."""
    tick, unit = float(inst.tick_size), float(inst.size_increment)
    columns = (
        arrays["ts"].tolist(),
        np.rint(arrays["bid"] / tick).astype(np.int64).tolist(),
        np.rint(arrays["bid_size"] / unit).astype(np.int64).tolist(),
        np.rint(arrays["ask"] / tick).astype(np.int64).tolist(),
        np.rint(arrays["ask_size"] / unit).astype(np.int64).tolist(),
    )
    iid = inst.id
    return [
        BookSnapshot(iid, ts, k + 1, ((b, bs),), ((a, as_),))
        for k, (ts, b, bs, a, as_) in enumerate(zip(*columns, strict=True))
    ]


def run_w2(records: list[MarketData], inst: Instrument) -> tuple[float, TickReader, Engine]:
    engine = Engine([inst], clock=SimClock(T0_NS), valuation_currency="USDT")
    venue = SimulatedVenue(inst.venue, balances={"USDT": Decimal(1_000_000), "BTC": Decimal(10)})
    connect_simulated(engine, venue)
    strategy = TickReader(TickReaderConfig(instrument_id=str(inst.id)))
    attach_strategy(engine, strategy)
    started = time.perf_counter()
    run_replay(engine, ReplayFeed([records]))
    return time.perf_counter() - started, strategy, engine


def w2(n: int, data: Path | None) -> None:
    arrays = load(data, "quotes_1m.npz", n)
    if arrays is None:
        sys.exit(f"quotes_1m.npz not found in {data} (the peers' gen_data.py writes it; bench/peers/setup.sh)")
    inst = instrument("0.001")
    records = quote_snapshots(arrays, inst)
    seconds, strategy, engine = run_w2(records, inst)
    emit(
        "W2", len(records), seconds, ticks_seen=strategy.ticks, orders=strategy.orders, fills=strategy.fills,
        checksum=strategy.mid_ticks_sum * float(inst.tick_size) / 2,
        final_equity=float(engine.portfolio.equity(engine.price)),
    )  # fmt: skip


def book_updates(arrays: dict[str, np.ndarray], inst: Instrument) -> list[BookSnapshot | BookDeltas]:
    """The quotes as L2 level updates, as the peers' OB script makes them: the old bid (ask) level deleted
    when the price moved, then the new level set; one ``BookDeltas`` a tick after a first snapshot."""
    quotes = quote_snapshots(arrays, inst)
    first = quotes[0]
    assert isinstance(first, BookSnapshot)
    out: list[BookSnapshot | BookDeltas] = [first]
    (bid0, _), (ask0, _) = first.bids[0], first.asks[0]
    for q in quotes[1:]:
        assert isinstance(q, BookSnapshot)
        (bid, bid_size), (ask, ask_size) = q.bids[0], q.asks[0]
        bids = ((bid0, 0), (bid, bid_size)) if bid != bid0 else ((bid, bid_size),)
        asks = ((ask0, 0), (ask, ask_size)) if ask != ask0 else ((ask, ask_size),)
        out.append(BookDeltas(q.instrument_id, q.ts_ns, q.sequence, q.sequence, q.sequence - 1, bids, asks))
        bid0, ask0 = bid, ask
    return out


def ob(n: int, data: Path | None) -> None:
    """The peers' OB floor (``bench_orderbook.py``): L2 book upkeep alone, best bid and ask read after each tick."""
    arrays = load(data, "quotes_1m.npz", n)
    if arrays is None:
        sys.exit(f"quotes_1m.npz not found in {data} (the peers' gen_data.py writes it; bench/peers/setup.sh)")
    inst = instrument("0.001")
    updates = book_updates(arrays, inst)
    rows = sum(len(u.bids) + len(u.asks) for u in updates)
    book = OrderBook(inst.id)
    apply, best_bid, best_ask = book.apply, book.best_bid, book.best_ask
    checksum = 0
    started = time.perf_counter()
    for update in updates:
        apply(update)
        bid, ask = best_bid(), best_ask()
        if bid is not None and ask is not None:
            checksum += bid[0] + ask[0]
    seconds = time.perf_counter() - started
    emit("OB", len(updates), seconds, rows=rows, rows_per_s=round(rows / seconds), checksum=checksum)


def w3(with_strategy: bool) -> None:
    import bench_replay

    spot, perp, spot_records, perp_records = bench_replay.captures()
    events = len(spot_records) + len(perp_records)
    seconds, engine = bench_replay.run_engine([spot, perp], [spot_records, perp_records], with_strategy)
    levels = bench_replay.level_updates(spot_records) + bench_replay.level_updates(perp_records)
    name = "W3 cross_exchange_arb" if with_strategy else "W3 no strategy"
    emit(name, events, seconds, level_updates=levels, fills=len(engine.fills))


def w4(n: int) -> None:
    import bench_triangular

    args = argparse.Namespace(updates=min(n, 100_000) if n else 100_000, seed=1, jitter_bps=10.0, legs=3)
    work = bench_triangular.binance_workload(args, quiet=True)
    for mode in ("strategy", "scanner"):
        samples, found = bench_triangular.time_mode(work, mode)
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        emit(
            f"W4 {mode}", len(samples), sum(samples) / 1e9, markets=len(work.instruments), median_us=cuts[49] / 1e3,
            p99_us=cuts[98] / 1e3, updates_with_profit=found,
        )  # fmt: skip


def w5(seconds: float) -> None:
    import bench_tick_to_order

    rate = 1_000
    from_arrival, _, received = bench_tick_to_order.run_at(rate, seconds, 10, synced=False)
    cuts = statistics.quantiles(from_arrival, n=100, method="inclusive")
    emit(
        "W5", len(from_arrival), seconds, orders=len(from_arrival), updates_received=received, updates_per_s=rate,
        p50_us=cuts[49] / 1e3, p99_us=cuts[98] / 1e3, max_us=max(from_arrival) / 1e3,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("w1", "w2", "ob", "w3", "w3s", "w4", "w5"))
    parser.add_argument("--n", type=int, default=0, help="truncate the data to N records (0: all; W3 ignores it)")
    parser.add_argument("--data", type=Path, default=None, help="the peers' data folder (bars_1m.npz, quotes_1m.npz)")
    parser.add_argument("--seconds", type=float, default=5.0, help="W5: how long the generator sends")
    args = parser.parse_args()
    if args.workload == "w1":
        w1(args.n, args.data)
    elif args.workload == "w2":
        w2(args.n, args.data)
    elif args.workload == "ob":
        ob(args.n, args.data)
    elif args.workload in ("w3", "w3s"):
        w3(args.workload == "w3s")
    elif args.workload == "w4":
        w4(args.n)
    else:
        w5(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
