"""Position sizing: fixed fractional, fractional Kelly, volatility targeting, correlation adjustment.

Money in, money out as Decimal: equity, prices, notionals and quantities. Statistics (win rate,
payoff ratio, volatilities, correlations) are floats measured elsewhere and enter the Decimal
arithmetic through ``Decimal(repr(x))`` (the float's shortest exact-looking decimal, no binary
noise such as 0.1000000000000000055). Every sizing function can round its result *down* to a
``quantum`` (the instrument's lot or the account's minimum unit): a size is a ceiling, and
rounding it up would exceed the risk budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
DEFAULT_RISK_FRACTION = Decimal("0.02")
QUARTER_KELLY = Decimal("0.25")
HALF_KELLY = Decimal("0.5")
DEFAULT_MAX_LEVERAGE = Decimal(3)


def _decimal(value: float | Decimal, name: str) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    else:
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
        result = Decimal(repr(float(value)))
    if not result.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value}")
    return result


def _round_down(amount: Decimal, quantum: Decimal | None) -> Decimal:
    if quantum is None:
        return amount
    if quantum <= 0:
        raise ValueError(f"rounding quantum must be positive, got {quantum}")
    return (amount / quantum).to_integral_value(rounding=ROUND_DOWN) * quantum


def _positive(value: Decimal, name: str) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


# --- fixed fractional ---------------------------------------------------------------------------


def fixed_fractional_quantity(
    equity: Decimal,
    entry_price: Decimal,
    stop_price: Decimal,
    risk_fraction: Decimal = DEFAULT_RISK_FRACTION,
    quantum: Decimal | None = None,
) -> Decimal:
    """Quantity whose loss at the stop is ``risk_fraction`` of equity: ``equity × risk / |entry - stop|``.

    Zero when equity is not positive (no risk budget)."""
    if not ZERO < risk_fraction < ONE:
        raise ValueError(f"risk fraction must be in (0, 1), e.g. 0.02; got {risk_fraction}")
    stop_distance = abs(entry_price - stop_price)
    if stop_distance == 0:
        raise ValueError("stop price equals entry price: the risk per unit is zero, the size unbounded")
    if equity <= 0:
        return ZERO
    return _round_down(equity * risk_fraction / stop_distance, quantum)


def atr_stop_quantity(
    equity: Decimal,
    atr_value: float | Decimal,
    atr_multiple: Decimal = Decimal(2),
    risk_fraction: Decimal = DEFAULT_RISK_FRACTION,
    quantum: Decimal | None = None,
) -> Decimal:
    """Fixed fractional with the stop ``atr_multiple`` ATRs away (risk per unit = multiple × ATR)."""
    stop_distance = _decimal(atr_value, "ATR") * atr_multiple
    _positive(stop_distance, "ATR × multiple")
    # The quantity depends only on the distance: measure it from a notional entry at that distance above 0.
    return fixed_fractional_quantity(
        equity, entry_price=stop_distance, stop_price=ZERO, risk_fraction=risk_fraction, quantum=quantum
    )


# --- Kelly --------------------------------------------------------------------------------------


def kelly_fraction(win_rate: float, payoff_ratio: float) -> float:
    """Kelly's optimal fraction for a bet won with probability ``p`` paying ``b`` per unit risked and
    losing the unit otherwise: ``f* = p - (1 - p) / b``. Negative means no edge (do not bet)."""
    if not 0.0 <= win_rate <= 1.0:
        raise ValueError(f"win rate must be in [0, 1], got {win_rate}")
    if payoff_ratio <= 0:
        raise ValueError(f"payoff ratio (average win / average loss) must be positive, got {payoff_ratio}")
    return win_rate - (1.0 - win_rate) / payoff_ratio


def kelly_fraction_from_trades(pnls: Sequence[Decimal | float]) -> float:
    """Kelly fraction from a strategy's measured trades: win rate and average win / average loss.

    A break-even trade counts as neither a win nor a loss in the averages but is a non-win in the rate."""
    values = [float(pnl) for pnl in pnls]
    wins = [value for value in values if value > 0]
    losses = [-value for value in values if value < 0]
    if not values:
        raise ValueError("no trades to measure an edge from")
    if not losses:
        raise ValueError("no losing trade yet: the payoff ratio (and Kelly) is undefined; size conservatively")
    if not wins:
        return kelly_fraction(0.0, 1.0)
    payoff = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    return kelly_fraction(len(wins) / len(values), payoff)


def kelly_leverage_from_returns(mean_return: float, return_variance: float) -> float:
    """Continuous Kelly leverage ``mu / sigma^2`` for per-period returns with that mean and variance."""
    if return_variance <= 0:
        raise ValueError(f"return variance must be positive, got {return_variance}")
    return mean_return / return_variance


def fractional_kelly_notional(
    equity: Decimal,
    kelly: float,
    multiplier: Decimal = QUARTER_KELLY,
    max_leverage: Decimal = DEFAULT_MAX_LEVERAGE,
    quantum: Decimal | None = None,
) -> Decimal:
    """Notional ``equity × multiplier × f*``, floored at 0 (no edge, no bet) and capped at ``max_leverage × equity``.

    Full Kelly maximises long-run growth only if the edge is known exactly; a measured edge is noisy,
    and betting above Kelly loses growth fast, hence ¼ or ½."""
    if not ZERO < multiplier <= ONE:
        raise ValueError(f"Kelly multiplier must be in (0, 1], e.g. 0.25 or 0.5; got {multiplier}")
    _positive(max_leverage, "max leverage")
    if equity <= 0:
        return ZERO
    fraction = max(_decimal(kelly, "Kelly fraction") * multiplier, ZERO)
    return _round_down(equity * min(fraction, max_leverage), quantum)


# --- volatility targeting -----------------------------------------------------------------------


def volatility_target_notional(
    equity: Decimal,
    target_volatility: float | Decimal,
    forecast_volatility: float | Decimal,
    max_leverage: Decimal = DEFAULT_MAX_LEVERAGE,
    quantum: Decimal | None = None,
) -> Decimal:
    """Notional whose forecast volatility equals ``target_volatility`` of equity:
    ``equity × target / forecast``, capped at ``max_leverage × equity``.

    Both volatilities are of returns over the same horizon (e.g. both daily): a GARCH forecast
    (``GarchFit.volatility_forecast(h)``) or an ATR proxy (``atr_volatility``)."""
    target = _decimal(target_volatility, "target volatility")
    forecast = _decimal(forecast_volatility, "forecast volatility")
    _positive(target, "target volatility")
    _positive(forecast, "forecast volatility")
    _positive(max_leverage, "max leverage")
    if equity <= 0:
        return ZERO
    return _round_down(equity * min(target / forecast, max_leverage), quantum)


def atr_volatility(atr_value: float | Decimal, price: Decimal) -> Decimal:
    """ATR as a fraction of price: a per-bar volatility proxy for ``volatility_target_notional``."""
    _positive(price, "price")
    return _decimal(atr_value, "ATR") / price


# --- correlation ----------------------------------------------------------------------------------


def correlation_adjusted(
    size: Decimal, correlation: float | Decimal, max_factor: Decimal = ONE, quantum: Decimal | None = None
) -> Decimal:
    """``size × (1 - correlation)`` floored at 0, with the factor capped at ``max_factor``.

    A position perfectly correlated with the portfolio adds no diversification and gets nothing;
    an uncorrelated one keeps its size. A negatively correlated one (a hedge) would get up to 2×;
    the default cap of 1 never lets the adjustment *increase* a size — raise ``max_factor`` to allow it."""
    rho = _decimal(correlation, "correlation")
    if not -ONE <= rho <= ONE:
        raise ValueError(f"correlation must be in [-1, 1], got {rho}")
    factor = min(max(ONE - rho, ZERO), max_factor)
    return _round_down(size * factor, quantum)
