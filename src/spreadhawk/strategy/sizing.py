"""How a strategy sizes its next entry: a config block (``sizing = { method = ... }``) and a ``Sizer``.

A strategy embeds ``sizing: SizingSettings`` in its config and owns one ``Sizer``. It feeds the sizer
its bars (``on_bar``) and the return of each of its own closed round trips (``record_trade``: net
quote received over quote spent, minus 1, fees included), and asks ``notional(equity, scale,
quantum)`` before each entry. ``equity`` is the strategy's own budget (e.g. its quote balance capped
by ``max_quote``); ``scale`` is ``ctx.capital_scale(instrument)`` from the capital allocator.

Methods (the arithmetic is the pure functions of ``spreadhawk.analytics.sizing``):

* ``fixed`` (default): the whole budget, exactly as before sizing existed.
* ``fixed_fractional``: lose ``risk_fraction`` of equity if the price moves ``stop_atr_multiple``
  ATRs against the entry: ``quantity = risk × equity / (k × ATR)``, notional = quantity × last close.
* ``kelly``: ``fraction × f*`` of equity, ``f* = p - (1 - p) / b`` from the strategy's own closed
  trades (win rate ``p``, average win / average loss ``b``, both on per-trade returns). Before
  ``min_trades`` closed trades it sizes as ``fixed``. With no losing trade yet ``b`` is unbounded and
  ``f*`` is its limit, the win rate. No edge (``f* <= 0``) means no entry.
* ``vol_target``: ``equity × target / forecast``, both annualised; the forecast is ATR / close (a
  per-bar proxy) or a GARCH(1,1) one-bar forecast on the last ``garch_window`` log returns,
  annualised with the bar interval (crypto trades 365 days a year).

Every non-fixed notional is capped at ``cap × equity`` and is zero until the sizer has seen enough
bars to measure what it needs (the strategy then skips the entry rather than guess).
"""

from __future__ import annotations

import math
from collections import deque
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from spreadhawk.analytics.indicators import atr
from spreadhawk.analytics.sizing import (
    DEFAULT_MAX_LEVERAGE,
    atr_stop_quantity,
    atr_volatility,
    fractional_kelly_notional,
    kelly_fraction_from_trades,
    volatility_target_notional,
)
from spreadhawk.analytics.volatility import GarchSpec, fit_garch, log_returns, realized_volatility
from spreadhawk.domain.market import Bar

ZERO = Decimal(0)
ONE = Decimal(1)
NS_PER_YEAR = 365 * 86_400 * 1_000_000_000


