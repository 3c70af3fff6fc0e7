"""``spreadhawk sweep CONFIG``: one backtest per parameter point, on Ray (or ``--serial``), each
stored as a run tagged with the sweep, ranked by an objective (docs/sweep.md)."""

from __future__ import annotations

import json
import os
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spreadhawk.cli.output import errors, fail

if TYPE_CHECKING:  # --help must not wait for ray, optuna or the engine (imported where used)
    from spreadhawk.runtime.sweep import Executor, SweepOutcome

console = Console()

GRID_HELP = "KEY=V1,V2,...: values of one key path, e.g. strategy.params.min_profit_bps=1,3,5 (repeatable)"
RANGE_HELP = "KEY=LOW:HIGH: a range for --search optuna, ints if both are, e.g. strategy.params.cooldown_ms=0:5000"


def register(app: typer.Typer) -> None:
    app.command()(sweep)


def sweep(
    config: Annotated[Path, typer.Argument(help="run config (TOML); its [sweep] table, if any, is the default spec")],
    grid: Annotated[list[str] | None, typer.Option("--grid", help=GRID_HELP)] = None,
    range_: Annotated[list[str] | None, typer.Option("--range", help=RANGE_HELP)] = None,
    search: Annotated[str | None, typer.Option("--search", help="grid (every point) or optuna")] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="points an optuna search runs")] = None,
    objective: Annotated[str | None, typer.Option("--objective", help="result key to rank by: sharpe, pnl...")] = None,
    direction: Annotated[str | None, typer.Option("--direction", help="maximize or minimize")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="optuna sampler seed (default: run.seed)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="base override: key.path=value (repeatable)")] = None,
    serial: Annotated[bool, typer.Option("--serial", help="run in this process, without Ray")] = False,
    num_cpus: Annotated[
        int | None, typer.Option("--num-cpus", min=1, help="local Ray workers (and optuna batch) [default: all CPUs]")
    ] = None,
    address: Annotated[str | None, typer.Option("--address", help="join this Ray cluster (ray://... or auto)")] = None,
    db: Annotated[
        str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
    ] = "spreadhawk.db",
    plot: Annotated[Path | None, typer.Option("--plot", help="write an HTML page of the sweep here")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="rows of the summary table")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object (every point)")] = False,
) -> None:
    """Backtest a config at every point of a parameter grid, or an optuna search, on Ray."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (see the imports)

    from spreadhawk.cli.main import _store  # noqa: PLC0415 (main imports this module)
    from spreadhawk.runtime.config import ConfigError  # noqa: PLC0415
    from spreadhawk.runtime.sweep import SweepService, plan_sweep  # noqa: PLC0415
    from spreadhawk.runtime.sweep_spec import SweepOptions, read_spec  # noqa: PLC0415

    if serial and address:
        fail("--serial runs without Ray: give --serial or --address, not both")
    overrides = set_ or []
    options = SweepOptions(grid or [], range_ or [], search, trials, objective, direction)
    started = time.perf_counter()
    try:
        plan = plan_sweep(config, overrides, read_spec(config, options), seed)  # every point checked: Ray not started
        with _store(db) as store, _executor(serial, num_cpus, address) as executor, _bar(plan.spec.size()) as bar:
            task = bar.add_task("sweep", total=plan.spec.size())
            outcome = SweepService(store, executor).run(plan, lambda done, _: bar.update(task, completed=done))
            workers = executor.workers
    except ConfigError as exc:  # SweepError included
        fail(str(exc))
    except SQLAlchemyError as exc:
        fail(f"run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    seconds = time.perf_counter() - started
    how = "serially" if serial else f"on Ray, {workers} workers"
    if as_json:
        typer.echo(json.dumps(_json(outcome), sort_keys=True))
    else:
        console.print(_table(outcome, top))
    errors.print(
        f"sweep {outcome.sweep_id}: {len(outcome.points)} runs stored in {escape(db)}, {seconds:.1f} s {how}",
        highlight=False,
        soft_wrap=True,
    )
    if plot is not None:
        _write_plot(outcome, plot)


def _executor(serial: bool, num_cpus: int | None, address: str | None) -> AbstractContextManager[Executor]:
    if serial:  # the batch of an optuna search is what a Ray sweep's would be: the same trials
        return nullcontext(_serial(num_cpus))
    from spreadhawk.runtime.sweep_ray import RayExecutor  # noqa: PLC0415 (see the imports)

    return RayExecutor(num_cpus=num_cpus, address=address)


def _serial(num_cpus: int | None) -> Executor:
    from spreadhawk.runtime.sweep import SerialExecutor  # noqa: PLC0415 (see the imports)

    return SerialExecutor(num_cpus or os.cpu_count() or 1)


def _bar(total: int) -> Progress:
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn())
    return Progress(*columns, console=errors, transient=True, disable=not errors.is_terminal or total < 2)


def _json(outcome: SweepOutcome) -> dict[str, Any]:
    key = outcome.spec.objective
    return {
        "sweep_id": outcome.sweep_id,
        "objective": key,
        "direction": outcome.spec.direction,
        "points": [
            {"index": p.index, "run_id": p.run_id, "params": p.params, key: p.result.get(key)}
            | {k: p.result.get(k) for k in ("final_equity", "pnl", "sharpe", "fills", "journal_sha256")}
            for p in outcome.ranked()
        ],
    }


def _table(outcome: SweepOutcome, top: int) -> Table:
    spec = outcome.spec
    ranked = outcome.ranked()
    keys = list(spec.keys)
    extra = [k for k in ("pnl", "sharpe", "fills") if k != spec.objective]
    title = f"sweep {outcome.sweep_id}: {len(ranked)} points by {spec.objective} ({spec.direction})"
    table = Table("#", "run id", *(k.rsplit(".", 1)[-1] for k in keys), spec.objective, *extra, title=title)
    for rank, point in enumerate(ranked[:top], 1):
        cells = [_cell(point.params[k]) for k in keys]
        table.add_row(
            str(rank), point.run_id, *cells, _cell(point.result.get(spec.objective)),
            *(_cell(point.result.get(k)) for k in extra),
        )  # fmt: skip
    if len(ranked) > top:
        table.caption = f"{len(ranked) - top} more: --top N, or --json"
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(value if isinstance(value, str) else json.dumps(value))


def _write_plot(outcome: SweepOutcome, path: Path) -> None:
    from spreadhawk.report.sweep_html import write_sweep_page  # noqa: PLC0415 (plotly: seconds to import)

    key = outcome.spec.objective
    rows = [
        {"index": p.index, "run_id": p.run_id, "params": p.params, "objective": p.objective(key)}
        for p in outcome.ranked()
    ]
    try:
        written = write_sweep_page(path, f"spreadhawk sweep {outcome.sweep_id}", key, rows)
    except OSError as exc:
        fail(f"cannot write the plot: {exc} (the runs are stored)")
    console.print(f"plot: {escape(str(written))}", highlight=False, soft_wrap=True)
