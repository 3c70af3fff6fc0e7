"""Sizing rules with hand-checkable Decimal results."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from spreadhawk.analytics.sizing import (
    HALF_KELLY,
    QUARTER_KELLY,
    atr_stop_quantity,
    atr_volatility,
    correlation_adjusted,
    fixed_fractional_quantity,
    fractional_kelly_notional,
    kelly_fraction,
    kelly_fraction_from_trades,
    kelly_leverage_from_returns,
    volatility_target_notional,
)
from spreadhawk.analytics.volatility import GarchSpec, fit_garch

D = Decimal


def test_fixed_fractional_risks_two_percent_at_the_stop() -> None:
    quantity = fixed_fractional_quantity(D(10_000), entry_price=D(50_000), stop_price=D(49_000))
    assert quantity == D("0.2")  # 200 of risk / 1,000 per BTC
    assert quantity * (D(50_000) - D(49_000)) == D(10_000) * D("0.02")
    # A short with the stop above entry risks the same.
    assert fixed_fractional_quantity(D(10_000), D(50_000), D(51_000)) == D("0.2")
    assert fixed_fractional_quantity(D(10_000), D(3), D("2.9"), quantum=D("0.001")) == D("2000.000")
    assert fixed_fractional_quantity(D(10_000), D(7), D(4), quantum=D("0.01")) == D("66.66")  # 66.666… rounded down
    assert fixed_fractional_quantity(D(-5), D(7), D(4)) == D(0)
    with pytest.raises(ValueError, match="stop price equals entry"):
        fixed_fractional_quantity(D(10_000), D(1), D(1))
    with pytest.raises(ValueError, match="risk fraction"):
        fixed_fractional_quantity(D(10_000), D(2), D(1), risk_fraction=D(2))


def test_atr_stop_quantity() -> None:
    # Stop 2 ATR = 600 away: 200 / 600 = 0.333 BTC.
    assert atr_stop_quantity(D(10_000), 300.0, quantum=D("0.001")) == D("0.333")


def test_kelly_from_win_rate_payoff_and_trades() -> None:
    assert kelly_fraction(0.6, 1.0) == pytest.approx(0.2)
    assert kelly_fraction(0.5, 2.0) == pytest.approx(0.25)
    assert kelly_fraction(0.4, 1.0) == pytest.approx(-0.2)
    # 3 wins of 30, 2 losses of 20 (and a flat trade): p = 3/6, b = 30/20 = 1.5 -> 0.5 - 0.5 / 1.5 = 1/6.
    trades = [D(30), D(30), D(30), D(-20), D(-20), D(0)]
    assert kelly_fraction_from_trades(trades) == pytest.approx(0.5 - 0.5 / 1.5)
    assert kelly_fraction_from_trades([D(-1), D(-2)]) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="no losing trade"):
        kelly_fraction_from_trades([D(1)])
    assert kelly_leverage_from_returns(0.001, 0.0004) == pytest.approx(2.5)


def test_fractional_kelly_notional() -> None:
    assert fractional_kelly_notional(D(10_000), 0.2, QUARTER_KELLY) == D(500)
    assert fractional_kelly_notional(D(10_000), 0.2, HALF_KELLY) == D(1000)
    assert fractional_kelly_notional(D(10_000), -0.2, HALF_KELLY) == D(0)  # no edge, no bet
    assert fractional_kelly_notional(D(10_000), 40.0, HALF_KELLY) == D(30_000)  # capped at 3x leverage
    with pytest.raises(ValueError, match="multiplier"):
        fractional_kelly_notional(D(10_000), 0.2, D("1.5"))


def test_volatility_targeting_with_atr_and_garch() -> None:
    # Target 1 % per bar, forecast 2 %: half the equity.
    assert volatility_target_notional(D(10_000), 0.01, 0.02) == D(5000)
    assert volatility_target_notional(D(10_000), 0.01, 0.001) == D(30_000)  # 10x capped at 3x
    atr_vol = atr_volatility(500.0, D(50_000))
    assert atr_vol == D("0.01")
    assert volatility_target_notional(D(10_000), D("0.005"), atr_vol) == D(5000)
    rng = np.random.default_rng(2)
    fit = fit_garch(rng.standard_normal(1500) * 0.01, GarchSpec(innovations="normal", mean="zero"))
    forecast = fit.volatility_forecast(1)
    notional = volatility_target_notional(D(10_000), 0.005, forecast, quantum=D("0.01"))
    assert float(notional) == pytest.approx(10_000 * 0.005 / forecast, abs=0.01)
    with pytest.raises(ValueError, match="forecast volatility must be positive"):
        volatility_target_notional(D(10_000), 0.01, 0.0)


def test_correlation_adjustment() -> None:
    assert correlation_adjusted(D(1000), 0.0) == D(1000)
    assert correlation_adjusted(D(1000), 0.3) == D(700)
    assert correlation_adjusted(D(1000), 1.0) == D(0)
    assert correlation_adjusted(D(1000), -0.5) == D(1000)  # never increased by default
    assert correlation_adjusted(D(1000), -0.5, max_factor=D(2)) == D(1500)
    with pytest.raises(ValueError, match="correlation must be in"):
        correlation_adjusted(D(1000), 1.5)
    with pytest.raises(ValueError, match="finite"):
        correlation_adjusted(D(1000), float("nan"))
