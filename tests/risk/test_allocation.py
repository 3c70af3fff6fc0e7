"""The capital allocator: correlation factor, regime scale, the context port, config errors, and
the issue's acceptance experiment on the simulator's crisis regime."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from spreadhawk.analytics.regime_table import Regime
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.messages import EquitySampled
from spreadhawk.risk.allocation import AllocationSettings, CapitalAllocator
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.results import result_json, summarise
from spreadhawk.runtime.risk_config import AllocationSection
from spreadhawk.venues.simulated.market.feed import DEFAULT_START_NS
from spreadhawk.venues.simulated.market.paths import Regime as SimRegime
from spreadhawk.venues.simulated.market.prices import CALIBRATED, simulate_paths
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
T0 = 1_704_067_200_000_000_000  # a whole minute
STEP_NS = 5_000_000_000
BTC = Instrument("X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))
ETH = Instrument("X", "ETH/USDT", InstrumentKind.SPOT, "ETH", "USDT", D("0.01"), D("0.001"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "allocation_crisis_sim.toml"


def _engine(balances: dict[str, str]) -> Engine:
    engine = Engine([BTC, ETH], clock=SimClock(T0), valuation_currency="USDT")
    venue = SimulatedVenue("X")
    connect_simulated(engine, venue)
    for asset, amount in balances.items():
        venue.deposit(asset, D(amount))
    return engine


def _quote(inst: Instrument, ts: int, price: float) -> BookSnapshot:
    ticks = round(price / float(inst.tick_size))
    size = inst.units(D(100))
    return BookSnapshot(inst.id, ts, 1, ((ticks - 1, size),), ((ticks + 1, size),))


def _paths(steps: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    common, own = rng.standard_normal(steps), rng.standard_normal(steps)
    btc = 60_000 * np.exp(np.cumsum(0.0008 * common))
    eth = 3_000 * np.exp(np.cumsum(0.0008 * (rho * common + np.sqrt(1 - rho**2) * own)))
    return btc, eth


def _play(engine: Engine, btc: np.ndarray, eth: np.ndarray) -> None:
    for n in range(len(btc)):
        ts = T0 + (n + 1) * STEP_NS
        # one instant, as the replay delivers it: both books move before anyone samples them
        engine.process_batch([_quote(BTC, ts, float(btc[n])), _quote(ETH, ts, float(eth[n]))])


def _settings(**kwargs: object) -> AllocationSettings:
    return AllocationSettings(reference=(BTC.id, ETH.id), **kwargs)  # type: ignore[arg-type]


def test_without_an_allocator_the_scale_is_exactly_one() -> None:
    engine = _engine({"USDT": "1000"})
    scale = StrategyContext(engine, "s").capital_scale(BTC.id)
    assert scale == 1
    assert str(scale) == "1"


def test_correlation_factor_is_one_minus_the_correlation_to_the_rest_of_the_book() -> None:
    engine = _engine({"USDT": "100000", "ETH": "10"})  # the book already holds ETH
    allocator = CapitalAllocator(_settings(correlation_window=30, floor=D("0.1")))
    allocator.attach(engine, {})
    engine.use_capital(allocator)
    btc, eth = _paths(12 * 40, rho=0.6, seed=1)
    _play(engine, btc, eth)
    # independent: the bar closes are the prices sampled at each whole minute
    closes = np.round(np.array([[btc[12 * m - 1], eth[12 * m - 1]] for m in range(1, 41)]), 2)  # on the tick
    returns = np.diff(np.log(closes), axis=0)[-30:]
    corr = float(np.corrcoef(returns.T)[0, 1])
    expected = min(1.0, max(0.1, 1.0 - corr))
    assert 0.2 < corr < 0.95  # a real correlation, so the factor is neither clipped nor 1
    assert float(allocator.correlation_factor(BTC.id)) == pytest.approx(expected, abs=1e-6)
    ctx = StrategyContext(engine, "s")
    assert ctx.capital_scale(BTC.id) == allocator.correlation_factor(BTC.id)  # no family: no regime factor
    assert ctx.capital_scale() == 1  # a hedged trade: no correlation factor


def test_an_empty_book_has_nothing_to_correlate_with() -> None:
    engine = _engine({"USDT": "100000"})
    allocator = CapitalAllocator(_settings())
    allocator.attach(engine, {})
    _play(engine, *_paths(12 * 40, rho=0.9, seed=2))
    assert allocator.correlation_factor(BTC.id) == 1


def test_crisis_correlation_zeroes_directional_capital_and_is_recorded() -> None:
    engine = _engine({"USDT": "100000"})
    allocator = CapitalAllocator(_settings(), risk=None)
    allocator.attach(engine, {"trend": "directional", "carry": "carry"})
    engine.use_capital(allocator)
    btc, _ = _paths(12 * 40, rho=0.0, seed=3)
    _play(engine, btc, btc / 20)  # ETH moves exactly with BTC: correlation 1
    assert allocator.mean_correlation > 0.9
    assert allocator.regime is Regime.CRISIS
    assert allocator.regimes[-1][1] == "crisis"
    assert allocator.regimes[0][1] == "neutral"
    assert StrategyContext(engine, "trend").capital_scale() == 0  # the default matrix: directional 0 in a crisis
    assert StrategyContext(engine, "carry").capital_scale() == D("0.25")  # funding_capture 0.25


class _Halving:
    def size_multiplier(self) -> Decimal:
        return D("0.5")


def test_the_risk_engines_size_multiplier_is_applied() -> None:
    engine = _engine({"USDT": "100000"})
    allocator = CapitalAllocator(_settings(), risk=_Halving())
    allocator.attach(engine, {"arb": "arbitrage"})
    engine.use_capital(allocator)
    assert StrategyContext(engine, "arb").capital_scale() == D("0.5")  # neutral arbitrage row is 1


def test_hmm_method_is_reproducible_for_a_seed() -> None:
    runs = []
    for _ in range(2):
        engine = _engine({"USDT": "100000"})
        allocator = CapitalAllocator(_settings(method="hmm", seed=5, history_bars=200))
        allocator.attach(engine, {})
        _play(engine, *_paths(12 * 150, rho=0.3, seed=4))
        runs.append(allocator.regimes)
    assert runs[0] == runs[1]
    assert {r for _, r in runs[0]} <= {"neutral", "ranging", "volatile", "crisis"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"enabled": True}, "reference"),
        ({"families": {"a": "momentum"}}, "unknown strategy family 'momentum'"),
        ({"matrix": {"panic": {"directional": "0.5"}}}, "unknown regime"),
        ({"matrix": {"crisis": {"directional": "3"}}}, "outside [0, 2]"),
        ({"floor": "1.5"}, "floor"),
    ],
)
def test_bad_allocation_config_names_the_problem(table: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[")):
        AllocationSection.model_validate(table)


def test_a_reference_not_traded_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not traded"):
        build_backtest(load_config(EXAMPLE, ["data.0.hours=0.1", 'risk.allocation.reference=["ALPHA:SOL/USDT"]']))


# --- the acceptance experiment (issue #5) ---------------------------------------------------------
SEED, HOURS = 8, 4.0  # seed 8's 4-hour session has a 43-minute crisis from minute 156 (asserted below)


def _session(allocation: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, str]]]:
    config = load_config(
        EXAMPLE,
        [f"run.seed={SEED}", f"data.0.hours={HOURS}", f"risk.allocation.enabled={str(allocation).lower()}"],
    )
    node = build_backtest(config)
    engine = node.engine
    samples: list[tuple[int, float, float]] = []

    def on_equity(sample: EquitySampled) -> None:
        held = sum(
            float(amount * (engine.price(InstrumentId(f"ALPHA:{asset}/USDT")) or 0))
            for (_, asset), amount in engine.portfolio.ledger.balances().items()
            if asset in ("BTC", "ETH")
        )
        samples.append((sample.ts_ns, held, float(sample.equity)))

    engine.bus.subscribe(EquitySampled, on_equity)
    node.run()
    ts, held, equity = (np.array(column) for column in zip(*samples, strict=True))
    return ts, held, equity, [] if node.allocator is None else node.allocator.regimes


def _max_drawdown(equity: np.ndarray) -> float:
    peak = np.maximum.accumulate(equity)
    return float(((peak - equity) / peak).max())


def test_crisis_session_allocation_cuts_crisis_exposure_and_drawdown() -> None:
    paths = simulate_paths(CALIBRATED, start_ns=DEFAULT_START_NS, hours=HOURS, seed=SEED)
    crisis_minutes = np.unique(paths.ts_ns[paths.regime == SimRegime.CRISIS] // 60_000_000_000)
    assert len(crisis_minutes) >= 20, "the session must contain a crisis regime"
    ts, held_off, equity_off, _ = _session(allocation=False)
    ts_on, held_on, equity_on, regimes = _session(allocation=True)
    assert np.array_equal(ts, ts_on)
    in_crisis = np.isin(ts // 60_000_000_000, crisis_minutes)
    # the allocator held less BTC and ETH through the simulator's crisis than the same strategies without it
    assert held_on[in_crisis].mean() < held_off[in_crisis].mean()
    # and the portfolio's drawdown was smaller (figures for 3 seeds are in the closing note)
    assert _max_drawdown(equity_on) < _max_drawdown(equity_off)
    assert regimes
    assert regimes[0][0] > ts[0]


def test_regimes_are_a_time_series_in_the_result_json() -> None:
    node = build_backtest(load_config(EXAMPLE, ["data.0.hours=0.75"]))
    node.run()
    result = result_json("r", summarise(node.engine), node, 0.0)
    regimes = result["regimes"]
    assert regimes
    assert all(isinstance(ts, int) and regime in {r.value for r in Regime} for ts, regime in regimes)
    assert [ts for ts, _ in regimes] == sorted({ts for ts, _ in regimes})  # changes only, in time order
    assert all(a[1] != b[1] for a, b in pairwise(regimes))
