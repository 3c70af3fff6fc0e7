"""L2 books of the simulated venues: what each venue shows of the fair value, as sequenced deltas.

Two stages, so the expensive decisions are vectorised and Python touches only what changes:

1. **Plan** (numpy, ``plan_book``): when the venue publishes (at most every ``cadence_ms``, when its
   displayed mid has moved ``requote_bps`` on a log grid, or on a heartbeat), its best bid and ask
   then, the size scale, and the times, sides and sizes of trades (Poisson).
2. **Write** (``BookWriter``, in ``book_writer``): a persistent book per side, ``levels`` levels
   deep. On each update levels better than the new touch are removed, new ones appear between the
   new touch and the old one (random gaps with mean ``level_spacing_bps``), the former touch
   shrinks to an ordinary level, the far end is trimmed or extended back to ``levels``, and a few
   random levels are re-sized. The delta carries only those changes (absolute sizes, 0 deletes). A
   trade takes at most the touch, at the touch, and the delta at the same ``ts_ns`` right after it
   shows what it consumed.

Sequence ids are contiguous: one id per changed level, ``first_sequence = prev_sequence + 1``. A
side never becomes empty (a trade that would take the last level leaves it replenished), and bids
stay strictly below asks, so an ``OrderBook`` fed the stream never gaps and never crosses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.simulated.market.paths import FairValuePaths, Regime
from spreadhawk.venues.simulated.market.venues import BookProfile, DislocationProfile

MS = 1_000_000
S = 1_000_000_000
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MidFn = Callable[[IntArray], FloatArray]
StressFn = Callable[[IntArray], tuple[FloatArray, BoolArray]]
SPREAD_HALF_LIFE_S = 10.0  # assumption: no recording resolves it (the LINK books are 1 s snapshots)
_INFORMED = 0.8  # probability that a print's aggressor is on the side the mid has moved towards


@dataclass(frozen=True, slots=True)
class Dislocation:
    """Ground truth of one injected dislocation: the venue's prices were ``size_bps`` off fair value at
    ``start_ns`` (positive: too high), decaying with ``half_life_s``."""

    venue: str
    asset: str
    start_ns: int
    size_bps: float
    half_life_s: float

    def end_ns(self, threshold_bps: float) -> int:
        """When the offset decays below ``threshold_bps`` (``start_ns`` if it never exceeded it)."""
        size = abs(self.size_bps)
        if size <= threshold_bps:
            return self.start_ns
        return self.start_ns + int(self.half_life_s * math.log2(size / threshold_bps) * S)


def draw_dislocations(
    profile: DislocationProfile, venue: str, asset: str, start_ns: int, end_ns: int, rng: np.random.Generator
) -> list[Dislocation]:
    hours = (end_ns - start_ns) / 3600 / S
    count = int(rng.poisson(profile.per_hour * hours)) if profile.per_hour > 0 else 0
    starts = np.sort(rng.integers(start_ns, end_ns, count))
    sizes = rng.exponential(profile.mean_bps, count) * rng.choice([-1.0, 1.0], count)
    return [
        Dislocation(venue, asset, int(t), float(s), profile.half_life_s) for t, s in zip(starts, sizes, strict=True)
    ]


def dislocation_offset(dislocations: Sequence[Dislocation], ts: IntArray) -> FloatArray:
    """Relative offset of the prices at ``ts`` (sorted) from the dislocations (sizes add up)."""
    offset = np.zeros(len(ts))
    for d in dislocations:
        # Beyond 30 half-lives the offset is below 1e-9 of its size: not worth computing.
        lo, hi = np.searchsorted(ts, [d.start_ns, d.start_ns + int(30 * d.half_life_s * S)])
        age_s = (ts[lo:hi] - d.start_ns) / S
        offset[lo:hi] += d.size_bps * 1e-4 * np.exp2(-age_s / d.half_life_s)
    return offset


class DisplayedPrice:
    """What one venue shows of one asset's fair value: ``lag_ms`` late, with its own slow OU noise and
    its dislocations. Vectorised over arrays of times; the log price is interpolated between steps."""

    def __init__(
        self,
        paths: FairValuePaths,
        asset: str,
        *,
        lag_ms: float,
        noise_bps: float,
        noise_half_life_s: float,
        dislocations: Sequence[Dislocation],
        rng: np.random.Generator,
    ) -> None:
        self._t = paths.ts_ns.astype(np.float64)
        self._log = np.log(paths.prices[asset])
        vol = paths.volatility[asset]
        self._vol = vol
        self._vol_ref = float(np.median(vol)) or 1.0  # spreads widen relative to the run's typical volatility
        self._crisis = paths.regime == Regime.CRISIS
        self._lag_ns = lag_ms * MS
        self._dislocations = list(dislocations)
        # Noise on a 1 s grid (exact OU discretisation), interpolated in between.
        start, end = int(paths.ts_ns[0]), int(paths.ts_ns[-1]) + paths.step_ns
        self._noise_t = np.arange(start, end + S, S, dtype=np.float64)
        self._noise = ou_path(len(self._noise_t), noise_bps * 1e-4, noise_half_life_s, rng)

    def mid(self, ts: IntArray, *, dislocated: bool = True) -> FloatArray:
        t = ts.astype(np.float64)
        offset = np.interp(t, self._noise_t, self._noise)
        if dislocated:
            offset = offset + self.dislocation_offset(ts)
        return np.exp(np.interp(t - self._lag_ns, self._t, self._log)) * (1.0 + offset)

    def dislocation_offset(self, ts: IntArray) -> FloatArray:
        return dislocation_offset(self._dislocations, ts)

    def stress(self, ts: IntArray) -> tuple[FloatArray, BoolArray]:
        """Volatility relative to the run's median (clipped to 0.25..8) and the CRISIS flag at ``ts``."""
        t = ts.astype(np.float64)
        ratio = np.clip(np.interp(t, self._t, self._vol) / self._vol_ref, 0.25, 8.0)
        step = np.clip(np.searchsorted(self._t, t, side="right") - 1, 0, len(self._t) - 1)
        return ratio, self._crisis[step]


