"""The risk engine's settings: plain frozen values (pydantic validates them at the edge, in runtime).

Defaults are the seeds' numbers where the seeds give one (issue #5): 10 % of equity in one asset,
15 % per strategy, 70 % of capital deployed, leverage 3:1, a ±5 % price band, daily/weekly/monthly
loss limits of 5/10/15 %, drawdown 8 % (sizes halved) and 10 % (flatten and halt), 3 losing round
trips (pause one hour) and 10 (pause pending review). The seeds give no number for the order
notional, the order rates or the degradation thresholds: those defaults are stated assumptions.
``None`` switches a limit off.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RiskLimits:
    # --- pre-trade limits (fractions of equity, notional in the valuation currency)
    max_order_notional: Decimal | None = Decimal(100_000)  # assumption: no seed number
    max_asset_fraction: Decimal | None = Decimal("0.10")  # |net exposure| in one asset / equity
    max_strategy_fraction: Decimal | None = Decimal("0.15")  # one strategy's exposure / equity
    max_deployed_fraction: Decimal | None = Decimal("0.70")  # capital deployed / equity
    max_leverage: Decimal | None = Decimal(3)  # gross notional / equity
    price_band: Decimal | None = Decimal("0.05")  # how far beyond the touch (or the mark) a limit may be
    price_band_min_ticks: int = 2  # the band is never narrower than this (binary markets price in cents)
    # order rates, counted over sliding windows of the injected clock (assumptions: no seed number)
    max_orders_per_second: int | None = 50
    max_orders_per_minute: int | None = 1_000
    max_strategy_orders_per_second: int | None = 20
    max_strategy_orders_per_minute: int | None = 400
    # --- loss limits on calendar windows (UTC): new risk is refused until the window ends
    daily_loss: Decimal | None = Decimal("0.05")
    weekly_loss: Decimal | None = Decimal("0.10")
    monthly_loss: Decimal | None = Decimal("0.15")
    # --- drawdown from the equity peak
    drawdown_halve: Decimal | None = Decimal("0.08")  # sizes halved (see limits.py)
    drawdown_flatten: Decimal | None = Decimal("0.10")  # flatten, then halt (kill switch)
    # --- losing streaks of one strategy (round trips, net of fees)
    losing_streak_pause: int | None = 3
    pause_seconds: float = 3600.0
    losing_streak_review: int | None = 10  # paused until resumed by hand
    # --- degradation (per venue): REDUCED halves sizes, HEDGE_ONLY lets only risk-reducing orders out
    reduced_size_factor: Decimal = Decimal("0.5")
    stale_reduced_s: float | None = 5.0  # no book update on the order's instrument for this long
    stale_hedge_only_s: float | None = 30.0
    health_window_s: float = 60.0  # rejections counted over this window
    rejections_reduced: int | None = 3
    rejections_hedge_only: int | None = 10
    latency_reduced_ms: float | None = 500.0  # submit -> accepted, the slowest of the last few
    latency_hedge_only_ms: float | None = 2_000.0
    # --- marks: equity, prices and account aggregates are re-marked at least this often (and after fills)
    mark_interval_s: float = 1.0
    # --- kill switch: flattening orders (cancel all, close positions) may pass while it is on
    flatten_on_kill: bool = True
    # --- VaR as a pre-trade limit (risk/var_limit.py): off unless a fraction is set
    max_var_fraction: Decimal | None = None  # 1-day VaR of the holdings plus the order / equity
    var_level: float = 0.99
    var_window_minutes: int = 1_440  # 1-minute returns in the covariance
    var_refresh_s: float = 300.0  # the covariance is re-estimated this often (not on the order's path)

    @property
    def pause_ns(self) -> int:
        return int(self.pause_seconds * NS_PER_S)
