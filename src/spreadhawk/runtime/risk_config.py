"""The ``[risk]`` section of a run config: pydantic at the edge, handed inward as ``RiskLimits``.

```toml
[risk]
enabled = true                 # off by default in backtests (see below)
max_order_notional = "50000"   # valuation currency; any limit can be switched off with "off"
max_asset_fraction = "0.10"
daily_loss = "off"
kill_switch_db = "risk.db"     # keep the kill switch across runs (SQLite file, or a database URL)
max_var_fraction = "0.05"      # 1-day 99 % VaR (holdings + the order) at most 5 % of equity; off by default

[risk.allocation]              # regime- and correlation-aware capital scale (spreadhawk.risk.allocation)
enabled = true
reference = ["ALPHA:BTC/USDT", "ALPHA:ETH/USDT"]
method = "rules"               # or "hmm"
correlation_window = 30        # one-minute bars
floor = "0.25"                 # the correlation factor's minimum
families = { sma_eth = "directional" }   # else the strategy class's ``family``
matrix = { crisis = { directional = "0.25" } }   # overrides of the default allocation matrix
```

Every key of ``spreadhawk.risk.config.RiskLimits`` may be set here; its defaults are the seeds'.
Why off by default in backtests: the seeds' limits are meant for a live account, and the existing
examples and the demo hold starting inventory far above 10 % of equity in one asset (the demo
holds about 27 % of its equity in BTC and 24 % in ETH on the venues), so with the defaults every
order adding to BTC or ETH would be denied and their results would change. A config turns risk on
with ``enabled = true`` and sets the limits its own strategies need.

Why the allocation is a subsection of ``[risk]`` and not its own: it is the same concern (how much
capital may be at risk now), it multiplies in the risk engine's drawdown halving, and keeping it
here keeps every risk setting in one place. It works with ``[risk] enabled = false`` too (the
scale then has no drawdown factor): the allocator sizes, it never denies.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from spreadhawk.analytics.regime_table import AllocationMatrix, RegimeThresholds
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.risk.allocation import AllocationSettings, resolve_family
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


class AllocationSection(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    reference: list[str] = []  # instrument ids; the first decides trend, range and volatility
    method: Literal["rules", "hmm"] = "rules"
    families: dict[str, str] = {}  # strategy id -> family (arbitrage, carry, directional, ...)
    matrix: dict[str, dict[str, Decimal]] = {}  # regime -> family -> scale, over the default matrix
    correlation_window: int = Field(default=30, ge=3)
    floor: Decimal = Field(default=Decimal("0.25"), ge=0, le=1)
    sample_interval_s: float = Field(default=5.0, gt=0)
    bar_interval_s: float = Field(default=60.0, gt=0)
    history_bars: int = Field(default=360, ge=10)
    crisis_correlation: float = Field(default=RegimeThresholds().crisis_correlation, gt=0, lt=1)
    hmm_states: int = Field(default=3, ge=2, le=6)
    hmm_refit_hours: float = Field(default=6.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> AllocationSection:
        if self.enabled and not self.reference:
            raise ValueError("risk.allocation.reference: name at least one instrument (e.g. 'ALPHA:BTC/USDT')")
        for strategy_id, family in self.families.items():
            try:
                resolve_family(family)
            except ValueError as exc:
                raise ValueError(f"risk.allocation.families.{strategy_id}: {exc}") from None
        if self.enabled:
            self.settings(seed=0)  # a bad override or window is reported now, not when the run starts
        else:
            self.allocation_matrix()
        return self

    def allocation_matrix(self) -> AllocationMatrix:
        table = {regime.value: dict(row) for regime, row in AllocationMatrix.default().scales.items()}
        for regime, row in self.matrix.items():
            if regime not in table:
                raise ValueError(f"risk.allocation.matrix.{regime}: unknown regime; known: {', '.join(table)}")
            for family, scale in row.items():
                try:
                    table[regime][resolve_family(family)] = scale
                except ValueError as exc:
                    raise ValueError(f"risk.allocation.matrix.{regime}: {exc}") from None
        try:
            return AllocationMatrix.from_mapping(table)
        except ValueError as exc:
            raise ValueError(f"risk.allocation.matrix: {exc}") from None

    def settings(self, seed: int) -> AllocationSettings:
        try:
            return AllocationSettings(
                reference=tuple(InstrumentId(iid) for iid in self.reference),
                method=self.method,
                matrix=self.allocation_matrix(),
                families={sid: resolve_family(family) for sid, family in self.families.items()},
                correlation_window=self.correlation_window,
                floor=self.floor,
                sample_interval_s=self.sample_interval_s,
                bar_interval_s=self.bar_interval_s,
                history_bars=self.history_bars,
                thresholds=RegimeThresholds(crisis_correlation=self.crisis_correlation),
                hmm_states=self.hmm_states,
                hmm_refit_hours=self.hmm_refit_hours,
                seed=seed,
            )
        except ValueError as exc:
            raise ValueError(f"risk.allocation: {exc}") from None


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
    max_var_fraction: Fraction = _DEFAULTS.max_var_fraction
    var_level: float = Field(default=_DEFAULTS.var_level, gt=0.5, lt=1)
    var_window_minutes: int = Field(default=_DEFAULTS.var_window_minutes, ge=10)
    var_refresh_s: float = Field(default=_DEFAULTS.var_refresh_s, gt=0)
    allocation: AllocationSection = AllocationSection()

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
        return RiskLimits(**self.model_dump(exclude={"enabled", "kill_switch_db", "allocation"}))
