"""VaR as a pre-trade limit: the estimate against an independent computation, the threshold, and
the wiring into the risk engine."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.config import RiskLimits
from spreadhawk.risk.denials import DenialCode
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.risk.var_limit import MINUTE_NS, VarLimit
from spreadhawk.runtime.risk_config import RiskSection
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
T0 = 1_704_067_200_000_000_000
MINUTES = 300


def _history(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(MINUTES)
    btc = 60_000 * np.exp(np.cumsum(0.001 * common))
    eth = 3_000 * np.exp(np.cumsum(0.0012 * (0.7 * common + 0.71 * rng.standard_normal(MINUTES))))
    return {"BTC": btc, "ETH": eth}


def _fed(limits: RiskLimits, history: dict[str, np.ndarray]) -> VarLimit:
    var = VarLimit(limits)
    for n in range(MINUTES):
        var.observe(T0 + n * MINUTE_NS, {a: float(p[n]) for a, p in history.items()})
    var.refresh(T0 + MINUTES * MINUTE_NS)
    return var


def _independent_var(history: dict[str, np.ndarray], exposure: dict[str, float], level: float) -> float:
    """Straight from the definition: scipy's normal quantile, the day's covariance of log returns."""
    returns = np.column_stack([np.diff(np.log(history[a])) for a in ("BTC", "ETH")])
    cov = np.cov(returns, rowvar=False) * 1440
    e = np.array([exposure["BTC"], exposure["ETH"]])
    return float(stats.norm.ppf(level) * np.sqrt(e @ cov @ e))


def test_var_of_the_book_plus_the_order_matches_an_independent_computation() -> None:
    history = _history()
    var = _fed(RiskLimits(max_var_fraction=D("0.01")), history)
    var.remark({"BTC": 20_000.0, "ETH": 5_000.0})
    assert var.var == pytest.approx(_independent_var(history, {"BTC": 20_000.0, "ETH": 5_000.0}, 0.99), rel=1e-9)
    reason = var.denial("ETH", 10_000.0, D(100_000))  # VaR of 20k BTC + 15k ETH vs 1 % of 100k
    expected = _independent_var(history, {"BTC": 20_000.0, "ETH": 15_000.0}, 0.99)
    assert expected > 1_000
    assert reason is not None
    assert reason.code is DenialCode.VAR_LIMIT
    assert str(reason).startswith("var_limit: ")  # the string the journal and the reports carry
    assert float(re.findall(r"VaR ([\d.]+)", reason.detail)[0]) == pytest.approx(expected, abs=0.01)


def test_denied_above_the_cap_and_not_below() -> None:
    history = _history(seed=1)
    var = _fed(RiskLimits(max_var_fraction=D("0.05")), history)
    var.remark({"BTC": 0.0, "ETH": 0.0})
    unit = _independent_var(history, {"BTC": 1.0, "ETH": 0.0}, 0.99)  # VaR per unit of BTC value
    equity = D(1_000_000)
    at_cap = 50_000 / unit  # the BTC value whose VaR is exactly 5 % of equity
    assert var.denial("BTC", at_cap * 0.999, equity) is None
    assert var.denial("BTC", at_cap * 1.001, equity) is not None
    assert var.denial("SOL", 1e9, equity) is None  # no history: the limit cannot see it


def test_an_order_that_lowers_the_var_passes_even_over_the_cap() -> None:
    var = _fed(RiskLimits(max_var_fraction=D("0.01")), _history())
    var.remark({"BTC": 500_000.0, "ETH": 0.0})
    assert var.var > 10_000  # over 1 % of the equity below
    assert var.denial("BTC", -100_000.0, D(1_000_000)) is None
    assert var.denial("BTC", 1_000.0, D(1_000_000)) is not None


def test_the_risk_engine_denies_with_var_limit_after_warm_up() -> None:
    inst = Instrument("X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))
    engine = Engine([inst], clock=SimClock(T0), valuation_currency="USDT")
    venue = SimulatedVenue("X")
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(1_000_000))
    limits = RiskLimits(
        max_var_fraction=D("0.002"), max_asset_fraction=None, max_strategy_fraction=None, max_order_notional=None
    )
    risk = RiskEngine(limits)
    risk.attach(engine)
    engine.use_risk(risk)
    prices = _history(seed=2)["BTC"]
    for n, price in enumerate(prices):  # one book a minute: the limit samples each
        ticks = round(price / 0.01)
        size = inst.units(D(10))
        engine.process(BookSnapshot(inst.id, T0 + n * MINUTE_NS, 1, ((ticks - 1, size),), ((ticks + 1, size),)))
    ctx = StrategyContext(engine, "s")
    small = ctx.submit(inst.id, OrderSide.BUY, D("0.01"))  # ~600 USDT: VaR far under 2,000
    big = ctx.submit(inst.id, OrderSide.BUY, D(5))  # ~300k USDT: VaR far over
    assert small.status.name != "DENIED"
    assert big.status.name == "DENIED"
    assert risk.denials[DenialCode.VAR_LIMIT] == 1


def test_config_is_off_by_default_and_validated() -> None:
    assert RiskSection().limits().max_var_fraction is None
    assert RiskSection.model_validate({"max_var_fraction": "0.05"}).limits().max_var_fraction == D("0.05")
    with pytest.raises(ValidationError, match="max_var_fraction"):
        RiskSection.model_validate({"max_var_fraction": "1.5"})
    with pytest.raises(ValidationError, match="var_level"):
        RiskSection.model_validate({"var_level": 0.3})
