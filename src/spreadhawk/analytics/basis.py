"""Spot-perpetual basis and funding carry: the two numbers behind funding capture.

* ``sample_asof`` puts two irregular mid series on one clock: at each grid time the latest value
  known at or before it (no look-ahead); grid times before a series' first value are dropped.
* ``basis_series`` summarises ``perp mid / spot mid - 1`` in bps over aligned samples: mean, std
  (population), 5/50/95 % quantiles (linear interpolation, numpy's default), the AR(1) coefficient
  of the series fitted by least squares on its deviations from the mean, the half-life of mean
  reversion it implies (``ln 0.5 / ln phi`` samples, only for ``0 < phi < 1``), and the share of
  samples whose |basis| exceeds a round-trip fee (what a basis trade must beat to pay at all).
* ``funding_carry`` sums a funding history for a constant position of fixed notional (no
  compounding, no mark-to-market): a short perpetual receives ``+rate`` each period, a long pays
  it. The sum is exact (``Decimal``); it is annualised by ``periods_per_year / periods`` and netted
  against one round trip of fees (enter once, leave once). Sign statistics: periods with negative
  (and positive) funding and the longest run of consecutive periods of one sign (zero breaks a run).
* ``binance_funding_rate`` is Binance USD-M's formula, ``F = P + clamp(I - P, ±c)`` (I = 0.01 %,
  c = 0.05 % per 8 h), and ``FundingEstimator`` applies it to a premium sampled on a fixed clock
  and averaged with Binance's increasing weights (1·P1 + 2·P2 + … + n·Pn) / (1 + … + n) since the
  period began, giving the estimate a strategy can compute when the venue's own (``markPrice``
  stream) is not in the data. Applied to (mark - index) / index it reproduces the streamed 2023
  BTCUSDT estimates within ~0.35 bps (``tests/analytics/test_basis_real.py``): Binance's premium
  comes from impact bid/ask prices, which a recording does not give.

Pure: numpy and ``Decimal`` only, no domain types.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "BasisStats",
    "FundingCarry",
    "FundingEstimator",
    "ar1_coefficient",
    "basis_series",
    "binance_funding_rate",
    "funding_carry",
    "longest_sign_run",
    "sample_asof",
]

BPS = 10_000.0
Number = float | int | Decimal


@dataclass(frozen=True, slots=True)
class BasisStats:
    """Basis ``perp / spot - 1`` in bps over ``samples`` aligned samples."""

    samples: int
    mean_bps: float
    std_bps: float
    p5_bps: float
    p50_bps: float
    p95_bps: float
    min_bps: float
    max_bps: float
    ar1_phi: float | None  # None when the series is constant or too short
    half_life_samples: float | None  # None when the series does not mean-revert (phi outside (0, 1))
    half_life_s: float | None  # half_life_samples × sample_interval_s, when the interval is given
    round_trip_fee_bps: float
    share_above_fees: float  # share of samples with |basis| > round_trip_fee_bps


@dataclass(frozen=True, slots=True)
class FundingCarry:
    """What a constant position earns from a funding history (fractions of notional)."""

    side: Literal["short", "long"]
    periods: int
    cumulative: Decimal  # sum of what the position received, per unit notional
    mean_per_period: Decimal
    annualised: Decimal  # cumulative × periods_per_year / periods
    round_trip_fees: Decimal  # entering and leaving once
    net: Decimal  # cumulative - round_trip_fees
    net_annualised: Decimal  # net over the history, scaled to a year
    negative_periods: int  # periods whose rate was < 0 (a short paid)
    positive_periods: int
    zero_periods: int
    longest_run: int  # consecutive periods of one sign
    longest_run_sign: int  # +1 / -1 (0 for an empty history)
    breakeven_periods: int | None  # periods of mean funding needed to pay the fees (None if mean ≤ 0)


def sample_asof(
    times_ns: Sequence[int] | npt.NDArray[np.int64],
    values: Sequence[Number] | npt.NDArray[np.float64],
    grid_ns: Sequence[int] | npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """The latest value at or before each grid time (NaN before the first value).

    ``times_ns`` must be non-decreasing; with several values at one time the last one wins.
    """
    t = np.asarray(times_ns, dtype=np.int64)
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if t.shape != v.shape:
        raise ValueError(f"times and values differ in length: {t.size} != {v.size}")
    if t.size > 1 and bool(np.any(np.diff(t) < 0)):
        raise ValueError("times_ns must be non-decreasing")
    g = np.asarray(grid_ns, dtype=np.int64)
    idx = np.searchsorted(t, g, side="right") - 1
    out = np.full(g.shape, np.nan)
    known = idx >= 0
    out[known] = v[idx[known]]
    return out


def ar1_coefficient(series: Sequence[float] | npt.NDArray[np.float64]) -> float | None:
    """Least-squares ``phi`` of ``x[t] - m = phi (x[t-1] - m) + e`` (``m`` the series mean)."""
    x = np.asarray(series, dtype=np.float64)
    if x.size < 3:
        return None
    d = x - x.mean()
    denom = float(np.dot(d[:-1], d[:-1]))
    if denom == 0.0:
        return None
    return float(np.dot(d[1:], d[:-1]) / denom)


def basis_series(
    spot_mids: Sequence[Number] | npt.NDArray[np.float64],
    perp_mids: Sequence[Number] | npt.NDArray[np.float64],
    *,
    round_trip_fee_bps: float = 0.0,
    sample_interval_s: float | None = None,
) -> BasisStats:
    """Statistics of ``perp / spot - 1`` (bps) over mids already sampled on one clock.

    Pairs where either mid is NaN (e.g. before a book was first valid) are dropped.
    """
    spot = np.asarray([float(x) for x in spot_mids], dtype=np.float64)
    perp = np.asarray([float(x) for x in perp_mids], dtype=np.float64)
    if spot.shape != perp.shape:
        raise ValueError(f"spot and perp mids differ in length: {spot.size} != {perp.size}")
    keep = ~(np.isnan(spot) | np.isnan(perp))
    spot, perp = spot[keep], perp[keep]
    if spot.size == 0:
        raise ValueError("no aligned samples")
    if bool(np.any(spot <= 0)) or bool(np.any(perp <= 0)):
        raise ValueError("mids must be positive")
    basis = (perp / spot - 1.0) * BPS
    p5, p50, p95 = (float(q) for q in np.quantile(basis, [0.05, 0.5, 0.95]))
    phi = ar1_coefficient(basis)
    half_life = math.log(0.5) / math.log(phi) if phi is not None and 0.0 < phi < 1.0 else None
    return BasisStats(
        samples=int(basis.size),
        mean_bps=float(basis.mean()),
        std_bps=float(basis.std()),
        p5_bps=p5,
        p50_bps=p50,
        p95_bps=p95,
        min_bps=float(basis.min()),
        max_bps=float(basis.max()),
        ar1_phi=phi,
        half_life_samples=half_life,
        half_life_s=None if half_life is None or sample_interval_s is None else half_life * sample_interval_s,
        round_trip_fee_bps=round_trip_fee_bps,
        share_above_fees=float(np.mean(np.abs(basis) > round_trip_fee_bps)),
    )


def longest_sign_run(values: Sequence[Number]) -> tuple[int, int]:
    """``(length, sign)`` of the longest run of consecutive values of one strict sign; the first wins ties."""
    best, best_sign, run, sign = 0, 0, 0, 0
    for value in values:
        s = (value > 0) - (value < 0)
        run = run + 1 if s != 0 and s == sign else (1 if s != 0 else 0)
        sign = s
        if run > best:
            best, best_sign = run, s
    return best, best_sign


def funding_carry(
    rates: Sequence[Number],
    *,
    side: Literal["short", "long"] = "short",
    round_trip_fees: Decimal | str | float = Decimal(0),
    periods_per_year: int = 3 * 365,
) -> FundingCarry:
    """Funding a constant ``side`` perpetual position receives over ``rates`` (one per period).

    ``round_trip_fees`` is the fraction of notional paid to enter and leave once (e.g. spot 0.1 % +
    perp 0.05 %, twice = ``0.003``); ``periods_per_year`` is 1095 for 8-hour funding.
    """
    if side not in ("short", "long"):
        raise ValueError(f"side must be 'short' or 'long', got {side!r}")
    if periods_per_year <= 0:
        raise ValueError("periods_per_year must be positive")
    exact = [r if isinstance(r, Decimal) else Decimal(repr(r)) if isinstance(r, float) else Decimal(r) for r in rates]
    fees = round_trip_fees if isinstance(round_trip_fees, Decimal) else Decimal(str(round_trip_fees))
    n = len(exact)
    direction = 1 if side == "short" else -1
    cumulative = direction * sum(exact, Decimal(0))
    mean = cumulative / n if n else Decimal(0)
    net = cumulative - fees
    run, run_sign = longest_sign_run(exact)
    breakeven = math.ceil(fees / mean) if mean > 0 else None
    return FundingCarry(
        side=side,
        periods=n,
        cumulative=cumulative,
        mean_per_period=mean,
        annualised=cumulative * periods_per_year / n if n else Decimal(0),
        round_trip_fees=fees,
        net=net,
        net_annualised=net * periods_per_year / n if n else Decimal(0),
        negative_periods=sum(r < 0 for r in exact),
        positive_periods=sum(r > 0 for r in exact),
        zero_periods=sum(r == 0 for r in exact),
        longest_run=run,
        longest_run_sign=run_sign,
        breakeven_periods=breakeven,
    )


# =========================================================================== Binance's funding formula
BINANCE_INTEREST_8H = Decimal("0.0001")  # 0.03 % a day
BINANCE_CLAMP_8H = Decimal("0.0005")
_RATE_QUANTUM = Decimal("0.00000001")  # Binance publishes rates to 1e-8


def binance_funding_rate(
    premium: Decimal, *, interest: Decimal = BINANCE_INTEREST_8H, clamp: Decimal = BINANCE_CLAMP_8H
) -> Decimal:
    """``F = P + clamp(I - P, -c, c)`` for the period's average premium ``P`` (fractions, per period)."""
    return premium + min(max(interest - premium, -clamp), clamp)


