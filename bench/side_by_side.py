"""Side-by-side bench (issue #14 item 1): spreadhawk and every installed peer engine on the same
workloads, in one run, one table per workload.

Each engine run is a process of its own (so its peak RSS is its own: ``ru_maxrss`` of the child, from
``wait4``), doing one timed run; ``--rounds N`` repeats the whole list N times, interleaved (round 1:
every job once, then round 2, ...), so a slow patch of a shared machine hits every engine alike. Tables
give min / median / max over the rounds, the largest peak RSS, fills and final equity (as checks:
W1 gives 27,647 fills at 1M bars for every engine), and each engine's median against spreadhawk's.

spreadhawk runs with this interpreter (the project's venv: ``bench/side_spreadhawk.py``); the peers run
with their own venv (``bench/peers/setup.sh``: $HOME/peers/venv) from their scripts where they are
(../shared/bench, read there, never copied). A peer whose package is not in that venv is listed as
"not installed"; one that fails is listed with its error; neither stops the run.

Workloads (../shared/bench/README.md): W1 SMA cross on 1M one-minute bars; W2 1M top-of-book quotes, an
order every 10k; W3 the real Binance L2 captures, without and with a strategy; W4 triangular re-scan over
Binance's markets; W5 tick-to-order latency (W3-W5 are the project's own: no peer script); and OB, the peers'
L2 book floor (W2's quotes as ~4M level updates, best bid and ask read after each tick; no engine).

    uv run python bench/side_by_side.py [--rounds 3] [--n 100000] [--only W1,W2] [--only nautilus,spreadhawk]
    uv run python bench/side_by_side.py --table results.jsonl   # the tables of a saved run
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_HOME = Path(os.environ.get("PEERS_HOME", Path.home() / "peers"))
PEERS_BENCH = HERE.parent.parent / "shared" / "bench"


@dataclass(frozen=True)
class Job:
    key: str  # the engine, for --only and for "not installed"
    workload: str  # W1..W5, for --only
    argv: tuple[str, ...]  # the script and its arguments
    peer: bool = True  # run with the peers' venv, from their folder
    module: str | None = None  # the package a peer needs (checked in the peers' venv)


JOBS = (
    Job("spreadhawk", "W1", ("side_spreadhawk.py", "w1"), peer=False),
    Job("ref", "W1", ("ref_numba.py", "w1"), module="numba"),
    Job("vectorbt", "W1", ("bench_vectorbt.py",), module="vectorbt"),
    Job("nautilus", "W1", ("bench_nautilus.py", "w1"), module="nautilus_trader"),
    Job("backtesting", "W1", ("bench_backtesting.py",), module="backtesting"),
    Job("backtrader", "W1", ("bench_backtrader.py", "w1"), module="backtrader"),
    Job("spreadhawk", "W2", ("side_spreadhawk.py", "w2"), peer=False),
    Job("ref", "W2", ("ref_numba.py", "w2"), module="numba"),
    Job("hftbacktest", "W2", ("bench_hftbacktest.py",), module="hftbacktest"),
    Job("nautilus", "W2", ("bench_nautilus.py", "w2"), module="nautilus_trader"),
    Job("backtrader", "W2", ("bench_backtrader.py", "w2"), module="backtrader"),
    Job("spreadhawk", "OB", ("side_spreadhawk.py", "ob"), peer=False),
    Job("ref", "OB", ("bench_orderbook.py",), module="sortedcontainers"),
    Job("spreadhawk", "W3", ("side_spreadhawk.py", "w3"), peer=False),
    Job("spreadhawk", "W3", ("side_spreadhawk.py", "w3s"), peer=False),
    Job("spreadhawk", "W4", ("side_spreadhawk.py", "w4"), peer=False),
    Job("spreadhawk", "W5", ("side_spreadhawk.py", "w5"), peer=False),
)

# shown beside the figures when a run gives them: the same work was done (W2's sum of mids, OB's of the
# best prices), L2 rows a second, tail latencies
CHECKS = ("checksum", "rows_per_s", "median_us", "p99_us")
# per workload: the figure compared, its unit, and whether more is better
METRICS = {
    "W1": ("rate", "bars/s", True),
    "W2": ("rate", "ticks/s", True),
    "OB": ("rate", "ticks/s", True),
    "W3": ("rate", "events/s", True),
    "W4": ("rate", "updates/s", True),
    "W5": ("p50_us", "us p50", False),
}


@dataclass
class Row:
    """One engine on one workload, over the rounds."""

    engine: str
    workload: str
    values: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    fills: list[Any] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)
    checks: dict[str, list[float]] = field(default_factory=dict)  # p99, checksum, ...: shown as medians
    status: str = ""  # "not installed", "failed: ...": no figures


def base_workload(workload: str) -> str:
    return workload.split(maxsplit=1)[0]


def run_job(argv: Sequence[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str, float]:
    """Run one process; its exit code, stdout, stderr and peak RSS (MB), from ``wait4``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)  # the job's own process group (start_new_session)
                pid, status, usage = os.wait4(proc.pid, 0)
                err.write(f"\ntimed out after {timeout:.0f} s")
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024