class _Method(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FixedSizing(_Method):
    method: Literal["fixed"] = "fixed"


class FixedFractionalSizing(_Method):
    method: Literal["fixed_fractional"]
    risk_fraction: Decimal = Field(default=Decimal("0.02"), gt=0, lt=1, description="equity lost at the stop")
    stop_atr_multiple: Decimal = Field(default=Decimal(2), gt=0, description="stop distance in ATRs")
    atr_period: int = Field(default=14, ge=1)
    cap: Decimal = Field(default=ONE, gt=0, le=DEFAULT_MAX_LEVERAGE, description="max notional / equity")


class KellySizing(_Method):
    method: Literal["kelly"]
    fraction: Decimal = Field(default=Decimal("0.25"), gt=0, le=1, description="share of full Kelly, e.g. 0.25")
    min_trades: int = Field(default=20, ge=1, description="closed trades before Kelly applies (fixed until then)")
    cap: Decimal = Field(default=ONE, gt=0, le=DEFAULT_MAX_LEVERAGE, description="max notional / equity")


class VolTargetSizing(_Method):
    method: Literal["vol_target"]
    target_volatility: float = Field(default=0.5, gt=0, le=10, description="annualised, e.g. 0.5 = 50 %")
    estimator: Literal["atr", "garch"] = "atr"
    atr_period: int = Field(default=14, ge=1)
    garch_window: int = Field(default=500, ge=101, le=100_000, description="bars of log returns per GARCH fit")
    cap: Decimal = Field(default=ONE, gt=0, le=DEFAULT_MAX_LEVERAGE, description="max notional / equity")


SizingSettings = Annotated[
    FixedSizing | FixedFractionalSizing | KellySizing | VolTargetSizing, Field(discriminator="method")
]


def _window(settings: SizingSettings) -> int:
    """Bars the sizer must remember for its estimate (ATR needs ``period + 1``)."""
    if isinstance(settings, FixedFractionalSizing):
        return settings.atr_period + 1
    if isinstance(settings, VolTargetSizing):
        return settings.garch_window + 1 if settings.estimator == "garch" else settings.atr_period + 1
    return 1


class Sizer:
    """The sizing state one strategy owns for one instrument: recent bars and its closed trades."""

    def __init__(self, settings: SizingSettings) -> None:
        self.settings = settings
        size = _window(settings)
        self._highs: deque[float] = deque(maxlen=size)
        self._lows: deque[float] = deque(maxlen=size)
        self._closes: deque[float] = deque(maxlen=size)
        self._last_close: Decimal | None = None
        self._interval_ns = 0
        self._bars_seen = 0
        self._garch: tuple[int, float] | None = None  # (bars seen when fitted, per-bar forecast)
        self.garch_failures = 0
        self.trade_returns: list[Decimal] = []

    @property
    def is_fixed(self) -> bool:
        return isinstance(self.settings, FixedSizing)

    def on_bar(self, bar: Bar) -> None:
        if self.is_fixed:
            return  # nothing to measure: keep the fixed path free of work
        self._highs.append(float(bar.high))
        self._lows.append(float(bar.low))
        self._closes.append(float(bar.close))
        self._last_close = bar.close
        self._interval_ns = bar.interval_ns
        self._bars_seen += 1

    def record_trade(self, trade_return: Decimal) -> None:
        """A closed round trip's net return on the quote it committed (0.01 = +1 %)."""
        self.trade_returns.append(trade_return)

    def notional(self, equity: Decimal, scale: Decimal = ONE, quantum: Decimal | None = None) -> Decimal:
        """Quote to commit to the next entry: the method's notional times ``scale``, rounded down to
        ``quantum`` (``Decimal.quantize``) whenever it isn't the budget itself."""
        base = self._base_notional(equity, quantum)
        if scale != 1:
            base = base * scale
            if quantum is not None:
                base = base.quantize(quantum, rounding=ROUND_DOWN)
        return base

    # --------------------------------------------------------------------------- methods
    def _base_notional(self, equity: Decimal, quantum: Decimal | None) -> Decimal:
        settings = self.settings
        if isinstance(settings, FixedSizing) or equity <= 0:
            return equity
        if isinstance(settings, KellySizing):
            return self._kelly(settings, equity, quantum)
        if isinstance(settings, FixedFractionalSizing):
            result = self._fixed_fractional(settings, equity)
        else:
            result = self._vol_target(settings, equity)
        result = min(result, equity * settings.cap)
        return result.quantize(quantum, rounding=ROUND_DOWN) if quantum is not None else result

    def _kelly(self, settings: KellySizing, equity: Decimal, quantum: Decimal | None) -> Decimal:
        if len(self.trade_returns) < settings.min_trades:
            return equity  # not enough evidence of an edge yet: size as ``fixed``
        result = fractional_kelly_notional(equity, self.kelly_fraction(), settings.fraction, settings.cap)
        return result.quantize(quantum, rounding=ROUND_DOWN) if quantum is not None else result

    def kelly_fraction(self) -> float:
        """Full Kelly ``f*`` of the recorded trades (the win rate while no trade has lost)."""
        if not any(value < 0 for value in self.trade_returns):
            # p - (1 - p) / b tends to p as the payoff ratio b grows without bound
            return sum(1 for value in self.trade_returns if value > 0) / len(self.trade_returns)
        return kelly_fraction_from_trades(self.trade_returns)

    def _atr(self, period: int) -> float | None:
        if len(self._closes) < period + 1:
            return None
        value = float(atr(self._highs, self._lows, self._closes, period)[-1])
        return value if math.isfinite(value) and value > 0 else None

    def _fixed_fractional(self, settings: FixedFractionalSizing, equity: Decimal) -> Decimal:
        current_atr = self._atr(settings.atr_period)
        if current_atr is None or self._last_close is None:
            return ZERO
        quantity = atr_stop_quantity(equity, current_atr, settings.stop_atr_multiple, settings.risk_fraction)
        return quantity * self._last_close

    def per_bar_volatility(self) -> float | None:
        """The vol_target forecast of one bar's return (``None`` until enough bars)."""
        settings = self.settings
        if not isinstance(settings, VolTargetSizing) or self._last_close is None:
            return None
        if settings.estimator == "atr":
            current_atr = self._atr(settings.atr_period)
            return None if current_atr is None else float(atr_volatility(current_atr, self._last_close))
        if len(self._closes) < settings.garch_window + 1:
            return None
        if self._garch is None or self._garch[0] != self._bars_seen:
            returns = log_returns(np.fromiter(self._closes, dtype=np.float64))
            try:
                forecast = fit_garch(returns, GarchSpec()).volatility_forecast(1)
            except ValueError:
                # The optimiser failed on this window: the sample volatility is the honest fallback.
                self.garch_failures += 1
                forecast = realized_volatility(returns)
            self._garch = (self._bars_seen, forecast)
        return self._garch[1]

    def _vol_target(self, settings: VolTargetSizing, equity: Decimal) -> Decimal:
        per_bar = self.per_bar_volatility()
        if per_bar is None or per_bar <= 0 or self._interval_ns <= 0:
            return ZERO
        annual = per_bar * math.sqrt(NS_PER_YEAR / self._interval_ns)
        return volatility_target_notional(equity, settings.target_volatility, annual, settings.cap)
