"""Performance metrics of a run: pure numpy on an equity curve and a list of closed trades.

Floats are deliberate here: these are statistics *about* money series, computed once per run.
Exact money stays in the ledger (Decimal); the caller converts the equity snapshots to float.

Definitions (``e_0 .. e_n`` the equity samples at ``t_0 .. t_n``, ``r_i = e_i / e_{i-1} - 1``
the simple period returns, ``P`` periods per year, one year = 365 days because crypto trades
every day):

* ``total_return`` = ``e_n / e_0 - 1``.
* ``cagr`` = ``(e_n / e_0) ** (1 / years) - 1`` with ``years = (t_n - t_0) / 365 days``; undefined for
  runs shorter than ``MIN_CAGR_DAYS`` (7): compounding two hours of returns over a year gives
  numbers like 1e34 that say nothing;
  ``-1`` when the run ends with no equity; undefined for a zero-length curve or when the
  compounding overflows a float (a large return over a few seconds).
* Return-based ratios (volatility, Sharpe, Sortino, correlation) are undefined when equity is at
  or below zero before the last sample: a return relative to no equity means nothing.
* ``P`` = ``periods_per_year`` if given, else ``365 days / median(t_i - t_{i-1})``.
* ``annualized_volatility`` = ``std(r, ddof=1) * sqrt(P)``; needs two returns.
* ``sharpe`` = ``mean(r) / std(r, ddof=1) * sqrt(P)``, risk-free rate 0; undefined with zero
  volatility. A per-period std below ``1e-12`` counts as zero: that is float noise from a
  constant-return curve, and dividing by it would report an absurd ratio.
* ``sortino`` = ``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)``: the downside deviation is
  taken over *all* periods with target 0; undefined when no period lost.
* ``calmar`` = ``cagr / max_drawdown``; undefined without a drawdown.
* ``max_drawdown`` = ``max_i (1 - e_i / max_{j<=i} e_j)``, a positive fraction (0.2 = 20 %).
* ``max_drawdown_duration_s`` = the longest time under water: from the time of a peak to the
  first later sample at or above that peak, or to the last sample if the curve never recovers.
* ``win_rate`` = share of trades with ``pnl > 0`` (a break-even trade is not a win).
* ``profit_factor`` = gross profit / gross loss (sum of positive pnl over minus the sum of
  negative pnl); undefined without a losing trade.
* ``expectancy`` = mean pnl per trade (net of fees, in the account currency).
* ``exposure_time`` = ``exposure_ns / (t_n - t_0)``: share of the run with a non-flat position.
* ``turnover`` = traded notional / mean equity and ``fees_paid``: passed through from the caller.
* ``trades`` = number of closed trades.
* ``btc_correlation`` = Pearson correlation of the period returns with the benchmark's period
  returns. The benchmark (typically BTC's price, i.e. buy-and-hold) is sampled as-of each equity
  timestamp (its last value at or before it); equity samples before the benchmark starts are
  dropped. Undefined without a benchmark, with fewer than two common returns, or when either
  series does not move.

Undefined values are ``None``, never NaN or inf, so that ``Metrics.as_dict()`` is valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

SECONDS_PER_YEAR = 365 * 24 * 3600
_NS_PER_S = 1_000_000_000
# Per-period standard deviations below this are float noise (see the module docstring).
_ZERO_VOL = 1e-12

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class EquityCurve:
    """Equity sampled at strictly increasing nanosecond timestamps; starts above zero.

    ``eq=False``: element-wise array comparison makes a generated ``__eq__`` meaningless.
    """

    ts_ns: IntArray
    equity: FloatArray

    def __post_init__(self) -> None:
        ts = np.asarray(self.ts_ns, dtype=np.int64)
        eq = np.asarray(self.equity, dtype=np.float64)
        if ts.ndim != 1 or eq.shape != ts.shape:
            raise ValueError(f"ts_ns {ts.shape} and equity {eq.shape} must be 1-D of the same length")
        if ts.size == 0:
            raise ValueError("an equity curve needs at least one point")
        if ts.size > 1 and not bool(np.all(np.diff(ts) > 0)):
            raise ValueError("ts_ns must be strictly increasing")
        if not bool(np.all(np.isfinite(eq))):
            raise ValueError("equity must be finite")
        if eq[0] <= 0:
            raise ValueError(f"starting equity must be positive, got {eq[0]}")
        # Store the normalised arrays (frozen: bypass __setattr__ once, at construction).
        object.__setattr__(self, "ts_ns", ts)
        object.__setattr__(self, "equity", eq)

    @property
    def elapsed_ns(self) -> int:
        return int(self.ts_ns[-1] - self.ts_ns[0])

    def returns(self) -> FloatArray | None:
        """Simple period returns; ``None`` when a sample before the last is at or below zero.

        A return relative to zero or negative equity means nothing (and divides by zero).
        """
        return _simple_returns(self.equity)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A round trip. ``pnl`` is net of fees; ``return_pct`` is a fraction (0.01 = 1 %)."""

    entry_ts_ns: int
    exit_ts_ns: int
    pnl: float
    return_pct: float

    def __post_init__(self) -> None:
        if self.exit_ts_ns < self.entry_ts_ns:
            raise ValueError(f"trade exits at {self.exit_ts_ns} before entering at {self.entry_ts_ns}")
        if not (math.isfinite(self.pnl) and math.isfinite(self.return_pct)):
            raise ValueError("trade pnl and return must be finite")


