"""What a venue says about an account: snapshots, balance changes, order status reports.

The engine never books a balance by hand: it learns the opening state of each venue's account from
the venue's ``AccountSnapshot``, balance changes it did not cause (a deposit from outside, a
withdrawal made on the exchange's web page) from ``BalanceAdjusted``, and what the venue holds free
for new orders from ``FreeBalances`` (what Binance's ``outboundAccountPosition`` carries). Order
status reports answer ``query_order`` and ``open_orders`` during reconciliation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.domain.events import OrderSide, OrderType, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId


@dataclass(frozen=True, slots=True)
class AssetBalance:
    asset: str
    total: Decimal  # everything held, locked included
    free: Decimal  # what a new order may use (total less locked by orders and held as margin)


@dataclass(frozen=True, slots=True)
class PositionReport:
    instrument_id: InstrumentId
    quantity: Decimal  # signed contracts (perpetuals); spot holdings are balances
    avg_price: Decimal


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The whole account of one venue at ``ts_ns`` (balances sorted by asset, positions by instrument)."""

    ts_ns: int
    venue: str
    balances: tuple[AssetBalance, ...]
    positions: tuple[PositionReport, ...] = ()

    def balance(self, asset: str) -> AssetBalance | None:
        for held in self.balances:
            if held.asset == asset:
                return held
        return None


@dataclass(frozen=True, slots=True)
class BalanceAdjusted:
    """A balance change the venue reports that no order of ours caused (Binance ``balanceUpdate``):
    a deposit from outside (positive) or a withdrawal we did not ask for (negative)."""

    ts_ns: int
    venue: str
    asset: str
    amount: Decimal  # signed
    reference: str


@dataclass(frozen=True, slots=True)
class FreeBalances:
    """What the venue holds free for new orders after a change, for the assets that changed."""

    ts_ns: int
    venue: str
    free: tuple[tuple[str, Decimal], ...]  # (asset, free), sorted by asset


@dataclass(frozen=True, slots=True)
class OrderReport:
    """One order as the venue knows it (answers ``query_order`` and ``open_orders``)."""

    ts_ns: int
    client_order_id: ClientOrderId
    venue_order_id: str
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    filled_quantity: Decimal
    is_open: bool  # still working at the venue (accepted or partly filled)


AccountEvent = AccountSnapshot | BalanceAdjusted | FreeBalances
