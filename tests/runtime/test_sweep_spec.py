"""The sweep spec at the edge: what it reads from [sweep] and the command line, and the one-line
errors of a bad spec (raised before any backtest runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.sweep_spec import (
    SweepError,
    SweepOptions,
    build_spec,
    parse_values,
    point_config,
    read_spec,
)

REPO = Path(__file__).resolve().parents[2]
DEMO = (REPO / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml").read_text(encoding="utf-8")


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(DEMO + extra, encoding="utf-8")
    return path


def test_values_are_read_as_toml_else_as_text() -> None:
    assert parse_values("5,10,20", "w") == (5, 10, 20)
    assert parse_values('0.5, "0.25", true', "w") == (0.5, "0.25", True)
    assert parse_values("[1, 2],[3]", "w") == ([1, 2], [3])
    assert parse_values("ALPHA,BETA", "w") == ("ALPHA", "BETA")


def test_grid_points_are_every_combination_the_last_key_fastest() -> None:
    spec = build_spec({}, SweepOptions(grid=["run.seed=1,2", "strategy.params.min_profit_bps=0,3,5"]))
    assert spec.size() == 6
    assert spec.grid_points()[:4] == [
        {"run.seed": 1, "strategy.params.min_profit_bps": 0},
        {"run.seed": 1, "strategy.params.min_profit_bps": 3},
        {"run.seed": 1, "strategy.params.min_profit_bps": 5},
        {"run.seed": 2, "strategy.params.min_profit_bps": 0},
    ]


def test_the_config_table_is_the_default_and_the_command_line_wins(tmp_path: Path) -> None:
    path = _config(
        tmp_path,
        '\n[sweep]\nobjective = "pnl"\ndirection = "minimize"\n'
        '[sweep.grid]\n"run.seed" = [1, 2]\nstrategy.params.max_quantity = ["0.1", "0.2"]\n',
    )
    spec = read_spec(path, SweepOptions())
    assert (spec.objective, spec.direction, spec.search) == ("pnl", "minimize", "grid")
    # quoted and nested key paths alike
    assert spec.grid == {"run.seed": (1, 2), "strategy.params.max_quantity": ("0.1", "0.2")}
    spec = read_spec(path, SweepOptions(grid=["run.seed=7,8,9"], objective="sharpe"))
    assert spec.grid["run.seed"] == (7, 8, 9)
    assert spec.objective == "sharpe"
    # the backtest of a sweep config runs its base point: [sweep] is not a run config key
    assert load_config(path).run.seed == 7


def test_a_point_gets_its_values_and_exact_decimals(tmp_path: Path) -> None:
    path = _config(tmp_path)
    config = point_config(path, ["data.0.hours=0.1"], {"strategy.params.max_quantity": "0.3", "run.seed": 4})
    assert config.run.seed == 4
    assert config.strategy is not None
    assert config.strategy.params["max_quantity"] == "0.3"
    assert config.data[0].hours == 0.1


@pytest.mark.parametrize(
    ("table", "options", "expected"),
    [
        ({}, SweepOptions(), "nothing to sweep"),
        ({}, SweepOptions(grid=["run.seed="]), "--grid run.seed: empty value list"),
        ({}, SweepOptions(grid=["run.seed"]), "--grid 'run.seed': expected KEY=VALUES"),
        ({}, SweepOptions(grid=["run..seed=1"]), "bad key path 'run..seed'"),
        ({}, SweepOptions(grid=["run.seed=1,1"]), "grid run.seed: value 1 is given twice"),
        ({}, SweepOptions(grid=["run.seed=1"], objective="luck"), "objective must be one of sharpe"),
        ({}, SweepOptions(grid=["run.seed=1"], direction="up"), "direction must be one of maximize, minimize"),
        ({}, SweepOptions(grid=["run.seed=1"], search="random"), "search must be one of grid, optuna"),
        ({}, SweepOptions(ranges=["run.seed=1:5"]), "ranges need --search optuna"),
        ({}, SweepOptions(ranges=["run.seed=5:1"], search="optuna"), "low must be below high"),
        ({}, SweepOptions(ranges=["run.seed=a:b"], search="optuna"), "expected LOW:HIGH numbers"),
        ({}, SweepOptions(grid=["run.seed=1"], search="optuna", trials=0), "trials must be a whole number"),
        ({"grid": {"run.seed": []}}, SweepOptions(), "[sweep.grid] run.seed: expected a non-empty list"),
        ({"grid": {"run.seed": 3}}, SweepOptions(), "[sweep.grid] run.seed: expected a non-empty list"),
        ({"grid": {"run.seed": [1]}, "trails": 5}, SweepOptions(), "[sweep]: unknown key 'trails'"),
        ({"range": {"run.seed": [1]}, "search": "optuna"}, SweepOptions(), "expected [low, high]"),
        (
            {"grid": {"run.seed": [1]}},
            SweepOptions(ranges=["run.seed=1:3"], search="optuna"),
            "run.seed: given both a grid and a range",
        ),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_problem(
    table: dict[str, object], options: SweepOptions, expected: str
) -> None:
    with pytest.raises(SweepError) as caught:
        build_spec(table, options)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("point", "expected"),
    [
        ({"strategy.params.min_profit_bpz": 1}, "unknown key 'strategy.params.min_profit_bpz'"),
        ({"run.sed": 1}, "unknown key 'run.sed'"),
        ({"run.seed": "x"}, "run.seed: Input should be a valid integer"),
        ({"strategy.params.max_quantity": -1}, "strategy.params.max_quantity: Input should be greater than 0"),
        ({"data.3.hours": 1}, "expected an index below 1"),
    ],
)
def test_a_bad_point_is_one_line_naming_the_key(tmp_path: Path, point: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:  # a SweepError for the strategy params
        point_config(_config(tmp_path), [], point)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
