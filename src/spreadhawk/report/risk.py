"""Risk figures of one stored run: limits hit, denials, VaR/ES over time, stress, regimes, correlation.

Everything is computed from the stored ``RunRecord`` (its result JSON and equity curve), with the
analytics modules, so the HTML report's "Risk" section and ``spreadhawk risk RUN_ID`` show the same
numbers. Each part is optional: a run too short for a window, or one stored before the result held
what a part needs, gets a one-line note in place of that part, never an exception.

* VaR/ES: on the equity curve's simple returns at its own sampling interval (the horizon). One-step
  forecasts over a trailing window: historical (empirical quantile) and Student-t (refitted every
  60 samples, less often on long runs), at 95 % and 99 %; a breach is a return below ``-VaR``;
  Kupiec's test on the breaches of each forecast series. "Now" is the estimate on the last window.
  Curves longer than ``MAX_VAR_SAMPLES`` are thinned first (the horizon grows accordingly).
* Stress: ``analytics.stress.standard_scenarios`` on the final balances per venue and the final
  asset prices (``final_balances`` / ``asset_prices`` in the result). Betas to BTC and the
  covariance come from the assets' 1-minute returns; an asset without a series gets beta 1 (said).
  Open perpetual positions are not balances and are not stressed (said when the run traded perps).
* Regimes: ``classify_regimes`` on 1-minute OHLC bars of the reference price series (the first
  BTC/valuation-currency instrument, else the first instrument).
* Correlation: the instruments' 1-minute log returns on common bars: matrix, mean pairwise
  correlation, first-factor share and effective number of bets.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from spreadhawk.analytics import correlation as corr
from spreadhawk.analytics.regime import classify_regimes
from spreadhawk.analytics.regime_table import Regime, RegimeThresholds
from spreadhawk.analytics.stress import PEGGED_ASSETS, ScenarioResult, betas_to, standard_scenarios
from spreadhawk.analytics.var import VarBacktest, backtest_var, historical_var, rolling_var, student_t_var
from spreadhawk.persistence import RunRecord

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LEVELS = (0.95, 0.99)
METHODS = ("historical", "student_t")
DEFAULT_WINDOW = 240  # samples: 4 hours of 1-minute equity, 40 minutes of 10-second equity
MIN_WINDOW = 20  # fewer returns than this make a 95 % quantile of noise
REFIT_EVERY = 60
MAX_VAR_SAMPLES = 5_000  # longer equity curves are thinned (every k-th sample, a longer horizon)
MAX_REFITS = 10  # Student-t fits per level (~20 ms each): a long run refits less often
BAR = "1min"
MIN_COVERAGE = 0.8  # of the longest series' 1-minute bars, for a series to enter the correlation
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LevelFigures:
    """One confidence level: VaR/ES on the last window per method, and each method's backtest."""

    level: float
    now: dict[str, tuple[float, float]]  # method -> (VaR, ES), positive return losses
    backtests: dict[str, VarBacktest]


@dataclass(frozen=True, slots=True)
class VarFigures:
    horizon_s: float
    window: int
    ts: IntArray  # end of each return
    returns: FloatArray
    forecasts: dict[tuple[str, float], FloatArray]  # (method, level) -> one-step VaR, NaN in the warm-up
    rolling_es: dict[float, FloatArray]  # level -> historical ES over the trailing window
    levels: list[LevelFigures]


@dataclass(frozen=True, slots=True)
class StressFigures:
    scenarios: list[ScenarioResult]
    value: Decimal  # the balances' value at the final prices
    notes: list[str]


@dataclass(frozen=True, slots=True)
class RegimeFigures:
    reference: str
    bar_ts: IntArray
    regimes: list[Regime]

    def shares(self) -> dict[str, float]:
        counts: dict[str, int] = {}
        for regime in self.regimes:
            counts[regime.value] = counts.get(regime.value, 0) + 1
        return {name: counts.get(name, 0) / len(self.regimes) for name in (r.value for r in Regime)}


@dataclass(frozen=True, slots=True)
class CorrelationFigures:
    instruments: list[str]
    matrix: FloatArray
    bars: int
    summary: corr.CorrelationSummary
    left_out: list[str]  # short-lived series (a 15-minute binary market) or flat ones


