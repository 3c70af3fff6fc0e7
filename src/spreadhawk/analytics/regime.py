"""Market regimes: rule-based classification from indicators, a Gaussian HMM on returns and volatility,
regime-transition probabilities, and the regime-aware allocation matrix.

Rules (the seeds' thresholds, all configurable in ``RegimeThresholds``), checked in this order:

1. ``crisis``: cross-asset mean pairwise correlation above 0.9 (everything is one bet);
2. ``volatile``: ATR at least 2 × its trailing mean (an ATR spike);
3. ``trending``: ADX above 25 or choppiness below 38.2, unless choppiness says choppy (> 61.8);
4. ``ranging``: choppiness above 61.8 with ADX at most 25;
5. ``neutral``: anything else, including conflicting signals (ADX > 25 *and* choppiness > 61.8)
   and the indicators' warm-up. Neutral means "no evidence for a regime", not "safe".

The HMM (hmmlearn ``GaussianHMM``) is fitted on two features, the return and the log of its trailing
realised volatility, standardised. hmmlearn numbers its states arbitrarily, so states are
re-ordered by the variance of the return in each state: label 0 is always the calmest, the last
label the most volatile, and the same seed gives the same labels.

The fit and the decoding run with BLAS limited to one thread: the matrices are 2×2, and on a
shared 2-CPU machine OpenBLAS's thread pool made a 0.2 s fit take 5 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from spreadhawk.analytics.indicators import adx, atr, atr_spike_ratio, choppiness_index
from spreadhawk.analytics.regime_table import (  # re-exported: the labels and the table live apart (no numpy)
    Regime,
    RegimeThresholds,
)
from spreadhawk.analytics.volatility import rolling_realized_volatility

if TYPE_CHECKING:
    from hmmlearn.hmm import GaussianHMM

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


DEFAULT_THRESHOLDS = RegimeThresholds()


@dataclass(frozen=True, slots=True)
class RegimeSeries:
    """One regime per bar, with the indicator values that decided it (persistable as a time series)."""

    regimes: list[Regime]
    adx: FloatArray
    choppiness: FloatArray
    atr_ratio: FloatArray


def classify_regimes(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    mean_correlation: npt.ArrayLike | None = None,
    thresholds: RegimeThresholds = DEFAULT_THRESHOLDS,
) -> RegimeSeries:
    """Rule-based regime per bar (see the module docstring); ``mean_correlation`` aligned with the bars, optional."""
    adx_values = adx(high, low, close, thresholds.period)
    chop = choppiness_index(high, low, close, thresholds.period)
    ratio = atr_spike_ratio(atr(high, low, close, thresholds.period), thresholds.atr_spike_lookback)
    correlation = (
        np.full(adx_values.shape, np.nan) if mean_correlation is None else np.asarray(mean_correlation, np.float64)
    )
    if correlation.shape != adx_values.shape:
        raise ValueError(f"mean correlation has {correlation.shape} values for {adx_values.shape} bars")
    with np.errstate(invalid="ignore"):
        crisis = correlation > thresholds.crisis_correlation
        volatile = ratio >= thresholds.atr_spike_ratio
        choppy = chop > thresholds.chop_choppy
        trending = ((adx_values > thresholds.adx_trending) | (chop < thresholds.chop_trending)) & ~choppy
        ranging = choppy & ~(adx_values > thresholds.adx_trending)
    labels = np.select(
        [crisis, volatile, trending, ranging],
        [Regime.CRISIS.value, Regime.VOLATILE.value, Regime.TRENDING.value, Regime.RANGING.value],
        default=Regime.NEUTRAL.value,
    )
    return RegimeSeries([Regime(label) for label in labels], adx_values, chop, ratio)


# --- Gaussian HMM ---------------------------------------------------------------------------------


def hmm_features(returns: npt.ArrayLike, volatility_window: int) -> FloatArray:
    """(return, log trailing realised volatility) per bar from bar ``volatility_window - 1`` on."""
    values = np.asarray(returns, dtype=np.float64)
    volatility = rolling_realized_volatility(values, volatility_window)[volatility_window - 1 :]
    # A floor keeps log finite over a window of unchanged prices.
    floor = max(float(np.nanmedian(volatility)) * 1e-3, 1e-12)
    return np.column_stack((values[volatility_window - 1 :], np.log(np.maximum(volatility, floor))))


@dataclass(frozen=True, slots=True)
class HmmRegimeModel:
    """A fitted GaussianHMM with its states re-labelled by return variance (0 = calmest)."""

    model: GaussianHMM
    order: IntArray  # order[label] = hmmlearn's state index
    feature_mean: FloatArray
    feature_std: FloatArray
    volatility_window: int
    transition_matrix: FloatArray = field(repr=False)

    @property
    def states(self) -> int:
        return len(self.order)

    def _standardised(self, returns: npt.ArrayLike) -> FloatArray:
        features = hmm_features(returns, self.volatility_window)
        return np.asarray((features - self.feature_mean) / self.feature_std, dtype=np.float64)

    def posteriors(self, returns: npt.ArrayLike) -> FloatArray:
        """P(state | all returns) per bar, columns in label order; rows of the warm-up are NaN."""
        with threadpool_limits(limits=1):
            probabilities = self.model.predict_proba(self._standardised(returns))[:, self.order]
        warm_up = np.full((self.volatility_window - 1, self.states), np.nan)
        return np.vstack((warm_up, probabilities))

    def labels(self, returns: npt.ArrayLike) -> IntArray:
        """Most likely state sequence (Viterbi) as labels; -1 during the volatility warm-up."""
        with threadpool_limits(limits=1):
            hidden = self.model.predict(self._standardised(returns))
        rank = np.empty(self.states, dtype=np.int64)
        rank[self.order] = np.arange(self.states)
        return np.concatenate((np.full(self.volatility_window - 1, -1, dtype=np.int64), rank[hidden]))

    def return_volatility_by_state(self) -> FloatArray:
        """Standard deviation of the return in each labelled state, in return units (ascending)."""
        variances = np.array([self.model.covars_[state][0, 0] for state in self.order])
        return np.asarray(np.sqrt(variances) * self.feature_std[0], dtype=np.float64)

    def next_state_distribution(self, posterior: npt.ArrayLike) -> FloatArray:
        """Distribution of next bar's state given the current state distribution: ``p A``."""
        current = np.asarray(posterior, dtype=np.float64)
        return np.asarray(current @ self.transition_matrix, dtype=np.float64)

    def regime_change_probability(self, posterior: npt.ArrayLike) -> float:
        """Probability the next bar is in another state than the current one: ``1 - sum_i p_i A_ii``."""
        current = np.asarray(posterior, dtype=np.float64)
        return float(1.0 - current @ np.diag(self.transition_matrix))

    def expected_durations(self) -> FloatArray:
        """Expected bars spent in each state once entered: ``1 / (1 - A_ii)``."""
        stay = np.diag(self.transition_matrix)
        with np.errstate(divide="ignore"):
            return np.asarray(1.0 / (1.0 - stay), dtype=np.float64)


