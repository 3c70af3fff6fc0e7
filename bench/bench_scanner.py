"""End-to-end latency of ``spreadhawk scan``: from a book record entering the engine to the
opportunity it reveals being in the scanner's live table and rendered (issue #4).

The demo market (``runtime/presets/demo_market.toml``: three venues, BTC/ETH spot and perpetuals,
an ETH/BTC cross book, 15-minute binaries) is simulated for ``--hours`` and materialised before
timing. Records then go through the engine exactly as ``run_replay`` sends them (records of one
instant as one batch, then the timers due, where the scanner evaluates the instant) with the
default detectors (cross-exchange, triangular, binary pair, funding). Timed, per instant:

* ``instant``: the batch entering ``Engine.process`` until the scanner's evaluation of it is done
  (books updated, every detector re-scanned, the live table updated);
* ``render``: ``cli.scan.live_table`` of the top ``--top`` live opportunities rendered by rich (to
  a string: the terminal write itself is left out);
* ``end to end``: for each new opportunity, its instant entering the engine until a frame showing
  it has been rendered. Two cadences: a frame drawn as soon as a new opportunity appears (the
  latency floor), and the command's own (``--refresh-every`` records between frames, 2,000 by
  default), where an opportunity waits for the next frame.

    uv run python bench/bench_scanner.py [--hours H] [--top N] [--refresh-every N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from spreadhawk.cli.scan import live_table
from spreadhawk.domain.market import MarketData
from spreadhawk.engine.replay import ReplayFeed
from spreadhawk.runtime.scan_run import ScanNode, build_scan, load_scan_config
from spreadhawk.runtime.scanner import Scanner

PRESET = Path(__file__).resolve().parents[1] / "src" / "spreadhawk" / "runtime" / "presets" / "demo_market.toml"


def instants(records: list[MarketData]) -> list[list[MarketData]]:
    """Records grouped by timestamp, as ``run_replay`` batches them."""
    out: list[list[MarketData]] = []
    for record in records:
        if out and out[-1][0].ts_ns == record.ts_ns:
            out[-1].append(record)
        else:
            out.append([record])
    return out


def stats(name: str, samples_ns: list[int], unit: str = "us") -> None:
    if not samples_ns:
        print(f"  {name:34s} (none)")
        return
    ordered = sorted(samples_ns)
    scale = 1e3 if unit == "us" else 1e6

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / scale

    print(
        f"  {name:34s} n={len(ordered):>7,}  median {statistics.median(ordered) / scale:8.1f} {unit}  "
        f"p90 {at(0.9):8.1f} {unit}  p99 {at(0.99):8.1f} {unit}  max {ordered[-1] / scale:9.1f} {unit}"
    )


def build(hours: float) -> tuple[ScanNode, list[list[MarketData]]]:
    config = load_scan_config(PRESET, [f"data.0.hours={hours}"])
    node = build_scan(config)
    return node, instants(list(ReplayFeed(node.sources)))


def replay(
    node: ScanNode, batches: list[list[MarketData]], render: Callable[[int], set[str]], every: int | None
) -> tuple[list[int], list[int], list[int], int, int]:
    """(instant latencies, render times, end-to-end latencies of new opportunities drawn, new ones never
    drawn (closed before the next frame, or below its top rows), records).

    ``every=None``: render as soon as an instant shows a new opportunity; else every ``every`` records.
    """
    engine, scanner = node.engine, node.scanner
    clock = time.perf_counter_ns
    instant_ns: list[int] = []
    render_ns: list[int] = []
    e2e_ns: list[int] = []
    waiting: list[tuple[str, int]] = []  # new opportunities not drawn yet, and when their instant entered
    missed = 0
    known: set[str] = set()
    records = 0
    next_frame = every or 0
    for batch in batches:
        started = clock()
        if len(batch) == 1:
            engine.process(batch[0])
        else:
            engine.process_batch(batch)
        engine.run_until(batch[0].ts_ns)  # the scanner's evaluation of this instant
        instant_ns.append(clock() - started)
        records += len(batch)
        live = scanner.live.keys()
        if not live <= known:  # new opportunities (bookkeeping outside the timed region)
            waiting.extend((key, started) for key in live - known)
        known = set(live)
        if (every is None and waiting) or (every is not None and records >= next_frame):
            frame_started = clock()
            shown = render(records)
            done = clock()
            render_ns.append(done - frame_started)
            e2e_ns.extend(done - entered for key, entered in waiting if key in shown)
            missed += sum(key not in shown for key, _ in waiting)
            waiting.clear()
            next_frame = records + (every or 0)
    scanner.finish(engine.clock.now_ns())
    return instant_ns, render_ns, e2e_ns, missed, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0, help="simulated demo market length")
    parser.add_argument("--top", type=int, default=15, help="rows of the live table (as `scan --top`)")
    parser.add_argument("--refresh-every", type=int, default=2_000, help="records between frames (as `scan`)")
    args = parser.parse_args()

    cadences = (
        ("frame on every new opportunity", None),
        (f"frame every {args.refresh_every:,} records", args.refresh_every),
    )
    for label, every in cadences:
        started = time.perf_counter()
        node, batches = build(args.hours)
        built = time.perf_counter() - started
        sink = Console(file=io.StringIO(), width=160, force_terminal=True, color_system="truecolor")
        scanner = node.scanner

        def render(records: int, sink: Console = sink, scanner: Scanner = node.scanner) -> set[str]:
            top = scanner.top(args.top)
            sink.print(live_table(top, scanner.market.now_ns, records))
            sink.file.seek(0)
            sink.file.truncate()
            return {o.key for o in top}

        started = time.perf_counter()
        instant_ns, render_ns, e2e_ns, missed, records = replay(node, batches, render, every)
        wall = time.perf_counter() - started
        watched = sum(len(d.watched()) for d in scanner.detectors)
        print(
            f"demo market {args.hours} h ({label}): {records:,} records in {len(batches):,} instants, built and "
            f"materialised in {built:.1f} s; {len(scanner.detectors)} detectors over {watched} instrument slots"
        )
        print(
            f"  replayed in {wall:.2f} s ({records / wall:,.0f} records/s); {len(scanner.history):,} opportunities "
            f"seen and closed"
        )
        stats("instant (engine + scanner)", instant_ns)
        stats("render of the live table", render_ns)
        stats("end to end (record -> drawn)", e2e_ns, "us" if every is None else "ms")
        print(
            f"  new opportunities never drawn (closed before the next frame, or not in its top {args.top}): {missed:,}"
        )


if __name__ == "__main__":
    main()
