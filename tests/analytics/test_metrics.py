"""Metrics: hand-computed values on tiny curves, edge cases, and a cross-check against pandas."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from spreadhawk.analytics.metrics import (
    SECONDS_PER_YEAR,
    ClosedTrade,
    EquityCurve,
    Metrics,
    compute_metrics,
    infer_periods_per_year,
)

DAY_NS = 86_400 * 1_000_000_000
HOUR_NS = 3_600 * 1_000_000_000
WEEK_NS = 7 * DAY_NS


def curve(values: Sequence[float], step_ns: int = DAY_NS, start_ns: int = 0) -> EquityCurve:
    ts = start_ns + step_ns * np.arange(len(values), dtype=np.int64)
    return EquityCurve(ts_ns=ts, equity=np.asarray(values, dtype=np.float64))


def trade(pnl: float) -> ClosedTrade:
    return ClosedTrade(entry_ts_ns=0, exit_ts_ns=DAY_NS, pnl=pnl, return_pct=pnl / 100)


def metrics(
    eq: EquityCurve,
    trades: Sequence[ClosedTrade] = (),
    *,
    exposure_ns: int = 0,
    benchmark: EquityCurve | None = None,
    periods_per_year: float | None = None,
) -> Metrics:
    return compute_metrics(
        eq,
        trades,
        fees_paid=1.5,
        turnover=2.0,
        exposure_ns=exposure_ns,
        benchmark=benchmark,
        periods_per_year=periods_per_year,
    )


# --------------------------------------------------------------------------- hand-computed
def test_tiny_curve_hand_computed() -> None:
    # Daily [100, 110, 99, 121]: returns 0.1, -0.1, 2/9, in 27ths 2.7, -2.7, 6; mean 2/27;
    # deviations 0.7, -4.7, 4 (27ths), squares sum to 38.58 / 27**2, over n - 1 = 2.
    # Weekly samples (CAGR needs at least a week), annualised as if daily to keep the sqrt(365).
    m = metrics(curve([100, 110, 99, 121], step_ns=WEEK_NS), exposure_ns=WEEK_NS, periods_per_year=365)
    std = math.sqrt(19.29) / 27
    mean = 2 / 27
    cagr = 1.21 ** (365 / 21) - 1
    assert m.total_return == pytest.approx(0.21)
    assert m.cagr == pytest.approx(cagr)
    assert m.annualized_volatility == pytest.approx(std * math.sqrt(365))
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365))
    assert m.sortino == pytest.approx(mean / math.sqrt(0.01 / 3) * math.sqrt(365))
    assert m.max_drawdown == pytest.approx(0.1)  # 110 -> 99
    assert m.calmar == pytest.approx(cagr / 0.1)
    assert m.max_drawdown_duration_s == 2 * 7 * 86_400  # peak in week 1, back above 110 in week 3
    assert m.exposure_time == pytest.approx(1 / 3)
    assert (m.turnover, m.fees_paid, m.trades) == (2.0, 1.5, 0)
    assert m.btc_correlation is None


def test_unrecovered_drawdown_lasts_to_the_end() -> None:
    m = metrics(curve([100, 120, 90, 100, 110]))
    assert m.max_drawdown == pytest.approx(0.25)  # 120 -> 90
    assert m.max_drawdown_duration_s == 3 * 86_400  # day 1 to the last sample, day 4


def test_longest_drawdown_is_not_the_deepest() -> None:
    # First dip: day 0 -> recovered day 2 (2 days, 10 %). Second: day 2 -> never (3 days, 30 %).
    m = metrics(curve([100, 90, 100, 80, 70, 75]))
    assert m.max_drawdown == pytest.approx(0.3)
    assert m.max_drawdown_duration_s == 3 * 86_400
    m = metrics(curve([100, 50, 60, 70, 100, 95, 100]))
    assert m.max_drawdown == pytest.approx(0.5)
    assert m.max_drawdown_duration_s == 4 * 86_400  # recovery at exactly the peak counts


def test_trade_statistics() -> None:
    m = metrics(curve([100, 101]), [trade(10), trade(-5), trade(20), trade(-5), trade(0)])
    assert m.trades == 5
    assert m.win_rate == pytest.approx(2 / 5)  # the break-even trade is not a win
    assert m.profit_factor == pytest.approx(30 / 10)
    assert m.expectancy == pytest.approx(20 / 5)


def test_all_winners_have_no_profit_factor() -> None:
    m = metrics(curve([100, 101]), [trade(1), trade(2)])
    assert m.win_rate == 1.0
    assert m.profit_factor is None
    assert m.expectancy == pytest.approx(1.5)


def test_no_trades() -> None:
    m = metrics(curve([100, 101]))
    assert (m.trades, m.win_rate, m.profit_factor, m.expectancy) == (0, None, None, None)


# --------------------------------------------------------------------------- edge cases
def test_flat_curve() -> None:
    m = metrics(curve([100, 100, 100, 100], step_ns=WEEK_NS))
    assert m.total_return == 0.0
    assert m.cagr == 0.0
    assert m.annualized_volatility == 0.0
    assert (m.sharpe, m.sortino, m.calmar) == (None, None, None)
    assert (m.max_drawdown, m.max_drawdown_duration_s) == (0.0, 0.0)


def test_constant_growth_has_no_sharpe_despite_float_noise() -> None:
    m = metrics(curve([100 * 1.01**k for k in range(30)]))
    assert m.annualized_volatility == 0.0
    assert m.sharpe is None  # not 1e16 from dividing by rounding noise
    assert m.sortino is None  # no losing period
    assert m.max_drawdown == 0.0


def test_one_point() -> None:
    m = metrics(curve([100]))
    assert m.total_return == 0.0
    assert m.cagr is None
    assert (m.annualized_volatility, m.sharpe, m.sortino, m.calmar) == (None, None, None, None)
    assert (m.max_drawdown, m.max_drawdown_duration_s) == (0.0, 0.0)
    assert m.exposure_time is None
    json.dumps(m.as_dict(), allow_nan=False)


def test_two_points_give_sortino_but_no_sharpe() -> None:
    m = metrics(curve([100, 90]))
    assert m.sharpe is None  # std with ddof=1 needs two returns
    assert m.sortino == pytest.approx(-1.0 * math.sqrt(365))  # mean -0.1 / downside 0.1


def test_ruin() -> None:
    m = metrics(curve([100, 50, 0], step_ns=WEEK_NS))
    assert m.total_return == -1.0
    assert m.cagr == -1.0
    assert m.max_drawdown == 1.0
    m = metrics(curve([100, 0, 50]))
    assert m.sharpe is None  # a return relative to zero equity means nothing
    assert m.sortino is None
    assert m.max_drawdown == 1.0


def test_cagr_of_a_run_shorter_than_a_week_is_undefined() -> None:
    m = metrics(curve([100, 101, 102], step_ns=HOUR_NS))
    assert m.total_return == pytest.approx(0.02)
    assert m.cagr is None
    assert m.calmar is None
    m = metrics(curve([100, 101], step_ns=7 * DAY_NS))
    assert m.cagr == pytest.approx(1.01 ** (365 / 7) - 1)


def test_cagr_overflow_is_undefined() -> None:
    m = metrics(curve([100, 200], step_ns=1_000_000_000))  # doubling every second, compounded a year
    assert m.cagr is None
    assert m.calmar is None
    json.dumps(m.as_dict(), allow_nan=False)


def test_as_dict_is_json_friendly() -> None:
    m = metrics(curve([100, 110, 99, 121]), [trade(1)])
    d = m.as_dict()
    assert list(d) == [
        "total_return",
        "cagr",
        "annualized_volatility",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "max_drawdown_duration_s",
        "win_rate",
        "profit_factor",
        "expectancy",
        "exposure_time",
        "turnover",
        "fees_paid",
        "trades",
        "btc_correlation",
    ]
    assert d["profit_factor"] is None
    assert d["trades"] == 1
    assert json.loads(json.dumps(d, allow_nan=False)) == d


# --------------------------------------------------------------------------- annualisation
def test_periods_per_year_inferred_from_median_spacing() -> None:
    ts = np.array([0, 1, 2, 3, 100], dtype=np.int64) * HOUR_NS  # one gap does not move the median
    assert infer_periods_per_year(ts) == pytest.approx(365 * 24)
    assert infer_periods_per_year(ts[:1]) is None


def test_periods_per_year_override() -> None:
    eq = curve([100, 110, 99, 121])
    daily = metrics(eq)
    weekly = metrics(eq, periods_per_year=52)
    assert daily.sharpe is not None
    assert weekly.sharpe == pytest.approx(daily.sharpe * math.sqrt(52 / 365))


def test_cagr_uses_365_day_years() -> None:
    eq = EquityCurve(
        ts_ns=np.array([0, SECONDS_PER_YEAR * 2 * 1_000_000_000], dtype=np.int64),
        equity=np.array([100.0, 121.0]),
    )
    assert metrics(eq).cagr == pytest.approx(0.1)


# --------------------------------------------------------------------------- benchmark
def test_benchmark_correlation() -> None:
    eq = curve([100, 110, 99, 121])
    assert metrics(eq, benchmark=curve([200, 220, 198, 242])).btc_correlation == pytest.approx(1.0)
    # Benchmark returns -0.1, 0.1, -2/9: exactly the negation.
    assert metrics(eq, benchmark=curve([100, 90, 99, 77])).btc_correlation == pytest.approx(-1.0)
    assert metrics(eq, benchmark=curve([50, 50, 50, 50])).btc_correlation is None


def test_benchmark_is_sampled_as_of_equity_timestamps() -> None:
    eq = curve([100, 110, 99, 121, 130])
    # Hourly benchmark starting on day 1: it equals 2x equity on each whole day, noise in between.
    hours = np.arange(24, 4 * 24 + 1, dtype=np.int64)
    values = np.where(hours % 24 == 0, 0.0, 1.0 + (hours % 7))
    values[hours == 24], values[hours == 48], values[hours == 72], values[hours == 96] = 220, 198, 242, 260
    bench = EquityCurve(ts_ns=hours * HOUR_NS, equity=values)
    assert metrics(eq, benchmark=bench).btc_correlation == pytest.approx(1.0)


def test_benchmark_without_overlap() -> None:
    eq = curve([100, 110, 99])
    late = curve([1, 2, 3], start_ns=10 * DAY_NS)
    assert metrics(eq, benchmark=late).btc_correlation is None


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("ts", "equity"),
    [
        ([], []),
        ([0, 1], [100.0]),
        ([0, 0], [100.0, 101.0]),
        ([1, 0], [100.0, 101.0]),
        ([0, 1], [0.0, 101.0]),
        ([0, 1], [100.0, math.nan]),
    ],
)
def test_invalid_curves(ts: list[int], equity: list[float]) -> None:
    with pytest.raises(ValueError, match=r"."):
        EquityCurve(ts_ns=np.asarray(ts, dtype=np.int64), equity=np.asarray(equity, dtype=np.float64))


def test_exposure_must_fit_the_run() -> None:
    with pytest.raises(ValueError, match="exposure_ns"):
        metrics(curve([100, 101]), exposure_ns=2 * DAY_NS)
    with pytest.raises(ValueError, match="exposure_ns"):
        metrics(curve([100, 101]), exposure_ns=-1)


def test_trade_exit_before_entry() -> None:
    with pytest.raises(ValueError, match="before entering"):
        ClosedTrade(entry_ts_ns=10, exit_ts_ns=5, pnl=1.0, return_pct=0.01)


# --------------------------------------------------------------------------- independent check
def _drawdown_duration_by_loop(ts_s: npt.NDArray[np.float64], equity: npt.NDArray[np.float64]) -> float:
    longest, peak, peak_t = 0.0, equity[0], ts_s[0]
    for t, e in zip(ts_s[1:], equity[1:], strict=True):
        if e >= peak:
            longest = max(longest, t - peak_t)
            peak, peak_t = e, t
    return float(max(longest, ts_s[-1] - peak_t))


def test_cross_check_against_pandas_on_a_random_walk() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    equity = np.asarray(10_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, n)), dtype=np.float64)
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    ts_ns = index.as_unit("ns").asi8.astype(np.int64)  # pandas 3 defaults to microseconds
    m = metrics(EquityCurve(ts_ns=ts_ns, equity=equity))

    s = pd.Series(equity, index=index)
    rets = s.pct_change().dropna()
    assert m.sharpe == pytest.approx(rets.mean() / rets.std() * math.sqrt(365 * 24), rel=1e-9)
    assert m.annualized_volatility == pytest.approx(rets.std() * math.sqrt(365 * 24), rel=1e-9)
    downside = math.sqrt((rets.clip(upper=0) ** 2).mean())
    assert m.sortino == pytest.approx(rets.mean() / downside * math.sqrt(365 * 24), rel=1e-9)
    assert m.max_drawdown == pytest.approx((1 - s / s.cummax()).max(), rel=1e-12)
    years = (index[-1] - index[0]).total_seconds() / SECONDS_PER_YEAR
    assert m.cagr == pytest.approx((s.iloc[-1] / s.iloc[0]) ** (1 / years) - 1, rel=1e-9)
    ts_s = (ts_ns - ts_ns[0]) / 1e9
    assert m.max_drawdown_duration_s == pytest.approx(_drawdown_duration_by_loop(ts_s, equity))

    bench = np.asarray(30_000 * np.cumprod(1 + rng.normal(0, 0.01, n)), dtype=np.float64)
    expected_corr = rets.corr(pd.Series(bench, index=index).pct_change().dropna())
    m = metrics(EquityCurve(ts_ns=ts_ns, equity=equity), benchmark=EquityCurve(ts_ns=ts_ns, equity=bench))
    assert m.btc_correlation == pytest.approx(expected_corr, rel=1e-9)
