"""Pure mapping between ccxt's unified order/trade/balance dicts (Binance spot) and domain events.

No I/O and no clock here: every function takes the timestamp it stamps, so the venue decides where
time comes from and these stay testable on plain dicts. Quantities go through ``str`` into
``Decimal`` because ccxt hands out floats; ``str`` of a float is its shortest round-trip form,
which is what Binance sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ccxt.base.errors import InsufficientFunds, OrderImmediatelyFillable

from spreadhawk.domain.accounts import OrderReport
from spreadhawk.domain.events import (
    Liquidity,
    OrderFilled,
    OrderSide,
    OrderType,
    RejectCode,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.ccxt.quirks import Quirks

__all__ = [
    "CreateRequest",
    "OrderMappingError",
    "answer_trades",
    "create_request",
    "decimal",
    "fill_from_trade",
    "is_terminal_without_fill",
    "order_report",
    "reject_code",
    "stream_leaves",
]

# ccxt statuses of an order that no longer works at the venue without having filled in full.
_ENDED = frozenset({"canceled", "expired", "rejected"})
# ccxt's order types (lower-cased exchange names) -> ours; anything else rests like a limit
_ORDER_TYPES = {
    "market": OrderType.MARKET,
    "stop_market": OrderType.STOP_MARKET,
    "take_profit_market": OrderType.TAKE_PROFIT_MARKET,
}


class OrderMappingError(ValueError):
    """A ccxt dict lacks what the domain event needs (a ccxt or exchange change, never silent)."""


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """The arguments of ccxt ``create_order`` for one ``SubmitOrder``."""

    symbol: str
    order_type: str
    side: str
    amount: float | None
    price: float | None
    params: dict[str, Any]


def decimal(value: Any) -> Decimal:
    if value is None:
        raise OrderMappingError("missing number")
    return Decimal(str(value))


def _optional_decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def create_request(command: SubmitOrder, instrument: Instrument, quirks: Quirks) -> CreateRequest:
    """The exchange's order parameters. The client order id rides along (``quirks.client_id_param``) so
    an order whose answer is lost can be looked up by it (it is never a licence to re-send)."""
    params: dict[str, Any] = {quirks.client_id_param: command.client_order_id}
    if command.order_type.is_conditional:
        return _conditional_request(command, instrument, quirks, params)
    if command.reduce_only:
        if quirks.reduce_only_param is None:
            raise OrderMappingError(f"{quirks.ccxt_id} has no reduce-only orders ({command.client_order_id})")
        params[quirks.reduce_only_param] = True
    if command.order_type is OrderType.MARKET:
        if command.quote_quantity is not None:
            # ccxt turns ``quoteOrderQty`` into Binance's quote-sized market order; amount unused.
            params["quoteOrderQty"] = float(command.quote_quantity)
            return CreateRequest(instrument.symbol, "market", command.side.value, None, None, params)
        return CreateRequest(instrument.symbol, "market", command.side.value, float(command.quantity), None, params)
    if command.price is None:
        raise OrderMappingError(f"limit order {command.client_order_id} has no price")
    if command.post_only:
        params["postOnly"] = True  # ccxt's unified flag, sent as the exchange's own (quirks.post_only)
    elif command.time_in_force is not TimeInForce.GTC:
        params["timeInForce"] = command.time_in_force.value.upper()
    return CreateRequest(
        instrument.symbol, "limit", command.side.value, float(command.quantity), float(command.price), params
    )


def _conditional_request(
    command: SubmitOrder, instrument: Instrument, quirks: Quirks, params: dict[str, Any]
) -> CreateRequest:
    """A stop-loss or take-profit market order, in ccxt's unified params (``stopLossPrice`` /
    ``takeProfitPrice``), always reduce-only: a protective order must never open a position."""
    if quirks.conditional_param is None or quirks.reduce_only_param is None:
        raise OrderMappingError(
            f"{quirks.ccxt_id}: conditional orders are not supported here ({command.client_order_id})"
        )
    if command.trigger_price is None or not command.reduce_only:
        raise OrderMappingError(f"conditional order {command.client_order_id} needs a trigger price and reduce-only")
    key = "takeProfitPrice" if command.order_type is OrderType.TAKE_PROFIT_MARKET else "stopLossPrice"
    params[key] = float(command.trigger_price)
    params[quirks.reduce_only_param] = True
    return CreateRequest(instrument.symbol, "market", command.side.value, float(command.quantity), None, params)


def reject_code(error: Exception, quirks: Quirks) -> RejectCode:
    """What kind of refusal a ccxt exception from ``create_order`` is (the exchange's error texts)."""
    text = str(error)
    post_only = any(mark in text for mark in quirks.post_only_rejects) and ("-2010" not in text or "take" in text)
    if isinstance(error, OrderImmediatelyFillable) or post_only:
        return RejectCode.POST_ONLY
    if isinstance(error, InsufficientFunds) or "insufficient balance" in str(error).lower():
        return RejectCode.INSUFFICIENT_BALANCE
    return RejectCode.OTHER


def fill_from_trade(
    trade: dict[str, Any],
    client_order_id: ClientOrderId,
    instrument: Instrument,
    ts_ns: int,
    leaves_quantity: Decimal | None = None,
) -> OrderFilled:
    """One ccxt trade (REST ``myTrades``, an order answer's fills, or the user stream) as a fill.

    A trade without ``takerOrMaker`` is an order answer's immediate fill, which took liquidity."""
    trade_id = trade.get("id")
    order_id = trade.get("order")
    if trade_id is None or order_id is None:
        raise OrderMappingError(f"trade without id or order id: {trade!r:.200}")
    fee = trade.get("fee") or {}
    fee_cost = _optional_decimal(fee.get("cost")) or Decimal(0)
    fee_currency = str(fee.get("currency") or instrument.quote)
    liquidity = Liquidity.MAKER if trade.get("takerOrMaker") == "maker" else Liquidity.TAKER
    return OrderFilled(
        ts_ns,
        client_order_id,
        str(order_id),
        str(trade_id),
        instrument.id,
        OrderSide(str(trade["side"])),
        decimal(trade.get("amount")),
        decimal(trade.get("price")),
        fee_cost,
        fee_currency,
        liquidity,
        leaves_quantity,
    )


def stream_leaves(trade: dict[str, Any]) -> Decimal | None:
    """What remains of the order after a user-stream trade (``executionReport``: ``q`` - ``z``)."""
    info = trade.get("info") or {}
    if not isinstance(info, dict) or info.get("q") is None or info.get("z") is None:
        return None
    ordered = Decimal(str(info["q"]))
    if ordered <= 0:  # a quote-sized market order: its base size is unknown up front
        return None
    return max(Decimal(0), ordered - Decimal(str(info["z"])))


def is_terminal_without_fill(order: dict[str, Any]) -> bool:
    """The order no longer works and did not fill in full (IOC/FOK remainder, canceled, ...)."""
    return str(order.get("status")) in _ENDED


def order_report(order: dict[str, Any], instrument_id: InstrumentId, ts_ns: int) -> OrderReport:
    tif = str(order.get("timeInForce") or "GTC").lower()
    if tif == "po":  # ccxt's name for a post-only (LIMIT_MAKER) order: it rests like GTC
        tif = "gtc"
    client_order_id = order.get("clientOrderId")
    if client_order_id is None:
        raise OrderMappingError(f"order without client order id: {order.get('id')}")
    info = order.get("info") if isinstance(order.get("info"), dict) else {}
    # ccxt reports a contract's stop-market order as "market": the exchange's own name says which
    raw_type = str(info.get("orderType") or info.get("type") or order.get("type") or "").lower()  # type: ignore[union-attr]
    order_type = _ORDER_TYPES.get(raw_type, OrderType.LIMIT)
    return OrderReport(
        ts_ns,
        ClientOrderId(str(client_order_id)),
        str(order["id"]),
        instrument_id,
        OrderSide(str(order["side"])),
        order_type,
        decimal(order.get("amount") or 0),
        _optional_decimal(order.get("price")) if order_type is OrderType.LIMIT else None,
        TimeInForce(tif) if tif in {"gtc", "ioc", "fok"} else TimeInForce.GTC,
        decimal(order.get("filled") or 0),
        str(order.get("status")) == "open",
    )


def answer_trades(order: dict[str, Any], trades: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Decimal | None]]:
    """An order's trades (from its answer or a look-up) in trade-id order, each with what the order
    leaves after it. Only a closed order's fills say what is left (otherwise None: the engine derives
    it). An answer's fills may lack the order id and side: they are the order's."""
    closed = order.get("status") == "closed"
    filled_total = sum((decimal(t["amount"]) for t in trades), Decimal(0))
    cumulative = Decimal(0)
    found = []
    for raw in sorted(trades, key=lambda t: int(t["id"])):
        cumulative += decimal(raw["amount"])
        trade = {**raw, "order": raw.get("order") or str(order["id"]), "side": raw.get("side") or order["side"]}
        found.append((trade, filled_total - cumulative if closed else None))
    return found
