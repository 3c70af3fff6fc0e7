"""BinaryOrderFlow: does the reference venue's taker imbalance predict anything, and does trading it pay?

On the simulator the answer is no by construction (see the strategy's docstring: a print's aggressor
knows only the past move of its venue's displayed mid, and the binary books are quoted off the true
path without lag). The tests check that the measured predictive correlation is nil and that the
strategy's fills, scored at the simulator's true probability, do not make money even though the
strategy's own estimate says they should. On the real Binance BTCUSDT capture (~6 minutes) the
correlation is measured for several windows and horizons and printed (-s); the computation is
cross-checked by a brute-force pandas version.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from spreadhawk.data.readers import iter_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, MarketData, TradeTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.binary_order_flow import (
    BinaryOrderFlow,
    BinaryOrderFlowConfig,
    ofi_predictive_correlation,
    predicted_probability,
)
from spreadhawk.venues.simulated.market.binaries import fair_probability
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
D = Decimal
Series = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _series(records: Iterable[MarketData], inst: Instrument) -> Series:
    """(trade times, signed taker sizes, mid times, mids) of one instrument."""
    book = OrderBook(inst.id)
    trade_ts: list[int] = []
    signed: list[float] = []
    mid_ts: list[int] = []
    mids: list[float] = []
    for record in records:
        if record.instrument_id != inst.id:
            continue
        if isinstance(record, TradeTick) and record.aggressor is not Aggressor.UNKNOWN:
            size = float(inst.size(record.size))
            trade_ts.append(record.ts_ns)
            signed.append(size if record.aggressor is Aggressor.BUYER else -size)
        elif isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
            if book.is_valid and (mid := book.mid_ticks()) is not None:
                mid_ts.append(record.ts_ns)
                mids.append(float(mid))
    return tuple(np.array(x, dtype=np.float64) for x in (trade_ts, signed, mid_ts, mids))  # type: ignore[return-value]


def _brute_force(series: Series, window_s: float, horizon_s: float) -> float:
    trade_ts, signed, mid_ts, mids = series
    trades = pd.Series(signed, index=pd.to_datetime(trade_ts.astype("int64")))
    mid = pd.Series(mids, index=pd.to_datetime(mid_ts.astype("int64")))
    rows = []
    t = mid_ts[0] + window_s * S
    while t < mid_ts[-1] - horizon_s * S:
        now = pd.Timestamp(int(t))
        recent = trades[(trades.index > now - pd.Timedelta(seconds=window_s)) & (trades.index <= now)]
        if len(recent):
            later = now + pd.Timedelta(seconds=horizon_s)
            ret = math.log(mid[:later].iloc[-1] / mid[:now].iloc[-1])
            rows.append((recent.sum() / recent.abs().sum(), ret))
        t += S
    x, y = np.array(rows).T
    return float(np.corrcoef(x, y)[0, 1])


def test_predicted_probability_moves_with_the_return_and_not_without() -> None:
    assert predicted_probability(0.5, 0.0, 0.5, 600) == pytest.approx(0.5)
    up = predicted_probability(0.5, 1e-4, 0.5, 600)  # 1 bp with 10 minutes left: ~1.8 points
    assert 0.51 < up < 0.53
    assert predicted_probability(0.5, -1e-4, 0.5, 600) == pytest.approx(1 - up)


# =========================================================================== simulator
@cache
def _sim(seed: int) -> MarketSimulator:
    config = MarketSimulatorConfig(hours=2, seed=seed, venues=DEFAULT_VENUES[:1], assets=("BTC",), perps=False)
    return MarketSimulator(config)


@pytest.mark.parametrize("seed", [1, 2])
def test_simulated_flow_does_not_predict_the_reference(seed: int) -> None:
    sim = _sim(seed)
    reference = next(i for i in sim.instruments() if i.venue == "ALPHA")
    series = _series(sim, reference)
    for window, horizon in ((5, 10), (30, 60)):
        corr, samples = ofi_predictive_correlation(*series, window, horizon)
        print(f"simulator seed {seed}: window {window} s, horizon {horizon} s: corr {corr:+.3f} ({samples})")
        assert samples > 6000
        assert abs(corr) < 0.1  # overlapping 1-s samples: ~120 independent minutes, se ~0.09 at worst


@pytest.mark.parametrize("seed", [1, 2])
def test_trading_the_simulated_flow_does_not_make_money(seed: int) -> None:
    sim = _sim(seed)
    engine = Engine(sim.instruments())
    predict = SimulatedVenue("PREDICT")
    connect_simulated(engine, predict)
    connect_simulated(engine, SimulatedVenue("ALPHA"))
    predict.deposit("USDT", D(10_000))
    strategy = BinaryOrderFlow(BinaryOrderFlowConfig())
    attach_strategy(engine, strategy)
    run_replay(engine, sim)
    stats = strategy.stats()
    tokens = {m.yes.id: (m, True) for m in sim.binary_markets} | {m.no.id: (m, False) for m in sim.binary_markets}
    true_edge, bought = 0.0, 0.0
    for fill in engine.fills:
        market, is_yes = tokens[fill.instrument_id]
        up = float(fair_probability(sim.paths, "BTC", market, np.array([fill.ts_ns]))[0])
        true_edge += ((up if is_yes else 1 - up) - float(fill.price)) * float(fill.quantity) - float(fill.fee)
        bought += float(fill.quantity)
    print(f"seed {seed}: {stats}, true edge {true_edge:.2f} on {bought:.0f} tokens")
    assert stats["fit_pairs"] > 4000
    assert abs(stats["ofi_return_correlation"]) < 0.1
    assert stats["orders"] > 0  # it does act on its (spurious) fit ...
    assert stats["expected_edge"] > 0.01 * bought  # ... believing each fill worth min_edge or more ...
    assert true_edge < 0.005 * bought  # ... yet at the true probability the fills are worth about nothing


# =========================================================================== real capture
@pytest.mark.real_data
def test_order_flow_imbalance_on_the_binance_btcusdt_capture(shared_data: Path) -> None:
    inst = binance_spot_btcusdt()
    records: list[MarketData] = list(
        iter_hftbacktest(shared_data / "hftbacktest/binance_spot/btcusdt_20240808.gz", inst)
    )
    series = _series(records, inst)
    span_s = (series[2][-1] - series[2][0]) / S
    assert 300 < span_s < 400  # the ~6-minute capture
    for window in (1, 5, 10, 30):
        row = []
        for horizon in (1, 5, 10, 30):
            corr, samples = ofi_predictive_correlation(*series, window, horizon)
            assert -1 <= corr <= 1
            assert samples > 250
            row.append(f"{horizon:>2} s: {corr:+.3f}")
        print(f"Binance BTCUSDT, OFI over {window:>2} s vs next-N-s return: " + ", ".join(row))
    fast, _ = ofi_predictive_correlation(*series, 5, 10)
    assert fast == pytest.approx(_brute_force(series, 5, 10), abs=1e-9)