def ou_path(n: int, std: float, half_life_s: float, rng: np.random.Generator) -> FloatArray:
    """Stationary Ornstein-Uhlenbeck path sampled once a second (exact discretisation)."""
    if std <= 0 or n == 0:
        return np.zeros(n)
    a = 0.5 ** (1.0 / half_life_s)
    shocks = (rng.standard_normal(n) * (std * math.sqrt(1 - a * a))).tolist()
    x = float(rng.standard_normal()) * std
    out = []
    for shock in shocks:  # one value a second: 86,400 a day, a few ms
        x = a * x + shock
        out.append(x)
    return np.array(out)


@dataclass(frozen=True, slots=True, eq=False)
class BookPlan:
    """Everything random about one book, decided up front (see the module docstring)."""

    update_ns: IntArray  # first = the snapshot
    best_bid: IntArray  # ticks
    best_ask: IntArray
    size_scale: FloatArray  # size units per quote notional of a level, depth factor included
    refreshes: IntArray  # levels re-sized at each update
    trade_ns: IntArray
    trade_buy: BoolArray
    trade_units: IntArray  # wanted size in units (capped at the touch when written)

    @property
    def records(self) -> int:
        return len(self.update_ns) + 2 * len(self.trade_ns)


def plan_book(
    profile: BookProfile,
    inst: Instrument,
    mid: MidFn,
    stress: StressFn,
    start_ns: int,
    end_ns: int,
    rng: np.random.Generator,
) -> BookPlan:
    """Plan of the book of ``inst`` showing ``mid`` (a venue's displayed price) from ``start_ns`` to
    ``end_ns``: spread and depth scale with ``stress`` (volatility ratio, CRISIS flag)."""
    tick = float(inst.tick_size)
    cadence = profile.cadence_ms * MS
    phase = int(rng.integers(1, cadence + 1))
    candidates = np.concatenate(([start_ns], np.arange(start_ns + phase, end_ns, cadence, dtype=np.int64)))
    mids = mid(candidates)
    ratio, crisis = stress(candidates)
    widen = ratio**profile.vol_elasticity
    # The spread wanders (log-OU, half-life SPREAD_HALF_LIFE_S) rather than jumping at every update:
    # recorded spreads are autocorrelated, and a jumping spread would rewrite the touch every time.
    seconds = (end_ns - start_ns) // S + 2
    log_spread = ou_path(seconds, profile.spread_sigma, SPREAD_HALF_LIFE_S, rng)
    noise = np.exp(np.clip(np.interp((candidates - start_ns) / S, np.arange(seconds), log_spread), -3, 3))
    spread = 2 * profile.half_spread_bps * 1e-4 * mids * widen * noise
    spread *= np.where(crisis, profile.crisis_spread_mult, 1.0)
    idx = publish_steps(candidates, np.log(mids), profile.requote_bps * 1e-4, profile.heartbeat_ms * MS)
    spread_ticks = np.maximum(1, np.rint(spread[idx] / tick)).astype(np.int64)
    best_bid = np.floor(mids[idx] / tick - spread_ticks / 2 + 0.5).astype(np.int64)
    depth = np.where(crisis[idx], profile.crisis_depth_mult, 1.0) / widen[idx]
    units = 1.0 / (mids[idx] * float(inst.size_increment * inst.contract_size))
    updates = candidates[idx]
    trade_ns, trade_buy = draw_trades(profile.trade_rate_per_s, updates, mids[idx], mid, end_ns, rng)
    last = np.searchsorted(updates, trade_ns, side="right") - 1
    wanted = profile.trade_notional * np.exp(np.clip(rng.standard_normal(len(trade_ns)), -3, 3) * profile.trade_sigma)
    return BookPlan(
        update_ns=updates,
        best_bid=best_bid,
        best_ask=best_bid + spread_ticks,
        size_scale=depth * units,
        refreshes=rng.poisson(profile.refresh_per_update, len(idx)).astype(np.int64),
        trade_ns=trade_ns,
        trade_buy=trade_buy,
        trade_units=np.maximum(1, wanted * units[last]).astype(np.int64),
    )


