"""How good probability forecasts of binary outcomes are: the Brier score, the log loss and a
reliability table (forecasts grouped into bins: in a calibrated model, events forecast at 30 %
happen 30 % of the time).

The scores are scikit-learn's (``brier_score_loss``, ``log_loss``); the table is numpy over equal-width
bins of the forecast, the right edge of the last bin included. A forecast of exactly 0 or 1 that turns
out wrong has an infinite log loss: forecasts are clipped to [``EPS``, 1 - ``EPS``] for it (said in
``Calibration.clipped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["EPS", "Calibration", "ReliabilityRow", "calibration"]

EPS = 1e-6
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ReliabilityRow:
    low: float  # the bin's forecasts are in [low, high) (the last bin includes 1)
    high: float
    count: int
    mean_forecast: float
    observed: float  # the share of the bin's events that happened


@dataclass(frozen=True, slots=True)
class Calibration:
    count: int
    base_rate: float  # the share of events that happened
    brier: float  # mean squared error of the forecasts (0 best; 0.25 for always saying 50 %)
    log_loss: float  # mean negative log-likelihood (0 best; ln 2 = 0.693 for always saying 50 %)
    clipped: int  # forecasts moved to [EPS, 1 - EPS] for the log loss
    rows: tuple[ReliabilityRow, ...]

    @property
    def brier_skill_vs_base_rate(self) -> float:
        """1 - brier / (the Brier score of always forecasting the base rate): > 0 beats it."""
        reference = self.base_rate * (1 - self.base_rate)
        return 1 - self.brier / reference if reference > 0 else float("nan")


def calibration(forecasts: Sequence[float], happened: Sequence[bool], bins: int = 10) -> Calibration:
    """Score ``forecasts`` (probabilities that each event happens) against what ``happened``."""
    from sklearn.metrics import brier_score_loss, log_loss  # noqa: PLC0415 (scikit-learn loads slowly)

    p = np.asarray(forecasts, dtype=np.float64)
    y = np.asarray(happened, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1 or len(p) == 0:
        raise ValueError(f"need as many forecasts as outcomes, and some: {p.shape} and {y.shape}")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("forecasts must be probabilities in [0, 1]")
    clipped_p = np.clip(p, EPS, 1 - EPS)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.minimum(np.digitize(p, edges[1:-1], right=False), bins - 1)
    rows = []
    for k in range(bins):
        members = index == k
        count = int(members.sum())
        if count:
            rows.append(
                ReliabilityRow(edges[k], edges[k + 1], count, float(p[members].mean()), float(y[members].mean()))
            )
    return Calibration(
        count=len(p),
        base_rate=float(y.mean()),
        brier=float(brier_score_loss(y, p)),
        log_loss=float(log_loss(y, clipped_p, labels=[0.0, 1.0])),
        clipped=int(np.count_nonzero(clipped_p != p)),
        rows=tuple(rows),
    )