def results_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[len("RESULT ") :]) for line in stdout.splitlines() if line.startswith("RESULT ")]


def missing_modules(python: Path, modules: Iterable[str]) -> set[str]:
    """The modules the peers' interpreter cannot find (all of them when it does not exist)."""
    wanted = sorted(set(modules))
    if not python.exists():
        return set(wanted)
    code = "import importlib.util, sys; print(' '.join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))"
    done = subprocess.run([str(python), "-c", code, *wanted], capture_output=True, text=True, check=False)
    return set(done.stdout.split()) if done.returncode == 0 else set(wanted)


def collect(records: Iterable[dict[str, Any]]) -> dict[str, list[Row]]:
    """Saved records (one per engine, workload and round; or a status) as rows, by workload."""
    rows: dict[tuple[str, str], Row] = {}
    for r in records:
        row = rows.setdefault((r["workload"], r["engine"]), Row(r["engine"], r["workload"]))
        if r.get("status"):
            row.status = r["status"]
            continue
        metric = METRICS.get(base_workload(r["workload"]), ("rate", "", True))[0]
        if r.get(metric) is None:
            continue
        row.values.append(float(r[metric]))
        row.rss_mb.append(float(r.get("child_rss_mb", r.get("peak_rss_mb", 0.0))))
        row.fills.append(r.get("fills", r.get("orders", "")))
        if isinstance(r.get("final_equity"), int | float):
            row.equity.append(float(r["final_equity"]))
        for key in CHECKS:
            if isinstance(r.get(key), int | float):
                row.checks.setdefault(key, []).append(float(r[key]))
    by_workload: dict[str, list[Row]] = {}
    for (workload, _), row in rows.items():
        by_workload.setdefault(workload, []).append(row)
    return by_workload


def _checks(row: Row) -> str:
    medians = ((key, statistics.median(v)) for key, v in row.checks.items())
    return "; ".join(f"{key} {m:,.0f}" if abs(m) >= 1000 else f"{key} {m:,.1f}" for key, m in medians) or "-"