@dataclass(frozen=True, slots=True)
class RiskFigures:
    run_id: str
    enabled: bool
    denials: dict[str, int]
    records: list[dict[str, Any]]
    kill_switch: dict[str, Any] | None
    var: VarFigures | None
    stress: StressFigures | None
    regimes: RegimeFigures | None
    correlation: CorrelationFigures | None
    notes: dict[str, str] = field(default_factory=dict)  # part -> why it is missing


def risk_figures(record: RunRecord, window: int | None = None) -> RiskFigures:
    """All risk figures of a stored run; ``window`` in equity samples (default: up to 240, half the run)."""
    result: Mapping[str, Any] = record.config.get("result") or {}
    risk: Mapping[str, Any] = result.get("risk") or {}
    prices = _price_series(result)
    notes: dict[str, str] = {}
    var = _attempt(notes, "var", lambda: var_figures(record.equity, window))
    perpetuals = sorted({str(f.instrument_id) for f in record.fills if ":" in f.instrument_id.split(":", 1)[-1]})
    stress = _attempt(notes, "stress", lambda: stress_figures(result, prices, perpetuals))
    regimes = _attempt(notes, "regimes", lambda: regime_figures(prices, str(result.get("valuation_currency", ""))))
    correlation = _attempt(notes, "correlation", lambda: correlation_figures(prices))
    return RiskFigures(
        run_id=record.run_id,
        enabled=bool(risk.get("enabled", False)),
        denials={str(k): int(v) for k, v in (risk.get("denials") or {}).items()},
        records=list(risk.get("records") or []),
        kill_switch=risk.get("kill_switch"),
        var=var,
        stress=stress,
        regimes=regimes,
        correlation=correlation,
        notes=notes,
    )


class NotEnoughDataError(ValueError):
    """A part of the report cannot be computed from this run; the message says why."""


def _attempt(notes: dict[str, str], part: str, compute: Callable[[], T]) -> T | None:
    try:
        return compute()
    except NotEnoughDataError as exc:
        notes[part] = str(exc)
    except ValueError as exc:  # an analytics precondition this run does not meet: one part, not the report
        notes[part] = f"not computed: {exc}"
    return None


