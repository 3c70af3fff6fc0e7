"""Sweep throughput: N backtests serially in this process, then as Ray tasks, and the speed-up.

Run: ``uv run python bench/bench_sweep.py [points] [hours] [num_cpus]`` (default 40 points of the
demo's two-venue synthetic market, 0.25 h each, Ray on every CPU). Each point is one seed of
``demo_cross_exchange.toml``; both sweeps store their runs (in temporary SQLite files) and must give
the same results, which is checked. Ray's start-up and the workers' first task (each imports
spreadhawk) are timed apart: a long sweep pays them once. On a machine shared with other work the
figures move with its load: run it twice and read both.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from time import perf_counter

from spreadhawk.persistence import RunStore
from spreadhawk.runtime.services import database_url
from spreadhawk.runtime.sweep import Executor, SerialExecutor, SweepOutcome, SweepService, plan_sweep
from spreadhawk.runtime.sweep_ray import RayExecutor
from spreadhawk.runtime.sweep_spec import SweepOptions, build_spec

CONFIG = Path(__file__).resolve().parents[1] / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml"


def sweep(executor: Executor, folder: Path, name: str, points: int, hours: float) -> tuple[float, SweepOutcome]:
    spec = build_spec({}, SweepOptions(grid=[f"run.seed={','.join(str(s) for s in range(1, points + 1))}"]))
    with RunStore(database_url(folder / f"{name}.db")) as store:
        started = perf_counter()
        outcome = SweepService(store, executor).run(plan_sweep(CONFIG, [f"data.0.hours={hours}"], spec))
        return perf_counter() - started, outcome


def main() -> None:
    points = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    hours = float(sys.argv[2]) if len(sys.argv) > 2 else 0.25
    cpus = int(sys.argv[3]) if len(sys.argv) > 3 else (os.cpu_count() or 1)
    logging.getLogger("ray").setLevel(logging.ERROR)
    load = os.getloadavg()[0]
    print(f"{points} backtests of {hours} h each, {os.cpu_count()} CPUs, load average {load:.1f} at the start")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        serial_s, serial = sweep(SerialExecutor(), folder, "serial", points, hours)
        print(f"serial:       {serial_s:7.2f} s  ({points / serial_s:.2f} backtests/s)")
        started = perf_counter()
        with RayExecutor(num_cpus=cpus) as ray:
            startup_s = perf_counter() - started
            # one point per worker first: each worker process imports spreadhawk on its first task
            warm_s, _ = sweep(ray, folder, "warm", ray.workers, hours)
            ray_s, parallel = sweep(ray, folder, "ray", points, hours)
            workers = ray.workers
        print(f"ray start-up: {startup_s:7.2f} s  (once per sweep), then {warm_s:.2f} s for a first point per worker")
        print(f"ray:          {ray_s:7.2f} s  ({points / ray_s:.2f} backtests/s, {workers} workers)")
        same = [(p.run_id, p.result["journal_sha256"], p.result["final_equity"]) for p in serial.points] == [
            (p.run_id, p.result["journal_sha256"], p.result["final_equity"]) for p in parallel.points
        ]
        cold = ray_s + startup_s + warm_s
        print(f"speed-up:     {serial_s / ray_s:7.2f}x  (counting the start-up and warm-up: {serial_s / cold:.2f}x)")
        print(f"same results: {same}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine slows both sweeps)")


if __name__ == "__main__":
    main()