@dataclass(frozen=True, slots=True)
class Metrics:
    """Run metrics; see the module docstring for every definition. ``None`` = undefined."""

    total_return: float
    cagr: float | None
    annualized_volatility: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration_s: float
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    exposure_time: float | None
    turnover: float
    fees_paid: float
    trades: int
    btc_correlation: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-friendly: plain Python numbers, ``None`` for anything undefined or non-finite."""
        out: dict[str, float | int | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[f.name] = value
        return out


def compute_metrics(
    equity: EquityCurve,
    trades: Sequence[ClosedTrade],
    *,
    fees_paid: float,
    turnover: float,
    exposure_ns: int,
    benchmark: EquityCurve | None = None,
    periods_per_year: float | None = None,
) -> Metrics:
    """Compute the run's :class:`Metrics` (definitions in the module docstring)."""
    if not (math.isfinite(fees_paid) and math.isfinite(turnover)):
        raise ValueError("fees_paid and turnover must be finite")
    elapsed_ns = equity.elapsed_ns
    if not 0 <= exposure_ns <= elapsed_ns:
        raise ValueError(f"exposure_ns {exposure_ns} is outside the run's duration [0, {elapsed_ns}]")
    ppy = periods_per_year if periods_per_year is not None else infer_periods_per_year(equity.ts_ns)
    if ppy is not None and not (math.isfinite(ppy) and ppy > 0):
        raise ValueError(f"periods_per_year must be positive, got {ppy}")

    returns = equity.returns()
    total_return = float(equity.equity[-1] / equity.equity[0] - 1.0)
    cagr = _cagr(total_return, elapsed_ns)
    max_dd, max_dd_duration_s = drawdown_stats(equity)
    vol, sharpe, sortino = _return_ratios(returns, ppy)
    pnl = np.fromiter((t.pnl for t in trades), dtype=np.float64, count=len(trades))
    win_rate, profit_factor, expectancy = _trade_stats(pnl)
    return Metrics(
        total_return=total_return,
        cagr=cagr,
        annualized_volatility=vol,
        sharpe=sharpe,
        sortino=sortino,
        calmar=_finite(cagr / max_dd) if cagr is not None and max_dd > 0 else None,
        max_drawdown=max_dd,
        max_drawdown_duration_s=max_dd_duration_s,
        win_rate=win_rate,
        profit_factor=profit_factor,
        expectancy=expectancy,
        exposure_time=exposure_ns / elapsed_ns if elapsed_ns > 0 else None,
        turnover=float(turnover),
        fees_paid=float(fees_paid),
        trades=len(trades),
        btc_correlation=benchmark_correlation(equity, benchmark) if benchmark is not None else None,
    )


def infer_periods_per_year(ts_ns: IntArray) -> float | None:
    """``365 days / median sample spacing``; ``None`` for fewer than two samples."""
    if ts_ns.size < 2:
        return None
    median_dt_s = float(np.median(np.diff(ts_ns))) / _NS_PER_S
    return SECONDS_PER_YEAR / median_dt_s if median_dt_s > 0 else None