# --------------------------------------------------------------------------- VaR / ES
def equity_returns(equity: tuple[tuple[int, Decimal], ...]) -> tuple[IntArray, FloatArray, float]:
    """Simple returns of the equity curve (thinned to ``MAX_VAR_SAMPLES``), their end times and the horizon in s."""
    step = max(1, -(-len(equity) // MAX_VAR_SAMPLES))
    ts = np.array([t for t, _ in equity[::step]], dtype=np.int64)
    eq = np.array([float(e) for _, e in equity[::step]], dtype=np.float64)
    if len(eq) < 2 or (eq[:-1] <= 0).any():
        raise NotEnoughDataError("not enough data: the equity curve has fewer than two positive samples")
    horizon = float(np.median(np.diff(ts))) / 1e9
    return ts[1:], eq[1:] / eq[:-1] - 1.0, horizon


def var_window(observations: int, window: int | None) -> int:
    chosen = window if window is not None else min(DEFAULT_WINDOW, observations // 2)
    if chosen < MIN_WINDOW or chosen >= observations:
        raise NotEnoughDataError(
            f"not enough data: {observations} equity returns for a VaR window of {chosen} "
            f"(need a window of at least {MIN_WINDOW} and more returns than the window)"
        )
    return chosen


def var_figures(equity: tuple[tuple[int, Decimal], ...], window: int | None = None) -> VarFigures:
    ts, returns, horizon = equity_returns(equity)
    size = var_window(len(returns), window)
    last = returns[-size:]
    forecasts: dict[tuple[str, float], FloatArray] = {}
    rolling_es: dict[float, FloatArray] = {}
    levels = []
    refit = max(REFIT_EVERY, -(-(len(returns) - size) // MAX_REFITS))
    with warnings.catch_warnings():  # scipy's t fit warns on samples of many equal returns
        warnings.simplefilter("ignore", RuntimeWarning)
        for level in LEVELS:
            now = {"historical": historical_var(last, level), "student_t": student_t_var(last, level)}
            backtests = {}
            for method in METHODS:
                series = rolling_var(returns, size, level, method, refit_every=refit)  # type: ignore[arg-type]
                forecasts[(method, level)] = series
                backtests[method] = backtest_var(returns, series, level)
            rolling_es[level] = _rolling_historical_es(returns, size, level)
            levels.append(LevelFigures(level, {m: (e.var, e.es) for m, e in now.items()}, backtests))
    return VarFigures(horizon, size, ts, returns, forecasts, rolling_es, levels)


def _rolling_historical_es(returns: FloatArray, window: int, level: float) -> FloatArray:
    """Historical ES on the trailing window before each return (aligned with ``rolling_var``)."""
    # Vectorised ``historical_var(returns[end - window : end], level).es`` for every end (same quantile,
    # same "at or below" tail): one loop of calls took a second and a half on a long run.
    es = np.full(returns.shape, np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(returns, window)[:-1]
    cutoffs = np.quantile(windows, 1.0 - level, axis=1)
    tail = windows <= cutoffs[:, None]
    es[window:] = -(windows * tail).sum(axis=1) / tail.sum(axis=1)
    return es


# --------------------------------------------------------------------------- stress
def stress_figures(
    result: Mapping[str, Any], prices: dict[str, pd.Series], perpetuals: list[str] | None = None
) -> StressFigures:
    raw_balances: Mapping[str, Mapping[str, str]] | None = result.get("final_balances")
    raw_prices: Mapping[str, str] | None = result.get("asset_prices")
    if not raw_balances or raw_prices is None:
        raise NotEnoughDataError("not recorded: this run's result has no final balances per venue (an older run)")
    balances = {venue: {a: _decimal(q) for a, q in held.items()} for venue, held in raw_balances.items()}
    asset_prices = {a: _decimal(p) for a, p in raw_prices.items()}
    unpriced = sorted({a for held in balances.values() for a in held} - set(asset_prices))
    notes = []
    if unpriced:
        notes.append(f"left out, no price at the end of the run: {', '.join(unpriced)}")
        balances = {v: {a: q for a, q in held.items() if a not in unpriced} for v, held in balances.items()}
    ccy = str(result.get("valuation_currency", ""))
    returns = asset_returns(prices, ccy)
    risky = sorted({a for held in balances.values() for a in held} - PEGGED_ASSETS)
    betas: dict[str, Decimal] = {}
    if "BTC" in returns.columns and len(returns) >= 3:
        try:
            betas = betas_to(returns, "BTC")
        except ValueError as exc:
            notes.append(f"betas not estimated: {exc}")
    assumed = [a for a in risky if a != "BTC" and a not in betas]
    if assumed:
        notes.append(f"beta to BTC assumed 1 (no 1-minute series to estimate it): {', '.join(assumed)}")
        betas.update(dict.fromkeys(assumed, Decimal(1)))
    covariance = None
    if risky and set(risky) <= set(returns.columns) and len(returns) >= 3:
        covariance = returns[risky].cov()
    else:
        notes.append("correlations 0.95 left out: no 1-minute returns for every risky asset held")
    if perpetuals:
        notes.append(f"perpetual positions are not balances and are not stressed (traded: {', '.join(perpetuals)})")
    value = sum((q * asset_prices[a] for held in balances.values() for a, q in held.items()), Decimal(0))
    return StressFigures(standard_scenarios(balances, asset_prices, betas, covariance), value, notes)


def asset_returns(prices: dict[str, pd.Series], ccy: str) -> pd.DataFrame:
    """1-minute log returns of each asset priced by a ``VENUE:ASSET/CCY`` instrument (the first by id)."""
    closes: dict[str, pd.Series] = {}
    for iid in sorted(prices):
        symbol = iid.split(":", 1)[-1]
        base, _, quote = symbol.partition("/")
        if quote == ccy and base not in closes:
            closes[base] = _bars(prices[iid])["close"]
    if not closes:
        return pd.DataFrame()
    frame = pd.concat(closes, axis=1, join="inner").sort_index()
    log_prices = pd.DataFrame(np.log(frame.to_numpy(dtype=np.float64)), index=frame.index, columns=frame.columns)
    return log_prices.diff().iloc[1:]


def _decimal(text: object) -> Decimal:
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise NotEnoughDataError(f"malformed amount in the stored result: {text!r}") from None


# --------------------------------------------------------------------------- regimes and correlation
def regime_figures(prices: dict[str, pd.Series], ccy: str) -> RegimeFigures:
    if not prices:
        raise NotEnoughDataError("not recorded: this run has no price series")
    preferred = [iid for iid in sorted(prices) if iid.split(":", 1)[-1] == f"BTC/{ccy}"]
    reference = (preferred or sorted(prices))[0]
    bars = _bars(prices[reference])
    thresholds = RegimeThresholds()
    needed = 2 * thresholds.period + 1
    if len(bars) < needed:
        raise NotEnoughDataError(
            f"not enough data: {len(bars)} one-minute bars of {reference}, the regimes need {needed}"
        )
    series = classify_regimes(bars["high"], bars["low"], bars["close"], thresholds=thresholds)
    return RegimeFigures(reference, _index_ns(bars.index), series.regimes)


def correlation_figures(prices: dict[str, pd.Series]) -> CorrelationFigures:
    all_closes = {iid: _bars(series)["close"] for iid, series in sorted(prices.items())}
    longest = max((len(c) for c in all_closes.values()), default=0)
    # The common bars are an inner join: one short-lived series would cut every other one to its life.
    closes = {iid: c for iid, c in all_closes.items() if len(c) >= MIN_COVERAGE * longest}
    if len(closes) < 2:
        raise NotEnoughDataError(f"not enough data: {len(closes)} price series over the run, a correlation needs two")
    returns = corr.aligned_log_returns(closes)
    moving = [str(iid) for iid in returns.columns if returns[iid].std() > 0]
    if len(moving) < 2 or len(returns) < 3:
        raise NotEnoughDataError(
            f"not enough data: {len(returns)} common 1-minute returns of {len(moving)} moving series"
        )
    matrix = returns[moving].corr().to_numpy(dtype=np.float64)
    left_out = sorted(set(all_closes) - set(moving))
    return CorrelationFigures(moving, matrix, len(returns), corr.summarise(matrix), left_out)


def _price_series(result: Mapping[str, Any]) -> dict[str, pd.Series]:
    raw: Mapping[str, Any] = (result.get("series") or {}).get("prices") or {}
    series = {}
    for iid, points in raw.items():
        if len(points) and all(math.isfinite(p[1]) and p[1] > 0 for p in points):
            index = pd.to_datetime([int(p[0]) for p in points], unit="ns")
            series[str(iid)] = pd.Series([float(p[1]) for p in points], index=index).sort_index()
    return series


def _bars(series: pd.Series) -> pd.DataFrame:
    """1-minute OHLC of a sampled price series; minutes without a sample are dropped."""
    return series.resample(BAR).ohlc().dropna()


def _index_ns(index: pd.Index) -> IntArray:
    return np.asarray(index.asi8, dtype=np.int64) if isinstance(index, pd.DatetimeIndex) else np.array([], np.int64)


# --------------------------------------------------------------------------- JSON
def risk_json(figures: RiskFigures) -> dict[str, Any]:
    """The figures as one JSON object (what ``spreadhawk risk --json`` prints)."""
    body: dict[str, Any] = {
        "run_id": figures.run_id,
        "enabled": figures.enabled,
        "denials": figures.denials,
        "limits_hit": figures.records,
        "kill_switch": figures.kill_switch,
        "notes": figures.notes,
    }
    if figures.var is not None:
        var = figures.var
        body["var"] = {
            "horizon_s": var.horizon_s,
            "window": var.window,
            "observations": len(var.returns),
            "levels": {
                f"{lv.level:g}": {
                    "now": {m: {"var": v, "es": e} for m, (v, e) in lv.now.items()},
                    "backtest": {
                        m: {
                            "observations": b.observations,
                            "breaches": b.breaches,
                            "breach_rate": b.breach_rate,
                            "kupiec_lr": b.likelihood_ratio,
                            "kupiec_p": b.p_value,
                        }
                        for m, b in lv.backtests.items()
                    },
                }
                for lv in var.levels
            },
        }
    if figures.stress is not None:
        body["stress"] = {
            "value": str(figures.stress.value),
            "scenarios": [
                {"name": s.name, "pnl": str(s.pnl), "description": s.description} for s in figures.stress.scenarios
            ],
            "notes": figures.stress.notes,
        }
    if figures.regimes is not None:
        body["regimes"] = {
            "reference": figures.regimes.reference,
            "bars": len(figures.regimes.regimes),
            "share": figures.regimes.shares(),
        }
    if figures.correlation is not None:
        c = figures.correlation
        body["correlation"] = {
            "instruments": c.instruments,
            "bars": c.bars,
            "matrix": c.matrix.round(6).tolist(),
            "mean_correlation": c.summary.mean_correlation,
            "first_factor_share": c.summary.first_factor_share,
            "effective_bets": c.summary.effective_bets,
            "left_out": c.left_out,
        }
    return body
