"""Triangular (multi-leg, one venue) arbitrage: the conversion graph, its cycles, quoting and sizing.

Every spot market ``BASE/QUOTE`` gives two edges: sell base for quote at the bids, and buy base with
quote at the asks. A cycle is a closed path of 3 (or 4) edges through distinct assets; converting an
amount of its start asset along it and back yields a profit when the product of the leg rates,
net of taker fees, exceeds 1.

* ``ConversionGraph.cycles`` enumerates simple cycles once per rotation (the same cycle started at
  another asset is not listed again); both directions of a triangle are distinct cycles.
* ``cycle_index`` maps each market to the cycles that use it, so a book update re-quotes only those.
* ``evaluate`` quotes a cycle at the touch in floats (``analytics.cycle_table`` re-quotes many at
  once, on every book update: ``profitable`` and ``CycleTable``).
* ``size`` walks depth along the whole path in exact ``Decimal``: slices are taken while the product
  of the current levels' net rates still beats ``1 + min_profit_bps``; the amount found is then
  executed leg by leg with each quantity rounded down to its lot, and every leg checked against its
  min notional at its limit price.

Fee model: the taker fee is charged on what a leg receives (Binance and Poloniex spot default), so
a leg's net rate is ``bid * (1 - fee)`` when selling base and ``(1 - fee) / ask`` when buying it.
Lot rounding leaves small remainders of intermediate assets ("dust"); a plan reports them and does
not count them in its profit, which is measured in the start asset only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Protocol

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSide, Level

__all__ = [
    "BookView",
    "ConversionGraph",
    "Cycle",
    "CyclePlan",
    "CycleQuote",
    "Edge",
    "Leg",
    "cycle_index",
    "evaluate",
    "size",
]

ZERO = Decimal(0)
ONE = Decimal(1)
WALK_DEPTH = 100  # levels per book a plan may sweep
_PRECISION = 50  # digits of the Decimal context while sizing (divisions by prices are inexact)


class BookView(Protocol):
    """What quoting and sizing read from a book (``domain.orderbook.OrderBook`` satisfies it)."""

    @property
    def is_valid(self) -> bool: ...
    def best_bid(self) -> Level | None: ...
    def best_ask(self) -> Level | None: ...
    def levels(self, side: BookSide, depth: int | None = None) -> list[Level]: ...


class Books(Protocol):
    def get(self, key: InstrumentId, /) -> BookView | None: ...


@dataclass(frozen=True, slots=True)
class Edge:
    """One conversion: give ``source``, receive ``target``, on ``instrument``.

    ``side`` is the book side taken: ``ASK`` buys base with quote, ``BID`` sells base for quote.
    """

    instrument: Instrument
    source: str
    target: str
    side: BookSide
    tick: float = field(compare=False, repr=False)
    # Derived once, for the per-update quoting loop (attribute reads instead of calls and Decimals).
    market: InstrumentId = field(init=False, compare=False, repr=False)
    buys: bool = field(init=False, compare=False, repr=False)
    keep: float = field(init=False, compare=False, repr=False)  # 1 - taker fee, as a float

    def __post_init__(self) -> None:
        object.__setattr__(self, "market", self.instrument.id)
        object.__setattr__(self, "buys", self.side is BookSide.ASK)
        object.__setattr__(self, "keep", 1.0 - float(self.instrument.taker_fee))

    @property
    def buys_base(self) -> bool:
        return self.buys

    def __str__(self) -> str:
        return f"{self.source}->{self.target} ({'buy' if self.buys_base else 'sell'} {self.instrument.symbol})"


Cycle = tuple[Edge, ...]


@dataclass(frozen=True, slots=True)
class CycleQuote:
    """A cycle priced at the touch: the rates are start asset out per start asset in."""

    cycle: Cycle
    gross_rate: float
    net_rate: float  # after every leg's taker fee

    @property
    def net_bps(self) -> float:
        return (self.net_rate - 1.0) * 10_000


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a plan: ``quantity`` of base at limit ``price`` (the worst level taken)."""

    edge: Edge
    quantity: Decimal
    price: Decimal
    spend: Decimal  # of ``edge.source`` (base sold, or quote paid)
    receive: Decimal  # of ``edge.target``, net of the taker fee


@dataclass(frozen=True, slots=True)
class CyclePlan:
    """Executable legs. ``profit = end_amount - start_amount`` in the start asset; ``dust`` is what lot
    rounding leaves of each intermediate asset (not counted). ``unrounded_start`` is the depth
    walk's optimum before lot rounding."""

    cycle: Cycle
    legs: tuple[Leg, ...]
    start_amount: Decimal
    end_amount: Decimal
    unrounded_start: Decimal
    dust: tuple[tuple[str, Decimal], ...]

    @property
    def start_asset(self) -> str:
        return self.cycle[0].source

    @property
    def profit(self) -> Decimal:
        return self.end_amount - self.start_amount

    @property
    def profit_bps(self) -> Decimal:
        return self.profit / self.start_amount * 10_000


