"""Value at risk and expected shortfall: historical, parametric (normal, Student-t), Monte Carlo
(Student-t, GARCH-filtered historical simulation), portfolio VaR and heat, and VaR backtesting (Kupiec).

Conventions: ``level`` is the confidence (0.99), ``tail = 1 - level``. VaR and ES are reported as
*positive losses*: ``VaR = -q_tail(r)`` and ``ES = -E[r | r <= -VaR]``, in the units of the input
(a return fraction for returns, money for PnL). A VaR of 0.012 at 99 % means "one period in a hundred
loses more than 1.2 %". Floats are deliberate: these are statistics *about* money; a caller that
turns one into a limit converts it to Decimal at that boundary.

* historical: the empirical quantile with linear interpolation (numpy's default) and the mean of the
  returns at or below it;
* normal: ``mu + sigma z`` with ``sigma`` the sample standard deviation (ddof=1), ES
  ``-mu + sigma phi(z) / tail``;
* Student-t: ``(nu, loc, scale)`` fitted by maximum likelihood (scipy), ES
  ``-loc + scale f_nu(q) (nu + q^2) / ((nu - 1) tail)`` with ``q`` the t quantile (finite for nu > 1);
* Monte Carlo: the historical estimator applied to simulated returns, drawn from the fitted
  Student-t or by filtered historical simulation (Barone-Adesi): GARCH(1,1) standardised residuals
  resampled and rescaled by the one-step volatility forecast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from spreadhawk.analytics.volatility import GarchSpec, fit_garch

FloatArray = npt.NDArray[np.float64]
RollingMethod = Literal["historical", "normal", "student_t", "filtered_historical"]


@dataclass(frozen=True, slots=True)
class RiskEstimate:
    """VaR and ES (positive losses) at one confidence level, and the method that produced them."""

    method: str
    level: float
    var: float
    es: float


def _tail(level: float) -> float:
    if not 0.5 < level < 1.0:
        raise ValueError(f"VaR confidence level must be in (0.5, 1), e.g. 0.99; got {level}")
    return 1.0 - level


def _sample(returns: npt.ArrayLike, minimum: int = 2) -> FloatArray:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1 or len(values) < minimum:
        raise ValueError(f"need a one-dimensional sample of at least {minimum} returns, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("returns contain NaN or inf")
    return values


def historical_var(returns: npt.ArrayLike, level: float = 0.99) -> RiskEstimate:
    values = _sample(returns)
    cutoff = float(np.quantile(values, _tail(level)))
    tail_losses = values[values <= cutoff]
    return RiskEstimate("historical", level, -cutoff, -float(tail_losses.mean()))


def normal_var(returns: npt.ArrayLike, level: float = 0.99) -> RiskEstimate:
    values = _sample(returns)
    return normal_var_from_moments(float(values.mean()), float(values.std(ddof=1)), level)


def normal_var_from_moments(mean: float, std: float, level: float = 0.99) -> RiskEstimate:
    tail = _tail(level)
    z = float(stats.norm.ppf(tail))
    es = -mean + std * float(stats.norm.pdf(z)) / tail
    return RiskEstimate("normal", level, -(mean + std * z), es)


def student_t_var(returns: npt.ArrayLike, level: float = 0.99) -> RiskEstimate:
    nu, loc, scale = stats.t.fit(_sample(returns, minimum=10))
    return student_t_var_from_params(float(nu), float(loc), float(scale), level)


def student_t_var_from_params(nu: float, loc: float, scale: float, level: float = 0.99) -> RiskEstimate:
    tail = _tail(level)
    q = float(stats.t.ppf(tail, nu))
    es = math.inf if nu <= 1 else -loc + scale * float(stats.t.pdf(q, nu)) * (nu + q * q) / ((nu - 1) * tail)
    return RiskEstimate("student_t", level, -(loc + scale * q), es)


def monte_carlo_student_t_var(
    returns: npt.ArrayLike, level: float = 0.99, simulations: int = 100_000, seed: int = 0
) -> RiskEstimate:
    """Historical VaR/ES of ``simulations`` draws from the Student-t fitted to the returns."""
    nu, loc, scale = stats.t.fit(_sample(returns, minimum=10))
    draws = stats.t.rvs(nu, loc=loc, scale=scale, size=simulations, random_state=np.random.default_rng(seed))
    estimate = historical_var(draws, level)
    return RiskEstimate("monte_carlo_student_t", level, estimate.var, estimate.es)


def filtered_historical_var(
    returns: npt.ArrayLike,
    level: float = 0.99,
    simulations: int = 100_000,
    seed: int = 0,
    garch: GarchSpec | None = None,
) -> RiskEstimate:
    """One-step VaR/ES by filtered historical simulation: ``mu + sigma_{T+1} z*`` with ``z*`` resampled
    from the GARCH(1,1) standardised residuals, so today's volatility meets the sample's tail shape."""
    fit = fit_garch(_sample(returns), garch or GarchSpec())
    next_volatility = math.sqrt(float(fit.variance_forecast(1)[0]))
    rng = np.random.default_rng(seed)
    shocks = rng.choice(fit.standardized_residuals, size=simulations, replace=True)
    estimate = historical_var(fit.mu + next_volatility * shocks, level)
    return RiskEstimate("filtered_historical", level, estimate.var, estimate.es)


# --- portfolios --------------------------------------------------------------------------------


def _exposures(positions: Sequence[Decimal | float] | npt.ArrayLike) -> FloatArray:
    return np.asarray([float(value) for value in np.asarray(positions, dtype=object).ravel()], dtype=np.float64)


def portfolio_pnl(positions: Sequence[Decimal | float] | npt.ArrayLike, returns: npt.ArrayLike) -> FloatArray:
    """PnL per period of holding ``positions`` (money exposure per asset) through ``returns`` (periods × assets)."""
    exposure = _exposures(positions)
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(exposure):
        raise ValueError(f"returns must be periods × {len(exposure)} assets, got shape {matrix.shape}")
    return np.asarray(matrix @ exposure, dtype=np.float64)


def portfolio_var(
    positions: Sequence[Decimal | float] | npt.ArrayLike,
    returns: npt.ArrayLike,
    level: float = 0.99,
    method: Literal["historical", "normal", "student_t"] = "historical",
) -> RiskEstimate:
    """VaR/ES of the portfolio's PnL (money) from the joint history of its assets' returns."""
    pnl = portfolio_pnl(positions, returns)
    estimators = {"historical": historical_var, "normal": normal_var, "student_t": student_t_var}
    return estimators[method](pnl, level)


@dataclass(frozen=True, slots=True)
class PortfolioHeat:
    """Risk of the positions under a covariance matrix: one-period PnL volatility (money), its share of
    equity (the "heat"), parametric normal VaR, and each asset's Euler contribution (they sum to the volatility)."""

    volatility: float
    heat: float
    var_95: float
    var_99: float
    contributions: FloatArray


