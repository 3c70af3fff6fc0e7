"""Binance USD-M's JSON objects for the emulated futures account (derivatives "USDS-M Futures" REST and
user-data-stream pages): orders, user trades, account, position risk, income, and the
``ORDER_TRADE_UPDATE`` / ``ACCOUNT_UPDATE`` stream events. Numbers are strings, as Binance sends them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from spreadhawk.venues.emulator.algo_orders import algo_order_json
from spreadhawk.venues.emulator.exchange import Order, Trade
from spreadhawk.venues.emulator.formats import num
from spreadhawk.venues.emulator.futures_exchange import FuturesExchange, Income

__all__ = [
    "account_json",
    "account_update",
    "futures_order_json",
    "futures_trade_json",
    "futures_truth_json",
    "income_json",
    "order_trade_update",
    "position_risk_json",
]

ZERO = Decimal(0)


def _avg(order: Order) -> Decimal:
    return order.cumulative_quote / order.executed if order.executed else ZERO


def futures_order_json(order: Order) -> dict[str, Any]:
    """The ``GET /fapi/v1/order`` object (the POST and DELETE answers are the same object)."""
    return {
        "orderId": order.order_id,
        "symbol": order.symbol,
        "status": order.status,
        "clientOrderId": order.client_id,
        "price": num(order.price),
        "avgPrice": num(_avg(order)),
        "origQty": num(order.qty),
        "executedQty": num(order.executed),
        "cumQuote": num(order.cumulative_quote),
        "timeInForce": order.time_in_force,
        "type": order.type,
        "origType": order.type,
        "reduceOnly": order.reduce_only,
        "closePosition": False,
        "side": order.side,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "time": order.time,
        "updateTime": order.update_time,
    }


def futures_trade_json(trade: Trade) -> dict[str, Any]:
    """The ``GET /fapi/v1/userTrades`` object."""
    return {
        "symbol": trade.symbol,
        "id": trade.trade_id,
        "orderId": trade.order_id,
        "side": trade.side,
        "price": num(trade.price),
        "qty": num(trade.qty),
        "realizedPnl": num(trade.realized_pnl),
        "quoteQty": num(trade.quote_qty),
        "commission": num(trade.commission),
        "commissionAsset": trade.commission_asset,
        "time": trade.time,
        "positionSide": "BOTH",
        "buyer": trade.side == "BUY",
        "maker": trade.maker,
    }


def position_risk_json(exchange: FuturesExchange, symbol: str) -> dict[str, Any]:
    """One ``GET /fapi/v3/positionRisk`` entry (one-way mode: ``positionSide`` BOTH)."""
    position = exchange.positions[symbol]
    mark = exchange.mark(symbol) or position.entry
    notional = position.qty * mark
    return {
        "symbol": symbol,
        "positionSide": "BOTH",
        "positionAmt": num(position.qty),
        "entryPrice": num(position.entry),
        "breakEvenPrice": num(position.entry),
        "markPrice": num(mark),
        "unRealizedProfit": num(exchange.unrealized(symbol)),
        "liquidationPrice": "0",
        "isolatedMargin": "0",
        "notional": num(notional),
        "marginAsset": exchange.margin_asset,
        "isolatedWallet": "0",
        "initialMargin": num(abs(notional) / exchange.leverage),
        "maintMargin": "0",
        "positionInitialMargin": num(abs(notional) / exchange.leverage),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "leverage": str(exchange.leverage),
        "marginType": "cross",
        "updateTime": exchange.clock(),
    }


def account_json(exchange: FuturesExchange) -> dict[str, Any]:
    """``GET /fapi/v3/account`` (v2 answers the same here): the wallet and every non-flat position."""
    unrealized = sum((exchange.unrealized(s) for s in exchange.positions), ZERO)
    wallet, used = exchange.wallet, exchange.margin_used()
    asset = {
        "asset": exchange.margin_asset,
        "walletBalance": num(wallet),
        "unrealizedProfit": num(unrealized),
        "marginBalance": num(wallet + unrealized),
        "maintMargin": "0",
        "initialMargin": num(used),
        "positionInitialMargin": num(used),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": num(wallet),
        "crossUnPnl": num(unrealized),
        "availableBalance": num(exchange.available()),
        "maxWithdrawAmount": num(exchange.available()),
        "updateTime": exchange.clock(),
    }
    positions = [position_risk_json(exchange, s) for s, p in sorted(exchange.positions.items()) if p.qty]
    return {
        "totalInitialMargin": num(used),
        "totalMaintMargin": "0",
        "totalWalletBalance": num(wallet),
        "totalUnrealizedProfit": num(unrealized),
        "totalMarginBalance": num(wallet + unrealized),
        "totalCrossWalletBalance": num(wallet),
        "totalCrossUnPnl": num(unrealized),
        "availableBalance": num(exchange.available()),
        "maxWithdrawAmount": num(exchange.available()),
        "assets": [asset],
        "positions": positions,
    }


def income_json(income: Income) -> dict[str, Any]:
    """A ``GET /fapi/v1/income`` record."""
    return {
        "symbol": income.symbol,
        "incomeType": income.income_type,
        "income": num(income.amount),
        "asset": income.asset,
        "info": income.income_type,
        "time": income.time,
        "tranId": income.tran_id,
        "tradeId": "",
    }


def order_trade_update(order: Order, exec_type: str, trade: Trade | None, event_ms: int) -> dict[str, Any]:
    """The user stream's ``ORDER_TRADE_UPDATE`` of one order event; ``trade`` is set for TRADE."""
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": event_ms,
        "T": trade.time if trade else order.update_time,
        "o": {
            "s": order.symbol,
            "c": order.client_id,
            "S": order.side,
            "o": order.type,
            "f": order.time_in_force,
            "q": num(order.qty),
            "p": num(order.price),
            "ap": num(_avg(order)),
            "sp": "0",
            "x": exec_type,
            "X": order.status,
            "i": order.order_id,
            "l": num(trade.qty if trade else ZERO),
            "z": num(order.executed),
            "L": num(trade.price if trade else ZERO),
            "N": trade.commission_asset if trade else None,
            "n": num(trade.commission) if trade else "0",
            "T": trade.time if trade else order.update_time,
            "t": trade.trade_id if trade else 0,
            "b": "0",
            "a": "0",
            "m": bool(trade and trade.maker),
            "R": order.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order.type,
            "ps": "BOTH",
            "cp": False,
            "rp": num(trade.realized_pnl if trade else ZERO),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
        },
    }


