"""BinaryCrossMarket: the pricing identity, then runs on simulated 15-minute + 1-hour markets.

Runs are scored by *true edge*: each fill valued at the simulator's true probability of its token
at the fill instant, minus the price and the fee. That is the expected P&L of the trade without
the outcome's coin flip, which over a two-hour run would swamp it (realised P&L is printed, -s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import numpy as np
import pytest

from spreadhawk.analytics.binary_pricing import fair_probability_up
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.scan_prediction import CrossMarketDetector
from spreadhawk.runtime.scanner import MarketView
from spreadhawk.runtime.simulated_market import simulated_market
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.binary_cross_market import (
    BinaryCrossMarket,
    BinaryCrossMarketConfig,
    hedge_ratio,
    implied_long_probability,
)
from spreadhawk.venues.simulated.market.binaries import BinaryParams, fair_probability
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
MS = 1_000_000
D = Decimal
HOURS = 2


# =========================================================================== the identity
@pytest.mark.parametrize(("log_moneyness", "vol", "tau_s", "tau_l"), [(0.0, 0.5, 900, 3600), (0.002, 0.3, 300, 2700)])
def test_implied_long_probability_is_the_expected_fair_value_at_the_short_expiry(
    log_moneyness: float, vol: float, tau_s: float, tau_l: float
) -> None:
    strike = 60_000.0
    spot = strike * math.exp(log_moneyness)
    p_short = fair_probability_up(spot, strike, tau_s, vol)
    # E[ N(d2 of the long market at the short expiry, tau_l - tau_s left) ] by Gauss-Hermite quadrature.
    z, w = np.polynomial.hermite_e.hermegauss(80)
    scale = vol * math.sqrt(tau_s / (365 * 86_400))
    later = spot * np.exp(-scale * scale / 2 + scale * z)
    values = [fair_probability_up(float(s), strike, tau_l - tau_s, vol) for s in later]
    expected = float(np.dot(w, values)) / math.sqrt(2 * math.pi)
    implied = implied_long_probability(p_short, tau_s, tau_l, vol)
    assert implied == pytest.approx(expected, abs=1e-6)
    assert implied == pytest.approx(fair_probability_up(spot, strike, tau_l, vol), abs=1e-9)
    # The mapping hardly depends on the volatility: why a configured one serves.
    assert abs(implied_long_probability(p_short, tau_s, tau_l, vol * 2) - implied) < 0.005
    # The hedge ratio is dP_long / dP_short.
    bump = 1e-4
    slope = (
        implied_long_probability(p_short + bump, tau_s, tau_l, vol)
        - implied_long_probability(p_short - bump, tau_s, tau_l, vol)
    ) / (2 * bump)
    assert hedge_ratio(p_short, tau_s, tau_l, vol) == pytest.approx(slope, rel=1e-4)


# =========================================================================== simulator runs
@dataclass(frozen=True)
class SimRun:
    sim: MarketSimulator
    engine: Engine
    strategy: BinaryCrossMarket
    stats: dict[str, Any]
    entry_edge: float  # true edge of the entry units' fills, fees in
    exit_edge: float
    pnl: Decimal

    def entries(self) -> list[tuple[int, str, int, Decimal]]:
        """(time, long outcome bought, long expiry, long tokens filled) of every entry unit."""
        out = []
        for unit in self.strategy.executor.units.values():
            if unit.tag != "exit":
                inst = self.engine.instruments[unit.legs[0].instrument_id]
                out.append((unit.created_ns, inst.symbol.rpartition("-")[2], inst.expiry_ns or 0, unit.filled(0)))
        return out

    def drift(self, expiry_ns: int, ts_ns: int) -> float:
        """The injected drift of the long market expiring at ``expiry_ns`` at ``ts_ns`` (YES up when > 0)."""
        return sum(
            d.size * 2 ** (-(ts_ns - d.start_ns) / S / d.half_life_s)
            for d in self.sim.binary_drifts
            if d.expiry_ns == expiry_ns and d.period_min == 60 and d.start_ns <= ts_ns
        )


@cache
def _sim_run(
    seed: int, *, fee: str = "0", latency_ms: int = 0, noise: float = 0.02, drifts: float = 3.0, cap: int = 500
) -> SimRun:
    params = BinaryParams(taker_fee=D(fee), noise_std=noise, long_drifts_per_hour=drifts)
    config = MarketSimulatorConfig(
        hours=HOURS, seed=seed, assets=(), perps=False, binary_params=params, binary_horizons_min=(60,)
    )
    sim = MarketSimulator(config)
    engine = Engine(sim.instruments())
    venue = SimulatedVenue("PREDICT", latency_ns=latency_ms * MS)
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(100_000))
    strategy = BinaryCrossMarket(BinaryCrossMarketConfig(max_long_per_pair=D(cap)))
    attach_strategy(engine, strategy)
    run_replay(engine, sim)
    tokens = {m.yes.id: (m, True) for m in sim.binary_markets} | {m.no.id: (m, False) for m in sim.binary_markets}
    exit_orders = {order.client_order_id for order in engine.orders.values() if order.side is OrderSide.SELL}
    edges = {True: 0.0, False: 0.0}
    for fill in engine.fills:
        market, is_yes = tokens[fill.instrument_id]
        up = float(fair_probability(sim.paths, "BTC", market, np.array([fill.ts_ns]))[0])
        value = (up if is_yes else 1 - up) - float(fill.price)
        sign = -1 if fill.client_order_id in exit_orders else 1
        edges[sign > 0] += sign * value * float(fill.quantity) - float(fill.fee)
    ledger = engine.portfolio.ledger
    assert not {a: v for a, v in ledger.venue_balances("PREDICT").items() if a != "USDT" and v}  # all settled
    run = SimRun(
        sim, engine, strategy, strategy.stats(), edges[True], edges[False], ledger.balance("PREDICT", "USDT") - 100_000
    )
    counts = f"entries {run.stats['entries']} exits {run.stats['exits']}"
    scores = f"entry true edge {run.entry_edge:.2f} exit {run.exit_edge:.2f} pnl {run.pnl}"
    print(f"seed {seed} fee {fee} latency {latency_ms} noise {noise}: {counts} {scores}")  # the report's figures (-s)
    return run


@pytest.mark.parametrize("seed", [1, 2])
def test_with_only_drifts_injected_every_entry_buys_the_token_a_drift_made_cheap(seed: int) -> None:
    # The crowd's own noise all but off; no position limit, so that a drift is never refused for it.
    run = _sim_run(seed, noise=0.002, drifts=12.0, cap=1_000_000)
    entries = run.entries()
    assert entries
    for ts, outcome, expiry, _ in entries:
        drift = run.drift(expiry, ts)
        assert abs(drift) > 0.01  # inside a drift window ...
        assert (outcome == "YES") == (drift < 0)  # ... buying the side it made cheap
    # Every large drift in the window the short market covers (with a minute to spare), while the short
    # market is inside the band where its price is inverted (0.1-0.9; here with a margin), was traded.
    long_markets = {m.expiry_ns: m for m in run.sim.binary_markets if m.period_min == 60}
    short_markets = {m.open_ns: m for m in run.sim.binary_markets if m.period_min == 15}
    for d in run.sim.binary_drifts:
        market = long_markets[d.expiry_ns]
        short = short_markets[market.open_ns]
        p_short = float(fair_probability(run.sim.paths, "BTC", short, np.array([d.start_ns]))[0])
        if abs(d.size) >= 0.06 and d.start_ns <= market.open_ns + 780 * S and 0.15 < p_short < 0.85:
            window = (d.start_ns, d.start_ns + round(d.half_life_s * S))
            assert any(window[0] <= ts <= window[1] and e == d.expiry_ns for ts, _, e, _ in entries)
    assert run.entry_edge > 0


@pytest.mark.parametrize("seed", [1, 2])
def test_entries_have_true_edge_on_the_noisy_default_market(seed: int) -> None:
    run = _sim_run(seed)
    stats = run.stats
    assert stats["entries"] > 0
    assert stats["opportunities_seen"] == stats["entries"] + sum(stats["skipped"].values())
    assert stats["expected_edge"] > 0.01 * stats["entries"]  # each entry at least min_edge (0.01) per token
    assert run.entry_edge > 0
    assert run.entry_edge + run.exit_edge > 0


@pytest.mark.parametrize("seed", [1, 2])
def test_latency_and_fees_eat_the_edge(seed: int) -> None:
    fast, slow, dear = _sim_run(seed), _sim_run(seed, latency_ms=5_000), _sim_run(seed, fee="0.03")
    # Quotes 5 s old: fewer units go out (one at a time) and what fills is worth less.
    assert slow.stats["entries"] < fast.stats["entries"]
    assert slow.entry_edge < fast.entry_edge
    # A 3 % fee a side: fewer gaps pay for it.
    assert dear.stats["entries"] < fast.stats["entries"]
    huge = _sim_run(seed, fee="0.25")  # a quarter of the price a side: no gap on this market pays that
    assert huge.stats["entries"] == 0
    assert huge.pnl == 0


# =========================================================================== hand-made books, and the scanner
T0 = 1_704_067_200 * S  # 2024-01-01 00:00 UTC: both markets open here


def _token(outcome: str, period: int) -> Instrument:
    tag = "" if period == 15 else f"-{period}M"
    symbol = f"BTC-UPDOWN{tag}-20240101T0000-{outcome}"
    return Instrument(
        venue="PREDICT",
        symbol=symbol,
        kind=InstrumentKind.BINARY,
        base=symbol,
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D(1),
        expiry_ns=T0 + period * 60 * S,
    )


TOKENS = {(o, p): _token(o, p) for o in ("YES", "NO") for p in (15, 60)}


def _books(ts_ns: int, long_yes_mid: str) -> list[BookSnapshot]:
    """Short market at 0.60 (bid 0.59 / ask 0.61); long YES around ``long_yes_mid``, NO mirrored."""
    mids = {("YES", 15): D("0.60"), ("NO", 15): D("0.40"), ("YES", 60): D(long_yes_mid)}
    mids[("NO", 60)] = 1 - mids[("YES", 60)]
    return [
        BookSnapshot(
            inst.id,
            ts_ns,
            1,
            ((inst.ticks(mids[k] - D("0.01")), 500),),
            ((inst.ticks(mids[k] + D("0.01")), 500),),
        )
        for k, inst in TOKENS.items()
    ]


def test_the_scanner_and_the_strategy_see_the_same_gap() -> None:
    now = T0 + 120 * S  # 13 minutes left on the short market, 58 on the long one
    implied = implied_long_probability(0.60, 780, 3480, 0.5)
    assert 0.54 < implied < 0.56  # a 60 % short market implies ~55 % over the hour
    detector = CrossMarketDetector(TOKENS.values())
    assert detector.watched() == {t.id for t in TOKENS.values()}
    for long_mid, expect_yes in (("0.50", True), ("0.55", False)):  # 0.51 ask vs ~0.55: cheap; at 0.55: no gap
        books = {}
        for snap in _books(now, long_mid):
            books[snap.instrument_id] = OrderBook(snap.instrument_id)
            books[snap.instrument_id].apply(snap)
        sightings = detector.scan({TOKENS[("YES", 60)].id}, MarketView(books=books, now_ns=now))
        (sighting,) = sightings.values()
        assert (sighting is not None) == expect_yes
        if sighting is not None:
            assert sighting.executable_size > 0
            assert sighting.expected_profit > 0
        # The strategy on the same books: it buys the long YES and the short NO, or nothing.
        engine = Engine(list(TOKENS.values()))
        venue = SimulatedVenue("PREDICT")
        connect_simulated(engine, venue)
        venue.deposit("USDT", D(10_000))
        strategy = BinaryCrossMarket(BinaryCrossMarketConfig())
        attach_strategy(engine, strategy)
        run_replay(engine, _books(now, long_mid))
        bought = {engine.instruments[f.instrument_id].symbol for f in engine.fills}
        expected = {TOKENS[("YES", 60)].symbol, TOKENS[("NO", 15)].symbol} if expect_yes else set()
        assert bought == expected


@pytest.mark.parametrize("horizons", [[15, 15], [0, 60], []])
def test_bad_horizons_in_the_data_config_are_a_clear_error(horizons: list[int]) -> None:
    config = RunConfig.model_validate(
        {
            "data": [{"format": "market_simulator", "hours": 0.5, "binary_horizons_min": horizons}],
            "strategy": {"path": "spreadhawk.strategy.library.binary_cross_market:BinaryCrossMarket"},
        }
    )
    with pytest.raises(ConfigError, match=r"market_simulator: .*(horizons|period_min)"):
        simulated_market(config, config.data[0])
