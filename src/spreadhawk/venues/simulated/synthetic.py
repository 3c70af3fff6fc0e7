"""A small seeded two-venue market, generated on the fly (the demo's default data).

It is deliberately simple — a later simulator adds regimes, fat tails and many assets — but it
has the features a cross-exchange arbitrage backtest needs to be meaningful:

* one fair price following a geometric random walk;
* each venue quotes around it with its own half-spread and depth profile (10 levels a side);
* the second venue follows the fair price with a lag (lead-lag between venues);
* transient dislocations: at Poisson times one venue's quotes jump away from fair value by an
  exponentially distributed size and decay back with a half-life — opportunities an arbitrageur can
  catch, or miss when it is too slow or the fees eat the edge.

Everything is drawn from one ``numpy`` generator seeded by the run's seed, so the same (config,
seed) gives the same market, record for record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookSnapshot, Level

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TwoVenueParams:
    start_ns: int = 1_704_067_200 * NS_PER_S  # 2024-01-01 00:00 UTC
    hours: float = 1.0
    step_ms: int = 250  # one book snapshot per venue per step
    start_price: float = 40_000.0
    annual_volatility: float = 0.6
    half_spread_bps: tuple[float, float] = (0.5, 1.5)
    level_step_bps: tuple[float, float] = (0.5, 1.0)
    top_size: tuple[float, float] = (0.8, 0.5)  # base units at the touch
    lag_steps: int = 8  # the second venue sees the fair price this many steps late
    dislocations_per_hour: float = 20.0
    dislocation_mean_bps: float = 15.0
    dislocation_half_life_s: float = 3.0
    levels: int = 10


def generate_two_venue_books(
    instruments: Sequence[Instrument], seed: int, params: TwoVenueParams | None = None
) -> list[BookSnapshot]:
    """Book snapshots of two venues quoting the same pair, in time order (venue A first on ties)."""
    if len(instruments) != 2:
        raise ValueError(f"the two-venue market needs exactly 2 instruments, got {len(instruments)}")
    p = params or TwoVenueParams()
    rng = np.random.default_rng(seed)
    steps = int(p.hours * 3600 * 1000 / p.step_ms)
    dt_years = p.step_ms / 1000 / (365 * 86400)
    shocks = rng.standard_normal(steps) * p.annual_volatility * math.sqrt(dt_years)
    fair = p.start_price * np.exp(np.cumsum(shocks) - 0.5 * p.annual_volatility**2 * dt_years * np.arange(steps))
    lagged = np.concatenate([np.full(p.lag_steps, fair[0]), fair[: -p.lag_steps]]) if p.lag_steps else fair
    offsets = [_dislocations(rng, steps, p), _dislocations(rng, steps, p)]
    mids = [fair * (1 + offsets[0]), lagged * (1 + offsets[1])]
    size_noise = rng.lognormal(0.0, 0.35, size=(2, steps, 2, p.levels))
    records: list[BookSnapshot] = []
    for step in range(steps):
        ts = p.start_ns + step * p.step_ms * 1_000_000
        for v, inst in enumerate(instruments):
            bids, asks = _levels(inst, float(mids[v][step]), v, p, size_noise[v, step])
            records.append(BookSnapshot(inst.id, ts, step + 1, bids, asks))
    return records


def _dislocations(rng: np.random.Generator, steps: int, p: TwoVenueParams) -> np.ndarray:
    """Relative price offset of one venue: jumps at Poisson times decaying with a half-life."""
    step_s = p.step_ms / 1000
    rate = p.dislocations_per_hour / 3600 * step_s / 2  # shared between the two venues
    jumps = rng.random(steps) < rate
    sizes = rng.exponential(p.dislocation_mean_bps / 10_000, steps) * rng.choice([-1.0, 1.0], steps)
    decay = 0.5 ** (step_s / p.dislocation_half_life_s)
    offset = np.zeros(steps)
    current = 0.0
    for i in range(steps):
        current = current * decay + (sizes[i] if jumps[i] else 0.0)
        offset[i] = current
    return offset


def _levels(
    inst: Instrument, mid: float, venue: int, p: TwoVenueParams, noise: np.ndarray
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    tick = float(inst.tick_size)
    unit = float(inst.size_increment)
    half = p.half_spread_bps[venue] / 10_000
    step = p.level_step_bps[venue] / 10_000
    best_bid = math.floor(mid * (1 - half) / tick)
    best_ask = max(math.ceil(mid * (1 + half) / tick), best_bid + 1)
    gap = max(1, round(mid * step / tick))
    bids: list[Level] = []
    asks: list[Level] = []
    for i in range(p.levels):
        size = p.top_size[venue] * (1 + 0.6 * i)
        bids.append((best_bid - i * gap, max(1, round(size * noise[0, i] / unit))))
        asks.append((best_ask + i * gap, max(1, round(size * noise[1, i] / unit))))
    return tuple(bids), tuple(asks)
