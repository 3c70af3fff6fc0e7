"""A scan from a run config: ``load_scan_config`` (strategies optional) and ``build_scan`` (an engine
with no venue and no strategy over the config's data, the default detectors in a ``Scanner``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import ValidationError, model_validator

from spreadhawk.domain.market import MarketData
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.runtime.config import (
    ConfigError,
    RunConfig,
    apply_override,
    describe_validation_error,
    parse_override,
)
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.scan_detectors import default_detectors
from spreadhawk.runtime.scanner import Scanner


class ScanConfig(RunConfig):
    """A run config whose strategies, if any, are ignored: a scan needs only data and instruments."""

    @model_validator(mode="after")
    def _one_way_to_name_strategies(self) -> Self:  # replaces RunConfig's: strategies are optional here
        return self


def load_scan_config(path: Path, overrides: list[str] | None = None) -> ScanConfig:
    """As ``runtime.config.load_config``, without requiring a strategy; problems are one-line ``ConfigError``s."""
    import tomllib  # noqa: PLC0415  (only the loader needs it)

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        body: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    for text in overrides or []:
        apply_override(body, *parse_override(text))
    if "base_dir" in body:
        raise ConfigError(f"{path}: unknown key 'base_dir'")
    body["base_dir"] = str(path.resolve().parent)
    try:
        return ScanConfig.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from None


@dataclass
class ScanNode:
    engine: Engine
    scanner: Scanner
    sources: list[Iterable[MarketData]]
    event_count: int

    def run(self, progress: Callable[[int, int], None] | None = None, progress_every: int = 50_000) -> Scanner:
        run_replay(self.engine, ReplayFeed(self.sources), progress=progress, progress_every=progress_every)
        self.scanner.finish(self.engine.clock.now_ns())
        return self.scanner


def build_scan(config: RunConfig, *, funding_horizon_hours: float = 24.0) -> ScanNode:
    """An engine with no venue and no strategy over the config's data, and a scanner attached."""
    feed = load_feed(config)
    instruments, sources, count = feed.instruments, feed.sources, feed.count
    interval_h = feed.funding_interval_h or 8.0  # until two funding times are seen
    engine = Engine(instruments.values(), clock=SimClock(feed.start_ns))
    engine.limit_book_ages(config.max_book_age_ns)  # a book that stopped updating is not traded on
    detectors = default_detectors(
        instruments.values(), funding_horizon_hours=funding_horizon_hours, funding_interval_hours=interval_h
    )
    scanner = Scanner(detectors)
    scanner.attach(engine)
    return ScanNode(engine, scanner, sources, count)
