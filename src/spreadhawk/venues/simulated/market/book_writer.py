"""The write stage of a simulated venue's L2 book (the plan is ``books.plan_book``; see ``books``).

A persistent book per side, ``levels`` levels deep, follows the plan: on each update, levels better
than the new touch are removed, new ones appear between the new touch and the old one, the far end
is trimmed or extended back to ``levels`` and a few random levels are re-sized; trades take at most
the touch. Every change goes out as a sequenced ``BookDeltas`` (absolute sizes, 0 deletes).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, Level, MarketData, TradeTick
from spreadhawk.venues.simulated.market.books import BookPlan, FloatArray
from spreadhawk.venues.simulated.market.venues import BookProfile

_CHUNK = 8192


def writer_params(profile: BookProfile, inst: Instrument, price: float, rng: np.random.Generator) -> BookWriterParams:
    spacing = max(1.0, profile.level_spacing_bps * 1e-4 * price / float(inst.tick_size))
    return BookWriterParams(
        levels=profile.levels,
        spacing_ticks=spacing,
        touch_notional=profile.touch_notional,
        touch_sigma=profile.touch_sigma,
        level_notional=tuple(
            profile.level_notional * profile.level_growth ** max(0, i - 1) for i in range(profile.levels)
        ),
        level_sigma=profile.level_sigma,
        seed=int(rng.integers(2**63)),
    )


@dataclass(frozen=True, slots=True)
class BookWriterParams:
    levels: int
    spacing_ticks: float  # mean gap between levels (geometric, >= 1 tick)
    touch_notional: float
    touch_sigma: float
    level_notional: tuple[float, ...]  # median size by position (index 0 unused: the touch)
    level_sigma: float
    seed: int
    min_bid: int = 1  # price bounds in ticks (binary outcomes trade strictly inside 0..1)
    max_ask: int = 2**62


def _draws(make: Callable[[int], npt.NDArray[np.generic]]) -> Iterator[Any]:
    """Endless draws, generated a chunk at a time (one numpy call per chunk, not per level)."""
    while True:
        yield from make(_CHUNK).tolist()


def _lognormal(rng: np.random.Generator, sigma: float, n: int) -> FloatArray:
    """Median-1 lognormal factors, cut at 3 sigma: one draw must not put a wall thousands of times
    the median into the book."""
    return np.exp(np.clip(rng.standard_normal(n), -3, 3) * sigma)


class _Side:
    """One side as keys ascending from the touch: key = -price for bids, price for asks."""

    __slots__ = ("key_max", "keys", "sign", "sizes")

    def __init__(self, sign: int, key_max: int) -> None:
        self.sign = sign
        self.key_max = key_max
        self.keys: list[int] = []
        self.sizes: dict[int, int] = {}

    def levels(self) -> tuple[Level, ...]:
        sign, sizes = self.sign, self.sizes
        return tuple([(sign * k, sizes[k]) for k in self.keys])


class BookWriter:
    """Writes the records of one book from its plan (see the module docstring)."""

    def __init__(self, inst: Instrument, plan: BookPlan, params: BookWriterParams) -> None:
        self.inst = inst
        self.plan = plan
        self.p = params
        self._start()

    def _start(self) -> None:
        """Fresh state and draws: every iteration writes the same records."""
        params = self.p
        rng = np.random.default_rng(params.seed)
        p_gap = 1.0 / params.spacing_ticks
        # Bound ``__next__`` of endless generators of pre-drawn chunks: the cheapest per-level draw.
        self._gap: Callable[[], int] = _draws(lambda n: rng.geometric(p_gap, n)).__next__
        self._touch: Callable[[], float] = _draws(partial(_lognormal, rng, params.touch_sigma)).__next__
        self._level: Callable[[], float] = _draws(partial(_lognormal, rng, params.level_sigma)).__next__
        self._uniform: Callable[[], float] = _draws(rng.random).__next__
        self.bids = _Side(-1, -params.min_bid)
        self.asks = _Side(1, params.max_ask)

    def __iter__(self) -> Iterator[MarketData]:
        self._start()
        plan, iid = self.plan, self.inst.id
        bids, asks = self.bids, self.asks
        update_ns, best_bid, best_ask = plan.update_ns.tolist(), plan.best_bid.tolist(), plan.best_ask.tolist()
        scales, refreshes = plan.size_scale.tolist(), plan.refreshes.tolist()
        trade_ns, trade_buy, trade_units = plan.trade_ns.tolist(), plan.trade_buy.tolist(), plan.trade_units.tolist()
        scale = scales[0]
        self._move(bids, -best_bid[0], scale, {})
        self._move(asks, best_ask[0], scale, {})
        seq = 1
        yield BookSnapshot(iid, update_ns[0], seq, bids.levels(), asks.levels())
        u, n_updates, t, n_trades = 1, len(update_ns), 0, len(trade_ns)
        while u < n_updates or t < n_trades:
            if t >= n_trades or (u < n_updates and update_ns[u] <= trade_ns[t]):
                scale = scales[u]
                bid_out: dict[int, int] = {}
                ask_out: dict[int, int] = {}
                self._move(bids, -best_bid[u], scale, bid_out)
                self._move(asks, best_ask[u], scale, ask_out)
                self._refresh(refreshes[u], scale, bid_out, ask_out)
                ts = update_ns[u]
                u += 1
            else:
                buy = trade_buy[t]
                side = asks if buy else bids
                out: dict[int, int] = {}
                ts = trade_ns[t]
                price, size = self._take(side, trade_units[t], scale, out)
                aggressor = Aggressor.BUYER if buy else Aggressor.SELLER
                t += 1
                yield TradeTick(iid, ts, price, size, aggressor, str(t))
                bid_out, ask_out = ({}, out) if buy else (out, {})
            changed = len(bid_out) + len(ask_out)
            yield BookDeltas(iid, ts, seq + 1, seq + changed, seq, tuple(bid_out.items()), tuple(ask_out.items()))
            seq += changed

    # ------------------------------------------------------------------ one side
    # The loops below inline the size draws: they run for most of the levels the simulator writes.
    def _move(self, side: _Side, touch: int, scale: float, out: dict[int, int]) -> None:
        keys, sizes, sign = side.keys, side.sizes, side.sign
        cut = 0
        if keys and keys[0] < touch:  # levels better than the new touch are gone
            cut = bisect_left(keys, touch)
            for k in keys[:cut]:
                del sizes[k]
                out[sign * k] = 0
            del keys[:cut]
        p = self.p
        levels, gap, draw, medians = p.levels, self._gap, self._level, p.level_notional
        if not keys or keys[0] != touch:
            limit = keys[0] if keys else side.key_max + 1
            sizes[touch] = out[sign * touch] = int(p.touch_notional * self._touch() * scale) or 1
            new = [touch]
            pos = 1
            k = touch + gap()
            while k < limit and pos < levels:
                sizes[k] = out[sign * k] = int(medians[pos] * draw() * scale) or 1
                new.append(k)
                pos += 1
                k += gap()
            keys[0:0] = new
            if not cut and pos < levels and pos < len(keys):
                self._resize(side, pos, scale, out)  # market makers left the old best price
        elif cut:
            self._resize(side, 0, scale, out)  # a level behind became the best price: they joined it
        count = len(keys)
        if count > levels:
            for k in keys[levels:]:
                del sizes[k]
                out[sign * k] = 0
            del keys[levels:]
        elif count < levels:
            k, key_max = keys[-1], side.key_max
            for pos in range(count, levels):
                k += gap()
                if k > key_max:
                    break
                sizes[k] = out[sign * k] = int(medians[pos] * draw() * scale) or 1
                keys.append(k)

    def _resize(self, side: _Side, pos: int, scale: float, out: dict[int, int]) -> None:
        """New size for the level at ``pos`` (0 = the touch); never its current size, so a delta
        lists only levels that really change."""
        k = side.keys[pos]
        draw = self._touch() if pos == 0 else self._level()
        median = self.p.touch_notional if pos == 0 else self.p.level_notional[pos]
        size = int(median * draw * scale) or 1
        side.sizes[k] = out[side.sign * k] = size + 1 if size == side.sizes[k] else size

    def _refresh(self, count: int, scale: float, bid_out: dict[int, int], ask_out: dict[int, int]) -> None:
        # At least one change, so every planned update is a message (the record count is exact).
        for _ in range(max(1, count)):
            draw = self._uniform()
            side, out = (self.bids, bid_out) if draw < 0.5 else (self.asks, ask_out)
            self._resize(side, int((draw * 2 % 1) * len(side.keys)), scale, out)

    def _take(self, side: _Side, wanted: int, scale: float, out: dict[int, int]) -> tuple[int, int]:
        keys, sizes, sign = side.keys, side.sizes, side.sign
        k = keys[0]
        available = sizes[k]
        size = min(available, wanted)
        if size < available:
            sizes[k] = out[sign * k] = available - size
        elif len(keys) > 1:
            del sizes[k]
            del keys[0]
            out[sign * k] = 0
            self._move(side, keys[0], scale, out)  # refill the far end back to ``levels``
        else:  # never empty a side: the level is replenished at once
            self._resize(side, 0, scale, out)
        return sign * k, size