def _money(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 1e4 else f"{value:.6g}"  # W1 ends near 0.56 of its 1e12 at 1M bars


def _ratio(ratio: float) -> str:
    return f"x{ratio:,.0f}" if ratio >= 100 else f"x{ratio:.3g}"


def _figure(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _one(values: list[Any]) -> str:
    distinct = list(dict.fromkeys(v for v in values if v not in ("", None)))
    return "/".join(f"{v:,}" if isinstance(v, int) else str(v) for v in distinct) if distinct else "-"


def table(workload: str, rows: list[Row]) -> str:
    """One workload's table: engines ordered best median first, then the ones with no figures."""
    _, unit, more_is_better = METRICS.get(base_workload(workload), ("rate", "", True))
    ours = next((r for r in rows if r.engine.startswith("spreadhawk") and r.values), None)
    ref = statistics.median(ours.values) if ours else None
    head = ["engine", "runs", f"min {unit}", f"median {unit}", f"max {unit}", "peak RSS MB", "fills", "final equity"]
    head += ["vs spreadhawk", "checks (median)"]
    lines = [f"### {workload}", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    measured = sorted((r for r in rows if r.values), key=lambda r: statistics.median(r.values), reverse=more_is_better)
    for r in measured:
        median = statistics.median(r.values)
        ratio = "-"
        if ref:
            ratio = _ratio(median / ref if more_is_better else ref / median)
        equity = _money(r.equity[-1]) if r.equity else "-"
        if len({_money(e) for e in r.equity}) > 1:
            equity += " (varies)"
        cells = [r.engine, str(len(r.values)), _figure(min(r.values)), _figure(median), _figure(max(r.values))]
        cells += [f"{max(r.rss_mb):,.0f}", _one(r.fills), equity, ratio, _checks(r)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [f"| {r.engine} | {r.status or 'no figures'} |" + " |" * (len(head) - 2) for r in rows if not r.values]
    return "\n".join(lines)


def tables(records: Iterable[dict[str, Any]]) -> str:
    by_workload = collect(records)
    order = sorted(
        by_workload, key=lambda w: list(METRICS).index(base_workload(w)) if base_workload(w) in METRICS else 99
    )
    return "\n\n".join(table(w, by_workload[w]) for w in order)  # W1..W5, each in the order first seen


def selected(only: str) -> list[Job]:
    tokens = [t.strip() for t in only.split(",") if t.strip()]
    workloads = {t.upper() for t in tokens if t.upper() in METRICS}
    engines = {t for t in tokens if t.upper() not in METRICS}
    return [
        job
        for job in JOBS
        if (not workloads or job.workload in workloads)
        and (not engines or job.key in engines or job.key == "spreadhawk")
    ]


def command(job: Job, args: argparse.Namespace, peer_env: dict[str, str]) -> tuple[list[str], Path, dict[str, str]]:
    """The job's command line, folder and environment."""
    if job.peer:
        return [str(args.peers_python), str(args.peers_bench / job.argv[0]), *job.argv[1:]], args.peers_bench, peer_env
    argv = [sys.executable, str(HERE / job.argv[0]), *job.argv[1:], "--data", str(args.data), "--n", str(args.n)]
    return [*argv, "--seconds", str(args.w5_seconds)], HERE.parent, dict(os.environ)


def run_round(job: Job, args: argparse.Namespace, peer_env: dict[str, str], round_: int) -> list[dict[str, Any]]:
    """One run of ``job``: its records, each with the process's peak RSS; one status record if it failed."""
    argv, cwd, env = command(job, args, peer_env)
    started = time.monotonic()
    code, stdout, stderr, rss = run_job(argv, cwd, env, args.timeout)
    wall = time.monotonic() - started
    got = results_of(stdout)
    if code != 0 or not got:
        last = (stderr.strip().splitlines() or ["no output"])[-1][:160].replace("|", "/")
        print(f"[{round_}] {job.key} {' '.join(job.argv)}: failed rc={code}: {last}", file=sys.stderr)
        return [{"engine": job.key, "workload": job.workload, "status": f"failed rc={code}: {last}"}]
    for r in got:
        r.update(child_rss_mb=round(rss, 1), round=round_, wall_s=round(wall, 1))
        metric = METRICS.get(base_workload(r["workload"]), ("rate", "", True))[0]
        print(
            f"[{round_}] {r['engine']:<34} {r['workload']:<22} {metric} {r.get(metric) or 0:>14,.1f}"
            f"  RSS {rss:7,.0f} MB  fills {r.get('fills', '-')}  ({wall:.0f} s with set-up)",
            file=sys.stderr,
            flush=True,
        )
    return got


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each job, interleaved (default 3)")
    parser.add_argument("--n", type=int, default=0, help="truncate W1/W2 data (and W4's updates) to N (0: all)")
    parser.add_argument("--only", default="", help="workloads (W1,...) and/or engines (nautilus,...), comma-separated")
    parser.add_argument("--peers-python", type=Path, default=PEERS_HOME / "venv" / "bin" / "python")
    parser.add_argument("--peers-bench", type=Path, default=PEERS_BENCH, help="the peers' scripts")
    parser.add_argument("--data", type=Path, default=PEERS_HOME / "data", help="bars_1m.npz, quotes_1m.npz")
    parser.add_argument("--out", type=Path, default=None, help="append every record here (JSON lines)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a job may take")
    parser.add_argument("--w5-seconds", type=float, default=5.0, help="W5: how long the generator sends")
    parser.add_argument("--table", type=Path, default=None, help="print the tables of a saved --out file and stop")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.table:
        print(tables(json.loads(line) for line in args.table.read_text().splitlines() if line.strip()))
        return 0
    jobs = selected(args.only)
    data_missing = not all((args.data / name).is_file() for name in ("bars_1m.npz", "quotes_1m.npz"))
    if data_missing and any(j.workload in ("W1", "W2") for j in jobs):
        print(f"generating the workloads' data in {args.data}", file=sys.stderr)
        env = {**os.environ, "PEERS_DATA": str(args.data)}
        subprocess.run([sys.executable, str(args.peers_bench / "gen_data.py")], env=env, check=True)
    missing = missing_modules(args.peers_python, (j.module for j in jobs if j.peer and j.module))
    records: list[dict[str, Any]] = [
        {"engine": f"{j.key} ({j.module})", "workload": j.workload, "status": "not installed"}
        for j in jobs
        if j.peer and j.module in missing
    ]
    runnable = [j for j in jobs if not (j.peer and j.module in missing)]
    peer_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    peer_env.update(PEERS_DATA=str(args.data), PEERS_REPEATS="1", PEERS_N=str(args.n))
    for round_ in range(1, args.rounds + 1):
        for job in runnable:
            got = run_round(job, args, peer_env, round_)
            records += got
            if args.out:
                with args.out.open("a") as out:
                    out.writelines(json.dumps(r) + "\n" for r in got)
    print(tables(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