def drawdown_stats(equity: EquityCurve) -> tuple[float, float]:
    """(max drawdown as a positive fraction, longest time under water in seconds)."""
    e, ts = equity.equity, equity.ts_ns
    peak = np.maximum.accumulate(e)
    max_dd = float(np.max(1.0 - e / peak))  # peak >= e_0 > 0: no division by zero
    underwater = np.concatenate(([0], (e < peak).astype(np.int8), [0]))
    edges = np.diff(underwater)
    starts = np.flatnonzero(edges == 1)  # first sample under water; the peak is the one before
    stops = np.flatnonzero(edges == -1)  # first sample recovered (== size when never recovered)
    if starts.size == 0:
        return max_dd, 0.0
    end_idx = np.minimum(stops, ts.size - 1)
    durations = ts[end_idx] - ts[starts - 1]
    return max_dd, int(np.max(durations)) / _NS_PER_S


def benchmark_correlation(equity: EquityCurve, benchmark: EquityCurve) -> float | None:
    """Correlation of period returns with the benchmark sampled as-of the equity timestamps."""
    idx = np.searchsorted(benchmark.ts_ns, equity.ts_ns, side="right") - 1
    covered = idx >= 0
    if int(np.count_nonzero(covered)) < 3:  # three samples make the two returns a correlation needs
        return None
    r_ours = _simple_returns(equity.equity[covered])
    r_theirs = _simple_returns(benchmark.equity[idx[covered]])
    if r_ours is None or r_theirs is None:
        return None
    return _pearson(r_ours, r_theirs)


def _simple_returns(values: FloatArray) -> FloatArray | None:
    if bool(np.any(values[:-1] <= 0)):
        return None
    out: FloatArray = values[1:] / values[:-1] - 1.0
    return out


def _pearson(x: FloatArray, y: FloatArray) -> float | None:
    # By hand rather than np.corrcoef, which warns (an error under our pytest config) on zero variance.
    dx, dy = x - x.mean(), y - y.mean()
    sx, sy = math.sqrt(float(dx @ dx) / x.size), math.sqrt(float(dy @ dy) / y.size)
    if sx <= _ZERO_VOL or sy <= _ZERO_VOL:
        return None
    corr = float(dx @ dy) / (x.size * sx * sy)
    return max(-1.0, min(1.0, corr))  # rounding can overshoot the bounds by an ulp


MIN_CAGR_DAYS = 7


def _cagr(total_return: float, elapsed_ns: int) -> float | None:
    if elapsed_ns < MIN_CAGR_DAYS * 86_400 * _NS_PER_S:
        return None
    growth = 1.0 + total_return
    if growth <= 0:
        return -1.0  # everything lost: no rate compounds back to a positive value
    years = elapsed_ns / _NS_PER_S / SECONDS_PER_YEAR
    try:
        return math.exp(math.log(growth) / years) - 1.0
    except OverflowError:  # e.g. +10 % in one minute compounds past float range
        return None


def _return_ratios(returns: FloatArray | None, ppy: float | None) -> tuple[float | None, float | None, float | None]:
    """(annualized volatility, Sharpe, Sortino)."""
    if ppy is None or returns is None or returns.size == 0:
        return None, None, None
    scale = math.sqrt(ppy)
    mean = float(returns.mean())
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    sortino = _finite(mean / downside * scale) if downside > _ZERO_VOL else None
    if returns.size < 2:
        return None, None, sortino
    std = float(returns.std(ddof=1))
    if std <= _ZERO_VOL:
        return 0.0, None, sortino
    return _finite(std * scale), _finite(mean / std * scale), sortino


def _trade_stats(pnl: FloatArray) -> tuple[float | None, float | None, float | None]:
    """(win rate, profit factor, expectancy)."""
    if pnl.size == 0:
        return None, None, None
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = -float(pnl[pnl < 0].sum())
    win_rate = float(np.count_nonzero(pnl > 0)) / pnl.size
    profit_factor = gross_profit / gross_loss if gross_loss > 0 else None
    return win_rate, profit_factor, float(pnl.mean())


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
