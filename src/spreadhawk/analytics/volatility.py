"""Volatility: GARCH(1,1) forecasts through the ``arch`` package, and realised-volatility estimators.

GARCH is fitted by ``arch`` (maximum likelihood), never re-implemented here. Returns are scaled to
percent before fitting, and further by powers of ten until their standard deviation is at least 1:
``arch``'s optimiser is tuned for values of order 1-1000, and on 1-minute BTC returns in percent
(std ~0.1) it reports convergence while still sitting at its starting values (alpha 0.05, beta
0.85); scaled by 1000 or 10000 it reaches the same maximum both times (alpha 0.063, beta 0.906,
nu 3.8 on 4,000 BTC-PERP minutes). Every output is scaled back, so callers see variances of the
*unscaled* returns. The model is

    r_t = mu + e_t,   e_t = sigma_t z_t,   sigma_t^2 = omega + alpha e_{t-1}^2 + beta sigma_{t-1}^2

with ``z_t`` standard normal or standardised Student-t (``nu`` degrees of freedom), and ``mu = 0``
when ``mean="zero"``. The h-step forecast of the variance is
``E[sigma_{T+h}^2] = omega + (alpha + beta) E[sigma_{T+h-1}^2]`` (mean-reverting to
``omega / (1 - alpha - beta)`` when ``alpha + beta < 1``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from arch import arch_model

FloatArray = npt.NDArray[np.float64]
Innovations = Literal["normal", "t"]
MeanModel = Literal["constant", "zero"]

PERCENT = 100.0
_MIN_OBSERVATIONS = 100


@dataclass(frozen=True, slots=True)
class GarchSpec:
    """What to fit: innovations (``"normal"`` or Student ``"t"``) and the mean (a constant or zero)."""

    innovations: Innovations = "t"
    mean: MeanModel = "constant"
    # None: percent (x100), times 10 until the scaled returns have a standard deviation >= 1.
    scale: float | None = None

    def scale_for(self, returns: FloatArray) -> float:
        if self.scale is not None:
            if self.scale <= 0:
                raise ValueError(f"GARCH return scale must be positive, got {self.scale}")
            return self.scale
        scale = PERCENT
        spread = float(np.std(returns))
        while spread > 0 and spread * scale < 1.0:
            scale *= 10.0
        return scale


@dataclass(frozen=True, slots=True)
class GarchFit:
    """A fitted GARCH(1,1) in the units of the returns it was fitted on (not percent).

    ``omega`` and ``mu`` are converted back from the fitting scale ``s`` (``omega / s^2``, ``mu / s``);
    ``alpha``, ``beta`` and ``nu`` are scale-free. ``last_residual`` and ``last_variance`` are
    ``e_T`` and ``sigma_T^2`` at the last observation, the state the forecasts start from.
    """

    spec: GarchSpec
    scale: float
    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float | None
    last_residual: float
    last_variance: float
    conditional_volatility: FloatArray
    standardized_residuals: FloatArray
    log_likelihood: float

    @property
    def persistence(self) -> float:
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float | None:
        """``omega / (1 - alpha - beta)``; None when the fit is not stationary."""
        if self.persistence >= 1.0:
            return None
        return self.omega / (1.0 - self.persistence)

    def variance_forecast(self, horizon: int = 1) -> FloatArray:
        """Forecast variances of steps ``T+1 .. T+horizon`` by the GARCH(1,1) recursion."""
        if horizon < 1:
            raise ValueError(f"forecast horizon must be at least 1 step, got {horizon}")
        forecasts = np.empty(horizon)
        forecasts[0] = self.omega + self.alpha * self.last_residual**2 + self.beta * self.last_variance
        for step in range(1, horizon):
            forecasts[step] = self.omega + self.persistence * forecasts[step - 1]
        return forecasts

    def volatility_forecast(self, horizon: int = 1) -> float:
        """Standard deviation of the *sum* of the next ``horizon`` returns (variances add; no autocorrelation)."""
        return math.sqrt(float(np.sum(self.variance_forecast(horizon))))


def _validated_returns(returns: npt.ArrayLike) -> FloatArray:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"returns must be one-dimensional, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("returns contain NaN or inf; drop or fill them before fitting a GARCH model")
    if len(values) < _MIN_OBSERVATIONS:
        raise ValueError(f"a GARCH(1,1) fit needs at least {_MIN_OBSERVATIONS} returns, got {len(values)}")
    return values


def build_arch_model(returns: npt.ArrayLike, spec: GarchSpec = GarchSpec()) -> tuple[Any, float]:
    """The ``arch`` model for ``spec`` on the scaled returns, and the scale used (exposed for the tests)."""
    values = _validated_returns(returns)
    scale = spec.scale_for(values)
    model = arch_model(
        values * scale,
        mean="Constant" if spec.mean == "constant" else "Zero",
        vol="GARCH",
        p=1,
        q=1,
        dist="t" if spec.innovations == "t" else "normal",
        rescale=False,
    )
    return model, scale


def fit_garch(returns: npt.ArrayLike, spec: GarchSpec = GarchSpec()) -> GarchFit:
    """Fit GARCH(1,1) by maximum likelihood with ``arch``; raises ValueError when the optimiser fails."""
    model, scale = build_arch_model(returns, spec)
    result = model.fit(disp="off")
    if result.convergence_flag != 0:
        raise ValueError(f"GARCH fit did not converge (arch optimiser flag {result.convergence_flag})")
    params = result.params
    scaled_residuals = np.asarray(result.resid, dtype=np.float64)
    scaled_volatility = np.asarray(result.conditional_volatility, dtype=np.float64)
    return GarchFit(
        spec=spec,
        scale=scale,
        mu=float(params["mu"]) / scale if spec.mean == "constant" else 0.0,
        omega=float(params["omega"]) / scale**2,
        alpha=float(params["alpha[1]"]),
        beta=float(params["beta[1]"]),
        nu=float(params["nu"]) if spec.innovations == "t" else None,
        last_residual=float(scaled_residuals[-1]) / scale,
        last_variance=float(scaled_volatility[-1]) ** 2 / scale**2,
        conditional_volatility=scaled_volatility / scale,
        standardized_residuals=scaled_residuals / scaled_volatility,
        log_likelihood=float(result.loglikelihood),
    )


def log_returns(prices: npt.ArrayLike) -> FloatArray:
    """``log(p_i / p_{i-1})``, one shorter than the prices; prices must be positive."""
    values = np.asarray(prices, dtype=np.float64)
    if (values <= 0).any():
        raise ValueError("prices must be positive to take log returns")
    return np.diff(np.log(values))


def realized_volatility(returns: npt.ArrayLike, periods_per_year: float | None = None) -> float:
    """Close-to-close volatility ``sqrt(sum r^2 / n)`` (zero-mean: the mean of short returns is noise),
    annualised by ``sqrt(periods_per_year)`` when given."""
    values = np.asarray(returns, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("realized volatility needs at least one return")
    per_period = math.sqrt(float(np.mean(values**2)))
    return per_period * math.sqrt(periods_per_year) if periods_per_year else per_period


def rolling_realized_volatility(returns: npt.ArrayLike, window: int) -> FloatArray:
    """Zero-mean realised volatility over the trailing ``window`` returns (current one included); NaN until full."""
    if window < 1:
        raise ValueError(f"window must be at least 1 bar, got {window}")
    values = np.asarray(returns, dtype=np.float64)
    result = np.full(values.shape, np.nan)
    if len(values) >= window:
        squared_sums = np.convolve(values**2, np.ones(window), mode="valid")
        result[window - 1 :] = np.sqrt(squared_sums / window)
    return result


def parkinson_volatility(high: npt.ArrayLike, low: npt.ArrayLike) -> float:
    """Parkinson's range estimator of the per-bar volatility: ``sqrt(mean(log(H/L)^2) / (4 ln 2))``.

    About five times more efficient than close-to-close when prices move continuously inside a bar."""
    high_a = np.asarray(high, dtype=np.float64)
    low_a = np.asarray(low, dtype=np.float64)
    if high_a.shape != low_a.shape or len(high_a) == 0 or (low_a <= 0).any() or (high_a < low_a).any():
        raise ValueError("high and low must be non-empty, of equal length, positive, with high >= low")
    return math.sqrt(float(np.mean(np.log(high_a / low_a) ** 2)) / (4.0 * math.log(2.0)))
