"""Trend and volatility indicators on OHLC arrays: true range, ATR and ADX (Wilder), choppiness, ATR spike.

Why hand-written when TA-Lib is installed: the choppiness index and the ATR spike (not in TA-Lib)
are built from the same true range and Wilder smoothing, so one small vectorised implementation
serves all four; and TA-Lib's warm-up ("unstable period", ``talib.set_unstable_period``) is
*process-global* state that any other caller can change under a running risk engine, while these
functions are stateless. The tests hold ATR, ADX, +DI and DX to TA-Lib's output on the real
recordings (they agree to ~1e-13 from the first defined value, warm-up included), so either can be
used where the other is.

Note that ADX depends on exact ties between the up move and the down move (a tie counts for
neither), so rescaling a tick-sized price series (``price * 0.1``) can change ADX by a few points
through float rounding of the ties; TA-Lib behaves identically.

Conventions (identical to TA-Lib with its default unstable period of 0, ``n`` the period):

* ``TR[i] = max(high[i], close[i-1]) - min(low[i], close[i-1])`` for ``i >= 1``; ``TR[0]`` is
  undefined (TA-Lib's TRANGE starts at index 1 too).
* Wilder smoothing ``S[i] = S[i-1] - S[i-1] / n + x[i]`` (a sum) or ``A[i] = A[i-1] + (x[i] - A[i-1]) / n``
  (an average): both are the same one-pole filter, run here with ``scipy.signal.lfilter``.
* ATR: seeded at ``i = n`` with the mean of ``TR[1..n]``, then averaged; NaN before.
* ADX: +DM/-DM from ``i = 1`` (the larger of the up move and the down move wins, only if positive);
  the smoothed sums are seeded with the plain sum of the first ``n - 1`` values and smoothed from
  ``i = n``; ``DX = 100 |+DI - -DI| / (+DI + -DI)`` from ``i = n``; ADX seeded at ``i = 2n - 1``
  with the mean of the first ``n`` DX values, then averaged; NaN before.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]

# The seeds' regime thresholds use these periods; they are defaults, not constants of nature.
DEFAULT_PERIOD = 14
DEFAULT_SPIKE_RATIO = 2.0


def _as_float_arrays(*series: npt.ArrayLike) -> list[FloatArray]:
    arrays = [np.asarray(values, dtype=np.float64) for values in series]
    lengths = {array.shape for array in arrays}
    if len(lengths) != 1 or arrays[0].ndim != 1:
        raise ValueError(f"high, low and close must be one-dimensional arrays of the same length, got {lengths}")
    return arrays


def _check_period(period: int, minimum: int = 1) -> None:
    if period < minimum:
        raise ValueError(f"indicator period must be at least {minimum}, got {period}")


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """Wilder's true range; NaN at index 0 (no previous close)."""
    high_a, low_a, close_a = _as_float_arrays(high, low, close)
    result = np.full(high_a.shape, np.nan)
    previous_close = close_a[:-1]
    result[1:] = np.maximum(high_a[1:], previous_close) - np.minimum(low_a[1:], previous_close)
    return result


def _wilder_average(values: FloatArray, seed: float, period: int) -> FloatArray:
    """``A[0] = seed``, ``A[k] = A[k-1] + (values[k] - A[k-1]) / period`` for ``k >= 1`` (values[0] unused)."""
    decay = 1.0 - 1.0 / period
    tail = values[1:] / period
    smoothed, _ = lfilter([1.0], [1.0, -decay], tail, zi=np.array([decay * seed]))
    return np.concatenate(([seed], smoothed))


def _wilder_sum(values: FloatArray, seed: float, period: int) -> FloatArray:
    """``S[0] = seed``, ``S[k] = S[k-1] - S[k-1] / period + values[k]`` for ``k >= 1``."""
    decay = 1.0 - 1.0 / period
    smoothed, _ = lfilter([1.0], [1.0, -decay], values[1:], zi=np.array([decay * seed]))
    return np.concatenate(([seed], smoothed))


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = DEFAULT_PERIOD) -> FloatArray:
    """Average true range (Wilder); NaN for the first ``period`` bars."""
    _check_period(period)
    tr = true_range(high, low, close)
    result = np.full(tr.shape, np.nan)
    if len(tr) <= period:
        return result
    seed = float(np.mean(tr[1 : period + 1]))
    result[period:] = _wilder_average(tr[period:], seed, period)
    return result