def account_update(exchange: FuturesExchange, reason: str, event_ms: int) -> dict[str, Any]:
    """The user stream's ``ACCOUNT_UPDATE``: the wallet and every position, with the reason (``m``)."""
    positions = [
        {
            "s": symbol,
            "pa": num(p.qty),
            "ep": num(p.entry),
            "bep": num(p.entry),
            "cr": "0",
            "up": num(exchange.unrealized(symbol)),
            "mt": "cross",
            "iw": "0",
            "ps": "BOTH",
        }
        for symbol, p in sorted(exchange.positions.items())
    ]
    wallet = num(exchange.wallet)
    balances = [{"a": exchange.margin_asset, "wb": wallet, "cw": wallet, "bc": "0"}]
    return {"e": "ACCOUNT_UPDATE", "E": event_ms, "T": event_ms, "a": {"m": reason, "B": balances, "P": positions}}


def futures_truth_json(exchange: FuturesExchange) -> dict[str, Any]:
    """``GET /emulator/truth`` for the futures account: orders, trades (with realized PnL), the wallet,
    the positions and the funding paid."""
    return {
        "orders": [
            {
                "clientOrderId": o.client_id,
                "orderId": o.order_id,
                "symbol": o.symbol,
                "side": o.side,
                "type": o.type,
                "timeInForce": o.time_in_force,
                "reduceOnly": o.reduce_only,
                "status": o.status,
                "price": num(o.price),
                "origQty": num(o.qty),
                "executedQty": num(o.executed),
            }
            for o in exchange.orders.values()
        ],
        "trades": [futures_trade_json(t) for t in exchange.trades],
        "algoOrders": [algo_order_json(o) for o in exchange.algo.orders.values()],
        "balances": {exchange.margin_asset: {"free": num(exchange.wallet), "locked": num(ZERO)}},
        "positions": {
            s: {"positionAmt": num(p.qty), "entryPrice": num(p.entry)} for s, p in sorted(exchange.positions.items())
        },
        "funding": [
            {**income_json(i), "rate": str(i.rate), "markPrice": str(i.mark), "positionAmt": num(i.position)}
            for i in exchange.income
        ],
    }