def portfolio_heat(
    positions: Sequence[Decimal | float] | npt.ArrayLike, covariance: npt.ArrayLike, equity: Decimal | float
) -> PortfolioHeat:
    exposure = _exposures(positions)
    matrix = np.asarray(covariance, dtype=np.float64)
    if matrix.shape != (len(exposure), len(exposure)):
        raise ValueError(f"covariance must be {len(exposure)}×{len(exposure)}, got {matrix.shape}")
    if float(equity) <= 0:
        raise ValueError(f"equity must be positive to measure heat, got {equity}")
    marginal = matrix @ exposure
    variance = float(exposure @ marginal)
    volatility = math.sqrt(max(variance, 0.0))
    contributions = exposure * marginal / volatility if volatility > 0 else np.zeros_like(exposure)
    return PortfolioHeat(
        volatility=volatility,
        heat=volatility / float(equity),
        var_95=-float(stats.norm.ppf(0.05)) * volatility,
        var_99=-float(stats.norm.ppf(0.01)) * volatility,
        contributions=contributions,
    )


# --- backtesting --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VarBacktest:
    """Breaches of a VaR forecast series and Kupiec's proportion-of-failures test (chi-square, 1 dof).

    A small ``p_value`` rejects the model: its breach rate is not plausibly ``expected_rate``."""

    observations: int
    breaches: int
    breach_rate: float
    expected_rate: float
    likelihood_ratio: float
    p_value: float


def _xlogy(count: float, probability: float) -> float:
    return 0.0 if count == 0 else count * math.log(probability)


