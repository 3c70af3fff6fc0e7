"""Strategies whose trades are several legs sent together: one config block and one executor.

Every arbitrage strategy sends its legs through the paired-leg executor (``execution.paired``);
the knobs of that executor and the way a strategy gets it are the same for all of them, so they
live here rather than in each strategy.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from pydantic import Field

from spreadhawk.engine.context import StrategyContext
from spreadhawk.execution.paired import HedgeMode, PairedExecutor, PairedExecutorConfig, UnitId, UnitRecord, UnitStatus
from spreadhawk.strategy.base import Strategy, StrategyConfig


class PairedLegsConfig(StrategyConfig):
    """What the executor does when one leg fills and another does not (subclasses may change defaults)."""

    hedge_after_ms: int = Field(default=1_000, ge=0, description="how long legs may work before hedging")
    hedge_mode: HedgeMode = Field(default=HedgeMode.COMPLETE, description="complete the short leg, or unwind")
    max_legging_loss: Decimal = Field(default=Decimal(50), ge=0, description="quote; costlier completions unwind")

    def executor_config(self) -> PairedExecutorConfig:
        return PairedExecutorConfig(
            max_legging_loss=self.max_legging_loss, hedge_after_ms=self.hedge_after_ms, hedge_mode=self.hedge_mode
        )


class PairedLegsStrategy(Strategy):
    """A strategy that trades through a ``PairedExecutor`` built from its ``PairedLegsConfig``."""

    _executor: PairedExecutor | None = None

    def attach(self, ctx: StrategyContext) -> None:
        """Build the executor with the context: it subscribes to the strategy's order events now,
        before the strategy's own handlers, so it has judged a unit when they run."""
        super().attach(ctx)
        if not isinstance(self.config, PairedLegsConfig):
            raise TypeError(f"{type(self).__name__}'s config must derive from PairedLegsConfig")
        self._executor = PairedExecutor(ctx, self.config.executor_config())

    @property
    def executor(self) -> PairedExecutor:
        """Legs go out together through it; it completes or unwinds a leg that fails."""
        if self._executor is None:
            raise RuntimeError(f"strategy {self.id} is not attached to an engine yet")
        return self._executor


RETRY_BACKOFF_NS = 60_000_000_000  # first wait after a closing unit was unwound; doubles up to the cap
RETRY_BACKOFF_CAP_NS = 3_600_000_000_000


class UnitOutcomes:
    """What a legged strategy learns from its units once the executor has judged them.

    * An entry unit that could not be made whole (unwound), or any unit that failed, halts new
      entries for good: the venue refuses one of the legs, and entering again would only repeat it.
    * A unit sent to close or reduce a position (an exit, a defence) that was unwound is retried
      after a wait that doubles with each failure in a row, not on the next book update: each
      attempt pays both legs' fees (a perp-perp strategy paid 4,342 USDT in 2 h retrying a defence
      every second).
    """

    def __init__(self) -> None:
        self.entries: set[UnitId] = set()
        self._closing: dict[UnitId, bool] = {}  # unit -> judged
        self._failures_in_a_row = 0
        self.retry_at_ns = 0
        self.halted = False

    def closing(self, unit: UnitId | None) -> None:
        if unit is not None:
            self._closing[unit] = False

    def judge(self, units: Mapping[UnitId, UnitRecord], now_ns: int) -> list[str]:
        """Take in every unit the executor has finished with; what happened, worth a log line."""
        notes = []
        for unit_id in [u for u, judged in self._closing.items() if not judged]:
            unit = units[unit_id]
            if unit.status is UnitStatus.OPEN:
                continue
            self._closing[unit_id] = True
            if unit.status in (UnitStatus.UNWOUND, UnitStatus.FAILED):
                self._failures_in_a_row += 1
                wait = min(RETRY_BACKOFF_NS * 2 ** (self._failures_in_a_row - 1), RETRY_BACKOFF_CAP_NS)
                self.retry_at_ns = now_ns + wait
                notes.append(f"unit {unit_id} {unit.status}: {unit.note}; next attempt in {wait / 1e9:.0f} s")
            else:
                self._failures_in_a_row = 0
        for unit_id, unit in units.items():
            bad = unit.status is UnitStatus.FAILED or (unit_id in self.entries and unit.status is UnitStatus.UNWOUND)
            if bad and not self.halted:
                self.halted = True
                notes.append(f"unit {unit_id} {unit.status}: {unit.note}; no new entries")
        return notes

    def failed_closings(self, units: Mapping[UnitId, UnitRecord]) -> int:
        return sum(units[u].status in (UnitStatus.UNWOUND, UnitStatus.FAILED) for u in self._closing)
