"""GARCH(1,1) through the wrapper against ``arch`` called directly; realised-volatility helpers by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy.optimize import minimize

from spreadhawk.analytics.volatility import (
    GarchSpec,
    fit_garch,
    log_returns,
    parkinson_volatility,
    realized_volatility,
    rolling_realized_volatility,
)

BTC_PERP = Path("nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv")


@pytest.fixture(scope="module")
def btc_minute_returns(shared_data: Path) -> np.ndarray:
    closes = pd.read_csv(shared_data / BTC_PERP, usecols=["close"], nrows=3001)["close"].to_numpy(np.float64)
    return np.diff(np.log(closes))


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("innovations", "mean"), [("t", "constant"), ("normal", "constant"), ("normal", "zero"), ("t", "zero")]
)
def test_parameters_and_forecasts_equal_arch_called_directly(
    btc_minute_returns: np.ndarray, innovations: str, mean: str
) -> None:
    spec = GarchSpec(innovations=innovations, mean=mean)  # type: ignore[arg-type]
    fit = fit_garch(btc_minute_returns, spec)
    direct = arch_model(
        btc_minute_returns * fit.scale,
        mean="Constant" if mean == "constant" else "Zero",
        vol="GARCH",
        p=1,
        q=1,
        dist="t" if innovations == "t" else "normal",
        rescale=False,
    ).fit(disp="off")
    params = direct.params
    assert fit.alpha == pytest.approx(params["alpha[1]"], rel=1e-9)
    assert fit.beta == pytest.approx(params["beta[1]"], rel=1e-9)
    assert fit.omega == pytest.approx(params["omega"] / fit.scale**2, rel=1e-9)
    if innovations == "t":
        assert fit.nu == pytest.approx(params["nu"], rel=1e-9)
    if mean == "constant":
        assert fit.mu == pytest.approx(params["mu"] / fit.scale, rel=1e-9)
    # Our own recursion of the forecast against arch's forecast, scaled back.
    arch_variances = direct.forecast(horizon=10, reindex=False).variance.to_numpy()[0] / fit.scale**2
    np.testing.assert_allclose(fit.variance_forecast(10), arch_variances, rtol=1e-9)


def _gaussian_garch_nll(params: np.ndarray, returns: np.ndarray) -> float:
    """-log L of a constant-mean GARCH(1,1) with normal innovations, written out: e_t = r_t - mu,
    s2_t = omega + alpha e_{t-1}^2 + beta s2_{t-1}, s2_0 = the sample variance of e."""
    mu, omega, alpha, beta = params
    residuals = returns - mu
    variance = np.empty_like(residuals)
    variance[0] = residuals.var()
    for t in range(1, len(residuals)):
        variance[t] = omega + alpha * residuals[t - 1] ** 2 + beta * variance[t - 1]
    if np.any(variance <= 0):
        return 1e12
    return float(0.5 * np.sum(np.log(2 * np.pi * variance) + residuals**2 / variance))


@pytest.mark.real_data
def test_the_fit_maximises_an_independently_written_likelihood(btc_minute_returns: np.ndarray) -> None:
    """Not arch against itself: our own Gaussian GARCH likelihood, maximised by scipy from a start of
    our own, on 3,000 real BTC minute returns (in percent, as the wrapper fits them)."""
    fit = fit_garch(btc_minute_returns, GarchSpec(innovations="normal", mean="constant", scale=100.0))
    returns = btc_minute_returns * 100.0
    # omega is searched in units of the sample variance: raw, it is ~1,000 times smaller than the
    # other parameters, and SLSQP's finite-difference gradient then ran out of iterations on one
    # machine's CPU and converged on another's (scaled: 15 iterations, the same maximum)
    unit = returns.var()
    oracle = minimize(
        lambda p: _gaussian_garch_nll(np.array([p[0], p[1] * unit, p[2], p[3]]), returns),
        x0=np.array([0.0, 0.1, 0.1, 0.8]),
        method="SLSQP",
        bounds=[(-1.0, 1.0), (1e-8 / unit, 10.0 / unit), (0.0, 1.0), (0.0, 1.0)],
        constraints=[{"type": "ineq", "fun": lambda p: 0.9999 - p[2] - p[3]}],
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    assert oracle.success, oracle.message
    mu, omega, alpha, beta = oracle.x[0], oracle.x[1] * unit, oracle.x[2], oracle.x[3]
    assert fit.alpha == pytest.approx(alpha, abs=1e-3)  # measured: 0.0674 against 0.0677
    assert fit.beta == pytest.approx(beta, abs=3e-3)  # 0.8432 against 0.8420
    assert fit.omega * 100.0**2 == pytest.approx(omega, rel=0.02)  # 0.9 % apart
    assert fit.mu * 100.0 == pytest.approx(mu, abs=5e-5)  # 1.2e-5 apart
    # the same maximum: our likelihood at the wrapper's parameters is as high as at the oracle's (the
    # two differ only in how the first variance is started)
    ours = _gaussian_garch_nll(np.array([fit.mu * 100, fit.omega * 100**2, fit.alpha, fit.beta]), returns)
    assert ours == pytest.approx(oracle.fun, abs=0.01)  # 0.0012 apart
    # and arch's reported likelihood is the same function (in percent units, before the scale is undone)
    assert -fit.log_likelihood == pytest.approx(ours, abs=0.5)


@pytest.mark.real_data
def test_fit_is_not_an_artefact_of_the_scale(btc_minute_returns: np.ndarray) -> None:
    coarse = fit_garch(btc_minute_returns, GarchSpec(scale=1_000.0))
    fine = fit_garch(btc_minute_returns, GarchSpec(scale=100_000.0))
    assert coarse.alpha == pytest.approx(fine.alpha, abs=2e-3)
    assert coarse.beta == pytest.approx(fine.beta, abs=2e-3)
    assert coarse.omega == pytest.approx(fine.omega, rel=2e-2)
    # A real fit, not the optimiser's starting point (alpha 0.05, beta 0.85).
    assert abs(coarse.beta - 0.85) > 1e-3


@pytest.mark.real_data
def test_forecast_is_consistent_with_the_fitted_state(btc_minute_returns: np.ndarray) -> None:
    fit = fit_garch(btc_minute_returns)
    one_step = fit.omega + fit.alpha * fit.last_residual**2 + fit.beta * fit.last_variance
    assert fit.variance_forecast(1)[0] == pytest.approx(one_step, rel=1e-12)
    # The last residual is the last return minus the fitted mean.
    assert fit.last_residual == pytest.approx(btc_minute_returns[-1] - fit.mu, rel=1e-9)
    long_run = fit.long_run_variance
    assert long_run is not None
    assert fit.variance_forecast(5000)[-1] == pytest.approx(long_run, rel=1e-6)
    horizon = 30
    assert fit.volatility_forecast(horizon) == pytest.approx(math.sqrt(fit.variance_forecast(horizon).sum()))
    assert len(fit.conditional_volatility) == len(btc_minute_returns)
    assert np.std(fit.standardized_residuals) == pytest.approx(1.0, abs=0.15)


def test_fit_recovers_the_parameters_of_a_simulated_garch() -> None:
    rng = np.random.default_rng(11)
    omega, alpha, beta = 2e-6, 0.10, 0.85
    size = 6000
    returns = np.empty(size)
    variance = omega / (1 - alpha - beta)
    for step in range(size):
        returns[step] = math.sqrt(variance) * rng.standard_normal()
        variance = omega + alpha * returns[step] ** 2 + beta * variance
    fit = fit_garch(returns, GarchSpec(innovations="normal", mean="zero"))
    assert fit.alpha == pytest.approx(alpha, abs=0.03)
    assert fit.beta == pytest.approx(beta, abs=0.04)
    assert fit.long_run_variance == pytest.approx(omega / (1 - alpha - beta), rel=0.25)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 100 returns"):
        fit_garch(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        fit_garch(np.array([np.nan] * 200))
    with pytest.raises(ValueError, match="horizon"):
        fit_garch(np.random.default_rng(1).standard_normal(500) * 0.01).variance_forecast(0)


def test_realised_volatility_helpers_by_hand() -> None:
    returns = np.array([0.01, -0.02, 0.02, 0.0])
    assert realized_volatility(returns) == pytest.approx(math.sqrt((1e-4 + 4e-4 + 4e-4) / 4))
    assert realized_volatility(returns, periods_per_year=365) == pytest.approx(
        math.sqrt((1e-4 + 4e-4 + 4e-4) / 4 * 365)
    )
    rolling = rolling_realized_volatility(returns, window=2)
    assert math.isnan(rolling[0])
    np.testing.assert_allclose(rolling[1:], [math.sqrt(2.5e-4), math.sqrt(4e-4), math.sqrt(2e-4)])
    np.testing.assert_allclose(log_returns([100.0, 110.0, 99.0]), [math.log(1.1), math.log(0.9)])
    # Every bar spans a log range of 0.02: sigma = 0.02 / sqrt(4 ln 2).
    high = np.full(5, 100.0 * math.exp(0.02))
    assert parkinson_volatility(high, np.full(5, 100.0)) == pytest.approx(0.02 / math.sqrt(4 * math.log(2)))
