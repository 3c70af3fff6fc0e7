"""Our orders in Polymarket's terms: the signed order we send, and the order and trade records we read.

Amounts are exact: a CLOB order is ``makerAmount`` / ``takerAmount`` in 6-decimal units (USDC and
shares alike). A BUY of ``q`` shares at ``p`` gives ``p * q`` USDC for ``q`` shares; a SELL the
reverse. With sizes in 0.01 shares and prices in ticks of at least 0.0001 both are whole units, so
nothing is rounded (py-clob-client's own builder goes through floats; we sign with its library, from
these exact amounts). Market orders are limit orders with FOK (fill or kill) or FAK (fill and kill,
our IOC) at the worst price we accept; GTC rests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from py_order_utils.builders import OrderBuilder  # type: ignore[import-untyped]
from py_order_utils.model import BUY, EOA, SELL, OrderData  # type: ignore[import-untyped]
from py_order_utils.signer import Signer  # type: ignore[import-untyped]

from spreadhawk.domain.accounts import OrderReport
from spreadhawk.domain.events import Liquidity, OrderSide, OrderType, SubmitOrder, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.venues.polymarket.eip712 import exchange_address, order_hash
from spreadhawk.venues.polymarket.fees import taker_fee
from spreadhawk.venues.polymarket.ids import salt_for

__all__ = [
    "MarketRules",
    "OrderMappingError",
    "TradeFill",
    "answer_shares",
    "order_report",
    "order_type_of",
    "signed_order",
    "trade_fills",
]

MICRO = Decimal(1_000_000)
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class OrderMappingError(ValueError):
    """A command or a record that has no Polymarket meaning (the message says why)."""


@dataclass(frozen=True)
class MarketRules:
    """What the CLOB says of one token: read at start (``/tick-size``, ``/neg-risk``, ``/fee-rate``)."""

    tick_size: Decimal
    neg_risk: bool
    fee_rate_bps: int


def order_type_of(command: SubmitOrder) -> str:
    if command.order_type is OrderType.MARKET or command.time_in_force is TimeInForce.FOK:
        return "FOK" if command.time_in_force is not TimeInForce.IOC else "FAK"
    return {TimeInForce.GTC: "GTC", TimeInForce.IOC: "FAK"}[command.time_in_force]


def _units(value: Decimal, what: str) -> int:
    units = value * MICRO
    if units != units.to_integral_value():
        raise OrderMappingError(f"{what} {value} has more than 6 decimals: not a whole number of units")
    return int(units)


def signed_order(
    command: SubmitOrder,
    token_id: str,
    rules: MarketRules,
    key: str,
    chain_id: int,
    funder: str,
    signature_type: int = EOA,
) -> tuple[Any, str]:
    """The order signed with the wallet ``key`` and its Polymarket ``orderID`` (its EIP-712 hash)."""
    if command.order_type not in (OrderType.LIMIT, OrderType.MARKET) or command.price is None:
        raise OrderMappingError("Polymarket takes priced orders only: give a limit price (the worst accepted)")
    if command.quote_quantity is not None or command.reduce_only or command.trigger_price is not None:
        raise OrderMappingError("quote-sized, reduce-only and conditional orders are not Polymarket orders")
    shares, usdc = _units(command.quantity, "quantity"), _units(command.quantity * command.price, "notional")
    buy = command.side is OrderSide.BUY
    data = OrderData(
        maker=funder,
        taker=ZERO_ADDRESS,
        tokenId=token_id,
        makerAmount=str(usdc if buy else shares),
        takerAmount=str(shares if buy else usdc),
        side=BUY if buy else SELL,
        feeRateBps=str(rules.fee_rate_bps),
        nonce="0",
        signer=Signer(key).address(),
        expiration="0",
        signatureType=signature_type,
    )
    salt = salt_for(command.client_order_id)
    builder = OrderBuilder(exchange_address(chain_id, rules.neg_risk), chain_id, Signer(key), lambda: salt)
    signed = builder.build_signed_order(data)
    return signed, order_hash(signed.dict(), chain_id, rules.neg_risk)


def _decimal(record: dict[str, Any], key: str) -> Decimal:
    try:
        value = Decimal(str(record[key]))
    except (KeyError, InvalidOperation):
        raise OrderMappingError(f"{key} missing or not a number: {record.get(key)!r}") from None
    if not value.is_finite() or value < 0:
        raise OrderMappingError(f"{key} is not a non-negative number: {record.get(key)!r}")
    return value


_TIF = {"GTC": TimeInForce.GTC, "GTD": TimeInForce.GTC, "FOK": TimeInForce.FOK, "FAK": TimeInForce.IOC}


def order_report(record: dict[str, Any], cid: ClientOrderId, instrument_id: InstrumentId, ts_ns: int) -> OrderReport:
    """``GET /data/order/{id}`` (or a row of ``/data/orders``) as the engine's ``OrderReport``."""
    if record.get("side") not in ("BUY", "SELL"):
        raise OrderMappingError(f"order side {record.get('side')!r} is neither BUY nor SELL")
    return OrderReport(
        ts_ns=ts_ns,
        client_order_id=cid,
        venue_order_id=str(record["id"]),
        instrument_id=instrument_id,
        side=OrderSide.BUY if record["side"] == "BUY" else OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=_decimal(record, "original_size"),
        price=_decimal(record, "price"),
        time_in_force=_TIF.get(str(record.get("order_type")), TimeInForce.GTC),
        filled_quantity=_decimal(record, "size_matched"),
        is_open=record.get("status") == "LIVE",
    )


