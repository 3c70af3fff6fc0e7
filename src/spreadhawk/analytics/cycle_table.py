"""Re-quoting the cycles touching an updated market, at the touch, in floats (the per-update loop).

* ``profitable`` walks every leg of every cycle given in Python, reading the books each time: no
  state, so it is right whatever changed (the strategy uses it). Fine for the few triangles most
  markets are in, slow for a hub market (BTC/USDT is in 512 Binance triangles and in 2,816 cycles
  of up to 4 legs).
* ``CycleTable`` keeps the net touch rate of every conversion in one float array and the cycles of
  each market as rows of indices into it: a market update rewrites the rates of its two
  conversions (``refresh``), and re-quoting its cycles is one gather and one product.

The rates are a cache: the caller must ``refresh`` every market whose book changed before asking
for the cycles of any of them (the scanner does: it evaluates once an instant is applied, with
every market that changed). The arithmetic is ``profitable``'s (rate times ``1 - fee`` per leg, in
floats); products may differ from it in the last bit, which can only matter for a cycle at exactly
the threshold, and a caller re-checks what it finds in exact ``Decimal`` (``size``) anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from spreadhawk.analytics.triangular import Books, BookView, Cycle, cycle_index
from spreadhawk.domain.identifiers import InstrumentId

__all__ = ["CycleTable", "profitable"]

_ONE_SLOT = 0  # rates[0] = 1.0 pads the rows of cycles shorter than the longest


def profitable(cycles: Sequence[Cycle], books: Books, threshold: float = 1.0) -> list[tuple[int, float]]:
    """``(position in cycles, net rate)`` of every cycle whose net rate at the touch beats ``threshold``.

    The same arithmetic as ``triangular.evaluate`` (so the same decisions), inlined: this runs on every book
    update over every cycle touching the market, and a call and a ``CycleQuote`` per cycle would
    cost more than the arithmetic.
    """
    found: list[tuple[int, float]] = []
    get = books.get
    for position, cycle in enumerate(cycles):
        net = 1.0
        for edge in cycle:
            book = get(edge.market)
            if book is None or not book.is_valid:
                break
            best = book.best_ask() if edge.buys else book.best_bid()
            if best is None:
                break
            price = best[0] * edge.tick
            net *= (1.0 / price if edge.buys else price) * edge.keep
        else:
            if net > threshold:
                found.append((position, net))
    return found


class CycleTable:
    """Float touch rates of the conversions of ``cycles`` and, per market, the cycles with a leg on it."""

    def __init__(self, cycles: Sequence[Cycle]) -> None:
        self.cycles = list(cycles)
        slots: dict[tuple[InstrumentId, bool], int] = {}
        # market -> (tick, 1 - fee, slot of selling base at the bid, slot of buying it at the ask)
        self._legs: dict[InstrumentId, tuple[float, float, int, int]] = {}
        for cycle in self.cycles:
            for edge in cycle:
                if edge.market not in self._legs:
                    sell, buy = 1 + 2 * len(self._legs), 2 + 2 * len(self._legs)
                    self._legs[edge.market] = (edge.tick, edge.keep, sell, buy)
                    slots[edge.market, False], slots[edge.market, True] = sell, buy
        self.rates = np.full(1 + 2 * len(self._legs), np.nan)  # NaN: no valid touch yet
        self.rates[_ONE_SLOT] = 1.0
        width = max((len(c) for c in self.cycles), default=0)
        rows = np.full((len(self.cycles), width), _ONE_SLOT, dtype=np.intp)
        for position, cycle in enumerate(self.cycles):
            rows[position, : len(cycle)] = [slots[edge.market, edge.buys] for edge in cycle]
        positions = {id(cycle): position for position, cycle in enumerate(self.cycles)}
        self._by_market: dict[InstrumentId, tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]] = {}
        for market, touching in cycle_index(self.cycles).items():
            at = np.array([positions[id(cycle)] for cycle in touching], dtype=np.intp)
            self._by_market[market] = (at, rows[at])

    def markets(self) -> set[InstrumentId]:
        """The markets with a leg in some cycle."""
        return set(self._by_market)

    def positions(self, market: InstrumentId) -> npt.NDArray[np.intp]:
        """Positions in ``cycles`` of the cycles with a leg on ``market`` (in ``cycle_index`` order)."""
        entry = self._by_market.get(market)
        return entry[0] if entry is not None else np.empty(0, dtype=np.intp)

    def refresh(self, market: InstrumentId, book: BookView | None) -> None:
        """Re-read the touch of ``market`` (NaN rates while its book is missing, invalid or one-sided)."""
        legs = self._legs.get(market)
        if legs is None:
            return
        tick, keep, sell, buy = legs
        bid = ask = None
        if book is not None and book.is_valid:
            bid, ask = book.best_bid(), book.best_ask()
        # As ``profitable``: the rate of a leg, then times 1 - fee.
        self.rates[sell] = bid[0] * tick * keep if bid is not None else np.nan
        self.rates[buy] = 1.0 / (ask[0] * tick) * keep if ask is not None else np.nan

    def profitable(self, market: InstrumentId, threshold: float = 1.0) -> npt.NDArray[np.intp]:
        """Positions in ``cycles`` of the cycles on ``market`` whose net touch rate beats ``threshold``."""
        entry = self._by_market.get(market)
        if entry is None:
            return np.empty(0, dtype=np.intp)
        at, rows = entry
        net = self.rates[rows].prod(axis=1)
        found: npt.NDArray[np.intp] = at[net > threshold]  # NaN (a book without a touch) is never above
        return found
