"""The pure ccxt <-> domain mapping of the trading adapter, on dicts shaped like ccxt's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ccxt.base.errors import ExchangeError, InsufficientFunds, InvalidOrder, OrderImmediatelyFillable

from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt
from spreadhawk.domain.events import Liquidity, OrderSide, OrderType, RejectCode, SubmitOrder, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.venues.ccxt.account import account_snapshot
from spreadhawk.venues.ccxt.orders import (
    OrderMappingError,
    create_request,
    fill_from_trade,
    order_report,
    reject_code,
    stream_leaves,
)
from spreadhawk.venues.ccxt.quirks import quirks_for

INSTRUMENT = binance_spot_btcusdt()
PERP = binance_usdm_btcusdt()
SPOT, USDM = quirks_for("binance"), quirks_for("binanceusdm")


def _command(order_type: OrderType = OrderType.LIMIT, price: str | None = "60000", **extra: object) -> SubmitOrder:
    return SubmitOrder(1, ClientOrderId("c-1"), "s", INSTRUMENT.id, OrderSide.BUY, order_type, Decimal("0.5"),
                       None if price is None else Decimal(price), **extra)  # type: ignore[arg-type]  # fmt: skip


def test_create_request_covers_every_order_kind_and_always_carries_the_client_id() -> None:
    gtc = create_request(_command(), INSTRUMENT, SPOT)
    assert (gtc.symbol, gtc.order_type, gtc.side, gtc.amount, gtc.price) == ("BTC/USDT", "limit", "buy", 0.5, 60000.0)
    assert gtc.params == {"newClientOrderId": "c-1"}
    assert create_request(_command(time_in_force=TimeInForce.IOC), INSTRUMENT, SPOT).params["timeInForce"] == "IOC"
    assert create_request(_command(time_in_force=TimeInForce.FOK), INSTRUMENT, SPOT).params["timeInForce"] == "FOK"
    assert create_request(_command(post_only=True), INSTRUMENT, SPOT).params == {
        "newClientOrderId": "c-1",
        "postOnly": True,
    }
    market = create_request(_command(OrderType.MARKET, None), INSTRUMENT, SPOT)
    assert (market.order_type, market.amount, market.price) == ("market", 0.5, None)
    quote = create_request(_command(OrderType.MARKET, None, quote_quantity=Decimal(1000)), INSTRUMENT, SPOT)
    assert (quote.amount, quote.params["quoteOrderQty"]) == (None, 1000.0)
    with pytest.raises(OrderMappingError, match="no price"):
        create_request(_command(price=None), INSTRUMENT, SPOT)


def test_reject_codes_follow_binance_errors() -> None:
    assert reject_code(OrderImmediatelyFillable("binance -2010 Order would immediately match and take."), SPOT) is (
        RejectCode.POST_ONLY
    )
    assert reject_code(InsufficientFunds("Account has insufficient balance"), SPOT) is RejectCode.INSUFFICIENT_BALANCE
    assert reject_code(
        ExchangeError('{"code":-2010,"msg":"Account has insufficient balance for requested action."}'), SPOT
    ) is (RejectCode.INSUFFICIENT_BALANCE)
    assert reject_code(ExchangeError("-1013 Filter failure: LOT_SIZE"), SPOT) is RejectCode.OTHER


def test_a_trade_becomes_a_fill_with_its_exchange_trade_id() -> None:
    trade = {"id": "17", "order": "5", "side": "sell", "amount": 0.1, "price": 61000.5,
             "fee": {"cost": 6.10005, "currency": "USDT"}, "takerOrMaker": "maker",
             "info": {"q": "0.30000000", "z": "0.10000000"}}  # fmt: skip
    fill = fill_from_trade(trade, ClientOrderId("c-1"), INSTRUMENT, 9, stream_leaves(trade))
    assert (fill.trade_id, fill.venue_order_id, fill.side, fill.quantity, fill.price) == (
        "17", "5", OrderSide.SELL, Decimal("0.1"), Decimal("61000.5")
    )  # fmt: skip
    assert (fill.fee, fill.fee_currency, fill.liquidity, fill.leaves_quantity) == (
        Decimal("6.10005"), "USDT", Liquidity.MAKER, Decimal("0.2")
    )  # fmt: skip
    assert stream_leaves({"info": {"q": "0", "z": "0.1"}}) is None  # quote-sized: unknown base size
    with pytest.raises(OrderMappingError):
        fill_from_trade({"order": "5"}, ClientOrderId("c-1"), INSTRUMENT, 9)


def test_order_reports_and_account_snapshots() -> None:
    order = {"id": "5", "clientOrderId": "c-1", "side": "buy", "type": "limit", "amount": 0.5, "price": 60000.0,
             "timeInForce": "PO", "filled": 0.2, "status": "open"}  # fmt: skip
    report = order_report(order, INSTRUMENT.id, 3)
    assert (report.venue_order_id, report.time_in_force, report.filled_quantity, report.is_open) == (
        "5", TimeInForce.GTC, Decimal("0.2"), True
    )  # fmt: skip
    raw = {"info": {"balances": [{"asset": "USDT", "free": "10.5", "locked": "1"},
                                 {"asset": "BTC", "free": "0.1", "locked": "0"}]}}  # fmt: skip
    snapshot = account_snapshot(raw, "BINANCE", 4)
    assert [(b.asset, b.total, b.free) for b in snapshot.balances] == [
        ("BTC", Decimal("0.1"), Decimal("0.1")),
        ("USDT", Decimal("11.5"), Decimal("10.5")),
    ]
    unified = account_snapshot({"total": {"ETH": 2.0}, "free": {"ETH": 1.5}}, "BINANCE", 4)
    assert [(b.asset, b.total, b.free) for b in unified.balances] == [("ETH", Decimal("2.0"), Decimal("1.5"))]


def test_usdm_requests_carry_reduce_only_and_spot_refuses_it() -> None:
    command = SubmitOrder(1, ClientOrderId("p-1"), "s", PERP.id, OrderSide.SELL, OrderType.LIMIT, Decimal("0.01"),
                          Decimal("60000"), post_only=True, reduce_only=True)  # fmt: skip
    request = create_request(command, PERP, USDM)
    assert (request.symbol, request.params) == (
        "BTC/USDT:USDT",
        {"newClientOrderId": "p-1", "reduceOnly": True, "postOnly": True},
    )
    with pytest.raises(OrderMappingError, match="no reduce-only"):
        create_request(_command(reduce_only=True), INSTRUMENT, SPOT)


def test_usdm_reject_codes() -> None:
    gtx = InvalidOrder('binanceusdm {"code": -5022, "msg": "Due to the order could not be executed as maker, the Post '
                       'Only order will be rejected."}')  # fmt: skip
    assert reject_code(gtx, USDM) is RejectCode.POST_ONLY
    assert reject_code(ExchangeError('{"code": -2022, "msg": "ReduceOnly Order is rejected."}'), USDM) is (
        RejectCode.OTHER
    )
