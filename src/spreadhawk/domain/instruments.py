"""Instruments: what can be traded, and the exchange rules that bound an order.

Prices and sizes in hot-path market data are integers: a price is a count of ``tick_size`` and a
book size a count of ``size_increment``. The instrument converts between those integers and exact
``Decimal`` values, so orders, fills and the ledger stay exact while the book stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from spreadhawk.domain.identifiers import InstrumentId, instrument_id


class InstrumentKind(StrEnum):
    SPOT = "spot"
    PERPETUAL = "perpetual"
    BINARY = "binary"  # pays 1 unit of settlement currency if the outcome happens, else 0


@dataclass(frozen=True, slots=True)
class Instrument:
    venue: str
    symbol: str
    kind: InstrumentKind
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)
    settlement: str = ""  # currency of PnL, fees and funding; defaults to ``quote``
    size_increment: Decimal = Decimal(0)  # precision of book sizes; defaults to ``lot_size``
    expiry_ns: int | None = None  # binary outcomes settle at expiry
    # What a fee is rounded to (half to even): exchanges book commissions at the asset's precision
    # (Binance: 8 decimals), so a fill's fee is a number the venue could have charged.
    fee_precision: Decimal = Decimal("1e-8")
    id: InstrumentId = field(init=False)

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.lot_size <= 0:
            raise ValueError(f"{self.symbol}: tick_size and lot_size must be positive")
        if self.contract_size <= 0:
            raise ValueError(f"{self.symbol}: contract_size must be positive")
        object.__setattr__(self, "id", instrument_id(self.venue, self.symbol))
        if not self.settlement:
            object.__setattr__(self, "settlement", self.quote)
        if self.size_increment == 0:
            object.__setattr__(self, "size_increment", self.lot_size)
        if self.size_increment <= 0:
            raise ValueError(f"{self.symbol}: size_increment must be positive")
        if self.fee_precision <= 0:
            raise ValueError(f"{self.symbol}: fee_precision must be positive")

    # --- integer <-> exact conversions -------------------------------------------------
    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def ticks(self, price: Decimal | str | float) -> int:
        """Nearest tick count of ``price`` (floats are read through their shortest repr)."""
        value = Decimal(repr(price)) if isinstance(price, float) else Decimal(price)
        return int((value / self.tick_size).to_integral_value(rounding=ROUND_HALF_EVEN))

    def size(self, units: int) -> Decimal:
        return units * self.size_increment

    def units(self, size: Decimal | str | float) -> int:
        value = Decimal(repr(size)) if isinstance(size, float) else Decimal(size)
        return int((value / self.size_increment).to_integral_value(rounding=ROUND_HALF_EVEN))

    # --- order rules ------------------------------------------------------------------
    def round_lot_down(self, quantity: Decimal) -> Decimal:
        lots = (quantity / self.lot_size).to_integral_value(rounding=ROUND_DOWN)
        return lots * self.lot_size

    def notional(self, quantity: Decimal, price: Decimal) -> Decimal:
        return quantity * price * self.contract_size

    def fee(self, quantity: Decimal, price: Decimal, rate: Decimal) -> Decimal:
        """The fee of a fill, in the settlement currency, at the venue's precision."""
        return (quantity * price * self.contract_size * rate).quantize(self.fee_precision, rounding=ROUND_HALF_EVEN)

    def check_order(self, quantity: Decimal, price: Decimal | None) -> str | None:
        """The exchange-rule violation of an order, or ``None`` when it is acceptable."""
        if quantity <= 0:
            return f"quantity {quantity} must be positive"
        if quantity % self.lot_size != 0:
            return f"quantity {quantity} is not a multiple of lot size {self.lot_size}"
        if price is not None:
            if price <= 0:
                return f"price {price} must be positive"
            if price % self.tick_size != 0:
                return f"price {price} is not a multiple of tick size {self.tick_size}"
            if self.notional(quantity, price) < self.min_notional:
                return f"notional {self.notional(quantity, price)} is below min notional {self.min_notional}"
        return None
