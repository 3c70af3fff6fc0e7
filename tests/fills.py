"""Fills and positions built by hand, for the value tests of the money paths (ledger, positions,
portfolio, the simulated account): one ``OrderFilled`` of a strategy's order, and the position a
series of them opens."""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.positions import Position


def fill(
    inst: Instrument,
    side: OrderSide,
    qty: str,
    price: str,
    trade_id: str = "t1",
    fee: str = "0",
    fee_ccy: str = "",
    *,
    ts_ns: int = 7,
) -> OrderFilled:
    """A taker fill of order ``s-1``; the fee in ``fee_ccy`` (default: the instrument's settlement)."""
    return OrderFilled(
        ts_ns=ts_ns,
        client_order_id=ClientOrderId("s-1"),
        venue_order_id="v1",
        trade_id=trade_id,
        instrument_id=inst.id,
        side=side,
        quantity=Decimal(qty),
        price=Decimal(price),
        fee=Decimal(fee),
        fee_currency=fee_ccy or inst.settlement,
        liquidity=Liquidity.TAKER,
    )


def position(inst: Instrument, *fills: OrderFilled) -> Position:
    """The position ``fills`` open, from flat."""
    pos = Position(inst.id, contract_size=inst.contract_size)
    for f in fills:
        pos = pos.apply_fill(f)
    return pos
