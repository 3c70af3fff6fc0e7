"""Binance spot's signed order endpoints over a ``SpotExchange``, in Binance's formats (rest-api.md).

* ``POST/DELETE/GET /api/v3/order``, ``GET /api/v3/openOrders``, ``GET /api/v3/myTrades``,
  ``GET /api/v3/account`` -- SIGNED: ``X-MBX-APIKEY`` names a configured key, ``signature`` is the
  HMAC-SHA256 (hex) of the query string concatenated with the body, ``timestamp`` within ``recvWindow``
  of the wall clock (ccxt signs with its own clock);
* ``POST/PUT/DELETE /api/v3/userDataStream`` -- the listenKey (API key only), see ``user_stream``;
* ``GET /sapi/v1/account/apiRestrictions`` -- the key's permissions (``enableWithdrawals`` per key);
* ``GET /emulator/truth`` -- the ground truth: every order, trade and balance;
* ``POST /emulator/order_fault`` -- arm a fault of the order endpoints (``order_faults``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from spreadhawk.venues.emulator.exchange import ExchangeError, Order, SpotExchange, Trade
from spreadhawk.venues.emulator.faults import FaultError
from spreadhawk.venues.emulator.formats import num, order_json, trade_json, truth_json
from spreadhawk.venues.emulator.order_faults import OrderFault, OrderFaultKind
from spreadhawk.venues.emulator.user_stream import UserStreams

__all__ = ["ApiKey", "OrdersApi", "TradingConfig"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request, dict[str, str]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ApiKey:
    key: str
    secret: str
    enable_withdrawals: bool = False
    ip_restrict: bool = True


@dataclass(frozen=True, slots=True)
class TradingConfig:
    """What the emulator needs to take orders: the keys, the starting balances, the fees."""

    keys: tuple[ApiKey, ...]
    balances: Mapping[str, str]
    taker_fee: Decimal = Decimal("0.001")
    maker_fee: Decimal = Decimal("0.001")


def _error(exc: ExchangeError) -> web.Response:
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)


def _rate_limited(fault: OrderFault) -> web.Response:
    banned = fault.kind is OrderFaultKind.IP_BANNED
    msg = "Way too many requests; IP banned." if banned else "Too many requests; current limit is exceeded."
    body = {"code": -1003, "msg": msg}
    return web.json_response(body, status=int(fault.kind), headers={"Retry-After": str(fault.retry_after)})


def _decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    if name not in params:
        return None
    try:
        value = Decimal(params[name])
    except InvalidOperation:
        raise ExchangeError(-1100, f"Illegal characters found in parameter '{name}'.") from None
    if not value.is_finite():
        raise ExchangeError(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def _integer(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    try:
        return int(params[name])
    except ValueError:
        raise ExchangeError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _symbol(params: Mapping[str, str]) -> str:
    if not params.get("symbol"):
        raise ExchangeError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    return params["symbol"].upper()


class OrdersApi:
    """Routes the order endpoints of ``exchange`` for the holders of ``keys``."""

    def __init__(self, exchange: SpotExchange, keys: list[ApiKey], streams: UserStreams) -> None:
        self.exchange = exchange
        self.keys = {k.key: k for k in keys}
        self.streams = streams
        self._faults: list[list[Any]] = []  # [fault, requests it still applies to]
        self._hidden: dict[int, float] = {}  # order id -> monotonic time it becomes visible

    def arm(self, fault: OrderFault) -> None:
        """Apply ``fault`` to the next ``fault.count`` requests it concerns."""
        self._faults.append([fault, fault.count])

    def _take(self, kinds: set[OrderFaultKind], path: str) -> OrderFault | None:
        for armed in self._faults:
            if armed[0].kind in kinds and armed[0].path in ("", path):
                armed[1] -= 1
                if armed[1] == 0:
                    self._faults.remove(armed)
                return armed[0]  # type: ignore[no-any-return]
        return None

    def _visible(self, order: Order) -> bool:
        until = self._hidden.get(order.order_id)
        if until is None:
            return True
        if time.monotonic() >= until:
            del self._hidden[order.order_id]
            return True
        return False

    def add_routes(self, app: web.Application) -> None:
        signed: list[tuple[str, str, Handler]] = [
            ("POST", "/api/v3/order", self._new_order),
            ("DELETE", "/api/v3/order", self._cancel),
            ("GET", "/api/v3/order", self._get_order),
            ("GET", "/api/v3/openOrders", self._open_orders),
            ("GET", "/api/v3/myTrades", self._my_trades),
            ("GET", "/api/v3/account", self._account),
            ("GET", "/sapi/v1/account/apiRestrictions", self._restrictions),
        ]
        for method, path, handler in signed:
            app.router.add_route(method, path, self._signed(handler, places=handler == self._new_order))
        for method in ("POST", "PUT", "DELETE"):
            app.router.add_route(method, "/api/v3/userDataStream", self._listen_key)
        app.router.add_get("/emulator/truth", self._truth)
        app.router.add_get("/admin/truth", self._truth)  # the name RELIABILITY.md §4.1 uses
        app.router.add_post("/emulator/counterparty_fill", self._counterparty_fill)
        app.router.add_post("/emulator/order_fault", self._post_fault)

    # --- authentication -------------------------------------------------------------------
    def _key(self, request: web.Request) -> ApiKey:
        header = request.headers.get("X-MBX-APIKEY")
        if not header:
            raise ExchangeError(-2014, "API-key format invalid.", 401)
        key = self.keys.get(header)
        if key is None:
            raise ExchangeError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key

    def _signed(self, handler: Handler, *, places: bool) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def route(request: web.Request) -> web.StreamResponse:
            path = request.path
            limited = self._take({OrderFaultKind.TOO_MANY_REQUESTS, OrderFaultKind.IP_BANNED}, path)
            if limited is not None:
                return _rate_limited(limited)
            if self._take({OrderFaultKind.DROP_REQUEST}, path) is not None and request.transport is not None:
                request.transport.abort()  # before anything happened: the client cannot know that
                return web.Response(status=200)  # never sent
            try:
                if self._take({OrderFaultKind.TIMESTAMP_OUTSIDE_WINDOW}, path) is not None:
                    raise ExchangeError(-1021, "Timestamp for this request is outside of the recvWindow.")
                key = self._key(request)
                body = await request.text() if request.can_read_body else ""
                params = self._verify(key, request.rel_url.raw_query_string, body)
                answer = await handler(request, params)
            except ExchangeError as exc:
                return _error(exc)
            fault = self._take({k for k in OrderFaultKind if k.commits}, path) if places else None
            return self._after_commit(request, answer, fault)

        return route

    def _after_commit(self, request: web.Request, answer: Any, fault: OrderFault | None) -> web.StreamResponse:
        """The answer to a committed order, as the armed fault (if any) garbles it."""
        if fault is None:
            return web.json_response(answer)
        kind = fault.kind
        if fault.ms > 0 and "orderId" in answer:  # any committing fault may also hide the order (not an algo one)
            self._hidden[int(answer["orderId"])] = time.monotonic() + fault.ms / 1000
        if kind is OrderFaultKind.ORDER_INVISIBLE:
            return web.json_response(answer)
        if kind is OrderFaultKind.COMMIT_THEN_1007:
            msg = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
            return web.json_response({"code": -1007, "msg": msg}, status=408)
        if kind is OrderFaultKind.COMMIT_THEN_503_UNKNOWN:
            return web.Response(status=503, text="Service Unavailable")
        # commit_then_drop_response: the order stands, the client never hears of it.
        if request.transport is not None:
            request.transport.abort()
        log.info("order fault: the answer to order %s dropped after commit", answer.get("orderId"))
        return web.Response(status=200)  # never sent: the transport is gone

    @staticmethod
    def _verify(key: ApiKey, query: str, body: str) -> dict[str, str]:
        """The parameters of a SIGNED request whose signature and timestamp are right."""
        parts = {"query": query, "body": body}
        signature = ""
        for name, raw in parts.items():
            kept = []
            for item in filter(None, raw.split("&")):
                if item.startswith("signature="):
                    signature = item.removeprefix("signature=")
                else:
                    kept.append(item)
            parts[name] = "&".join(kept)
        payload = parts["query"] + parts["body"]  # Binance's totalParams: query string, then body
        expected = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(signature.lower(), expected):
            raise ExchangeError(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(parts["query"])) | dict(parse_qsl(parts["body"]))
        stamp = _integer(params, "timestamp")
        if stamp is None:
            raise ExchangeError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        window = _integer(params, "recvWindow") or 5000
        now = int(time.time() * 1000)
        if stamp > now + 1000 or now - stamp > window:
            raise ExchangeError(-1021, "Timestamp for this request is outside of the recvWindow.")
        return params

    # --- handlers ---------------------------------------------------------------------------
    async def _new_order(self, request: web.Request, params: dict[str, str]) -> Any:
        order, trades = self.exchange.place(
            _symbol(params),
            params.get("side", "").upper(),
            params.get("type", "").upper(),
            qty=_decimal(params, "quantity"),
            quote_qty=_decimal(params, "quoteOrderQty"),
            price=_decimal(params, "price"),
            time_in_force=params.get("timeInForce"),
            client_id=params.get("newClientOrderId"),
        )
        answer = order_json(order, time_key="transactTime")
        kind = params.get("newOrderRespType", "FULL").upper()  # Binance's default for MARKET and LIMIT
        if kind == "ACK":
            return {k: answer[k] for k in ("symbol", "orderId", "orderListId", "clientOrderId", "transactTime")}
        if kind == "FULL":
            answer["fills"] = [
                {
                    "price": num(t.price),
                    "qty": num(t.qty),
                    "commission": num(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in trades
            ]
        return answer

    def _which(self, params: dict[str, str], client_key: str) -> tuple[str, int | None, str | None]:
        order_id, client_id = _integer(params, "orderId"), params.get(client_key)
        if order_id is None and client_id is None:
            raise ExchangeError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        return _symbol(params), order_id, client_id

    async def _cancel(self, request: web.Request, params: dict[str, str]) -> Any:
        order = self.exchange.cancel(*self._which(params, "origClientOrderId"))
        answer = order_json(order, time_key="transactTime")
        answer["origClientOrderId"] = order.client_id
        return answer

    async def _get_order(self, request: web.Request, params: dict[str, str]) -> Any:
        order = self.exchange.find(*self._which(params, "origClientOrderId"))
        if not self._visible(order):
            raise ExchangeError(-2013, "Order does not exist.")
        return order_json(order)

    async def _open_orders(self, request: web.Request, params: dict[str, str]) -> Any:
        symbol = params["symbol"].upper() if params.get("symbol") else None
        return [order_json(o) for o in self.exchange.open_orders(symbol) if self._visible(o)]

    async def _my_trades(self, request: web.Request, params: dict[str, str]) -> Any:
        return [trade_json(t) for t in self._trades_page(params)]

    def _trades_page(self, params: dict[str, str]) -> list[Trade]:
        """The account's trades a ``myTrades`` / ``userTrades`` request asks for (symbol, orderId, limit):
        from ``fromId`` onwards; without it, the most recent ones (still oldest first), as Binance does."""
        symbol = _symbol(params)
        from_id, order_id = _integer(params, "fromId"), _integer(params, "orderId")
        limit = min(_integer(params, "limit") or 500, 1000)
        trades = [
            t
            for t in self.exchange.trades
            if t.symbol == symbol and t.trade_id >= (from_id or 0) and order_id in (None, t.order_id)
        ]
        return trades[:limit] if from_id is not None else trades[-limit:]

    async def _account(self, request: web.Request, params: dict[str, str]) -> Any:
        balances = [
            {"asset": asset, "free": num(b.free), "locked": num(b.locked)}
            for asset, b in sorted(self.exchange.balances.items())
        ]
        return {
            "makerCommission": int(self.exchange.maker_fee * 10_000),
            "takerCommission": int(self.exchange.taker_fee * 10_000),
            "canTrade": True,
            "canWithdraw": False,
            "canDeposit": True,
            "updateTime": self.exchange.clock(),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }

    async def _restrictions(self, request: web.Request, params: dict[str, str]) -> Any:
        key = self._key(request)
        return {
            "ipRestrict": key.ip_restrict,
            "createTime": 0,
            "enableReading": True,
            "enableSpotAndMarginTrading": True,
            "enableWithdrawals": key.enable_withdrawals,
            "enableInternalTransfer": False,
            "enableMargin": False,
            "enableFutures": False,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
            "enablePortfolioMarginTrading": False,
        }

    async def _listen_key(self, request: web.Request) -> web.Response:
        try:
            self._key(request)
            if request.method == "POST":
                return web.json_response({"listenKey": self.streams.new_key()})
            body = await request.post()
            listen_key = request.query.get("listenKey") or str(body.get("listenKey", ""))
            if not self.streams.known(listen_key):
                raise ExchangeError(-1125, "This listenKey does not exist.")
            if request.method == "DELETE":
                await self.streams.close_key(listen_key)
            return web.json_response({})
        except ExchangeError as exc:
            return _error(exc)

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            fault = OrderFault.from_mapping(await request.json())
        except (FaultError, ValueError) as exc:  # ValueError covers malformed JSON too
            return web.json_response({"error": str(exc)}, status=400)
        self.arm(fault)
        return web.json_response({"armed": {**asdict(fault), "kind": str(fault.kind)}})

    async def _truth(self, request: web.Request) -> web.Response:
        return web.json_response(truth_json(self.exchange))

    async def _counterparty_fill(self, request: web.Request) -> web.Response:
        """``{"symbol": "BTCUSDT", "clientOrderId": ..., "qty": "0.0008"}``: another trader fills that
        much of our resting order at its price (unsigned: an admin endpoint, like the truth)."""
        try:
            body = await request.json()
            symbol, client_id, qty = str(body["symbol"]), str(body["clientOrderId"]), Decimal(str(body["qty"]))
            trade = self.exchange.counterparty_fill(symbol, client_id, qty)
        except ExchangeError as exc:
            return _error(exc)
        except (ValueError, KeyError, TypeError, InvalidOperation) as exc:  # malformed JSON or fields
            return web.json_response({"error": f"expected symbol, clientOrderId, qty: {exc!r}"}, status=400)
        return web.json_response(trade_json(trade))
