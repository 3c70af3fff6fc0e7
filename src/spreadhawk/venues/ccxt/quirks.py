"""What differs between exchanges, as data: one ``Quirks`` entry per exchange the ccxt venue trades.

``CcxtVenue`` reads its behaviour from here (which ccxt class and options, how a client order id is
sent and looked up, how post-only and reduce-only are asked for, which user streams exist) instead of
branching on the exchange's name. What an exchange *publishes* -- precision, minimum notional, request
weights and order-count limits -- is not typed in: ``market_rules`` reads it from ccxt's loaded markets
and ``rate_limits`` from the exchange's own exchangeInfo answer, so a change at the exchange never
meets a stale table.

Only Binance spot and USD-M are exercised (against the emulator). The other entries are configured
from the exchanges' documentation (sources beside each) and are unverified against a live exchange.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.engine.order_ids import MAX_LENGTH, ClientOrderIds, run_prefix

__all__ = [
    "MY_TRADES",
    "QUIRKS",
    "ClientIdError",
    "MarketRules",
    "Quirks",
    "RateLimit",
    "check_client_id",
    "market_rules",
    "quirks_for",
    "rate_limits",
    "read_published",
    "widest_client_id",
]

# ccxt's names of the user-data watchers; an exchange's entry lists those it has.
MY_TRADES, ORDERS, BALANCE, POSITIONS = "watch_my_trades", "watch_orders", "watch_balance", "watch_positions"


class ClientIdError(ValueError):
    """Our client order ids do not fit the exchange's rule: refusing to start beats refused orders."""


@dataclass(frozen=True, slots=True)
class Quirks:
    ccxt_id: str  # the ccxt.pro class
    options: Mapping[str, Any]  # ccxt ``options`` the venue needs (merged under the caller's)
    kind: InstrumentKind  # what the venue trades through this entry
    client_id_param: str  # create_order param carrying our client order id
    client_id_lookup: str | None  # fetch_order / cancel_order param naming the order by client id; None: none
    client_id_pattern: str  # the exchange's rule for a client id (full match)
    client_id_max: int
    post_only: str  # how post-only is asked for, as ccxt translates its unified ``postOnly`` param
    post_only_rejects: tuple[str, ...]  # texts of the refusal of a post-only order that would take
    reduce_only_param: str | None  # None: the exchange has no reduce-only (spot)
    streams: frozenset[str]  # ccxt.pro user-data watchers that exist
    my_trades_from_id: bool  # fetch_my_trades pages by trade id (``fromId``), not only by time
    trades_in_order_answer: bool  # create_order's answer carries the order's fills
    exchange_info: str | None  # ccxt implicit method returning the rate limits, where published
    sources: tuple[str, ...]
    # ccxt implicit method answering the API key's permissions (None: not known here; live trading
    # then refuses the key unless the config accepts an unverified one). Binance: one endpoint for
    # spot and futures keys (developers.binance.com wallet "Get API Key Permission").
    key_permissions: str | None = None
    # ccxt's flag routing create/fetch/cancel/open-orders to the exchange's conditional-order
    # endpoints (stop-loss, take-profit); None: conditional orders are not supported through here.
    conditional_param: str | None = None


_BINANCE_ID = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
# Sources for both Binance entries: binance-spot-api-docs rest-api.md "New order" (newClientOrderId rule,
# LIMIT_MAKER), errors.md (-2010); developers.binance.com USDS-M "New Order" (same rule, timeInForce GTX,
# reduceOnly) and "Error Codes" (-5022, -2022); ccxt binance.py create_order (postOnly -> LIMIT_MAKER on
# spot, timeInForce GTX on futures) and fetch_my_trades (fromId).
_BINANCE_SOURCES = ("binance-spot-api-docs rest-api.md New order", "developers.binance.com USDS-M New Order")

