"""The trading emulator's answers in Polymarket's wire format: orders, trades, user-channel events.

Amounts are decimal strings (shares and USDC), timestamps as Polymarket sends them: ``created_at``,
``match_time`` and ``last_update`` in seconds, user-channel ``timestamp`` in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["EmulatedOrder", "Fill", "order_event", "order_wire", "trade_wire"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


@dataclass
class EmulatedOrder:
    id: str
    owner: str  # API key
    maker_address: str
    market: str
    asset_id: str
    outcome: str
    side: str  # BUY / SELL
    price: Decimal
    original_size: Decimal
    order_type: str  # GTC / GTD / FOK / FAK
    created_ns: int
    expiration: int = 0
    size_matched: Decimal = Decimal(0)
    status: str = "LIVE"  # LIVE, MATCHED (filled), CANCELED
    associate_trades: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.original_size - self.size_matched


@dataclass(frozen=True)
class Fill:
    """One match of one of our orders (against recorded liquidity or a print)."""

    trade_id: str
    order: EmulatedOrder
    size: Decimal
    price: Decimal
    fee_rate_bps: int  # the rate the taker pays (0 on our maker fills)
    trader_side: str  # TAKER or MAKER: which side of the trade our order was
    counterparty_order: str  # the other side's order id (synthetic: recorded liquidity)
    ts_ns: int


def order_wire(order: EmulatedOrder) -> dict[str, Any]:
    """``GET /data/order/{id}`` and the rows of ``GET /data/orders``."""
    return {
        "id": order.id,
        "status": order.status,
        "owner": order.owner,
        "maker_address": order.maker_address,
        "market": order.market,
        "asset_id": order.asset_id,
        "side": order.side,
        "original_size": str(order.original_size),
        "size_matched": str(order.size_matched),
        "price": str(order.price),
        "outcome": order.outcome,
        "expiration": str(order.expiration),
        "order_type": order.order_type,
        "associate_trades": list(order.associate_trades),
        "created_at": order.created_ns // NS_PER_S,
    }


def order_event(order: EmulatedOrder, kind: str, ts_ns: int) -> dict[str, Any]:
    """A user-channel ``order`` event: ``kind`` is PLACEMENT, UPDATE or CANCELLATION."""
    return {
        "event_type": "order",
        "type": kind,
        "id": order.id,
        "owner": order.owner,
        "order_owner": order.owner,
        "market": order.market,
        "asset_id": order.asset_id,
        "side": order.side,
        "price": str(order.price),
        "original_size": str(order.original_size),
        "size_matched": str(order.size_matched),
        "outcome": order.outcome,
        "order_type": order.order_type,
        "associate_trades": list(order.associate_trades),
        "timestamp": str(ts_ns // NS_PER_MS),
    }


def _opposite(side: str) -> str:
    return "SELL" if side == "BUY" else "BUY"


def trade_wire(fill: Fill, status: str, user_channel: bool) -> dict[str, Any]:
    """A trade of ``GET /data/trades``, or (``user_channel``) a ``trade`` event of the user channel.

    As Polymarket reports them: a taker trade carries our order as ``taker_order_id`` and the resting
    orders it took as ``maker_orders``; a maker trade (ours rested) lists ours among ``maker_orders``
    and the top-level ``side``/``size`` are the taker's. ``trader_side`` says which one we were.
    """
    order = fill.order
    ours_is_taker = fill.trader_side == "TAKER"
    maker_order = {
        "order_id": fill.counterparty_order if ours_is_taker else order.id,
        "owner": "" if ours_is_taker else order.owner,
        "maker_address": "" if ours_is_taker else order.maker_address,
        "matched_amount": str(fill.size),
        "price": str(fill.price),
        "fee_rate_bps": "0",
        "asset_id": order.asset_id,
        "outcome": order.outcome,
        "side": _opposite(order.side) if ours_is_taker else order.side,
    }
    wire: dict[str, Any] = {
        "id": fill.trade_id,
        "taker_order_id": order.id if ours_is_taker else fill.counterparty_order,
        "market": order.market,
        "asset_id": order.asset_id,
        "side": order.side if ours_is_taker else _opposite(order.side),
        "size": str(fill.size),
        "fee_rate_bps": str(fill.fee_rate_bps),
        "price": str(fill.price),
        "status": status,
        "match_time": str(fill.ts_ns // NS_PER_S),
        "last_update": str(fill.ts_ns // NS_PER_S),
        "outcome": order.outcome,
        "bucket_index": 0,
        "owner": order.owner,
        "maker_address": order.maker_address,
        "transaction_hash": "0x" + fill.trade_id.replace("-", "").ljust(64, "0"),
        "maker_orders": [maker_order],
        "trader_side": fill.trader_side,
    }
    if user_channel:
        wire |= {"event_type": "trade", "type": "TRADE", "matchtime": wire["match_time"]}
        wire |= {"trade_owner": order.owner, "timestamp": str(fill.ts_ns // NS_PER_MS)}
    return wire
