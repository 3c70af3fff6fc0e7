"""Perpetual futures: a basis over spot, funding that follows it, mark and index prices.

* The perp's fair value is the venue's (undislocated) spot price × (1 + basis); the basis is an
  Ornstein-Uhlenbeck process per asset, shared by the venues (perps arbitrage against each other).
* Each venue's perpetual adds its own premium to that shared basis (assumption, parameters below):
  a constant offset per venue (``venue_premium_bps``; e.g. a venue whose longs pay more) and an
  independent OU noise (``venue_basis_std_bps``, half-life ``venue_basis_half_life_s``). Without it
  ALPHA's and BETA's perps would share one basis and pay the same funding, and there would be no
  perp-perp funding spread to capture. The default noise, 1 bp with an 8 h half-life, stands for the
  typical dispersion of 8-hour funding rates of one major across large venues (about a bp per period
  in calm markets, assumption: no cross-venue recording in ../shared/data measures it).
* Index = the median of the spot venues' displayed mids (dislocations included: a median is how real
  indices shrug off one venue's outlier). Mark = the perp's fair value. ``MarkPrice`` every second.
* Funding follows Binance's documented formula: the premium P is the time average of
  (mark - index) / index over the funding period, and the rate is ``P + clamp(I - P, -c, c)`` with
  interest I = 0.01 % and clamp c = 0.05 % per 8 h, capped at ``cap_8h``. Within the clamp zone the
  rate is exactly I, which is why 70 of the 91 recorded XRP rates are 0.0001
  (``FundingFit.interest_share``). Shorter intervals scale I, c and the cap with the interval (a 1 h
  funding pays an eighth of the 8 h rate), so a one-day demo can use ``funding_interval_h=1`` and see
  24 payments instead of 3.
* Records: ``FundingRate`` estimates every ``estimate_every_s`` (``ts_ns < funding_ts_ns``), and the
  realised rate at each funding time (``ts_ns == funding_ts_ns``: the simulated venue pays it), right
  after that second's ``MarkPrice`` so the venue values positions at the mark of that instant.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import FundingRate, MarketData, MarkPrice
from spreadhawk.venues.simulated.market.books import DisplayedPrice, FloatArray, IntArray, S, ou_path

HOUR_NS = 3600 * S
_RATE_PLACES = 8  # funding rates are published to 1e-8


@dataclass(frozen=True, slots=True)
class PerpParams:
    # calibration_venues.FundingFit.btc_basis_bps.p50: Binance BTCUSDT (mark - index) / index, 2023-04-04/05
    basis_mean_bps: float = -4.49
    # FundingFit.realised_std: 2.5 bps, the dispersion of realised XRP 8 h rates (outside the clamp zone a
    # rate moves one for one with the premium)
    basis_std_bps: float = 2.51
    basis_half_life_s: float = 3600.0  # assumption: the recordings are minutes long or 8 h apart
    funding_interval_h: float = 8.0  # FundingFit.interval_h
    interest_8h: float = 0.0001  # Binance; FundingFit.realised_rate.p50 is exactly this
    clamp_8h: float = 0.0005  # Binance
    cap_8h: float = 0.003  # assumption (Binance caps vary by contract)
    estimate_every_s: float = 60.0
    mark_every_ms: int = 1000  # Binance markPrice@1s
    # per venue (assumptions, see the module docstring): constant premium offsets, and own basis noise
    venue_premium_bps: tuple[tuple[str, float], ...] = ()  # (venue, offset) pairs; others 0
    venue_basis_std_bps: float = 1.0
    venue_basis_half_life_s: float = 8 * 3600.0

    def premium_offset_bps(self, venue: str) -> float:
        return sum(offset for name, offset in self.venue_premium_bps if name == venue)

    def funding_rate(self, premium: float) -> float:
        """Funding rate of one period for the period-average ``premium`` (fractions, not bps).

        Binance's 8-hour formula ``P + clamp(I - P, ±0.05 %)``, divided by ``8 / interval`` for shorter
        intervals (as Binance does for its 4 h and 1 h contracts), so the carry per day does not depend
        on how often it is paid.
        """
        scale = self.funding_interval_h / 8.0
        rate = premium + min(max(self.interest_8h - premium, -self.clamp_8h), self.clamp_8h)
        return min(max(rate, -self.cap_8h), self.cap_8h) * scale


class Basis:
    """The basis of one asset's perpetuals over spot (fraction), on a 1 s grid, interpolated."""

    def __init__(self, params: PerpParams, start_ns: int, end_ns: int, rng: np.random.Generator) -> None:
        seconds = (end_ns - start_ns) // S + 2
        self._start = start_ns
        self._t = np.arange(seconds, dtype=np.float64)
        noise = ou_path(seconds, params.basis_std_bps * 1e-4, params.basis_half_life_s, rng)
        self._basis = params.basis_mean_bps * 1e-4 + noise

    def __call__(self, ts: IntArray) -> FloatArray:
        return np.interp((ts - self._start) / S, self._t, self._basis)

    def for_venue(self, params: PerpParams, venue: str, rng: np.random.Generator) -> Basis:
        """This basis plus ``venue``'s own premium offset and noise (itself when both are zero, so no
        random number is drawn and the shared path stays what it was)."""
        offset, std = params.premium_offset_bps(venue), params.venue_basis_std_bps
        if offset == 0 and std == 0:
            return self
        own = copy.copy(self)
        noise = ou_path(len(self._t), std * 1e-4, params.venue_basis_half_life_s, rng) if std else 0.0
        own._basis = self._basis + offset * 1e-4 + noise
        return own


