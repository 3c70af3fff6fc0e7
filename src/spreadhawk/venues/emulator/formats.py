"""Binance's JSON objects for the emulator's orders and trades, and the ground-truth answer."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from spreadhawk.venues.emulator.exchange import Order, SpotExchange, Trade

__all__ = ["num", "order_json", "trade_json", "truth_json"]


def num(value: Decimal) -> str:
    """Binance's decimal strings: 8 decimals."""
    return f"{value:.8f}"


def order_json(order: Order, *, time_key: str = "time") -> dict[str, Any]:
    """The ``GET /api/v3/order`` object."""
    answer: dict[str, Any] = {
        "symbol": order.symbol,
        "orderId": order.order_id,
        "orderListId": -1,
        "clientOrderId": order.client_id,
        "price": num(order.price),
        "origQty": num(order.qty),
        "executedQty": num(order.executed),
        "cummulativeQuoteQty": num(order.cumulative_quote),
        "status": order.status,
        "timeInForce": order.time_in_force,
        "type": order.type,
        "side": order.side,
        "stopPrice": num(Decimal(0)),
        "icebergQty": num(Decimal(0)),
        time_key: order.time,
        "updateTime": order.update_time,
        "isWorking": order.status != "PENDING_NEW",
        "workingTime": order.time,
        "origQuoteOrderQty": num(order.quote_qty),
        "selfTradePreventionMode": "NONE",
    }
    if time_key == "transactTime":
        del answer["updateTime"], answer["isWorking"]
    return answer


def trade_json(trade: Trade) -> dict[str, Any]:
    """The ``GET /api/v3/myTrades`` object."""
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "orderListId": -1,
        "price": num(trade.price),
        "qty": num(trade.qty),
        "quoteQty": num(trade.quote_qty),
        "commission": num(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "isBuyer": trade.side == "BUY",
        "isMaker": trade.maker,
        "isBestMatch": True,
    }


def truth_json(exchange: SpotExchange) -> dict[str, Any]:
    """Every order, trade and balance, as the exchange knows them (``GET /emulator/truth``)."""
    return {
        "orders": [
            {
                "clientOrderId": o.client_id,
                "orderId": o.order_id,
                "symbol": o.symbol,
                "side": o.side,
                "type": o.type,
                "status": o.status,
                "price": num(o.price),
                "origQty": num(o.qty),
                "executedQty": num(o.executed),
            }
            for o in exchange.orders.values()
        ],
        "trades": [
            {
                "id": t.trade_id,
                "orderId": t.order_id,
                "symbol": t.symbol,
                "side": t.side,
                "qty": num(t.qty),
                "price": num(t.price),
                "commission": num(t.commission),
                "commissionAsset": t.commission_asset,
                "isMaker": t.maker,
            }
            for t in exchange.trades
        ],
        "balances": {
            asset: {"free": num(b.free), "locked": num(b.locked)} for asset, b in sorted(exchange.balances.items())
        },
    }