def publish_steps(times: IntArray, state: FloatArray, threshold: float, heartbeat_ns: int) -> IntArray:
    """Indices at which a venue publishes: the first, then whenever ``state`` has moved ``threshold``
    from its last published value or ``heartbeat_ns`` has passed (hysteresis: a price hovering at a
    boundary does not flicker)."""
    values, stamps = state.tolist(), times.tolist()
    last, last_ns = values[0], stamps[0]
    out = [0]
    for i in range(1, len(values)):  # sequential by nature; ~50 ns a step
        value = values[i]
        if abs(value - last) >= threshold or stamps[i] - last_ns >= heartbeat_ns:
            out.append(i)
            last, last_ns = value, stamps[i]
    return np.array(out, dtype=np.int64)


def draw_trades(
    rate_per_s: float, updates: IntArray, update_mids: FloatArray, mid: MidFn, end_ns: int, rng: np.random.Generator
) -> tuple[IntArray, BoolArray]:
    """Poisson print times after the snapshot; the aggressor is informed: mostly on the side the
    fair value has moved towards since the book was last published."""
    start = int(updates[0]) + 1
    count = int(rng.poisson(rate_per_s * (end_ns - start) / S)) if rate_per_s > 0 and end_ns > start else 0
    times = np.sort(rng.integers(start, end_ns, count)).astype(np.int64)
    last = np.searchsorted(updates, times, side="right") - 1
    up = mid(times) >= update_mids[last]
    draws = rng.random(count)
    return times, np.where(up, draws < _INFORMED, draws >= _INFORMED)