def fit_hmm_regimes(
    returns: npt.ArrayLike, states: int = 3, volatility_window: int = 30, seed: int = 0, iterations: int = 200
) -> HmmRegimeModel:
    """Fit a full-covariance GaussianHMM on (return, log realised vol); reproducible for a seed."""
    values = np.asarray(returns, dtype=np.float64)
    if states < 2:
        raise ValueError(f"a regime model needs at least 2 states, got {states}")
    if not np.isfinite(values).all():
        raise ValueError("returns contain NaN or inf")
    if len(values) < volatility_window + 20 * states:
        raise ValueError(f"{len(values)} returns are too few for {states} states and a {volatility_window}-bar window")
    features = hmm_features(values, volatility_window)
    mean, std = features.mean(axis=0), features.std(axis=0)
    if (std == 0).any():
        raise ValueError("returns do not vary: no regimes to find")
    # imported here: hmmlearn brings scikit-learn (~2.5 s), which a config or a CLI command that
    # fits no regime model must not wait for
    from hmmlearn.hmm import GaussianHMM  # noqa: PLC0415

    model = GaussianHMM(n_components=states, covariance_type="full", n_iter=iterations, random_state=seed)
    with threadpool_limits(limits=1):
        model.fit((features - mean) / std)
    order = np.argsort([model.covars_[state][0, 0] for state in range(states)], kind="stable").astype(np.int64)
    transition = np.asarray(model.transmat_[np.ix_(order, order)], dtype=np.float64)
    return HmmRegimeModel(model, order, mean, std, volatility_window, transition)
