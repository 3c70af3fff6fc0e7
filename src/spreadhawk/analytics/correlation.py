"""Cross-asset correlation: rolling matrices, PCA concentration, effective number of bets, spike detection.

A book of many arbitrage legs is only diversified if the legs' returns are not one bet in
disguise; these functions measure how many independent bets there are and flag the moments when
correlations jump (everything sells off together) so the regime and the sizing can react.

Effective number of independent bets (ENB): from the eigenvalues ``lambda_i`` of the correlation
matrix normalised to shares ``p_i = lambda_i / sum lambda`` (the variance share of each principal
factor), the default is ``exp(-sum p_i ln p_i)`` — the exponential of the Shannon entropy of the
shares (Meucci's "effective number of bets" on principal components; the "effective rank" of
Roy & Vetterli). It is N for N uncorrelated assets, 1 when all move as one, and it counts every
factor in proportion to its share. The alternative ``1 / sum p_i^2`` (participation ratio, the
inverse Herfindahl index) has the same two endpoints but is dominated by the largest factor, so it
reads lower for the same matrix; use it when the question is "how dominant is the market factor".
We use the correlation (not the covariance) matrix so a volatile asset does not count as more bets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
BetsMethod = Literal["entropy", "participation"]

DEFAULT_CRISIS_CORRELATION = 0.9
DEFAULT_CORRELATION_JUMP = 0.3


def aligned_log_returns(closes: dict[str, pd.Series]) -> pd.DataFrame:
    """Log returns of several close series on their common timestamps (inner join; a missing bar
    in any series drops that timestamp for all, so each return spans the same interval)."""
    if len(closes) < 2:
        raise ValueError(f"correlation needs at least two series, got {len(closes)}")
    frame = pd.concat(closes, axis=1, join="inner").sort_index()
    if (frame <= 0).to_numpy().any():
        raise ValueError("close prices must be positive to take log returns")
    log_prices = pd.DataFrame(np.log(frame.to_numpy(dtype=np.float64)), index=frame.index, columns=frame.columns)
    return log_prices.diff().iloc[1:]


def rolling_correlations(returns: pd.DataFrame | npt.ArrayLike, window: int) -> FloatArray:
    """Correlation matrices over the trailing ``window`` bars (current bar included): shape (T, N, N),
    NaN for the first ``window - 1`` bars and where an asset did not move in the window."""
    frame = returns if isinstance(returns, pd.DataFrame) else pd.DataFrame(np.asarray(returns, dtype=np.float64))
    if window < 3:
        raise ValueError(f"a rolling correlation window needs at least 3 bars, got {window}")
    if len(frame) < window:
        raise ValueError(f"window of {window} bars is longer than the {len(frame)} returns")
    assets = frame.shape[1]
    stacked = frame.reset_index(drop=True).rolling(window).corr()
    return np.asarray(stacked.to_numpy(dtype=np.float64).reshape(len(frame), assets, assets))


def mean_pairwise_correlation(correlations: npt.ArrayLike) -> FloatArray | float:
    """Mean of the off-diagonal entries of one matrix (N, N) or of each of a stack (T, N, N)."""
    matrices = np.asarray(correlations, dtype=np.float64)
    assets = matrices.shape[-1]
    if assets < 2 or matrices.shape[-2] != assets:
        raise ValueError(f"need square matrices of at least 2 assets, got shape {matrices.shape}")
    off_diagonal = ~np.eye(assets, dtype=bool)
    means = matrices[..., off_diagonal].mean(axis=-1)
    return float(means) if matrices.ndim == 2 else np.asarray(means, dtype=np.float64)


def pca_variance_shares(matrix: npt.ArrayLike) -> FloatArray:
    """Share of total variance carried by each principal factor, largest first (eigenvalues of a
    symmetric correlation or covariance matrix, normalised to sum to 1; tiny negatives from
    rounding are clipped to 0)."""
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != values.shape[1] or not np.isfinite(values).all():
        raise ValueError(f"need a finite square matrix, got shape {values.shape}")
    eigenvalues = np.clip(np.linalg.eigvalsh(values)[::-1], 0.0, None)
    total = eigenvalues.sum()
    if total <= 0:
        raise ValueError("matrix has no variance")
    return np.asarray(eigenvalues / total, dtype=np.float64)


def effective_number_of_bets(matrix: npt.ArrayLike, method: BetsMethod = "entropy") -> float:
    """Effective number of independent bets of a correlation matrix (see the module docstring)."""
    shares = pca_variance_shares(matrix)
    if method == "participation":
        return float(1.0 / np.sum(shares**2))
    if method != "entropy":
        raise ValueError(f"unknown effective-bets method {method!r}; use entropy or participation")
    positive = shares[shares > 0]
    return float(np.exp(-np.sum(positive * np.log(positive))))


@dataclass(frozen=True, slots=True)
class CorrelationSummary:
    """One correlation matrix summarised: mean pairwise correlation, variance share of the first
    factors, and the effective number of independent bets."""

    mean_correlation: float
    first_factor_share: float
    first_three_factors_share: float
    effective_bets: float


def summarise(correlation: npt.ArrayLike, method: BetsMethod = "entropy") -> CorrelationSummary:
    shares = pca_variance_shares(correlation)
    return CorrelationSummary(
        mean_correlation=float(mean_pairwise_correlation(correlation)),
        first_factor_share=float(shares[0]),
        first_three_factors_share=float(shares[:3].sum()),
        effective_bets=effective_number_of_bets(correlation, method),
    )


def correlation_spikes(
    mean_correlation: npt.ArrayLike,
    threshold: float = DEFAULT_CRISIS_CORRELATION,
    jump: float = DEFAULT_CORRELATION_JUMP,
    lookback: int = 288,
) -> BoolArray:
    """True where the mean pairwise correlation is above ``threshold`` (the seeds' crisis level, 0.9),
    or has risen by at least ``jump`` above its median over the previous ``lookback`` bars (a jump
    from a low level is a warning before the absolute level is reached). NaN counts as no spike."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1 bar, got {lookback}")
    series = pd.Series(np.asarray(mean_correlation, dtype=np.float64))
    trailing = series.shift(1).rolling(lookback, min_periods=lookback).median()
    above = (series > threshold).to_numpy()
    jumped = ((series - trailing) >= jump).to_numpy()
    return np.asarray(above | jumped, dtype=bool)


def correlation_to_portfolio(asset_returns: npt.ArrayLike, portfolio_returns: npt.ArrayLike) -> float:
    """Pearson correlation of an asset's (or strategy's) returns with the portfolio's; 0 when either is flat."""
    asset = np.asarray(asset_returns, dtype=np.float64)
    portfolio = np.asarray(portfolio_returns, dtype=np.float64)
    if asset.shape != portfolio.shape or len(asset) < 3:
        raise ValueError(f"need two aligned series of at least 3 returns, got {asset.shape} and {portfolio.shape}")
    if asset.std() == 0 or portfolio.std() == 0:
        return 0.0
    return float(np.corrcoef(asset, portfolio)[0, 1])
