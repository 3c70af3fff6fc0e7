"""Stress scenarios on a two-venue book whose PnL can be checked by hand."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from spreadhawk.analytics.stress import (
    betas_to,
    btc_crash,
    correlation_stress,
    exchange_hack,
    portfolio_value,
    stablecoin_depeg,
    standard_scenarios,
    stressed_covariance,
)

D = Decimal
# BTC 1.5 (60,000), ETH 10 - 2 owed = 8 (16,000), USDT 20,000, USDC 10,000: 106,000 in USD.
BALANCES = {
    "BINANCE": {"BTC": D(1), "ETH": D(10), "USDT": D(20_000)},
    "KRAKEN": {"BTC": D("0.5"), "USDC": D(10_000), "ETH": D(-2)},
}
PRICES = {"BTC": D(40_000), "ETH": D(2_000), "USDT": D(1), "USDC": D(1)}
# BTC vol 4 %, ETH vol 5 %, correlation 0.5.
COVARIANCE = pd.DataFrame([[0.0016, 0.001], [0.001, 0.0025]], index=["BTC", "ETH"], columns=["BTC", "ETH"])
Z99 = 2.3263478740408408


def test_portfolio_value() -> None:
    assert portfolio_value(BALANCES, PRICES) == D(106_000)


def test_btc_crash_moves_each_asset_by_its_beta() -> None:
    result = btc_crash(BALANCES, PRICES, {"ETH": D("1.2")})
    # BTC: 60,000 × -0.5 = -30,000; ETH: 16,000 × (1.2 × -0.5) = -9,600; stablecoins do not move.
    assert result.pnl == D(-39_600)
    assert result.name == "BTC -50%"
    # A beta of 2.5 would move ETH by -125 %: a price cannot go below zero, so -100 %.
    assert btc_crash(BALANCES, PRICES, {"ETH": D("2.5")}).pnl == D(-30_000 - 16_000)
    with pytest.raises(ValueError, match="no beta to BTC for 'ETH'"):
        btc_crash(BALANCES, PRICES, {})


def test_exchange_hack_loses_the_venue_holdings_but_not_the_debts() -> None:
    assert exchange_hack(BALANCES, PRICES, "BINANCE").pnl == D(-(40_000 + 20_000 + 20_000))
    assert exchange_hack(BALANCES, PRICES, "KRAKEN").pnl == D(-(20_000 + 10_000))  # the 2 ETH owed stay owed
    with pytest.raises(ValueError, match="unknown venue"):
        exchange_hack(BALANCES, PRICES, "FTX")


def test_stablecoin_depeg() -> None:
    assert stablecoin_depeg(BALANCES, PRICES, "USDT").pnl == D(-2_000)
    assert stablecoin_depeg(BALANCES, PRICES, "USDC", D("-0.2")).pnl == D(-2_000)
    assert stablecoin_depeg(BALANCES, PRICES, "DAI").pnl == D(0)


def test_correlation_stress_by_hand() -> None:
    stress = correlation_stress({"BTC": D(60_000), "ETH": D(16_000)}, COVARIANCE)
    # w'Σw = 60,000² × 0.0016 + 2 × 60,000 × 16,000 × 0.001 + 16,000² × 0.0025 = 8,320,000
    assert float(stress.base_var) == pytest.approx(Z99 * math.sqrt(8_320_000), abs=1e-5)
    # Stressed cross-covariance 0.95 × 0.04 × 0.05 = 0.0019: 5,760,000 + 3,648,000 + 640,000 = 10,048,000
    assert float(stress.stressed_var) == pytest.approx(Z99 * math.sqrt(10_048_000), abs=1e-5)
    np.testing.assert_allclose(np.diag(stress.stressed_covariance), [0.0016, 0.0025])
    with pytest.raises(ValueError, match="no covariance"):
        correlation_stress({"SOL": D(1)}, COVARIANCE)


def test_stressed_covariance_keeps_volatilities_and_stays_positive_semidefinite() -> None:
    rng = np.random.default_rng(0)
    covariance = np.cov(rng.standard_normal((500, 6)) * np.arange(1, 7), rowvar=False)
    stressed = stressed_covariance(covariance, 0.95)
    np.testing.assert_allclose(np.diag(stressed), np.diag(covariance))
    volatility = np.sqrt(np.diag(covariance))
    expected_correlation = np.where(np.eye(6, dtype=bool), 1.0, 0.95)
    np.testing.assert_allclose(stressed / np.outer(volatility, volatility), expected_correlation)
    assert np.linalg.eigvalsh(stressed).min() > 0


def test_betas_equal_the_least_squares_slope() -> None:
    rng = np.random.default_rng(1)
    btc = rng.standard_normal(2000) * 0.01
    eth = 1.5 * btc + rng.standard_normal(2000) * 0.005
    betas = betas_to(pd.DataFrame({"BTC": btc, "ETH": eth}))
    slope = np.polyfit(btc, eth, 1)[0]
    assert float(betas["ETH"]) == pytest.approx(slope, abs=1e-6)
    assert betas["BTC"] == D(1)
    with pytest.raises(ValueError, match="benchmark"):
        betas_to(pd.DataFrame({"ETH": eth}))


def test_standard_scenarios_cover_every_named_case() -> None:
    results = standard_scenarios(BALANCES, PRICES, {"ETH": D("1.2")}, COVARIANCE)
    by_name = {result.name: result.pnl for result in results}
    assert set(by_name) == {
        "BTC -50%",
        "correlations 0.95",
        "BINANCE hacked",
        "KRAKEN hacked",
        "USDT -10%",
        "USDC -10%",
    }
    assert by_name["BTC -50%"] == D(-39_600)
    assert all(isinstance(pnl, Decimal) and pnl <= 0 for pnl in by_name.values())
    with pytest.raises(ValueError, match="no price for 'SOL'"):
        standard_scenarios({"X": {"SOL": D(1)}}, PRICES, {})
