"""The service layer every front-end calls (CLI now; REST API and dashboard later).

Front-ends never touch the engine: they ask a service to run a backtest or to read stored runs.
"""

from __future__ import annotations

import dataclasses
import heapq
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from spreadhawk.data.catalog import CatalogEntry, ParquetCatalog
from spreadhawk.data.catalog_instruments import write_instruments
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.persistence import RunRecord, RunStatus, RunStore, RunSummary
from spreadhawk.persistence.run_store import MetricValue
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.results import result_json, summarise
from spreadhawk.runtime.sources import DECLARING, build_instruments, load_source


class RunProgress(Protocol):
    """What a backtest tells whoever watches it: the phase it is in, then how far the replay has got."""

    def phase(self, text: str) -> None: ...

    def start(self, start_ns: int, end_ns: int, records: int) -> None: ...

    def advance(self, records: int, ts_ns: int) -> None: ...


def database_url(path: str | Path) -> str:
    text = str(path)
    return text if "://" in text else f"sqlite:///{Path(text).resolve()}"


@dataclass(frozen=True)
class BacktestOutcome:
    run_id: str
    result: dict[str, Any]


class BacktestService:
    def __init__(self, store: RunStore) -> None:
        self._store = store

    def run(self, config: RunConfig, progress: RunProgress | None = None) -> BacktestOutcome:
        unnamed = backtest_record(config, progress)
        run_id = self._store.save_next_run(lambda rid: named(unnamed, rid), config.config_hash(), config.run.seed)
        return BacktestOutcome(run_id, named(unnamed, run_id).config["result"])


def backtest_record(config: RunConfig, progress: RunProgress | None = None) -> RunRecord:
    """Run the backtest; its record, under no run id yet (``named`` gives it the store's).

    Apart from the store: a sweep runs this in Ray workers and stores the records in the driver."""
    if progress is not None:
        simulated = any(section.format == "market_simulator" for section in config.data)
        progress.phase("building the simulated market" if simulated else "reading the data")
    node = build_backtest(config)
    started = time.perf_counter()
    if progress is not None:
        progress.start(*node.span_ns, node.event_count)
    node.run(progress.advance if progress is not None else None)
    wall = time.perf_counter() - started
    figures = summarise(node.engine)
    result = result_json("", figures, node, wall)
    return run_record(config, node.engine, "", result, figures.metrics.as_dict(), wall)


def named(record: RunRecord, run_id: str) -> RunRecord:
    """``record`` under ``run_id``, in the record and in its stored result."""
    result = {**record.config["result"], "run_id": run_id}
    return dataclasses.replace(record, run_id=run_id, config={**record.config, "result": result})


def run_record(
    config: RunConfig,
    engine: Engine,
    run_id: str,
    result: dict[str, Any],
    metrics: dict[str, MetricValue],
    wall_seconds: float,
    status: RunStatus = RunStatus.COMPLETED,
) -> RunRecord:
    """What the run store keeps of a finished run, whatever its mode."""
    return RunRecord(
        run_id=run_id,
        created_ns=WallClock().now_ns(),
        strategy=", ".join(section.path for section in config.strategy_sections),
        config={"config": config.model_dump(mode="json", exclude={"base_dir"}), "result": result},
        config_hash=config.config_hash(),
        seed=config.run.seed,
        metrics=metrics,
        orders=tuple(engine.orders.values()),
        fills=tuple(engine.fills),
        equity=tuple(engine.equity_curve),
        events_processed=engine.events_processed,
        wall_seconds=wall_seconds,
        status=status,
    )


class DataService:
    """Normalise the data a config names into a Parquet catalog, so later runs read it fast."""

    def __init__(self, catalog: ParquetCatalog) -> None:
        self._catalog = catalog

    def import_config(self, config: RunConfig, name: str) -> list[CatalogEntry]:
        """The records of every ``[[data]]`` section into the catalog, and the definitions of their
        instruments beside them (those of ``[[instruments]]`` and those a source declares itself)."""
        instruments = build_instruments(config)
        sources = []
        for section in config.data:
            declaring = DECLARING.get(section.format)
            if declaring is None:
                sources.append(load_source(config, section, instruments))
                continue
            own, records = declaring(config, section)
            instruments.update({inst.id: inst for inst in own})
            sources.append(records)
        # merged in time: two sources may feed one instrument (the BTC 15-minute and hourly up/down
        # recordings both carry the Binance mid), and a catalog file's records go forward in time
        records = list(heapq.merge(*sources, key=lambda record: record.ts_ns))
        stored = {record.instrument_id for record in records}
        try:  # one write: every record is checked before any file is (nothing half-imported)
            write_instruments(self._catalog.root, [instruments[iid] for iid in sorted(stored) if iid in instruments])
            written = set(self._catalog.write(records, name))
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"catalog: {exc}") from None
        return [entry for entry in self._catalog.list() if entry.path in written]

    def entries(self) -> list[CatalogEntry]:
        return self._catalog.list()


class ReportService:
    """Writes a stored run's HTML report (see ``report.html``: plotly shared by a folder's reports,
    or inside the report when ``self_contained``)."""

    def __init__(self, store: RunStore) -> None:
        self._store = store

    def write(self, run_id: str, path: Path, *, self_contained: bool = False) -> Path | None:
        record = self._store.get_run(run_id)
        # imported here: the report pulls in plotly, hmmlearn and scikit-learn (seconds), which a
        # command that writes no report (--help, runs) must not wait for
        from spreadhawk.report import write_report  # noqa: PLC0415

        return write_report(record, path, self_contained=self_contained) if record is not None else None


class QueryService:
    def __init__(self, store: RunStore) -> None:
        self._store = store

    def runs(self, limit: int = 50) -> list[RunSummary]:
        return self._store.list_runs(limit)

    def run(self, run_id: str) -> RunRecord | None:
        return self._store.get_run(run_id)
