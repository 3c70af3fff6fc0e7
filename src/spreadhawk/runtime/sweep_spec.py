"""What a parameter sweep varies, and how its points are judged, validated at the edge.

A sweep is a base run config plus a spec: a grid (each key path with its values; the points are
every combination) and, for an optuna search, ranges. The spec comes from the config's own
``[sweep]`` table, the command line, or both (the command line wins key by key)::

    [sweep]
    objective = "sharpe"          # a key of the run's result (see OBJECTIVES)
    direction = "maximize"
    search = "grid"               # or "optuna": `trials` points chosen by a seeded TPE sampler
    trials = 50
    [sweep.grid]
    "strategy.params.min_profit_bps" = [1.0, 3.0, 5.0]
    [sweep.range]                 # optuna only: [low, high], ints if both are
    "strategy.params.cooldown_ms" = [0, 5000]

Every point's config is built and validated (strategy params included) before anything runs, so
a bad key or value is one line naming it, not a failure an hour into the sweep.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spreadhawk.runtime.config import ConfigError, RunConfig, load_config, read_config_file
from spreadhawk.strategy.loader import StrategyLoadError, build_strategy

# What a sweep can rank by: the result's numeric keys (metrics, and the money figures as exact text)
OBJECTIVES = (
    "sharpe", "sortino", "calmar", "total_return", "cagr", "max_drawdown", "annualized_volatility", "win_rate",
    "profit_factor", "expectancy", "pnl", "pnl_vs_holding", "final_equity", "fees_paid", "trades", "fills",
)  # fmt: skip
MAX_POINTS = 100_000  # a grid larger than this is a typo (a value list pasted twice), not a plan

Search = Literal["grid", "optuna"]
Direction = Literal["maximize", "minimize"]
Number = int | float


class SweepError(ConfigError):
    """A sweep spec problem, with a one-line message for the user."""


@dataclass(frozen=True)
class SweepSpec:
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[Number, Number]] = field(default_factory=dict)
    search: Search = "grid"
    trials: int = 20
    objective: str = "sharpe"
    direction: Direction = "maximize"

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.grid, *self.ranges)

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination, the last key varying fastest (the order the runs are stored in)."""
        keys = list(self.grid)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]

    def size(self) -> int:
        return self.trials if self.search == "optuna" else len(self.grid_points())


@dataclass(frozen=True)
class SweepOptions:
    """What the command line says; None (or empty) leaves the config's ``[sweep]`` value."""

    grid: Sequence[str] = ()
    ranges: Sequence[str] = ()
    search: str | None = None
    trials: int | None = None
    objective: str | None = None
    direction: str | None = None


def parse_values(text: str, where: str) -> tuple[Any, ...]:
    """``5,10,20`` -> (5, 10, 20); each item is read as TOML (``"a"``, ``[1, 2]``, ``0.5``), else as a string."""
    try:
        values = tuple(tomllib.loads(f"v = [{text}]")["v"])
    except tomllib.TOMLDecodeError:  # bare words: ALPHA,BETA
        values = tuple(_toml_or_text(item.strip()) for item in text.split(","))
    if not values or any(v == "" for v in values):
        raise SweepError(f"{where}: empty value list (expected e.g. 5,10,20)")
    return values


def _toml_or_text(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _key_value(text: str, option: str) -> tuple[str, str]:
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"{option} {text!r}: expected KEY=VALUES, e.g. {option} strategy.params.fast=5,10,20")
    if any(not part for part in key.split(".")):
        raise SweepError(f"{option} {text!r}: bad key path {key!r}")
    return key, raw.strip()


def parse_range(text: str, where: str) -> tuple[Number, Number]:
    """``1:10`` (ints) or ``0.5:2.5`` (floats)."""
    low_text, sep, high_text = text.partition(":")
    low, high = _toml_or_text(low_text.strip()), _toml_or_text(high_text.strip())
    if not sep or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise SweepError(f"{where}: expected LOW:HIGH numbers, e.g. 1:10 or 0.5:2.5, got {text!r}")
    return _checked_range((low, high), where)


def _checked_range(bounds: Any, where: str) -> tuple[Number, Number]:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        raise SweepError(f"{where}: expected [low, high], got {bounds!r}")
    low, high = bounds
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise SweepError(f"{where}: bounds must be numbers, got {bounds!r}")
    if not low < high:
        raise SweepError(f"{where}: low must be below high, got {low} and {high}")
    return low, high


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"strategy": {"params": {"fast": [..]}}}`` and ``{"strategy.params.fast": [..]}`` alike."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = value
    return flat


