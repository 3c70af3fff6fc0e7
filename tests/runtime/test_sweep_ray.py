"""A sweep on Ray gives exactly the serial results, point by point (same run ids, final equity,
fills and journal hash); an optuna search is reproducible from its seed and batch size; and the
command line runs end to end. One local Ray (2 CPUs) for the module: it takes seconds to start."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spreadhawk.persistence import RunStore
from spreadhawk.runtime.services import database_url
from spreadhawk.runtime.sweep import Executor, SerialExecutor, SweepOutcome, SweepService, plan_sweep
from spreadhawk.runtime.sweep_ray import RayExecutor
from spreadhawk.runtime.sweep_spec import SweepOptions, build_spec

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml"
# 72 seconds of the synthetic two-venue market (about 0.05 s a backtest on an idle core); SIMB's
# taker fee lowered so that many points trade (at the preset's fees these short sessions rarely do).
TINY = ["data.0.hours=0.02", "instruments.1.taker_fee=0.0004"]
# 25 seeds x 4 thresholds = 100 points; make soak runs 250 seeds (1,000 points)
SEEDS = ",".join(str(seed) for seed in range(1, 1 + int(os.environ.get("SPREADHAWK_SOAK_SWEEP_SEEDS", "25"))))


@pytest.fixture(scope="module")
def ray_local() -> Iterator[RayExecutor]:
    ray = pytest.importorskip("ray")
    with RayExecutor(num_cpus=2) as executor:
        yield executor
    assert not ray.is_initialized()


def _sweep(executor: Executor, db: Path, options: SweepOptions, seed: int | None = None) -> SweepOutcome:
    with RunStore(database_url(db)) as store:
        return SweepService(store, executor).run(plan_sweep(CONFIG, TINY, build_spec({}, options), seed))


def _stored(db: Path, run_id: str) -> tuple[Any, ...]:
    with RunStore(database_url(db)) as store:
        record = store.get_run(run_id)
    assert record is not None
    return record.fills, record.equity, record.config["sweep"]["params"], record.config["result"]["journal_sha256"]


def _same_points(serial: SweepOutcome, parallel: SweepOutcome, serial_db: Path, ray_db: Path) -> None:
    assert len(serial.points) == len(parallel.points)
    for a, b in zip(serial.points, parallel.points, strict=True):
        assert (a.index, a.params, a.run_id) == (b.index, b.params, b.run_id)
        for key in ("final_equity", "pnl", "fills", "orders", "journal_sha256", "sharpe", "events_processed"):
            assert a.result[key] == b.result[key], (a.index, key)
        assert _stored(serial_db, a.run_id) == _stored(ray_db, b.run_id)


def test_a_ray_grid_of_100_backtests_equals_the_serial_one(ray_local: RayExecutor, tmp_path: Path) -> None:
    options = SweepOptions(grid=[f"run.seed={SEEDS}", "strategy.params.min_profit_bps=0,1,2,4"], objective="pnl")
    serial = _sweep(SerialExecutor(), tmp_path / "serial.db", options)
    parallel = _sweep(ray_local, tmp_path / "ray.db", options)
    assert len(parallel.points) == 4 * len(SEEDS.split(","))
    _same_points(serial, parallel, tmp_path / "serial.db", tmp_path / "ray.db")
    # a comparison of something: the points differ, and many of them trade
    assert len({p.result["final_equity"] for p in serial.points}) > 20
    assert sum(1 for p in serial.points if p.result["fills"] > 0) >= 10
    assert serial.sweep_id != parallel.sweep_id  # two sweeps of the same spec
    pnls = [p.objective("pnl") for p in parallel.ranked()]
    assert pnls == sorted(pnls, key=lambda value: -(value or 0))  # best first


def test_an_optuna_search_on_ray_repeats_the_serial_one(ray_local: RayExecutor, tmp_path: Path) -> None:
    options = SweepOptions(
        grid=["run.seed=3,4,5"], ranges=["strategy.params.min_profit_bps=0.0:6.0"], search="optuna", trials=6
    )
    parallel = _sweep(ray_local, tmp_path / "ray.db", options, seed=11)
    serial = _sweep(SerialExecutor(ray_local.workers), tmp_path / "serial.db", options, seed=11)
    _same_points(serial, parallel, tmp_path / "serial.db", tmp_path / "ray.db")
    again = _sweep(SerialExecutor(ray_local.workers), tmp_path / "again.db", options, seed=12)
    assert [p.params for p in again.points] != [p.params for p in serial.points]  # the seed matters
    assert {p.params["run.seed"] for p in serial.points} <= {3, 4, 5}
    assert all(0.0 <= p.params["strategy.params.min_profit_bps"] <= 6.0 for p in serial.points)


def _cli(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    from spreadhawk.cli.main import app

    base = ["sweep", str(CONFIG), *(a for o in TINY for a in ("--set", o)), "--db", str(tmp_path / "runs.db")]
    result = CliRunner().invoke(app, [*base, *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_command_runs_on_ray_stores_ranks_and_plots(
    ray_local: RayExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    grid = ["--grid", "run.seed=3,4,5", "--grid", "strategy.params.min_profit_bps=0,2"]
    code, out, err = _cli(tmp_path, *grid, "--objective", "pnl", "--plot", str(tmp_path / "plots/sweep.html"))
    assert code == 0, err
    assert "6 points by pnl (maximize)" in out
    assert "on Ray, 2 workers" in err
    rows = [line for line in out.splitlines() if "-0 " in line]  # run ids end in -0
    assert len(rows) == 6
    page = (tmp_path / "plots/sweep.html").read_text(encoding="utf-8")
    assert "pnl against strategy.params.min_profit_bps" in page
    assert '<script type="text/javascript" src="plotly-' in page  # plotly from beside the page, no CDN
    assert "cdn" not in page.lower()
    assert len(list((tmp_path / "plots").glob("plotly-*.min.js"))) == 1

    code, out, err = _cli(tmp_path, *grid, "--objective", "pnl", "--json")
    assert code == 0, err
    on_ray = json.loads(out)
    code, out, err = _cli(tmp_path, *grid, "--objective", "pnl", "--json", "--serial")
    assert code == 0, err
    serial = json.loads(out)
    assert "serially" in err
    assert on_ray["sweep_id"] != serial["sweep_id"]

    def strip(points: list[dict[str, Any]]) -> list[dict[str, Any]]:  # the same db: later runs, later ids
        return [{k: v for k, v in p.items() if k != "run_id"} for p in points]

    assert strip(on_ray["points"]) == strip(serial["points"])
    pnls = [float(p["pnl"]) for p in serial["points"]]
    assert pnls == sorted(pnls, reverse=True)
    with RunStore(database_url(tmp_path / "runs.db")) as store:
        assert len(store.list_runs(100)) == 18
        tag = store.get_run(serial["points"][0]["run_id"])
        assert tag is not None
        assert tag.config["sweep"]["id"] == serial["sweep_id"]
        assert tag.config["sweep"]["params"] == serial["points"][0]["params"]
