"""Positions: the signed sum of an instrument's unique fills, with average-cost realised PnL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import islice
from typing import Any

from spreadhawk.domain.events import OrderFilled
from spreadhawk.domain.identifiers import InstrumentId

ZERO = Decimal(0)


class TradeIds(Set[str]):
    """The trade ids a position has applied: an immutable set whose ``add`` costs O(1).

    A position's successive versions share one insertion-ordered index (trade id -> the order it
    was added in); a version sees the first ``count`` of them. Adding to the newest version extends
    the shared index; adding to an older one (a branch: rare) copies its part first. So a run of a
    million fills no longer copies a growing set at every fill (it made a backtest's cost grow with
    the square of its fills), and every version still reads as the set it was."""

    __slots__ = ("_count", "_index")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        index: dict[str, int] = {}
        for trade_id in ids:
            index.setdefault(trade_id, len(index))
        self._index = index
        self._count = len(index)

    @classmethod
    def _view(cls, index: dict[str, int], count: int) -> TradeIds:
        view = cls.__new__(cls)
        view._index, view._count = index, count
        return view

    def __contains__(self, trade_id: object) -> bool:
        position = self._index.get(trade_id) if isinstance(trade_id, str) else None
        return position is not None and position < self._count

    def __iter__(self) -> Iterator[str]:
        return islice(self._index, self._count)  # insertion order: the first ``count`` are this version's

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"TradeIds({sorted(self)!r})"

    __hash__ = Set._hash

    @classmethod
    def _from_iterable(cls, it: Iterable[Any]) -> frozenset[Any]:
        return frozenset(it)  # set algebra (|, &, -) gives plain frozensets

    def add(self, trade_id: str) -> TradeIds:
        """This set with ``trade_id`` (itself when it is already in)."""
        if trade_id in self:
            return self
        index = self._index
        if self._count == 0:
            index = {}  # an empty set (the shared default among them) starts an index of its own
        elif len(index) != self._count:  # an older version: branch off with a copy of its own part
            index = dict(islice(index.items(), self._count))
        index[trade_id] = self._count
        return TradeIds._view(index, self._count + 1)


@dataclass(frozen=True, slots=True)
class Position:
    instrument_id: InstrumentId
    contract_size: Decimal = Decimal(1)
    quantity: Decimal = ZERO  # signed: long > 0, short < 0
    avg_price: Decimal = ZERO  # average entry price of the open quantity
    realized_pnl: Decimal = ZERO  # before fees, in the settlement currency
    fees: Decimal = ZERO
    trade_ids: Set[str] = TradeIds()  # a TradeIds (any set given is turned into one)

    def __post_init__(self) -> None:
        if not isinstance(self.trade_ids, TradeIds):
            object.__setattr__(self, "trade_ids", TradeIds(self.trade_ids))

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return (price - self.avg_price) * self.quantity * self.contract_size

    def settle(self, price: Decimal) -> Position:
        """Flat after settlement at ``price``: the open quantity realises (price - entry) PnL."""
        realized = self.realized_pnl + (price - self.avg_price) * self.quantity * self.contract_size
        return replace(self, quantity=ZERO, avg_price=ZERO, realized_pnl=realized)

    def apply_fill(self, fill: OrderFilled) -> Position:
        """Next position after ``fill``; a fill already applied (same trade id) changes nothing."""
        if fill.instrument_id != self.instrument_id:
            raise ValueError(f"fill for {fill.instrument_id} applied to position in {self.instrument_id}")
        ids = self.trade_ids
        assert isinstance(ids, TradeIds)  # __post_init__ makes it one
        if fill.trade_id in ids:
            return self
        if fill.quantity <= 0:
            raise ValueError(f"fill {fill.trade_id}: quantity {fill.quantity} must be positive")
        signed = fill.quantity * fill.side.sign
        qty, avg, realized = self.quantity, self.avg_price, self.realized_pnl
        new_qty = qty + signed
        if qty == 0 or (qty > 0) == (signed > 0):
            # opening or adding: the entry price is the quantity-weighted average
            avg = (avg * abs(qty) + fill.price * abs(signed)) / abs(new_qty)
        else:
            closed = min(abs(signed), abs(qty))
            direction = 1 if qty > 0 else -1
            realized += (fill.price - avg) * closed * direction * self.contract_size
            if new_qty == 0:
                avg = ZERO
            elif (new_qty > 0) != (qty > 0):
                avg = fill.price  # flipped through zero: the remainder opened at this fill's price
        return replace(
            self,
            quantity=new_qty,
            avg_price=avg,
            realized_pnl=realized,
            fees=self.fees + fill.fee,
            trade_ids=ids.add(fill.trade_id),
        )
