"""Indicators against TA-Lib on the real recordings, and the choppiness index / ATR spike on hand-checkable series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from spreadhawk.analytics.indicators import (
    adx,
    atr,
    atr_spike,
    atr_spike_ratio,
    choppiness_index,
    directional_indicators,
    true_range,
)

BTC_PERP = Path("nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv")
FREQTRADE_5M = ["ETH_BTC-5m.feather", "XLM_BTC-5m.feather", "NXT_BTC-5m.feather"]
TOLERANCE = 1e-9


def _assert_matches_talib(ours: np.ndarray, reference: np.ndarray, scale: float) -> None:
    # Same warm-up (NaN positions) and the same values after it, relative to the series' own scale.
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    defined = ~np.isnan(reference)
    assert defined.sum() > 1000
    assert np.max(np.abs(ours[defined] - reference[defined])) <= TOLERANCE * scale


@pytest.mark.real_data
@pytest.mark.parametrize("period", [5, 14, 30])
def test_atr_adx_match_talib_on_btc_perp_minutes(shared_data: Path, period: int) -> None:
    bars = pd.read_csv(shared_data / BTC_PERP)
    high, low, close = (bars[column].to_numpy(np.float64) for column in ("high", "low", "close"))
    _assert_matches_talib(atr(high, low, close, period), talib.ATR(high, low, close, period), 1.0)
    _assert_matches_talib(adx(high, low, close, period), talib.ADX(high, low, close, period), 1.0)
    plus_di, minus_di, dx = directional_indicators(high, low, close, period)
    _assert_matches_talib(plus_di, talib.PLUS_DI(high, low, close, period), 1.0)
    _assert_matches_talib(minus_di, talib.MINUS_DI(high, low, close, period), 1.0)
    _assert_matches_talib(dx, talib.DX(high, low, close, period), 1.0)
    tr = true_range(high, low, close)
    _assert_matches_talib(tr, talib.TRANGE(high, low, close), 1.0)


@pytest.mark.real_data
@pytest.mark.parametrize("file_name", FREQTRADE_5M)
def test_atr_adx_match_talib_on_btc_quoted_alts(shared_data: Path, file_name: str) -> None:
    bars = pd.read_feather(shared_data / "freqtrade" / "ohlcv" / file_name)
    high, low, close = (bars[column].to_numpy(np.float64) for column in ("high", "low", "close"))
    # Prices of 1e-5..1e-1 BTC: compare ATR relative to the price level, ADX (0..100) absolutely.
    _assert_matches_talib(atr(high, low, close), talib.ATR(high, low, close), float(np.median(close)))
    _assert_matches_talib(adx(high, low, close), talib.ADX(high, low, close), 1.0)


def test_atr_warm_up_and_seed_by_hand() -> None:
    high = np.array([10.0, 12.0, 11.0, 13.0, 12.0])
    low = np.array([9.0, 10.0, 9.0, 11.0, 10.0])
    close = np.array([9.5, 11.0, 10.0, 12.0, 11.0])
    # TR[1..4] = max(h, prev c) - min(l, prev c) = 12-9.5, 11-9, 13-10, 12-10
    np.testing.assert_allclose(true_range(high, low, close)[1:], [2.5, 2.0, 3.0, 2.0])
    values = atr(high, low, close, period=3)
    assert np.isnan(values[:3]).all()
    assert values[3] == pytest.approx((2.5 + 2.0 + 3.0) / 3)
    assert values[4] == pytest.approx(values[3] + (2.0 - values[3]) / 3)


def test_choppiness_is_zero_on_a_straight_trend_and_100_on_a_full_range_zigzag() -> None:
    period = 10
    trend_close = np.arange(50, dtype=np.float64)
    # Each bar spans exactly from the previous close to its close: TR = 1, the n-bar range = n.
    trend = choppiness_index(trend_close, np.concatenate(([0.0], trend_close[:-1])), trend_close, period)
    assert np.isnan(trend[:period]).all()
    np.testing.assert_allclose(trend[period:], 0.0, atol=1e-12)
    # Every bar covers the whole band [0, 1]: sum TR = n, range = 1 -> 100 log10(n) / log10(n).
    zigzag_close = np.tile([0.0, 1.0], 25)
    zigzag = choppiness_index(np.ones(50), np.zeros(50), zigzag_close, period)
    np.testing.assert_allclose(zigzag[period:], 100.0, atol=1e-12)


@pytest.mark.real_data
def test_choppiness_matches_an_independent_pandas_computation(shared_data: Path) -> None:
    bars = pd.read_csv(shared_data / BTC_PERP, nrows=5000)
    period = 14
    previous_close = bars["close"].shift(1)
    tr = pd.concat([bars["high"], previous_close], axis=1).max(axis=1, skipna=False) - pd.concat(
        [bars["low"], previous_close], axis=1
    ).min(axis=1, skipna=False)
    expected = (
        100
        * np.log10(tr.rolling(period).sum() / (bars["high"].rolling(period).max() - bars["low"].rolling(period).min()))
        / np.log10(period)
    )
    ours = choppiness_index(bars["high"], bars["low"], bars["close"], period)
    np.testing.assert_allclose(ours, expected.to_numpy(), rtol=1e-12, atol=1e-9, equal_nan=True)
    defined = ours[~np.isnan(ours)]
    assert defined.min() >= 0.0
    assert defined.max() <= 100.0 + 1e-9


def test_atr_spike_fires_at_twice_the_trailing_mean_and_not_before() -> None:
    values = np.concatenate((np.full(20, 1.0), [1.5, 3.0, 5.0]))
    ratio = atr_spike_ratio(values, lookback=5)
    assert np.isnan(ratio[:4]).all()
    assert ratio[19] == pytest.approx(1.0)
    assert ratio[20] == pytest.approx(1.5 / 1.1)
    assert ratio[21] == pytest.approx(3.0 / 1.5)  # exactly 2: counts as a spike
    flags = atr_spike(values, lookback=5)
    assert flags.tolist() == [False] * 21 + [True, True]


def test_bad_input_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="same length"):
        atr([1.0, 2.0], [1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="period must be at least 2"):
        adx([1.0] * 5, [1.0] * 5, [1.0] * 5, period=1)
