"""Regimes: the rules on hand-made series and against an independent recomputation with TA-Lib on the real
BTC-PERP minutes; the HMM's reproducibility, label order and recovery of known volatility regimes; allocation."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from spreadhawk.analytics.regime import HmmRegimeModel, classify_regimes, fit_hmm_regimes
from spreadhawk.analytics.regime_table import STRATEGY_FAMILIES, AllocationMatrix, Regime, RegimeThresholds

BTC_PERP = Path("nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv")


def _switching_returns(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Blocks of 300 bars alternating calm (0.1 %) and wild (0.5 %) volatility; the true block labels."""
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.tile([0, 1], 4), 300)
    returns = rng.standard_normal(len(truth)) * np.where(truth == 0, 0.001, 0.005)
    return returns, truth


def test_rules_on_hand_made_series() -> None:
    period = 5
    thresholds = RegimeThresholds(period=period, atr_spike_lookback=10)
    bars = 60
    trend = np.arange(bars, dtype=np.float64) + 100
    trending = classify_regimes(trend + 0.5, trend - 0.5, trend, thresholds=thresholds)
    assert set(trending.regimes[:period]) == {Regime.NEUTRAL}  # warm-up: no evidence
    assert set(trending.regimes[2 * period :]) == {Regime.TRENDING}
    zigzag_close = np.tile([100.0, 101.0], bars // 2)
    ranging = classify_regimes(np.full(bars, 101.0), np.full(bars, 100.0), zigzag_close, thresholds=thresholds)
    assert set(ranging.regimes[2 * period :]) == {Regime.RANGING}
    # The same zigzag with bars five times wider at the end: an ATR spike wins over the range.
    high = np.full(bars, 101.0)
    low = np.full(bars, 100.0)
    high[-5:], low[-5:] = 105.0, 96.0
    spiking = classify_regimes(high, low, zigzag_close, thresholds=thresholds)
    assert spiking.regimes[-1] == Regime.VOLATILE
    # Correlation above 0.9 overrides everything; exactly 0.9 does not.
    correlation = np.full(bars, 0.5)
    correlation[-3:] = [0.9, 0.91, 0.99]
    crisis = classify_regimes(high, low, zigzag_close, correlation, thresholds)
    assert crisis.regimes[-3:] == [Regime.VOLATILE, Regime.CRISIS, Regime.CRISIS]
    with pytest.raises(ValueError, match="mean correlation"):
        classify_regimes(high, low, zigzag_close, correlation[:-1], thresholds)


@pytest.mark.real_data
def test_rules_match_an_independent_recomputation_on_btc_perp(shared_data: Path) -> None:
    bars = pd.read_csv(shared_data / BTC_PERP, nrows=10_000)
    high, low, close = (bars[column].to_numpy(np.float64) for column in ("high", "low", "close"))
    result = classify_regimes(high, low, close)
    # Independent: TA-Lib's ADX and ATR, pandas for choppiness and the trailing ATR mean, a plain loop for the rules.
    adx_values = talib.ADX(high, low, close, 14)
    atr_values = pd.Series(talib.ATR(high, low, close, 14))
    spike = (atr_values / atr_values.rolling(100).mean()).to_numpy()
    true_range = pd.Series(talib.TRANGE(high, low, close))
    chop = (
        100
        * np.log10(true_range.rolling(14).sum() / (bars["high"].rolling(14).max() - bars["low"].rolling(14).min()))
        / np.log10(14)
    ).to_numpy()
    expected = []
    for adx_value, chop_value, spike_value in zip(adx_values, chop, spike, strict=True):
        if spike_value >= 2.0:
            expected.append(Regime.VOLATILE)
        elif chop_value > 61.8:
            expected.append(Regime.RANGING if not adx_value > 25 else Regime.NEUTRAL)
        elif adx_value > 25 or chop_value < 38.2:
            expected.append(Regime.TRENDING)
        else:
            expected.append(Regime.NEUTRAL)
    mismatches = sum(ours != theirs for ours, theirs in zip(result.regimes, expected, strict=True))
    assert mismatches <= 2  # float-rounding ties at a threshold, if any
    counts = Counter(result.regimes)
    print("\nBTC-PERP 1m first 10,000 bars, rule regimes:", {regime.value: n for regime, n in counts.items()})


def test_hmm_is_reproducible_for_a_seed_and_orders_states_by_volatility() -> None:
    returns, _ = _switching_returns(seed=3)
    first = fit_hmm_regimes(returns, states=3, volatility_window=20, seed=7)
    second = fit_hmm_regimes(returns, states=3, volatility_window=20, seed=7)
    np.testing.assert_array_equal(first.labels(returns), second.labels(returns))
    np.testing.assert_array_equal(first.transition_matrix, second.transition_matrix)
    volatilities = first.return_volatility_by_state()
    assert np.all(np.diff(volatilities) > 0)
    np.testing.assert_allclose(first.transition_matrix.sum(axis=1), 1.0)


@pytest.mark.real_data
def test_hmm_on_btc_perp_minutes_is_reproducible_and_ordered(shared_data: Path) -> None:
    closes = pd.read_csv(shared_data / BTC_PERP, usecols=["close"], nrows=3001)["close"].to_numpy(np.float64)
    returns = np.diff(np.log(closes))
    first = fit_hmm_regimes(returns, states=3, volatility_window=30, seed=11)
    second = fit_hmm_regimes(returns, states=3, volatility_window=30, seed=11)
    labels = first.labels(returns)
    np.testing.assert_array_equal(labels, second.labels(returns))
    volatilities = first.return_volatility_by_state()
    assert np.all(np.diff(volatilities) > 0)
    # The labelled states really differ in volatility: the realised std of the returns given each label.
    realised = [returns[labels == label].std() for label in range(3)]
    assert realised[0] < realised[2]
    posterior = first.posteriors(returns)[-1]
    print(
        f"\nBTC-PERP 1m HMM (3,000 bars): state vols {np.round(volatilities * 1e4, 2)} bp, bars per state "
        f"{np.bincount(labels[labels >= 0])}, expected durations {np.round(first.expected_durations(), 1)} bars, "
        f"P(regime change next bar) {first.regime_change_probability(posterior):.3f}"
    )


@pytest.fixture(scope="module")
def two_state_fit() -> tuple[HmmRegimeModel, np.ndarray, np.ndarray]:
    returns, truth = _switching_returns(seed=5)
    return fit_hmm_regimes(returns, states=2, volatility_window=20, seed=0), returns, truth


def test_hmm_recovers_known_volatility_regimes(two_state_fit: tuple[HmmRegimeModel, np.ndarray, np.ndarray]) -> None:
    model, returns, truth = two_state_fit
    window = model.volatility_window
    labels = model.labels(returns)
    assert (labels[: window - 1] == -1).all()
    accuracy = float(np.mean(labels[window - 1 :] == truth[window - 1 :]))
    assert accuracy > 0.9
    calm, wild = model.return_volatility_by_state()
    assert calm == pytest.approx(0.001, rel=0.25)
    assert wild == pytest.approx(0.005, rel=0.25)
    # Blocks of 300 bars: states persist, expected durations are long.
    assert (model.expected_durations() > 50).all()


def test_transition_probability_from_the_matrix_and_the_posterior(
    two_state_fit: tuple[HmmRegimeModel, np.ndarray, np.ndarray],
) -> None:
    model, returns, _ = two_state_fit
    posterior = model.posteriors(returns)[-1]
    assert posterior.sum() == pytest.approx(1.0)
    matrix = model.transition_matrix
    stay = sum(posterior[i] * matrix[i][i] for i in range(2))
    assert model.regime_change_probability(posterior) == pytest.approx(1 - stay)
    one_hot = np.array([0.0, 1.0])
    np.testing.assert_allclose(model.next_state_distribution(one_hot), matrix[1])
    assert model.regime_change_probability(one_hot) == pytest.approx(1 - matrix[1][1])


def test_default_allocation_matrix_covers_every_regime_and_family() -> None:
    allocation = AllocationMatrix.default()
    for regime in Regime:
        for family in STRATEGY_FAMILIES:
            assert Decimal(0) <= allocation.scale(regime, family) <= Decimal(2)
    assert allocation.scale(Regime.CRISIS, "market_making") == Decimal(0)
    assert allocation.capital(Regime.VOLATILE, "cross_exchange_arb", Decimal(1000)) == Decimal(750)
    with pytest.raises(ValueError, match="unknown strategy family"):
        allocation.scale(Regime.TRENDING, "martingale")


def test_allocation_from_config_is_validated() -> None:
    row: dict[str, str | float] = {"arb": "1", "mm": 0.5}
    table: dict[str, dict[str, str | float]] = {regime.value: dict(row) for regime in Regime}
    table["crisis"] = {"arb": "0.25", "mm": 0}
    allocation = AllocationMatrix.from_mapping(table)
    assert allocation.scale(Regime.CRISIS, "arb") == Decimal("0.25")
    assert allocation.scale(Regime.RANGING, "mm") == Decimal("0.5")
    with pytest.raises(ValueError, match="exactly the regimes"):
        AllocationMatrix.from_mapping({"trending": row})
    with pytest.raises(ValueError, match="outside"):
        AllocationMatrix.from_mapping({**table, "volatile": {"arb": "3", "mm": "1"}})
    with pytest.raises(ValueError, match="not a number"):
        AllocationMatrix.from_mapping({**table, "volatile": {"arb": "lots", "mm": "1"}})
    with pytest.raises(ValueError, match="families"):
        AllocationMatrix.from_mapping({**table, "volatile": {"arb": "1"}})