class FundingEstimator:
    """Running estimate of the current period's funding rate from premium observations.

    ``observe(ts_ns, premium)`` keeps at most one sample per ``sample_every_ns`` (the latest premium
    seen when a sample is due, as Binance samples its premium index on a fixed clock); the period
    restarts at every multiple of ``interval_ns`` since the epoch (00:00, 08:00, 16:00 UTC for 8 h).
    ``rate()`` is the formula on the weighted average of the samples so far (None before the first).
    ``interest`` and ``clamp`` are per period (scale them for funding intervals other than 8 h).
    """

    def __init__(
        self,
        interval_ns: int,
        *,
        sample_every_ns: int = 5_000_000_000,
        interest: Decimal = BINANCE_INTEREST_8H,
        clamp: Decimal = BINANCE_CLAMP_8H,
    ) -> None:
        if interval_ns <= 0 or sample_every_ns <= 0:
            raise ValueError("interval_ns and sample_every_ns must be positive")
        self.interval_ns, self.sample_every_ns = interval_ns, sample_every_ns
        self.interest, self.clamp = interest, clamp
        self._period = -1  # index of the funding period being averaged
        self._next_sample_ns = 0
        self._n = 0
        self._weighted = Decimal(0)

    @property
    def samples(self) -> int:
        return self._n

    def funding_ts_ns(self, ts_ns: int) -> int:
        """The funding time that ends the period holding ``ts_ns``."""
        return (ts_ns // self.interval_ns + 1) * self.interval_ns

    def observe(self, ts_ns: int, premium: Decimal) -> bool:
        """Take ``premium`` as a sample if one is due at ``ts_ns``; True when it was taken."""
        period = ts_ns // self.interval_ns
        if period != self._period:  # a new period: Binance's average starts again
            self._period, self._n, self._weighted = period, 0, Decimal(0)
            self._next_sample_ns = ts_ns
        if ts_ns < self._next_sample_ns:
            return False
        self._n += 1
        self._weighted += self._n * premium
        self._next_sample_ns = ts_ns - ts_ns % self.sample_every_ns + self.sample_every_ns
        return True

    def average_premium(self) -> Decimal | None:
        return self._weighted / (self._n * (self._n + 1) // 2) if self._n else None

    def rate(self) -> Decimal | None:
        premium = self.average_premium()
        if premium is None:
            return None
        rate = binance_funding_rate(premium, interest=self.interest, clamp=self.clamp)
        return rate.quantize(_RATE_QUANTUM)
