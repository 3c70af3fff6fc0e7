"""Run a sweep: one backtest per point, in Ray tasks or in this process, each stored as a run.

Both executors call the same ``evaluate`` on the same validated configs, and a backtest depends
only on its config (and the seed in it), so a Ray sweep gives exactly the serial results. Runs are
stored in point order whatever order the workers finish in, so the run ids do not depend on the
scheduling either. Each stored run carries ``config["sweep"]``: the sweep id, the point's index and
its parameters.

An optuna search asks its TPE sampler (seeded) for a batch of points, evaluates the batch, and
tells the results in ask order before asking for the next: the same seed and batch size give the
same trials, serially or on any number of Ray workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from spreadhawk.engine.clock import WallClock
from spreadhawk.persistence import RunRecord, RunStore
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.modes import ReconciliationError
from spreadhawk.runtime.results import NoEquityError, jsonable
from spreadhawk.runtime.services import backtest_record, named
from spreadhawk.runtime.sweep_spec import SweepError, SweepSpec, describe, point_config

if TYPE_CHECKING:
    import optuna

Progress = Callable[[int, int], None]  # (points done, points in all)


def evaluate(config: RunConfig) -> RunRecord | str:
    """One point's backtest: its record (no run id yet), or why it failed, in one line.

    A failure comes back as text rather than an exception: a Ray task's exception arrives wrapped
    in a traceback, and the user needs the one line."""
    try:
        return backtest_record(config)
    except (ConfigError, NoEquityError, ReconciliationError) as exc:
        return str(exc)


def _quiet(_done: int, _total: int) -> None:
    return None


class Executor(Protocol):
    """Runs ``evaluate`` on configs; yields (index, outcome) as each finishes, in any order."""

    @property
    def workers(self) -> int: ...

    def map(self, configs: Sequence[RunConfig]) -> Iterator[tuple[int, RunRecord | str]]: ...


class SerialExecutor:
    """In this process, one after the other (for comparison, and where Ray is not wanted)."""

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers  # only the optuna batch size: a serial search repeats a Ray one

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, configs: Sequence[RunConfig]) -> Iterator[tuple[int, RunRecord | str]]:
        for index, config in enumerate(configs):
            yield index, evaluate(config)


@dataclass(frozen=True)
class PointResult:
    index: int
    params: dict[str, Any]
    run_id: str
    result: dict[str, Any]

    def objective(self, key: str) -> Decimal | None:
        """The objective, exact: money comes as decimal text, ratios as floats (as ``--json`` prints them)."""
        value = self.result.get(key)
        return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class SweepOutcome:
    sweep_id: str
    spec: SweepSpec
    points: list[PointResult]  # in point order

    def ranked(self) -> list[PointResult]:
        """Best first by the objective; points without a value (no trades: no Sharpe) last."""
        sign = -1 if self.spec.direction == "maximize" else 1

        def key(point: PointResult) -> tuple[bool, Decimal, int]:
            value = point.objective(self.spec.objective)
            return value is None, sign * (value or Decimal(0)), point.index

        return sorted(self.points, key=key)


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep, ready to run: every point's config of a grid, built and validated."""

    path: Path
    overrides: list[str]
    spec: SweepSpec
    sweep_id: str
    seed: int  # an optuna search's sampler seed
    points: list[dict[str, Any]]  # a grid's points (a search chooses its own)
    configs: list[RunConfig]


def plan_sweep(path: Path, overrides: list[str], spec: SweepSpec, seed: int | None = None) -> SweepPlan:
    """Validate every point of a grid, or each value a search may pick (``_corners``), before any
    runs: the caller starts Ray only for a sweep that can run."""
    base = point_config(path, overrides, {})
    points = spec.grid_points() if spec.search == "grid" else []
    configs = [_checked(path, overrides, p) for p in points]
    for probe in _corners(spec) if spec.search == "optuna" else []:
        _checked(path, overrides, probe)
    seed = base.run.seed if seed is None else seed
    return SweepPlan(path, overrides, spec, _sweep_id(base, spec), seed, points, configs)