QUIRKS: dict[str, Quirks] = {
    "binance": Quirks(
        ccxt_id="binance",
        # currencies and margin pairs are sapi calls a spot trader does not need (nor the emulator serve)
        options={
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
        kind=InstrumentKind.SPOT,
        client_id_param="newClientOrderId",
        client_id_lookup="origClientOrderId",
        client_id_pattern=_BINANCE_ID,
        client_id_max=36,
        post_only="type LIMIT_MAKER",
        post_only_rejects=("-2010", "OrderImmediatelyFillable"),
        reduce_only_param=None,
        streams=frozenset({MY_TRADES, ORDERS, BALANCE}),
        my_trades_from_id=True,
        trades_in_order_answer=True,  # newOrderRespType FULL (the default for LIMIT and MARKET)
        exchange_info="publicGetExchangeInfo",
        sources=_BINANCE_SOURCES,
        key_permissions="sapi_get_account_apirestrictions",
    ),
    "binanceusdm": Quirks(
        ccxt_id="binanceusdm",
        options={
            "defaultType": "future",
            "fetchMarkets": {"types": ["linear"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
        kind=InstrumentKind.PERPETUAL,
        client_id_param="newClientOrderId",
        client_id_lookup="origClientOrderId",
        client_id_pattern=_BINANCE_ID,
        client_id_max=36,
        post_only="timeInForce GTX",
        post_only_rejects=("-5022",),
        reduce_only_param="reduceOnly",
        streams=frozenset({MY_TRADES, ORDERS, BALANCE, POSITIONS}),
        my_trades_from_id=True,
        trades_in_order_answer=False,  # USD-M answers ACK-like: fills come from userTrades / the stream
        exchange_info="fapiPublicGetExchangeInfo",
        sources=_BINANCE_SOURCES,
        key_permissions="sapi_get_account_apirestrictions",
        # STOP_MARKET / TAKE_PROFIT_MARKET go to /fapi/v1/algoOrder (Binance's Algo Service, since
        # 2025-12): ccxt binance.py create_order / fetch_order / cancel_order with ``trigger``.
        conditional_param="trigger",
    ),
    # bybit-exchange.github.io/docs/v5/order/create-order: orderLinkId "max 36 characters", digits,
    # letters, "-" and "_"; timeInForce PostOnly; reduceOnly. ccxt bybit.py maps postOnly -> PostOnly.
    "bybit": Quirks(
        ccxt_id="bybit",
        options={"defaultType": "swap"},
        kind=InstrumentKind.PERPETUAL,
        client_id_param="orderLinkId",
        client_id_lookup="orderLinkId",
        client_id_pattern=r"^[A-Za-z0-9_-]{1,36}$",
        client_id_max=36,
        post_only="timeInForce PostOnly",
        post_only_rejects=("EC_PostOnlyWillTakeLiquidity", "170218"),
        reduce_only_param="reduceOnly",
        streams=frozenset({MY_TRADES, ORDERS, BALANCE, POSITIONS}),
        my_trades_from_id=False,  # /v5/execution/list pages by cursor and time
        trades_in_order_answer=False,
        exchange_info=None,  # per-endpoint limits are documented, not published in an API answer
        sources=("bybit-exchange.github.io/docs/v5/order/create-order",),
    ),
    # okx.com/docs-v5 "Place order": clOrdId "1-32 case-sensitive alphanumerics" (letters and digits only);
    # ordType post_only; reduceOnly. ccxt okx.py maps postOnly -> ordType post_only.
    "okx": Quirks(
        ccxt_id="okx",
        options={"defaultType": "swap"},
        kind=InstrumentKind.PERPETUAL,
        client_id_param="clOrdId",
        client_id_lookup="clOrdId",
        client_id_pattern=r"^[A-Za-z0-9]{1,32}$",
        client_id_max=32,
        post_only="ordType post_only",
        post_only_rejects=("51124", "post_only"),
        reduce_only_param="reduceOnly",
        streams=frozenset({MY_TRADES, ORDERS, BALANCE, POSITIONS}),
        my_trades_from_id=False,  # fills page by billId/time
        trades_in_order_answer=False,
        exchange_info=None,
        sources=("okx.com/docs-v5/en/#order-book-trading-trade-post-place-order",),
    ),
    # docs.cdp.coinbase.com Advanced Trade "Create Order": client_order_id (any string, a UUID in the
    # examples), limit_limit_gtc.post_only; no derivatives here. ccxt coinbase.py: fetch_order needs the
    # exchange id, so there is no look-up by client id.
    "coinbase": Quirks(
        ccxt_id="coinbase",
        options={},
        kind=InstrumentKind.SPOT,
        client_id_param="client_order_id",
        client_id_lookup=None,
        client_id_pattern=r"^[\x21-\x7e]{1,128}$",
        client_id_max=128,
        post_only="order_configuration post_only",
        post_only_rejects=("INVALID_LIMIT_PRICE_POST_ONLY",),
        reduce_only_param=None,
        streams=frozenset({MY_TRADES, ORDERS}),
        my_trades_from_id=False,
        trades_in_order_answer=False,
        exchange_info=None,
        sources=("docs.cdp.coinbase.com/advanced-trade/reference/retailbrokerageapi_postorder",),
    ),
    # docs.kraken.com guides "Spot Client Order Identifiers": cl_ord_id is a UUID or free text, unique
    # among open orders (free text up to 18 characters); oflags=post for post-only.
    "kraken": Quirks(
        ccxt_id="kraken",
        options={},
        kind=InstrumentKind.SPOT,
        client_id_param="cl_ord_id",
        client_id_lookup="cl_ord_id",
        client_id_pattern=r"^[\x21-\x7e]{1,18}$|^[0-9a-fA-F-]{36}$",
        client_id_max=36,
        post_only="oflags post",
        post_only_rejects=("EOrder:Post only order",),
        reduce_only_param=None,
        streams=frozenset({MY_TRADES, ORDERS, BALANCE}),
        my_trades_from_id=False,  # TradesHistory pages by offset and time
        trades_in_order_answer=False,
        exchange_info=None,
        sources=("docs.kraken.com/api/docs/guides/spot-clordid",),
    ),
}


def quirks_for(exchange_id: str) -> Quirks:
    if exchange_id not in QUIRKS:
        raise ValueError(f"no quirks table for {exchange_id!r} (known: {', '.join(sorted(QUIRKS))})")
    return QUIRKS[exchange_id]


def check_client_id(quirks: Quirks, client_order_id: str) -> None:
    """Raise ``ClientIdError`` naming the rule when ``client_order_id`` does not fit the exchange's."""
    if len(client_order_id) > quirks.client_id_max or not re.fullmatch(quirks.client_id_pattern, client_order_id):
        raise ClientIdError(
            f"client order id {client_order_id!r} does not fit {quirks.ccxt_id}'s rule "
            f"{quirks.client_id_pattern} (at most {quirks.client_id_max} characters): the engine's ids "
            f"(spreadhawk.engine.order_ids) need a mapping for this exchange"
        )


def widest_client_id(start_ns: int) -> str:
    """The longest id the engine can make for a run started at ``start_ns``: checked at start, so an
    exchange whose rule our ids break is refused before any order, not at the first one."""
    ids = ClientOrderIds(run_prefix(start_ns))
    head = ids.prefix + ids.tag("s" * MAX_LENGTH) + "-"
    return head + "9" * max(1, MAX_LENGTH - len(head))


@dataclass(frozen=True, slots=True)
class MarketRules:
    tick: Decimal | None
    step: Decimal | None
    min_notional: Decimal | None


def _step(value: Any, decimal_places: bool) -> Decimal | None:
    if value is None:
        return None
    return Decimal(1).scaleb(-int(value)) if decimal_places else Decimal(str(value))


def market_rules(market: Mapping[str, Any], precision_mode: int) -> MarketRules:
    """Tick, lot step and minimum notional of a ccxt loaded market (ccxt's ``precisionMode``: 2 is
    DECIMAL_PLACES, where precision is a number of digits, otherwise it is the step itself)."""
    precision = market.get("precision") or {}
    cost = (market.get("limits") or {}).get("cost") or {}
    places = precision_mode == 2
    minimum = cost.get("min")
    return MarketRules(
        _step(precision.get("price"), places),
        _step(precision.get("amount"), places),
        None if minimum is None else Decimal(str(minimum)),
    )


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One ``rateLimits`` entry of Binance's exchangeInfo: ``limit`` per ``interval_num`` ``interval``."""

    kind: str  # REQUEST_WEIGHT, ORDERS, RAW_REQUESTS
    interval: str  # SECOND, MINUTE, DAY
    interval_num: int
    limit: int


def rate_limits(exchange_info: Mapping[str, Any]) -> tuple[RateLimit, ...]:
    """The limits an exchangeInfo answer publishes (RELIABILITY.md §3: read them, never hard-code)."""
    return tuple(
        RateLimit(str(r["rateLimitType"]), str(r["interval"]), int(r["intervalNum"]), int(r["limit"]))
        for r in exchange_info.get("rateLimits") or []
    )


async def read_published(
    exchange: Any, quirks: Quirks, symbols: list[str]
) -> tuple[dict[str, MarketRules], tuple[RateLimit, ...]]:
    """What the exchange publishes about ``symbols`` (from ccxt's loaded markets) and its limits (from
    its exchangeInfo, where it has one); a symbol it does not list is an error."""
    rules: dict[str, MarketRules] = {}
    for symbol in symbols:
        if symbol not in exchange.markets:
            raise ValueError(f"{symbol} is not listed on {quirks.ccxt_id}")
        rules[symbol] = market_rules(exchange.markets[symbol], exchange.precisionMode)
    limits = rate_limits(await getattr(exchange, quirks.exchange_info)()) if quirks.exchange_info else ()
    return rules, limits