def kupiec_pof(breaches: int, observations: int, level: float) -> tuple[float, float]:
    """Kupiec's POF likelihood ratio ``-2 ln(L(p) / L(x/n))`` and its chi-square(1) p-value."""
    if observations <= 0 or not 0 <= breaches <= observations:
        raise ValueError(f"need 0 <= breaches <= observations > 0, got {breaches} of {observations}")
    expected = _tail(level)
    observed = breaches / observations
    misses = observations - breaches
    log_null = _xlogy(misses, 1 - expected) + _xlogy(breaches, expected)
    log_alternative = _xlogy(misses, 1 - observed) + _xlogy(breaches, observed)
    ratio = max(-2.0 * (log_null - log_alternative), 0.0)
    return ratio, float(stats.chi2.sf(ratio, df=1))


def backtest_var(returns: npt.ArrayLike, var_forecasts: npt.ArrayLike, level: float) -> VarBacktest:
    """A breach is a return below ``-VaR`` forecast for that period; periods without a forecast (NaN) are skipped."""
    realised = np.asarray(returns, dtype=np.float64)
    forecasts = np.asarray(var_forecasts, dtype=np.float64)
    if realised.shape != forecasts.shape:
        raise ValueError(f"returns {realised.shape} and VaR forecasts {forecasts.shape} must align")
    scored = ~np.isnan(forecasts) & ~np.isnan(realised)
    observations = int(scored.sum())
    breaches = int((realised[scored] < -forecasts[scored]).sum())
    ratio, p_value = kupiec_pof(breaches, observations, level)
    return VarBacktest(observations, breaches, breaches / observations, _tail(level), ratio, p_value)


def rolling_var(
    returns: npt.ArrayLike,
    window: int,
    level: float,
    method: RollingMethod,
    refit_every: int = 60,
    garch: GarchSpec | None = None,
) -> FloatArray:
    """One-step-ahead VaR forecasts: the value at ``t`` uses only returns before ``t`` (NaN for ``t < window``).

    historical and normal use the trailing ``window`` returns at every bar. The Student-t is refitted
    by maximum likelihood every ``refit_every`` bars on its trailing window and held in between (a fit
    costs ~30 ms; a day's window moves little in an hour). filtered_historical refits GARCH(1,1) every
    ``refit_every`` bars on the trailing window and, in between, updates the variance bar by bar with
    the realised returns: ``VaR_t = -(mu + sigma_t q)``, ``q`` the empirical quantile of the fit's
    standardised residuals (filtered historical simulation with the quantile taken exactly instead of
    by resampling)."""
    values = np.asarray(returns, dtype=np.float64)
    if window < 10 or window >= len(values):
        raise ValueError(f"window must be in [10, {len(values)}), got {window}")
    tail = _tail(level)
    past = pd.Series(values).shift(1).rolling(window)
    if method == "historical":
        return np.asarray(-past.quantile(tail, interpolation="linear").to_numpy(), dtype=np.float64)
    if method == "normal":
        z = float(stats.norm.ppf(tail))
        return np.asarray(-(past.mean() + z * past.std(ddof=1)).to_numpy(), dtype=np.float64)
    if method not in ("student_t", "filtered_historical"):
        raise ValueError(
            f"unknown rolling VaR method {method!r}; use historical, normal, student_t or filtered_historical"
        )
    if refit_every < 1:
        raise ValueError(f"refit_every must be at least 1 bar, got {refit_every}")
    forecasts = np.full(values.shape, np.nan)
    for start in range(window, len(values), refit_every):
        stop = min(start + refit_every, len(values))
        sample = values[start - window : start]
        if method == "student_t":
            nu, loc, scale = stats.t.fit(sample)
            forecasts[start:stop] = student_t_var_from_params(nu, loc, scale, level).var
        else:
            forecasts[start:stop] = _garch_filtered_var(sample, values[start:stop], tail, garch or GarchSpec())
    return forecasts


def _garch_filtered_var(sample: FloatArray, ahead: FloatArray, tail: float, spec: GarchSpec) -> FloatArray:
    """VaR for each bar of ``ahead`` from a GARCH fit on ``sample``, its variance rolled forward on the
    realised returns of ``ahead`` (each forecast uses only the returns before it)."""
    fit = fit_garch(sample, spec)
    residual_quantile = float(np.quantile(fit.standardized_residuals, tail))
    variance = float(fit.variance_forecast(1)[0])
    forecasts = np.empty(len(ahead))
    for step, realised in enumerate(ahead):
        forecasts[step] = -(fit.mu + math.sqrt(variance) * residual_quantile)
        variance = fit.omega + fit.alpha * (realised - fit.mu) ** 2 + fit.beta * variance
    return forecasts
