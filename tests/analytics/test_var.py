"""VaR/ES against independent computations (sorting by hand, numerical integration, binomial likelihoods),
and the rolling one-step VaR backtest on the real BTC-PERP minutes (figures printed with ``-s``)."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import integrate, stats

from spreadhawk.analytics.var import (
    backtest_var,
    filtered_historical_var,
    historical_var,
    kupiec_pof,
    monte_carlo_student_t_var,
    normal_var,
    portfolio_heat,
    portfolio_pnl,
    portfolio_var,
    rolling_var,
    student_t_var,
)
from spreadhawk.analytics.volatility import fit_garch

BTC_PERP = Path("nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv")


@pytest.fixture(scope="module")
def fat_tailed_sample() -> np.ndarray:
    return np.asarray(stats.t.rvs(3.5, loc=0.0002, scale=0.01, size=4000, random_state=np.random.default_rng(3)))


def _quantile_by_sorting(values: np.ndarray, probability: float) -> float:
    ordered = sorted(values.tolist())
    position = (len(ordered) - 1) * probability
    below = math.floor(position)
    weight = position - below
    return float(ordered[below] + weight * (ordered[min(below + 1, len(ordered) - 1)] - ordered[below]))


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_historical_var_and_es_match_sorting_by_hand(fat_tailed_sample: np.ndarray, level: float) -> None:
    estimate = historical_var(fat_tailed_sample, level)
    cutoff = _quantile_by_sorting(fat_tailed_sample, 1 - level)
    tail = [value for value in fat_tailed_sample.tolist() if value <= cutoff]
    assert estimate.var == pytest.approx(-cutoff, rel=1e-12)
    assert estimate.es == pytest.approx(-sum(tail) / len(tail), rel=1e-12)
    assert estimate.es >= estimate.var


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_normal_var_and_es_match_scipy_and_integration(fat_tailed_sample: np.ndarray, level: float) -> None:
    estimate = normal_var(fat_tailed_sample, level)
    distribution = stats.norm(loc=np.mean(fat_tailed_sample), scale=np.std(fat_tailed_sample, ddof=1))
    cutoff = distribution.ppf(1 - level)
    tail_mean, _ = integrate.quad(lambda x: x * distribution.pdf(x), -np.inf, cutoff)
    assert estimate.var == pytest.approx(-cutoff, rel=1e-10)
    assert estimate.es == pytest.approx(-tail_mean / (1 - level), rel=1e-7)


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_student_t_var_and_es_match_scipy_expectation(fat_tailed_sample: np.ndarray, level: float) -> None:
    estimate = student_t_var(fat_tailed_sample, level)
    nu, loc, scale = stats.t.fit(fat_tailed_sample)
    cutoff = stats.t.ppf(1 - level, nu, loc=loc, scale=scale)
    conditional_mean = stats.t.expect(lambda x: x, args=(nu,), loc=loc, scale=scale, ub=cutoff, conditional=True)
    assert estimate.var == pytest.approx(-cutoff, rel=1e-10)
    assert estimate.es == pytest.approx(-conditional_mean, rel=1e-6)
    # The sample came from a t with nu 3.5: the fit should find a fat tail, and its 99 % VaR exceeds the normal one.
    assert 2.5 < nu < 5.0
    if level == 0.99:
        assert estimate.var > normal_var(fat_tailed_sample, level).var


def test_monte_carlo_student_t_converges_to_the_closed_form_and_is_seeded(fat_tailed_sample: np.ndarray) -> None:
    closed_form = student_t_var(fat_tailed_sample, 0.99)
    simulated = monte_carlo_student_t_var(fat_tailed_sample, 0.99, simulations=200_000, seed=5)
    assert simulated.var == pytest.approx(closed_form.var, rel=0.03)
    assert simulated.es == pytest.approx(closed_form.es, rel=0.05)
    assert monte_carlo_student_t_var(fat_tailed_sample, 0.99, simulations=1000, seed=1) == monte_carlo_student_t_var(
        fat_tailed_sample, 0.99, simulations=1000, seed=1
    )


def test_filtered_historical_simulation_rescales_the_residual_quantile(fat_tailed_sample: np.ndarray) -> None:
    estimate = filtered_historical_var(fat_tailed_sample, 0.99, simulations=200_000, seed=2)
    fit = fit_garch(fat_tailed_sample)
    next_sigma = math.sqrt(fit.omega + fit.alpha * fit.last_residual**2 + fit.beta * fit.last_variance)
    # Without resampling: the residuals' own 1 % quantile, moved to tomorrow's volatility.
    expected = -(fit.mu + next_sigma * np.quantile(fit.standardized_residuals, 0.01))
    assert estimate.var == pytest.approx(expected, rel=0.05)


def test_portfolio_pnl_var_and_heat_by_hand() -> None:
    returns = np.array([[0.01, -0.02], [-0.03, 0.01], [0.02, 0.00], [-0.01, -0.01]])
    positions = [Decimal(100), Decimal(-50)]
    np.testing.assert_allclose(portfolio_pnl(positions, returns), [2.0, -3.5, 2.0, -0.5])
    assert portfolio_var(positions, returns, 0.95).var == pytest.approx(
        historical_var([2.0, -3.5, 2.0, -0.5], 0.95).var
    )
    covariance = np.array([[0.04, 0.01], [0.01, 0.09]])
    heat = portfolio_heat([100.0, 50.0], covariance, equity=Decimal(1000))
    # w'Σw = 100²·0.04 + 2·100·50·0.01 + 50²·0.09 = 400 + 100 + 225 = 725
    assert heat.volatility == pytest.approx(math.sqrt(725))
    assert heat.heat == pytest.approx(math.sqrt(725) / 1000)
    np.testing.assert_allclose(heat.contributions, [450 / math.sqrt(725), 275 / math.sqrt(725)])
    assert heat.var_99 == pytest.approx(2.3263478740 * math.sqrt(725), rel=1e-9)
    with pytest.raises(ValueError, match="2 assets"):
        portfolio_pnl(positions, np.zeros((3, 3)))


@pytest.mark.parametrize(("breaches", "observations"), [(0, 250), (5, 100), (1, 100), (30, 1000), (100, 100)])
def test_kupiec_matches_the_binomial_likelihood_ratio(breaches: int, observations: int) -> None:
    ratio, p_value = kupiec_pof(breaches, observations, 0.99)
    observed = breaches / observations
    expected = 2 * (
        stats.binom.logpmf(breaches, observations, observed) - stats.binom.logpmf(breaches, observations, 0.01)
    )
    assert ratio == pytest.approx(expected, abs=1e-9)
    assert p_value == pytest.approx(1 - stats.chi2.cdf(expected, 1), abs=1e-12)


def test_backtest_counts_breaches_strictly_below_minus_var_and_skips_missing_forecasts() -> None:
    returns = np.array([-0.02, -0.01, 0.03, -0.05, -0.011])
    forecasts = np.array([np.nan, 0.01, 0.01, 0.01, 0.01])
    result = backtest_var(returns, forecasts, 0.95)
    assert (result.observations, result.breaches) == (4, 2)  # -0.01 is not below -0.01
    assert result.breach_rate == 0.5


def test_rolling_forecasts_use_only_the_past_window() -> None:
    values = np.asarray(stats.t.rvs(4, scale=0.01, size=600, random_state=np.random.default_rng(9)))
    window = 100
    historical = rolling_var(values, window, 0.99, "historical")
    normal = rolling_var(values, window, 0.95, "normal")
    student = rolling_var(values, window, 0.99, "student_t", refit_every=50)
    assert np.isnan(historical[:window]).all()
    assert np.isnan(student[:window]).all()
    for t in (window, 257, 599):
        past = values[t - window : t]
        assert historical[t] == pytest.approx(-np.percentile(past, 1.0), rel=1e-12)
        assert normal[t] == pytest.approx(-(past.mean() + stats.norm.ppf(0.05) * past.std(ddof=1)), rel=1e-9)
    refit_at = window + 50 * 3
    nu, loc, scale = stats.t.fit(values[refit_at - window : refit_at])
    expected = -stats.t.ppf(0.01, nu, loc=loc, scale=scale)
    assert student[refit_at] == pytest.approx(expected, rel=1e-9)
    assert student[refit_at + 49] == student[refit_at]


def test_rolling_filtered_historical_follows_arch_with_fixed_parameters() -> None:
    rng = np.random.default_rng(12)
    values = np.asarray(stats.t.rvs(5, scale=0.01, size=900, random_state=rng))
    window, refit_every = 500, 300
    forecasts = rolling_var(values, window, 0.99, "filtered_historical", refit_every=refit_every)
    assert np.isnan(forecasts[:window]).all()
    fit = fit_garch(values[:window])
    quantile = np.quantile(fit.standardized_residuals, 0.01)
    # Independent: arch's own variance recursion, parameters fixed, run over the fit window and beyond.
    extended = values[: window + refit_every] * fit.scale
    assert fit.nu is not None
    params = [fit.mu * fit.scale, fit.omega * fit.scale**2, fit.alpha, fit.beta, fit.nu]
    sigma = arch_model(extended, mean="Constant", dist="t", rescale=False).fix(params).conditional_volatility
    for t in (window, window + 1, window + 150, window + refit_every - 1):
        expected = -(fit.mu + sigma[t] / fit.scale * quantile)
        assert forecasts[t] == pytest.approx(expected, rel=1e-9)
    refit = fit_garch(values[refit_every : window + refit_every])
    refit_quantile = np.quantile(refit.standardized_residuals, 0.01)
    first_after_refit = -(refit.mu + math.sqrt(refit.variance_forecast(1)[0]) * refit_quantile)
    assert forecasts[window + refit_every] == pytest.approx(first_after_refit, rel=1e-12)


def test_bad_levels_and_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="confidence level"):
        historical_var([0.1, 0.2, 0.3], level=99)
    with pytest.raises(ValueError, match="NaN"):
        normal_var([0.1, np.nan, 0.2])


@pytest.mark.real_data
def test_rolling_one_day_var_backtest_on_btc_perp_minutes(shared_data: Path) -> None:
    closes = pd.read_csv(shared_data / BTC_PERP, usecols=["close"])["close"].to_numpy(np.float64)
    returns = np.diff(np.log(closes))
    window = 1440
    print(f"\nBTC-PERP 1m, {len(returns)} returns, window {window} minutes, one-step VaR")
    for level in (0.99, 0.95):
        methods = (("historical", 1), ("normal", 1), ("student_t", 1440), ("filtered_historical", 1440))
        for method, refit in methods:
            forecasts = rolling_var(returns, window, level, method, refit_every=refit)  # type: ignore[arg-type]
            result = backtest_var(returns, forecasts, level)
            # Independent count of the same breaches.
            scored = ~np.isnan(forecasts)
            assert result.observations == len(returns) - window
            assert result.breaches == int(np.count_nonzero(returns[scored] + forecasts[scored] < 0))
            assert 0.0 <= result.p_value <= 1.0
            print(
                f"  {level:.0%} {method:19s} breaches {result.breaches:4d}/{result.observations} "
                f"= {result.breach_rate:.3%} (expected {result.expected_rate:.0%}), "
                f"Kupiec LR {result.likelihood_ratio:7.2f} p {result.p_value:.3g}"
            )