class ConversionGraph:
    """Assets as nodes, two edges per spot market (sell base, buy base)."""

    def __init__(self, edges: Iterable[Edge]) -> None:
        self.out: dict[str, list[Edge]] = {}
        self.markets: dict[InstrumentId, Instrument] = {}
        for edge in edges:
            self.out.setdefault(edge.source, []).append(edge)
            self.out.setdefault(edge.target, [])
            self.markets[edge.instrument.id] = edge.instrument

    @classmethod
    def from_instruments(cls, instruments: Iterable[Instrument]) -> ConversionGraph:
        """The graph of every spot instrument given (other kinds do not convert one asset into another)."""
        edges = []
        for inst in instruments:
            if inst.kind is not InstrumentKind.SPOT or inst.base == inst.quote:
                continue
            tick = float(inst.tick_size)
            edges.append(Edge(inst, inst.base, inst.quote, BookSide.BID, tick))
            edges.append(Edge(inst, inst.quote, inst.base, BookSide.ASK, tick))
        return cls(edges)

    @property
    def assets(self) -> list[str]:
        return sorted(self.out)

    def cycles(self, max_legs: int = 3, start_assets: Sequence[str] | None = None) -> list[Cycle]:
        """Simple cycles of 3..``max_legs`` legs, each listed once (not once per rotation).

        With ``start_assets``, only cycles through one of them, each starting at the first of them it
        contains (in the order given); without, all cycles, each starting at its alphabetically first asset.
        """
        if not 3 <= max_legs <= 4:
            raise ValueError(f"max_legs must be 3 or 4, got {max_legs}")
        roots = self.assets if start_assets is None else list(dict.fromkeys(start_assets))
        found: list[Cycle] = []
        into: dict[str, dict[str, Edge]] = {}  # target -> source -> edge (the leg closing a cycle)
        for edges in self.out.values():
            for edge in edges:
                into.setdefault(edge.target, {})[edge.source] = edge
        excluded: set[str] = set()  # earlier roots: cycles through them were listed from there
        for root in roots:
            if root not in self.out:
                continue
            excluded.add(root)
            self._extend(root, [], {root}, excluded, into.get(root, {}), max_legs, found)
        return found

    def _extend(
        self,
        asset: str,
        path: list[Edge],
        visited: set[str],
        excluded: set[str],
        closing: dict[str, Edge],
        max_legs: int,
        found: list[Cycle],
    ) -> None:
        for edge in self.out[asset]:
            nxt = edge.target
            if nxt in excluded or nxt in visited:
                continue
            path.append(edge)
            if len(path) >= 2:
                back = closing.get(nxt)
                if back is not None:
                    found.append((*path, back))
            if len(path) + 1 < max_legs:
                visited.add(nxt)
                self._extend(nxt, path, visited, excluded, closing, max_legs, found)
                visited.discard(nxt)
            path.pop()


def cycle_index(cycles: Iterable[Cycle]) -> dict[InstrumentId, list[Cycle]]:
    """Market -> the cycles with a leg on it."""
    index: dict[InstrumentId, list[Cycle]] = {}
    for cycle in cycles:
        for edge in cycle:
            index.setdefault(edge.instrument.id, []).append(cycle)
    return index


def _fee(edge: Edge, fees: Mapping[InstrumentId, Decimal] | None) -> Decimal:
    if fees is None:
        return edge.instrument.taker_fee
    return fees.get(edge.instrument.id, edge.instrument.taker_fee)


def evaluate(cycle: Cycle, books: Books, fees: Mapping[InstrumentId, Decimal] | None = None) -> CycleQuote | None:
    """The cycle's rates at the touch, or None when a book is missing, invalid or has an empty side.

    ``fees`` overrides the taker fee of the markets it names (``{iid: 0}`` for a fee-free what-if).
    """
    gross = net = 1.0
    for edge in cycle:
        book = books.get(edge.market)
        if book is None or not book.is_valid:
            return None
        best = book.best_ask() if edge.buys else book.best_bid()
        if best is None:
            return None
        price = best[0] * edge.tick
        rate = 1.0 / price if edge.buys else price
        gross *= rate
        net *= rate * (edge.keep if fees is None else 1.0 - float(_fee(edge, fees)))
    return CycleQuote(cycle, gross, net)


