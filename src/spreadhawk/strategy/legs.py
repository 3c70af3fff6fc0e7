"""Strategies whose trades are several legs sent together: one config block and one executor.

Every arbitrage strategy sends its legs through the paired-leg executor (``execution.paired``);
the knobs of that executor and the way a strategy gets it are the same for all of them, so they
live here rather than in each strategy.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from spreadhawk.execution.paired import HedgeMode, PairedExecutor, PairedExecutorConfig
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

    @property
    def executor(self) -> PairedExecutor:
        """Legs go out together through it; it completes or unwinds a leg that fails."""
        if self._executor is None:
            if not isinstance(self.config, PairedLegsConfig):
                raise TypeError(f"{type(self).__name__}'s config must derive from PairedLegsConfig")
            self._executor = PairedExecutor(self.ctx, self.config.executor_config())
        return self._executor