@dataclass(frozen=True)
class TradeFill:
    """One fill of one of our orders, read from a trade record."""

    fill_id: str  # unique: the trade id, plus our order id for a maker fill (a trade may match several)
    order_id: str
    size: Decimal
    price: Decimal
    fee: Decimal  # USDC
    liquidity: Liquidity
    status: str  # MATCHED, MINED, CONFIRMED, RETRYING, FAILED
    side: str  # our order's side, BUY or SELL
    asset_id: str


def answer_shares(answer: dict[str, Any], side: OrderSide) -> Decimal:
    """The shares a ``POST /order`` answer says matched: a buy's ``takingAmount``, a sell's
    ``makingAmount`` (empty when nothing matched; unreadable counts as none: the fills still come)."""
    value = answer.get("takingAmount" if side is OrderSide.BUY else "makingAmount")
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _side(value: Any) -> str:
    if value not in ("BUY", "SELL"):
        raise OrderMappingError(f"side {value!r} is neither BUY nor SELL")
    return str(value)


def trade_fills(trade: Any, ours: Callable[[str], bool]) -> list[TradeFill]:
    """The fills of our orders in a trade (user-channel ``trade`` event or ``/data/trades`` row).

    As the taker, the fill is the trade's top-level size and price, and we pay the fee at the trade's
    ``fee_rate_bps``; as a maker, each of our orders among ``maker_orders`` filled ``matched_amount`` at
    its own price, with no fee. A record that cannot be read raises ``OrderMappingError``."""
    if not isinstance(trade, dict) or not isinstance(trade.get("id"), str):
        raise OrderMappingError("trade record without a string id")
    status, fills = str(trade.get("status", "")), []
    if ours(str(trade.get("taker_order_id"))) and trade.get("trader_side", "TAKER") == "TAKER":
        size, price = _decimal(trade, "size"), _decimal(trade, "price")
        rate = int(_decimal(trade, "fee_rate_bps"))
        fee = taker_fee(size, price, rate)
        side, asset = _side(trade.get("side")), str(trade.get("asset_id"))
        fills.append(
            TradeFill(trade["id"], str(trade["taker_order_id"]), size, price, fee, Liquidity.TAKER, status, side, asset)
        )
    makers = trade.get("maker_orders", [])
    if not isinstance(makers, list):
        raise OrderMappingError(f"trade {trade['id']}: maker_orders is not a list")
    for maker in makers:
        if not isinstance(maker, dict):
            raise OrderMappingError(f"trade {trade['id']}: a maker order is not an object")
        order_id = str(maker.get("order_id"))
        if ours(order_id):
            size, price = _decimal(maker, "matched_amount"), _decimal(maker, "price")
            # a maker order's own side; older records lack it: the opposite of the taker's
            side = _side(maker.get("side") or ("SELL" if trade.get("side") == "BUY" else "BUY"))
            asset, zero = str(maker.get("asset_id") or trade.get("asset_id")), Decimal(0)
            fill_id = f"{trade['id']}/{order_id}"
            fills.append(TradeFill(fill_id, order_id, size, price, zero, Liquidity.MAKER, status, side, asset))
    return fills
