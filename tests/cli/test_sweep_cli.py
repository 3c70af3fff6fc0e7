"""``spreadhawk sweep``'s bad input: one line naming the problem, exit code 2, nothing stored.

Every case fails before Ray would start (the spec and every point are checked first), so these
run with --serial or never reach the executor; the Ray sweeps are in tests/runtime/test_sweep_ray.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml"


def _invoke(tmp_path: Path, *args: str, config: Path = CONFIG) -> tuple[int, str, str]:
    db = str(tmp_path / "runs.db")
    result = CliRunner().invoke(app, ["sweep", str(config), "--set", "data.0.hours=0.02", "--db", db, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "nothing to sweep: give --grid KEY=V1,V2"),
        (["--grid", "run.seed="], "--grid run.seed: empty value list"),
        (["--grid", "strategy.params.min_profit_bpz=1,2"], "unknown key 'strategy.params.min_profit_bpz'"),
        (["--grid", "run.sed=1,2"], "unknown key 'run.sed'"),
        (["--grid", "run.seed=1,x"], "point seed='x'"),
        (["--grid", "run.seed=1,x"], "run.seed: Input should be a valid integer"),
        (["--grid", "strategy.params.max_quantity=0.1,-1"], "strategy.params.max_quantity: Input should be greater"),
        (["--grid", "run.seed=1", "--objective", "luck"], "objective must be one of sharpe, sortino"),
        (["--range", "run.seed=1:4"], "ranges need --search optuna"),
        (["--range", "strategy.params.max_quantity=-1.0:1.0", "--search", "optuna"], "max_quantity=-1.0"),
        (["--grid", "run.seed=1", "--set", "run.sed=3"], "unknown key 'run.sed'"),
        (["--grid", "run.seed=1", "--address", "auto"], "give --serial or --address, not both"),
        # a point that fails as it runs (no equity in EUR) names the point
        (["--grid", 'run.valuation_currency="USDT","EUR"'], "point 1 (valuation_currency='EUR'): the run starts"),
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_problem(tmp_path: Path, args: list[str], expected: str) -> None:
    code, out, err = _invoke(tmp_path, "--serial", *args)
    assert code == 2, out + err
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert expected in lines[0].replace("\n", "")


def test_a_bad_sweep_table_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.read_text(encoding="utf-8") + '\n[sweep]\nsearch = "annealing"\n', encoding="utf-8")
    code, _, err = _invoke(tmp_path, config=config)
    assert code == 2
    assert err.strip() == "error: search must be one of grid, optuna, got 'annealing'"
    config.write_text("sweep = 5\n" + CONFIG.read_text(encoding="utf-8"), encoding="utf-8")  # a top-level key
    code, _, err = _invoke(tmp_path, config=config)
    assert code == 2
    assert "'sweep' must be a table ([sweep])" in err
    code, _, err = _invoke(tmp_path, config=tmp_path / "nope.toml")
    assert code == 2
    assert "config file not found" in err


def test_a_serial_sweep_from_the_config_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    config = tmp_path / "c.toml"
    table = '\n[sweep]\nobjective = "final_equity"\ndirection = "minimize"\n[sweep.grid]\n"run.seed" = [2, 3, 4]\n'
    config.write_text(CONFIG.read_text(encoding="utf-8") + table, encoding="utf-8")
    code, out, err = _invoke(tmp_path, "--serial", "--top", "2", config=config)
    assert code == 0, err
    assert "3 points by final_equity (minimize)" in out
    assert "1 more: --top N, or --json" in out
    assert "3 runs stored" in err
    assert "serially" in err
    result = CliRunner().invoke(app, ["runs", "--db", str(tmp_path / "runs.db")])
    assert result.stdout.count("CrossExchangeArb") == 3


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:1", "--address 127.0.0.1:1: no Ray cluster answers there"),
        ("nowhere", "--address 'nowhere': expected HOST:PORT, ray://HOST:PORT or auto"),
    ],
)
def test_a_cluster_address_nothing_answers_at_fails_in_seconds(tmp_path: Path, address: str, expected: str) -> None:
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # a Ray already running in this process is used, whatever the address
        pytest.skip("a Ray is running in this test process")
    code, _, err = _invoke(tmp_path, "--grid", "run.seed=1,2", "--address", address)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {expected}")


def test_a_bad_point_fails_before_ray_starts(tmp_path: Path) -> None:
    imported = "ray" in sys.modules
    code, _, err = _invoke(tmp_path, "--grid", "run.seed=1,2,x")
    assert code == 2
    assert err.startswith("error: point seed='x': ")
    if not imported:  # (another test of this process may have imported it first)
        assert "ray" not in sys.modules


def test_a_serial_optuna_search_is_reproducible_from_its_seed(tmp_path: Path) -> None:
    def search(seed: str) -> list[tuple[int, Any]]:
        args = ["--serial", "--search", "optuna", "--trials", "4", "--num-cpus", "2", "--seed", seed, "--json"]
        args += ["--grid", "run.seed=3,4", "--range", "strategy.params.min_profit_bps=0.0:5.0", "--objective", "pnl"]
        code, out, err = _invoke(tmp_path, *args)
        assert code == 0, err
        points = json.loads(out)["points"]
        assert len(points) == 4
        return sorted((p["index"], p["params"]) for p in points)

    first = search("5")
    assert search("5") == first
    assert search("6") != first