def size(
    cycle: Cycle,
    books: Books,
    start_amount_limit: Decimal,
    *,
    fees: Mapping[InstrumentId, Decimal] | None = None,
    min_profit_bps: Decimal = ZERO,
    depth: int = WALK_DEPTH,
) -> CyclePlan | str:
    """The executable plan, or why there is none: ``book_invalid``, ``unprofitable`` (no slice beats the
    margin), ``below_lot_size``, ``below_min_notional`` or ``unprofitable_after_rounding``."""
    ladders: list[list[tuple[Decimal, Decimal]]] = []  # per leg: (price, size) best first
    for edge in cycle:
        book = books.get(edge.instrument.id)
        if book is None or not book.is_valid:
            return "book_invalid"
        inst = edge.instrument
        ladders.append([(inst.price(p), inst.size(s)) for p, s in book.levels(edge.side, depth)])
    net = [ONE - _fee(edge, fees) for edge in cycle]
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        target = _walk(cycle, ladders, net, start_amount_limit, ONE + min_profit_bps / 10_000)
        if target <= 0:
            return "unprofitable"
        return _execute(cycle, ladders, net, target)


def _walk(
    cycle: Cycle, ladders: list[list[tuple[Decimal, Decimal]]], net: list[Decimal], limit: Decimal, threshold: Decimal
) -> Decimal:
    """Start amount up to which every slice's marginal net rate along the path beats ``threshold``."""

    def level(i: int, j: int) -> tuple[Decimal, Decimal]:  # (input capacity, net rate) of level j of leg i
        price, qty = ladders[i][j]
        if cycle[i].buys_base:
            return price * qty, net[i] / price
        return qty, price * net[i]

    n = len(cycle)
    if any(not ladder for ladder in ladders):
        return ZERO
    idx = [0] * n
    left = [level(i, 0)[0] for i in range(n)]
    rates = [level(i, 0)[1] for i in range(n)]
    used = ZERO
    while used < limit:
        marginal = ONE
        for r in rates:
            marginal *= r
        if marginal <= threshold:
            break
        room = _slice(left, rates, limit - used)
        used += room
        for i in range(n):
            if left[i] <= 0:
                idx[i] += 1
                if idx[i] == len(ladders[i]):
                    return used
                left[i], rates[i] = level(i, idx[i])
    return min(used, limit)


def _slice(left: list[Decimal], rates: list[Decimal], room: Decimal) -> Decimal:
    """Take the largest start amount (at most ``room``) no current level runs out within; update ``left``."""
    binding, scale = -1, ONE  # scale: leg-i input per unit of start asset
    for i, rate in enumerate(rates):
        if left[i] / scale < room:
            room, binding = left[i] / scale, i
        scale *= rate
    amount = room
    for i, rate in enumerate(rates):
        left[i] = ZERO if i == binding else left[i] - amount
        amount *= rate
    return room


def _execute(
    cycle: Cycle, ladders: list[list[tuple[Decimal, Decimal]]], net: list[Decimal], target: Decimal
) -> CyclePlan | str:
    """Legs for ``target`` of the start asset, each quantity rounded down to its lot."""
    legs: list[Leg] = []
    dust: list[tuple[str, Decimal]] = []
    amount = target
    for i, edge in enumerate(cycle):
        inst, ladder = edge.instrument, ladders[i]
        if edge.buys_base:
            affordable, budget = ZERO, amount
            for price, qty in ladder:
                take = min(qty, budget / price)
                affordable += take
                budget -= take * price
                if budget <= 0:
                    break
            quantity = inst.round_lot_down(affordable)
        else:
            quantity = inst.round_lot_down(min(amount, sum((qty for _, qty in ladder), ZERO)))
        if quantity <= 0:
            return "below_lot_size"
        notional, worst = _take(ladder, quantity)
        spend = notional if edge.buys_base else quantity
        receive = (quantity if edge.buys_base else notional) * net[i]
        problem = inst.check_order(quantity, worst)
        if problem is not None:
            return "below_min_notional" if "notional" in problem else "below_lot_size"
        if i > 0:
            dust.append((edge.source, amount - spend))
        legs.append(Leg(edge, quantity, worst, spend, receive))
        amount = receive
    plan = CyclePlan(cycle, tuple(legs), legs[0].spend, amount, target, tuple(dust))
    if plan.profit <= 0:
        return "unprofitable_after_rounding"
    return plan


def _take(ladder: list[tuple[Decimal, Decimal]], quantity: Decimal) -> tuple[Decimal, Decimal]:
    """(notional, worst price) of taking ``quantity`` from ``ladder``, which holds at least that much."""
    notional, remaining, worst = ZERO, quantity, ZERO
    for price, qty in ladder:
        take = min(qty, remaining)
        notional += take * price
        remaining -= take
        worst = price
        if remaining <= 0:
            break
    return notional, worst
