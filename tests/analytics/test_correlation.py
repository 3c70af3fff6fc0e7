"""Correlation analytics on the 8 freqtrade alt/BTC 5-minute series and on synthetic data with a known correlation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from spreadhawk.analytics.correlation import (
    aligned_log_returns,
    correlation_spikes,
    correlation_to_portfolio,
    effective_number_of_bets,
    mean_pairwise_correlation,
    pca_variance_shares,
    rolling_correlations,
    summarise,
)

PAIRS = ["ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "TRX", "XLM"]
DAY_5M = 288
WEEK_5M = 7 * DAY_5M


def _one_factor_returns(correlation: float, assets: int, size: int, seed: int) -> np.ndarray:
    """Returns with pairwise correlation ``correlation``: sqrt(rho) market + sqrt(1 - rho) idiosyncratic."""
    rng = np.random.default_rng(seed)
    market = rng.standard_normal((size, 1))
    own = rng.standard_normal((size, assets))
    return np.asarray(math.sqrt(correlation) * market + math.sqrt(1 - correlation) * own)


@pytest.fixture(scope="module")
def alt_returns(shared_data: Path) -> pd.DataFrame:
    closes = {}
    for pair in PAIRS:
        bars = pd.read_feather(shared_data / "freqtrade" / "ohlcv" / f"{pair}_BTC-5m.feather")
        closes[pair] = bars.set_index("date")["close"]
    return aligned_log_returns(closes)


@pytest.mark.real_data
@pytest.mark.parametrize("window", [DAY_5M, WEEK_5M])
def test_rolling_matrices_equal_numpy_on_the_same_window(alt_returns: pd.DataFrame, window: int) -> None:
    matrices = rolling_correlations(alt_returns, window)
    assert matrices.shape == (len(alt_returns), 8, 8)
    assert np.isnan(matrices[window - 2]).all()
    values = alt_returns.to_numpy()
    for end in (window - 1, len(values) // 2, len(values) - 1):
        expected = np.corrcoef(values[end - window + 1 : end + 1].T)
        np.testing.assert_allclose(matrices[end], expected, atol=1e-10)


@pytest.mark.real_data
def test_pca_and_effective_bets_on_the_alts(alt_returns: pd.DataFrame) -> None:
    correlation = np.corrcoef(alt_returns.to_numpy().T)
    standardised = (alt_returns - alt_returns.mean()) / alt_returns.std()
    reference = PCA().fit(standardised.to_numpy()).explained_variance_ratio_
    np.testing.assert_allclose(pca_variance_shares(correlation), reference, atol=1e-10)
    summary = summarise(correlation)
    entropy_bets = summary.effective_bets
    participation_bets = effective_number_of_bets(correlation, "participation")
    assert 1.0 <= participation_bets <= entropy_bets <= 8.0
    weekly = rolling_correlations(alt_returns, WEEK_5M)
    mean_weekly = mean_pairwise_correlation(weekly)
    print(
        f"\n8 alt/BTC 5m pairs, {len(alt_returns)} common bars: mean pairwise correlation "
        f"{summary.mean_correlation:.3f}, first factor {summary.first_factor_share:.1%}, first three "
        f"{summary.first_three_factors_share:.1%}, effective bets {entropy_bets:.2f} (entropy) / "
        f"{participation_bets:.2f} (participation); 7-day rolling mean correlation "
        f"{np.nanmin(mean_weekly):.3f}..{np.nanmax(mean_weekly):.3f}"
    )


def test_known_correlation_is_recovered_with_its_pca_structure() -> None:
    rho, assets = 0.6, 5
    returns = _one_factor_returns(rho, assets, 20_000, seed=4)
    correlation = np.corrcoef(returns.T)
    assert mean_pairwise_correlation(correlation) == pytest.approx(rho, abs=0.02)
    # Equicorrelation: eigenvalues 1 + (N-1) rho once and 1 - rho (N-1 times).
    eigen_shares = np.array([1 + (assets - 1) * rho] + [1 - rho] * (assets - 1)) / assets
    np.testing.assert_allclose(pca_variance_shares(correlation), eigen_shares, atol=0.01)
    expected_entropy_bets = math.exp(-sum(p * math.log(p) for p in eigen_shares))
    expected_participation = 1 / sum(p * p for p in eigen_shares)
    assert effective_number_of_bets(correlation) == pytest.approx(expected_entropy_bets, rel=0.02)
    assert effective_number_of_bets(correlation, "participation") == pytest.approx(expected_participation, rel=0.02)


def test_effective_bets_endpoints() -> None:
    assert effective_number_of_bets(np.eye(6)) == pytest.approx(6.0)
    assert effective_number_of_bets(np.eye(6), "participation") == pytest.approx(6.0)
    assert effective_number_of_bets(np.ones((6, 6))) == pytest.approx(1.0)
    assert effective_number_of_bets(np.ones((6, 6)), "participation") == pytest.approx(1.0)


def test_spike_is_flagged_after_a_correlation_jump_and_not_before() -> None:
    calm = _one_factor_returns(0.1, 4, 1000, seed=1)
    crisis = _one_factor_returns(0.95, 4, 300, seed=2)
    window = 50
    mean_correlation = mean_pairwise_correlation(rolling_correlations(np.vstack([calm, crisis]), window))
    flags = correlation_spikes(mean_correlation, threshold=0.9, jump=0.3, lookback=200)
    assert not flags[:1000].any()
    first = int(np.argmax(flags))
    assert 1000 <= first < 1000 + window  # within one window of the break
    assert flags[1000 + window :].all()  # the whole window is crisis: above 0.9 from then on


def test_correlation_to_portfolio_and_bad_input() -> None:
    returns = _one_factor_returns(0.5, 2, 5000, seed=8)
    assert correlation_to_portfolio(returns[:, 0], returns[:, 1]) == pytest.approx(0.5, abs=0.03)
    assert correlation_to_portfolio(np.ones(10), returns[:10, 1]) == 0.0
    with pytest.raises(ValueError, match="longer than"):
        rolling_correlations(returns[:10], 20)
    with pytest.raises(ValueError, match="at least two series"):
        aligned_log_returns({"BTC": pd.Series([1.0, 2.0])})
