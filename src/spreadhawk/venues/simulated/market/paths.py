"""Fair-value paths: the interface between the price process and the venue microstructure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt


class Regime(IntEnum):
    TREND_UP = 0
    TREND_DOWN = 1
    RANGING = 2
    CHOPPY = 3
    CRISIS = 4  # correlations rise toward 1, volatility jumps, depth thins


@dataclass(frozen=True, slots=True, eq=False)
class FairValuePaths:
    """Fair (consensus) value of each asset in the quote currency on a regular time grid.

    ``ts_ns[i]`` is the time of step i (``step_ns`` apart); ``prices[asset][i]`` the fair price;
    ``regime[i]`` the market regime in force; ``volatility[asset][i]`` the instantaneous annualised
    volatility the process used (venues widen spreads and thin depth with it).
    """

    ts_ns: npt.NDArray[np.int64]
    step_ns: int
    prices: dict[str, npt.NDArray[np.float64]]
    volatility: dict[str, npt.NDArray[np.float64]]
    regime: npt.NDArray[np.int8]

    @property
    def steps(self) -> int:
        return len(self.ts_ns)