class SweepService:
    def __init__(self, store: RunStore, executor: Executor) -> None:
        self._store = store
        self._executor = executor

    def run(self, plan: SweepPlan, progress: Progress = _quiet) -> SweepOutcome:
        """Run and store the plan's points (a grid's), or its search's."""
        if plan.spec.search == "grid":
            total = len(plan.points)
            stored = self._evaluate(plan.sweep_id, plan.points, plan.configs, 0, lambda done: progress(done, total))
            results = list(stored)
        else:
            results = self._search(plan, progress)
        return SweepOutcome(plan.sweep_id, plan.spec, results)

    def _search(self, plan: SweepPlan, progress: Progress) -> list[PointResult]:
        try:
            import optuna  # noqa: PLC0415 (seconds to import: only a search needs it)
        except ImportError:
            raise SweepError("optuna is not installed: pip install 'spreadhawk[sweep]'") from None

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spec = plan.spec
        study = optuna.create_study(direction=spec.direction, sampler=optuna.samplers.TPESampler(seed=plan.seed))
        space = _distributions(spec)
        results: list[PointResult] = []
        while len(results) < spec.trials:
            batch = [study.ask(space) for _ in range(min(self._executor.workers, spec.trials - len(results)))]
            points = [_point(spec, trial.params) for trial in batch]
            configs = [_checked(plan.path, plan.overrides, p) for p in points]
            first = len(results)

            def advance(n: int, first: int = first) -> None:
                progress(first + n, spec.trials)

            done = list(self._evaluate(plan.sweep_id, points, configs, first, advance))
            for trial, point in zip(batch, done, strict=True):  # told in ask order: a reproducible search
                value = point.objective(spec.objective)
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, float(value))
            results.extend(done)
        return results

    def _evaluate(
        self,
        sweep_id: str,
        points: list[dict[str, Any]],
        configs: list[RunConfig],
        first: int,
        progress: Callable[[int], None],
    ) -> Iterator[PointResult]:
        """Run ``configs`` and store them in point order (workers finish in any order)."""
        finished: dict[int, RunRecord] = {}
        stored = 0
        for index, outcome in self._executor.map(configs):
            if isinstance(outcome, str):
                raise SweepError(f"point {first + index} ({describe(points[index])}): {outcome}")
            finished[index] = outcome
            while stored in finished:
                tag = {"id": sweep_id, "index": first + stored, "params": jsonable(points[stored])}
                yield self._store_point(finished.pop(stored), configs[stored], tag)
                stored += 1
                progress(stored)

    def _store_point(self, record: RunRecord, config: RunConfig, tag: dict[str, Any]) -> PointResult:
        def build(run_id: str) -> RunRecord:
            run = named(record, run_id)
            return replace(run, config={**run.config, "sweep": tag})

        run_id = self._store.save_next_run(build, config.config_hash(), config.run.seed)
        return PointResult(tag["index"], tag["params"], run_id, named(record, run_id).config["result"])


def _checked(path: Path, overrides: list[str], point: Mapping[str, Any]) -> RunConfig:
    try:
        return point_config(path, overrides, point)
    except ConfigError as exc:
        raise SweepError(f"point {describe(point)}: {exc}") from None


def _sweep_id(base: RunConfig, spec: SweepSpec) -> str:
    """What was swept (hash of the base config and the spec), and when (two sweeps of the same spec differ)."""
    text = json.dumps([base.canonical_json(), jsonable(spec.grid), jsonable(spec.ranges), spec.search, spec.trials])
    return f"{hashlib.sha256(text.encode()).hexdigest()[:8]}-{WallClock().now_ns() // 1_000_000:x}"


def _distributions(spec: SweepSpec) -> dict[str, optuna.distributions.BaseDistribution]:
    from optuna.distributions import (  # noqa: PLC0415 (see _search)
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    # grid values by index: a value may be a list or a table, which optuna's choices cannot hold
    space: dict[str, BaseDistribution] = {k: CategoricalDistribution(range(len(v))) for k, v in spec.grid.items()}
    for key, (low, high) in spec.ranges.items():
        both_ints = isinstance(low, int) and isinstance(high, int)
        space[key] = IntDistribution(int(low), int(high)) if both_ints else FloatDistribution(low, high)
    return space


def _point(spec: SweepSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: spec.grid[key][params[key]] if key in spec.grid else params[key] for key in spec.keys}


def _corners(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every grid value and both ends of every range, the other keys at their first value: each
    value a search may pick is checked before the search starts (inner range values excepted)."""
    first = {key: values[0] for key, values in spec.grid.items()} | {key: r[0] for key, r in spec.ranges.items()}
    options = {**spec.grid, **spec.ranges}
    return [first | {key: value} for key, values in options.items() for value in values]
