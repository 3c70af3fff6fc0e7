"""The ``[risk]`` section of a run config: pydantic at the edge, handed inward as ``RiskLimits``.

```toml
[risk]
enabled = true                 # off by default in backtests (see below)
max_order_notional = "50000"   # valuation currency; any limit can be switched off with "off"
max_asset_fraction = "0.10"
daily_loss = "off"
kill_switch_db = "risk.db"     # keep the kill switch across runs (SQLite file, or a database URL)
```

Every key of ``spreadhawk.risk.config.RiskLimits`` may be set here; its defaults are the seeds'.
Why off by default in backtests: the seeds' limits are meant for a live account, and the existing
examples and the demo hold starting inventory far above 10 % of equity in one asset (the demo
holds about 27 % of its equity in BTC and 24 % in ETH on the venues), so with the defaults every
order adding to BTC or ETH would be denied and their results would change. A config turns risk on
with ``enabled = true`` and sets the limits its own strategies need.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from spreadhawk.risk.config import RiskLimits

_DEFAULTS = RiskLimits()


def _off_is_none(value: Any) -> Any:
    """``"off"`` (or ``false``) switches a limit off; TOML has no null."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none")):
        return None
    return value


Fraction = Annotated[Annotated[Decimal, Field(gt=0, le=1)] | None, BeforeValidator(_off_is_none)]
Positive = Annotated[Annotated[Decimal, Field(gt=0)] | None, BeforeValidator(_off_is_none)]
Count = Annotated[Annotated[int, Field(ge=1)] | None, BeforeValidator(_off_is_none)]
Seconds = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_off_is_none)]


class RiskSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    kill_switch_db: str = ""  # empty: the kill switch lives for the run only
    max_order_notional: Positive = _DEFAULTS.max_order_notional
    max_asset_fraction: Fraction = _DEFAULTS.max_asset_fraction
    max_strategy_fraction: Fraction = _DEFAULTS.max_strategy_fraction
    max_deployed_fraction: Fraction = _DEFAULTS.max_deployed_fraction
    max_leverage: Positive = _DEFAULTS.max_leverage
    price_band: Fraction = _DEFAULTS.price_band
    price_band_min_ticks: int = Field(default=_DEFAULTS.price_band_min_ticks, ge=0)
    max_orders_per_second: Count = _DEFAULTS.max_orders_per_second
    max_orders_per_minute: Count = _DEFAULTS.max_orders_per_minute
    max_strategy_orders_per_second: Count = _DEFAULTS.max_strategy_orders_per_second
    max_strategy_orders_per_minute: Count = _DEFAULTS.max_strategy_orders_per_minute
    daily_loss: Fraction = _DEFAULTS.daily_loss
    weekly_loss: Fraction = _DEFAULTS.weekly_loss
    monthly_loss: Fraction = _DEFAULTS.monthly_loss
    drawdown_halve: Fraction = _DEFAULTS.drawdown_halve
    drawdown_flatten: Fraction = _DEFAULTS.drawdown_flatten
    losing_streak_pause: Count = _DEFAULTS.losing_streak_pause
    pause_seconds: float = Field(default=_DEFAULTS.pause_seconds, gt=0)
    losing_streak_review: Count = _DEFAULTS.losing_streak_review
    reduced_size_factor: Decimal = Field(default=_DEFAULTS.reduced_size_factor, gt=0, le=1)
    stale_reduced_s: Seconds = _DEFAULTS.stale_reduced_s
    stale_hedge_only_s: Seconds = _DEFAULTS.stale_hedge_only_s
    health_window_s: float = Field(default=_DEFAULTS.health_window_s, gt=0)
    rejections_reduced: Count = _DEFAULTS.rejections_reduced
    rejections_hedge_only: Count = _DEFAULTS.rejections_hedge_only
    latency_reduced_ms: Seconds = _DEFAULTS.latency_reduced_ms
    latency_hedge_only_ms: Seconds = _DEFAULTS.latency_hedge_only_ms
    mark_interval_s: float = Field(default=_DEFAULTS.mark_interval_s, gt=0)
    flatten_on_kill: bool = _DEFAULTS.flatten_on_kill

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> RiskSection:
        pairs = (
            ("drawdown_halve", self.drawdown_halve, "drawdown_flatten", self.drawdown_flatten),
            ("losing_streak_pause", self.losing_streak_pause, "losing_streak_review", self.losing_streak_review),
            ("stale_reduced_s", self.stale_reduced_s, "stale_hedge_only_s", self.stale_hedge_only_s),
            ("rejections_reduced", self.rejections_reduced, "rejections_hedge_only", self.rejections_hedge_only),
            ("latency_reduced_ms", self.latency_reduced_ms, "latency_hedge_only_ms", self.latency_hedge_only_ms),
        )
        for low_name, low, high_name, high in pairs:
            if low is not None and high is not None and low >= high:
                raise ValueError(f"risk.{low_name} ({low}) must be below risk.{high_name} ({high})")
        return self

    def limits(self) -> RiskLimits:
        return RiskLimits(**self.model_dump(exclude={"enabled", "kill_switch_db"}))