def directional_movement(high: npt.ArrayLike, low: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """(+DM, -DM): NaN at index 0; at each bar only the larger positive move counts, a tie counts for neither."""
    high_a = np.asarray(high, dtype=np.float64)
    low_a = np.asarray(low, dtype=np.float64)
    up_move = np.diff(high_a)
    down_move = -np.diff(low_a)
    plus = np.where((up_move > 0) & (up_move > down_move), up_move, 0.0)
    minus = np.where((down_move > 0) & (down_move > up_move), down_move, 0.0)
    nan = np.array([np.nan])
    return np.concatenate((nan, plus)), np.concatenate((nan, minus))


def directional_indicators(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = DEFAULT_PERIOD
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(+DI, -DI, DX) in percent, defined from index ``period``; NaN before (and DX where +DI + -DI is 0)."""
    _check_period(period, minimum=2)
    high_a, low_a, close_a = _as_float_arrays(high, low, close)
    size = len(high_a)
    plus_di = np.full(size, np.nan)
    minus_di = np.full(size, np.nan)
    dx = np.full(size, np.nan)
    if size <= period:
        return plus_di, minus_di, dx
    tr = true_range(high_a, low_a, close_a)
    plus_dm, minus_dm = directional_movement(high_a, low_a)
    # Seed: the plain sum of the first period-1 values (indices 1..period-1), smoothing from index period.
    window = slice(period - 1, None)
    smoothed_tr = _wilder_sum(tr[window], float(np.sum(tr[1:period])), period)[1:]
    smoothed_plus = _wilder_sum(plus_dm[window], float(np.sum(plus_dm[1:period])), period)[1:]
    smoothed_minus = _wilder_sum(minus_dm[window], float(np.sum(minus_dm[1:period])), period)[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di[period:] = np.where(smoothed_tr > 0, 100.0 * smoothed_plus / smoothed_tr, 0.0)
        minus_di[period:] = np.where(smoothed_tr > 0, 100.0 * smoothed_minus / smoothed_tr, 0.0)
        di_sum = plus_di[period:] + minus_di[period:]
        dx[period:] = np.where(di_sum > 0, 100.0 * np.abs(plus_di[period:] - minus_di[period:]) / di_sum, 0.0)
    return plus_di, minus_di, dx


def adx(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = DEFAULT_PERIOD) -> FloatArray:
    """Average directional index (Wilder); NaN for the first ``2 * period - 1`` bars."""
    _, _, dx = directional_indicators(high, low, close, period)
    result = np.full(dx.shape, np.nan)
    first = 2 * period - 1
    if len(dx) <= first:
        return result
    seed = float(np.mean(dx[period : first + 1]))
    result[first:] = _wilder_average(dx[first:], seed, period)
    return result


def choppiness_index(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = DEFAULT_PERIOD
) -> FloatArray:
    """Choppiness index (E. W. Dreiss): ``100 log10(sum TR over n / (max high - min low over n)) / log10(n)``.

    Near 100: price wanders inside its range (choppy); near 0: it moves in one direction (trending).
    The ``n`` true ranges end at the current bar (so it needs ``n + 1`` bars); NaN before, and where the
    range is zero (a flat market is neither choppy nor trending).
    """
    _check_period(period, minimum=2)
    high_a, low_a, close_a = _as_float_arrays(high, low, close)
    tr = true_range(high_a, low_a, close_a)
    result = np.full(high_a.shape, np.nan)
    if len(tr) <= period:
        return result
    tr_sum = np.convolve(tr[1:], np.ones(period), mode="valid")  # sums of TR[i-n+1..i], i = n..end
    highest = np.lib.stride_tricks.sliding_window_view(high_a, period).max(axis=1)[1:]
    lowest = np.lib.stride_tricks.sliding_window_view(low_a, period).min(axis=1)[1:]
    price_range = highest - lowest
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(price_range > 0, tr_sum / price_range, np.nan)
        result[period:] = 100.0 * np.log10(ratio) / np.log10(period)
    return result


def atr_spike_ratio(atr_values: npt.ArrayLike, lookback: int) -> FloatArray:
    """ATR divided by its trailing mean over ``lookback`` bars (the current bar included); NaN until full."""
    _check_period(lookback)
    values = np.asarray(atr_values, dtype=np.float64)
    result = np.full(values.shape, np.nan)
    if len(values) < lookback:
        return result
    trailing_mean = np.lib.stride_tricks.sliding_window_view(values, lookback).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        result[lookback - 1 :] = np.where(trailing_mean > 0, values[lookback - 1 :] / trailing_mean, np.nan)
    return result


def atr_spike(atr_values: npt.ArrayLike, lookback: int, ratio: float = DEFAULT_SPIKE_RATIO) -> npt.NDArray[np.bool_]:
    """True where ATR is at least ``ratio`` times its trailing mean (the seeds' "ATR × 2" volatility spike)."""
    spike_ratio = atr_spike_ratio(atr_values, lookback)
    return np.asarray(np.nan_to_num(spike_ratio, nan=0.0) >= ratio)