_TABLE_KEYS = {"grid", "range", "search", "trials", "objective", "direction"}


def build_spec(table: Mapping[str, Any], options: SweepOptions) -> SweepSpec:
    """The spec of a config's ``[sweep]`` table overridden by the command line, checked."""
    unknown = sorted(set(table) - _TABLE_KEYS)
    if unknown:
        raise SweepError(f"[sweep]: unknown key '{unknown[0]}' (known: {', '.join(sorted(_TABLE_KEYS))})")
    grid: dict[str, tuple[Any, ...]] = {}
    for key, values in _flatten(_table(table, "grid")).items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"[sweep.grid] {key}: expected a non-empty list of values, got {values!r}")
        grid[key] = tuple(values)
    ranges = {key: _checked_range(b, f"[sweep.range] {key}") for key, b in _flatten(_table(table, "range")).items()}
    for text in options.grid:
        key, raw = _key_value(text, "--grid")
        grid[key] = parse_values(raw, f"--grid {key}")
    for text in options.ranges:
        key, raw = _key_value(text, "--range")
        ranges[key] = parse_range(raw, f"--range {key}")
    search = _choice(options.search or table.get("search", "grid"), ("grid", "optuna"), "search")
    direction = _choice(options.direction or table.get("direction", "maximize"), ("maximize", "minimize"), "direction")
    objective = _choice(options.objective or table.get("objective", "sharpe"), OBJECTIVES, "objective")
    trials = options.trials if options.trials is not None else table.get("trials", 20)
    if not isinstance(trials, int) or isinstance(trials, bool) or not 1 <= trials <= MAX_POINTS:
        raise SweepError(f"trials must be a whole number from 1 to {MAX_POINTS:,}, got {trials!r}")
    spec = SweepSpec(grid, ranges, search, trials, objective, direction)
    _check_shape(spec)
    return spec


def _table(table: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise SweepError(f"[sweep] {name}: expected a table of key paths, got {value!r}")
    return value


def _choice(value: Any, allowed: Sequence[str], name: str) -> Any:
    if value not in allowed:
        raise SweepError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _check_shape(spec: SweepSpec) -> None:
    both = sorted(set(spec.grid) & set(spec.ranges))
    if both:
        raise SweepError(f"{both[0]}: given both a grid and a range (one or the other)")
    if not spec.keys:
        raise SweepError(
            "nothing to sweep: give --grid KEY=V1,V2 (or --range with --search optuna), or a [sweep] table"
        )
    for key, values in spec.grid.items():
        seen: list[Any] = []
        for value in values:  # a repeated value would run (and store) the same point twice
            if value in seen:
                raise SweepError(f"grid {key}: value {value!r} is given twice")
            seen.append(value)
    if spec.search == "grid" and spec.ranges:
        raise SweepError(f"range {next(iter(spec.ranges))}: ranges need --search optuna (a grid lists its values)")
    if spec.search == "grid" and spec.size() > MAX_POINTS:
        raise SweepError(f"the grid has {spec.size():,} points, more than {MAX_POINTS:,}")


def read_spec(path: Path, options: SweepOptions) -> SweepSpec:
    """The spec of ``path``'s ``[sweep]`` table and the command line."""
    table = read_config_file(path).get("sweep", {})
    if not isinstance(table, dict):
        raise SweepError(f"{path}: 'sweep' must be a table ([sweep])")
    return build_spec(table, options)


def point_config(path: Path, overrides: list[str], point: Mapping[str, Any]) -> RunConfig:
    """The run config of one point, its strategies' params validated too (the backtest would
    otherwise find a bad param only when the point runs)."""
    config = load_config(path, overrides, point)
    for section in config.strategy_sections:
        try:
            build_strategy(section.path, section.params, section.id)
        except StrategyLoadError as exc:
            raise SweepError(str(exc)) from None
    return config


def describe(point: Mapping[str, Any]) -> str:
    """``fast=5 slow=20``: the last part of each key path (the table shows the whole point)."""
    return " ".join(f"{key.rsplit('.', 1)[-1]}={value!r}" for key, value in point.items())
