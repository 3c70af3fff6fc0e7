"""The price process: determinism, shapes, regimes, and the effect of a crisis (no real data needed)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from spreadhawk.venues.simulated.market.paths import FairValuePaths, Regime
from spreadhawk.venues.simulated.market.prices import (
    CALIBRATED,
    regime_correlation,
    simulate_paths,
    stationary_distribution,
)

START_NS = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
SECOND_GRID = dataclasses.replace(CALIBRATED, step_ns=1_000_000_000)  # same minute statistics, 10x fewer steps


def _arrays(paths: FairValuePaths) -> list[np.ndarray]:
    return [paths.ts_ns, paths.regime, *paths.prices.values(), *paths.volatility.values()]


def test_same_seed_gives_identical_arrays_and_another_seed_does_not() -> None:
    a = simulate_paths(CALIBRATED, start_ns=START_NS, hours=1, seed=7)
    b = simulate_paths(CALIBRATED, start_ns=START_NS, hours=1, seed=7)
    c = simulate_paths(CALIBRATED, start_ns=START_NS, hours=1, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(b), strict=True))
    assert not np.array_equal(a.prices["BTC"], c.prices["BTC"])


def test_shapes_grid_and_the_quote_stablecoin() -> None:
    paths = simulate_paths(CALIBRATED, start_ns=START_NS, hours=0.5, seed=1)
    n = 30 * 60 * 10  # half an hour of 100 ms steps
    assert paths.steps == n
    assert paths.step_ns == 100_000_000
    assert paths.ts_ns[0] == START_NS
    assert np.all(np.diff(paths.ts_ns) == paths.step_ns)
    assert set(paths.prices) == set(paths.volatility) == {"BTC", "ETH", "SOL", "USDT"}
    assert paths.regime.shape == (n,)
    for name in ("BTC", "ETH", "SOL"):
        assert paths.prices[name].shape == paths.volatility[name].shape == (n,)
    assert paths.prices["BTC"][0] == 60_000.0
    assert paths.prices["SOL"][0] == 150.0
    assert np.all(paths.prices["USDT"] == 1.0)
    assert np.all(paths.volatility["USDT"] == 0.0)


def test_prices_stay_finite_and_positive_over_a_week() -> None:
    for seed in (1, 2, 3):
        paths = simulate_paths(SECOND_GRID, start_ns=START_NS, hours=24 * 7, seed=seed)
        for name in ("BTC", "ETH", "SOL"):
            assert np.all(np.isfinite(paths.prices[name]))
            assert np.all(paths.prices[name] > 0)
            assert np.all(np.isfinite(paths.volatility[name]))
            assert np.all(paths.volatility[name] > 0)


def test_regimes_persist_for_minutes_to_hours() -> None:
    paths = simulate_paths(SECOND_GRID, start_ns=START_NS, hours=24 * 7, seed=5)
    per_minute = paths.regime[::60]
    # A regime holds for whole periods (minutes): no switch inside one.
    assert np.all(paths.regime.reshape(-1, 60) == per_minute[:, None])
    switches = int(np.count_nonzero(np.diff(per_minute)))
    mean_run_minutes = len(per_minute) / (switches + 1)
    # Expected durations are 30-180 min (stationary mean ~85 min); a memoryless chain would switch every minute.
    assert 30 < mean_run_minutes < 300
    assert set(np.unique(per_minute)) == set(range(len(Regime)))


def test_stationary_distribution_is_a_fixed_point_of_the_chain() -> None:
    pi = stationary_distribution(CALIBRATED)
    assert pi.sum() == pytest.approx(1.0)
    assert np.allclose(pi @ np.asarray(CALIBRATED.transition), pi)
    assert 0.005 < pi[Regime.CRISIS] < 0.1  # crises are rare but not absent


def test_regime_drifts_cancel_in_the_long_run() -> None:
    pi = stationary_distribution(CALIBRATED)
    drift = pi @ np.array([r.drift_sigmas_per_hour for r in CALIBRATED.regimes])
    assert abs(drift) < 0.01  # in hourly sds: < 0.25 daily sds over a day, no built-in bull or bear market


def test_a_crisis_raises_volatility_and_correlation() -> None:
    crisis = regime_correlation(CALIBRATED, Regime.CRISIS)
    calm = regime_correlation(CALIBRATED, Regime.TREND_UP)
    assert crisis[0, 1] > 0.85 > calm[0, 1]
    for seed in (1, 2, 3):
        paths = simulate_paths(SECOND_GRID, start_ns=START_NS, hours=24 * 7, seed=seed)
        in_crisis = paths.regime == Regime.CRISIS
        vol = paths.volatility["BTC"]
        assert np.median(vol[in_crisis]) > 2 * np.median(vol[~in_crisis])
        btc, eth = (np.diff(np.log(paths.prices[s][::60])) for s in ("BTC", "ETH"))
        minute_crisis = in_crisis[::60][:-1]
        assert np.corrcoef(btc[minute_crisis], eth[minute_crisis])[0, 1] > np.corrcoef(btc, eth)[0, 1]


def test_forced_initial_regime_is_respected() -> None:
    params = dataclasses.replace(SECOND_GRID, initial_regime=Regime.CRISIS)
    assert simulate_paths(params, start_ns=START_NS, hours=0.01, seed=1).regime[0] == Regime.CRISIS


def test_one_day_at_100ms_generates_in_well_under_ten_seconds() -> None:
    began = time.perf_counter()
    paths = simulate_paths(CALIBRATED, start_ns=START_NS, hours=24, seed=1)
    elapsed = time.perf_counter() - began
    assert paths.steps == 864_000
    assert elapsed < 5.0, f"one day took {elapsed:.2f} s (typically ~0.2 s)"


@pytest.mark.parametrize(
    "change",
    [
        {"step_ns": 70_000_000},  # a period must hold a whole number of steps
        {"t_dof": 2.0},
        {"correlation": ((1.0, 0.5), (0.5, 1.0))},
        {"transition": tuple(tuple(0.5 for _ in range(5)) for _ in range(5))},
        {"jump_rate_per_hour": 1_000.0},  # jumps alone would exceed the target variance
    ],
)
def test_invalid_parameters_are_rejected(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        dataclasses.replace(CALIBRATED, **change)  # type: ignore[arg-type]


def test_garch_must_be_stationary() -> None:
    asset = dataclasses.replace(CALIBRATED.assets[0], garch_alpha=0.2, garch_beta=0.85)
    with pytest.raises(ValueError, match="stationary"):
        dataclasses.replace(CALIBRATED, assets=(asset, *CALIBRATED.assets[1:]))


def test_too_short_a_session_is_rejected() -> None:
    with pytest.raises(ValueError, match="less than one step"):
        simulate_paths(CALIBRATED, start_ns=START_NS, hours=1e-9, seed=1)
