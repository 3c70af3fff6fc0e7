"""Stylised facts of simulated sessions against the real recordings in ../shared/data.

Statistics are on one-minute log returns (the simulated fair price sampled every minute). Each
check states its band and runs on seeds 1, 2 and 3, all of which must pass (the seeds were fixed
before looking at results). Two kinds of session per seed:

* one day on the production 100 ms grid: the sign facts (fat tails, volatility clustering);
* one week on a 1 s grid: the comparisons with the real level. A single day's realised vol varies
  too much for a factor-2 band (real BTC-PERP days range 0.36-1.31 around 0.72, and 3 of 100
  simulated days fall outside 0.36-1.43, seed 1 among them), and crises (2.4 % of the time) need a
  week to supply enough minutes. The sub-minute grid does not change minute statistics: the process draws one
  GARCH/t shock per minute and splits it into Gaussian steps.

Across seeds 0-99 (checked once, not part of the test) the daily sign facts held for all 100 and
the weekly sessions gave: vol 0.52-1.44 (one seed above the 1.43 bound), excess kurtosis 11-164,
mean |r| autocorrelation (lags 1-5) 0.15-0.45, crisis-minus-calm BTC-ETH correlation 0.12-0.41,
calm correlation 0.50-0.66, crisis minutes 19-590 (one seed below the 30 required): 98 of 100 seeds
pass every check.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from spreadhawk.venues.simulated.market.calibration import (
    ReturnCalibration,
    abs_return_acf,
    annualised_vol,
    excess_kurtosis,
    fit_return_params,
    params_from_calibration,
)
from spreadhawk.venues.simulated.market.paths import FairValuePaths, Regime
from spreadhawk.venues.simulated.market.prices import CALIBRATED, PriceProcessParams, simulate_paths

pytestmark = pytest.mark.real_data

SEEDS = (1, 2, 3)
START_NS = 1_704_067_200_000_000_000
WEEK_PARAMS = dataclasses.replace(CALIBRATED, step_ns=1_000_000_000)
CONSTANT_TOLERANCE = 1e-3  # relative: CALIBRATED stores 4 significant digits of a deterministic fit
KURTOSIS_FACTOR = 10.0  # "same order of magnitude" as the real BTC-PERP excess kurtosis
VOL_FACTOR = 2.0
ACF_FACTOR = 2.0
CRISIS_MARGIN = 0.10  # crisis BTC-ETH correlation exceeds the calm one by at least this
CALM_CORRELATION_BAND = 0.15  # calm BTC-ETH correlation within this of the real Coinbase one


@pytest.fixture(scope="module")
def calibration(shared_data: Path) -> ReturnCalibration:
    return fit_return_params(shared_data)


def _minute_returns(paths: FairValuePaths, symbol: str) -> np.ndarray:
    per_minute = 60_000_000_000 // paths.step_ns
    return np.diff(np.log(paths.prices[symbol][::per_minute]))


def _numbers(params: PriceProcessParams) -> dict[str, float]:
    out = {"t_dof": params.t_dof, "jump_rate_per_hour": params.jump_rate_per_hour}
    for a in params.assets:
        for name in ("annual_vol", "garch_alpha", "garch_beta", "jump_size_sigmas"):
            out[f"{a.symbol}.{name}"] = getattr(a, name)
    out |= {f"rho[{i}{j}]": v for i, row in enumerate(params.correlation) for j, v in enumerate(row)}
    return out


def test_refit_reproduces_the_stored_constants(calibration: ReturnCalibration) -> None:
    refit, stored = _numbers(params_from_calibration(calibration)), _numbers(CALIBRATED)
    assert refit.keys() == stored.keys()
    for name, value in stored.items():
        assert refit[name] == pytest.approx(value, rel=CONSTANT_TOLERANCE), name


def test_real_recordings_show_fat_tails_and_volatility_clustering(calibration: ReturnCalibration) -> None:
    for series in (calibration.btc_perp, calibration.coinbase_btc, calibration.coinbase_eth):
        assert series.excess_kurtosis > 0, series.source.describe()
        assert all(x > 0 for x in series.abs_acf[:5]), series.source.describe()
    assert calibration.btc_perp.source.returns > 40_000  # the month the dynamics come from


@pytest.mark.parametrize("seed", SEEDS)
def test_a_simulated_day_has_fat_tails_and_volatility_clustering(seed: int) -> None:
    paths = simulate_paths(CALIBRATED, start_ns=START_NS, hours=24, seed=seed)
    for symbol in ("BTC", "ETH", "SOL"):
        returns = _minute_returns(paths, symbol)
        assert excess_kurtosis(returns) > 0, symbol
        assert all(x > 0 for x in abs_return_acf(returns, 5)), symbol


@pytest.mark.parametrize("seed", SEEDS)
def test_a_simulated_week_matches_the_real_levels(calibration: ReturnCalibration, seed: int) -> None:
    real = calibration.btc_perp
    btc = _minute_returns(simulate_paths(WEEK_PARAMS, start_ns=START_NS, hours=24 * 7, seed=seed), "BTC")

    vol = annualised_vol(btc)
    assert real.annual_vol / VOL_FACTOR < vol < real.annual_vol * VOL_FACTOR, vol

    kurtosis = excess_kurtosis(btc)
    assert real.excess_kurtosis / KURTOSIS_FACTOR < kurtosis < real.excess_kurtosis * KURTOSIS_FACTOR, kurtosis

    sim_acf, real_acf = float(np.mean(abs_return_acf(btc, 5))), float(np.mean(real.abs_acf[:5]))
    assert real_acf / ACF_FACTOR < sim_acf < real_acf * ACF_FACTOR, sim_acf


@pytest.mark.parametrize("seed", SEEDS)
def test_cross_asset_correlation_rises_in_crises(calibration: ReturnCalibration, seed: int) -> None:
    paths = simulate_paths(WEEK_PARAMS, start_ns=START_NS, hours=24 * 7, seed=seed)
    btc, eth = _minute_returns(paths, "BTC"), _minute_returns(paths, "ETH")
    crisis = paths.regime[::60][:-1] == Regime.CRISIS  # the regime in force during each minute
    assert crisis.sum() >= 30, "too few crisis minutes to measure a correlation"
    in_crisis = np.corrcoef(btc[crisis], eth[crisis])[0, 1]
    calm = np.corrcoef(btc[~crisis], eth[~crisis])[0, 1]
    assert in_crisis > calm + CRISIS_MARGIN, (in_crisis, calm)
    assert abs(calm - calibration.btc_eth_correlation) < CALM_CORRELATION_BAND, calm
