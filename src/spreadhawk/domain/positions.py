"""Positions: the signed sum of an instrument's unique fills, with average-cost realised PnL."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from spreadhawk.domain.events import OrderFilled
from spreadhawk.domain.identifiers import InstrumentId

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Position:
    instrument_id: InstrumentId
    contract_size: Decimal = Decimal(1)
    quantity: Decimal = ZERO  # signed: long > 0, short < 0
    avg_price: Decimal = ZERO  # average entry price of the open quantity
    realized_pnl: Decimal = ZERO  # before fees, in the settlement currency
    fees: Decimal = ZERO
    trade_ids: frozenset[str] = frozenset()

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
        if fill.trade_id in self.trade_ids:
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
            trade_ids=self.trade_ids | {fill.trade_id},
        )