class PerpPrices:
    """Fair value of one venue's perpetual and the index it is measured against."""

    def __init__(self, spot: DisplayedPrice, basis: Basis, index_sources: Sequence[DisplayedPrice]) -> None:
        self._spot = spot
        self._basis = basis
        self._sources = list(index_sources)

    def mid(self, ts: IntArray) -> FloatArray:
        return self._spot.mid(ts, dislocated=False) * (1.0 + self._basis(ts))

    def index(self, ts: IntArray) -> FloatArray:
        return np.median(np.stack([source.mid(ts) for source in self._sources]), axis=0)


@dataclass(frozen=True, slots=True, eq=False)
class FundingPlan:
    """Mark, index and funding of one perpetual, decided up front (``records`` counts them)."""

    mark_ns: IntArray
    mark_ticks: IntArray
    index_ticks: IntArray
    estimates: tuple[tuple[int, float, int], ...]  # (ts_ns, rate, funding_ts_ns)
    realised: tuple[tuple[int, float], ...]  # (funding_ts_ns, rate)

    @property
    def records(self) -> int:
        return len(self.mark_ns) + len(self.estimates) + len(self.realised)


def plan_funding(params: PerpParams, inst: Instrument, prices: PerpPrices, start_ns: int, end_ns: int) -> FundingPlan:
    step = params.mark_every_ms * 1_000_000
    mark_ns = np.arange(start_ns, end_ns, step, dtype=np.int64)
    tick = float(inst.tick_size)
    mark, index = prices.mid(mark_ns), prices.index(mark_ns)
    cumulative = np.concatenate(([0.0], np.cumsum((mark - index) / index))).tolist()
    interval = round(params.funding_interval_h * HOUR_NS)
    # Funding times are whole multiples of the interval since the epoch (00:00, 08:00, 16:00 UTC).
    first = -(-(start_ns + 1) // interval) * interval
    funding_times = list(range(first, end_ns, interval))
    targets = [*funding_times, first + interval * len(funding_times)]  # the last estimates look ahead
    edges = [start_ns - 1, *funding_times, end_ns]  # period k averages the marks in (edges[k], edges[k + 1]]
    every = max(1, round(params.estimate_every_s * S / step))
    estimates: list[tuple[int, float, int]] = []
    realised: list[tuple[int, float]] = []
    times = mark_ns.tolist()
    for k, target in enumerate(targets):
        lo = int(np.searchsorted(mark_ns, edges[k], side="right"))
        hi = int(np.searchsorted(mark_ns, edges[k + 1], side="right"))
        for i in range(lo + every - 1, hi, every):
            if times[i] < target:  # the estimate so far: the formula on the average premium until now
                estimates.append(
                    (times[i], params.funding_rate((cumulative[i + 1] - cumulative[lo]) / (i + 1 - lo)), target)
                )
        if k < len(funding_times) and hi > lo:
            realised.append((target, params.funding_rate((cumulative[hi] - cumulative[lo]) / (hi - lo))))
    return FundingPlan(
        mark_ns=mark_ns,
        mark_ticks=np.rint(mark / tick).astype(np.int64),
        index_ticks=np.rint(index / tick).astype(np.int64),
        estimates=tuple(estimates),
        realised=tuple(realised),
    )


def funding_records(inst: Instrument, plan: FundingPlan) -> Iterator[MarketData]:
    """Marks, realised funding and estimates in time order; at one instant in that order, so the venue
    values positions at the mark of the funding time."""
    iid, price = inst.id, inst.price
    marks = (
        (ts, 0, m, i)
        for ts, m, i in zip(plan.mark_ns.tolist(), plan.mark_ticks.tolist(), plan.index_ticks.tolist(), strict=True)
    )
    realised = ((ts, 1, rate, ts) for ts, rate in plan.realised)
    estimates = ((ts, 2, rate, target) for ts, rate, target in plan.estimates)
    for ts, rank, a, b in heapq.merge(marks, realised, estimates):
        if rank == 0:
            yield MarkPrice(iid, ts, price(int(a)), price(int(b)))
        else:
            yield FundingRate(iid, ts, Decimal(round(a * 10**_RATE_PLACES)).scaleb(-_RATE_PLACES), int(b))
