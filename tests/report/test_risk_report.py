"""The report's risk section, on a real short backtest with a limit tight enough to deny orders.

Each figure is recomputed here from the stored record with the analytics functions (and, where it
is cheap, with plain numpy), so a wrong input (the wrong returns, balances or prices) shows up.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from spreadhawk.analytics.stress import standard_scenarios
from spreadhawk.analytics.var import backtest_var, historical_var, rolling_var, student_t_var
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.persistence import RunRecord, RunStore
from spreadhawk.report import render_report
from spreadhawk.report.risk import risk_figures, risk_json
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.services import BacktestService

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cross_exchange_rebalancing_sim.toml"
# Half an hour, equity every 10 s (180 samples: enough for a VaR window), and a notional cap below
# the strategy's 0.1 BTC orders (~6,000 USDT), so the risk engine denies most of them.
OVERRIDES = [
    "data.0.hours=0.5",
    "run.equity_interval_s=10",
    "risk.enabled=true",
    "risk.max_order_notional=3000",
    "risk.max_asset_fraction=off",
    "risk.max_strategy_fraction=off",
    "risk.max_deployed_fraction=off",
]


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunRecord]:
    db = tmp_path_factory.mktemp("risk") / "runs.db"
    with RunStore(f"sqlite:///{db}") as store:
        outcome = BacktestService(store).run(load_config(EXAMPLE, OVERRIDES))
        stored = store.get_run(outcome.run_id)
        assert stored is not None
        yield stored


def _section(html: str) -> str:
    match = re.search(r'<section id="risk">(.*?)</section>', html, re.DOTALL)
    assert match, "the report has a Risk section"
    return match.group(1)


def _returns(record: RunRecord) -> npt.NDArray[np.float64]:
    equity = np.array([float(e) for _, e in record.equity], dtype=np.float64)
    returns: npt.NDArray[np.float64] = equity[1:] / equity[:-1] - 1.0
    return returns


def test_denials_table_matches_the_result_and_the_stored_orders(record: RunRecord) -> None:
    denials = record.config["result"]["risk"]["denials"]
    assert denials, "the tight notional cap denies orders"
    stored = Counter(o.reason.split(":")[0] for o in record.orders if o.status is OrderStatus.DENIED and o.reason)
    assert dict(stored) == denials
    section = _section(render_report(record))
    for reason, count in denials.items():
        assert f"<td>{reason}</td><td class=num>{count}</td>" in section
    assert f"<td>total</td><td class=num>{sum(denials.values())}</td>" in section
    assert risk_figures(record).denials == denials


def test_var_equals_the_analytics_on_the_equity_returns(record: RunRecord) -> None:
    figures = risk_figures(record)
    var = figures.var
    assert var is not None
    returns = _returns(record)
    np.testing.assert_allclose(var.returns, returns, rtol=0, atol=1e-15)
    window = min(240, len(returns) // 2)
    assert var.window == window
    last = returns[-window:]
    for lv in var.levels:
        expected = historical_var(last, lv.level)
        assert lv.now["historical"] == pytest.approx((expected.var, expected.es), rel=1e-12)
        # and with numpy alone: the interpolated quantile of the last window
        assert lv.now["historical"][0] == pytest.approx(-np.quantile(last, 1 - lv.level), rel=1e-12)
        t = student_t_var(last, lv.level)
        assert lv.now["student_t"] == pytest.approx((t.var, t.es), rel=1e-9)
        forecasts = rolling_var(returns, window, lv.level, "historical")
        np.testing.assert_allclose(var.forecasts[("historical", lv.level)], forecasts, equal_nan=True)
        backtest = backtest_var(returns, forecasts, lv.level)
        assert lv.backtests["historical"] == backtest
        assert backtest.breaches == int((returns[window:] < -forecasts[window:]).sum())
        trailing_es = [historical_var(returns[end - window : end], lv.level).es for end in range(window, len(returns))]
        np.testing.assert_allclose(var.rolling_es[lv.level][window:], trailing_es, rtol=1e-12)
        assert np.isnan(var.rolling_es[lv.level][:window]).all()
    section = _section(render_report(record))
    assert 'id="fig-risk-var"' in section
    b99 = var.levels[1].backtests["historical"]
    assert f"<td class=num>{b99.breaches} / {b99.observations}</td>" in section
    assert f"<td class=num>{b99.p_value:.3f}</td>" in section


def test_stress_table_equals_standard_scenarios_on_the_final_balances(record: RunRecord) -> None:
    result = record.config["result"]
    balances = {v: {a: Decimal(q) for a, q in held.items()} for v, held in result["final_balances"].items()}
    prices = {a: Decimal(p) for a, p in result["asset_prices"].items()}
    assert sorted(balances) == ["BETA", "GAMMA"]
    value = sum((q * prices[a] for held in balances.values() for a, q in held.items()), Decimal(0))
    assert value == Decimal(result["final_equity"])  # nothing in transit, no perpetuals: balances are the equity
    # BTC is priced by the first BTC/USDT instrument by id; its 1-minute log returns give the covariance.
    series = result["series"]["prices"]["ALPHA:BTC/USDT"]
    closes = pd.Series([p[1] for p in series], index=pd.to_datetime([p[0] for p in series], unit="ns"))
    minute = closes.resample("1min").last().dropna()
    covariance = pd.DataFrame({"BTC": np.log(minute.to_numpy()[1:] / minute.to_numpy()[:-1])}).cov()
    expected = standard_scenarios(balances, prices, {}, covariance)
    stress = risk_figures(record).stress
    assert stress is not None
    assert [s.name for s in stress.scenarios] == [s.name for s in expected]
    assert [s.pnl for s in stress.scenarios[:1] + stress.scenarios[2:]] == [s.pnl for s in expected[:1] + expected[2:]]
    assert float(stress.scenarios[1].pnl) == pytest.approx(float(expected[1].pnl), rel=1e-4, abs=1e-6)
    section = _section(render_report(record))
    assert "<td>BETA hacked</td>" in section
    assert "<td>USDT -10%</td>" in section


def test_regimes_and_correlation_are_charted(record: RunRecord) -> None:
    figures = risk_figures(record)
    assert figures.regimes is not None
    assert figures.correlation is not None
    assert figures.regimes.reference == "ALPHA:BTC/USDT"
    assert sum(figures.regimes.shares().values()) == pytest.approx(1.0)
    assert figures.correlation.instruments == ["ALPHA:BTC/USDT", "BETA:BTC/USDT", "GAMMA:BTC/USDT"]
    assert np.allclose(np.diag(figures.correlation.matrix), 1.0)
    assert 1.0 <= figures.correlation.summary.effective_bets <= 3.0
    section = _section(render_report(record))
    assert 'id="fig-risk-regimes"' in section
    assert 'id="fig-risk-correlation"' in section
    body = risk_json(figures)
    assert body["denials"] == record.config["result"]["risk"]["denials"]
    assert set(body) >= {"var", "stress", "regimes", "correlation"}


def test_a_short_old_run_says_not_enough_data(record: RunRecord) -> None:
    result = {k: v for k, v in record.config["result"].items() if k not in ("series", "final_balances")}
    short = replace(record, equity=record.equity[:15], config={**record.config, "result": result})
    figures = risk_figures(short)
    assert figures.var is None
    assert figures.stress is None
    assert figures.regimes is None
    assert figures.notes["var"].startswith("not enough data")
    assert "no final balances" in figures.notes["stress"]
    section = _section(render_report(short))
    assert "not enough data" in section
    assert "fig-risk" not in section
