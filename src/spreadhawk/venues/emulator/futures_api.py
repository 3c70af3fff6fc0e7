"""Binance USD-M's signed endpoints over a ``FuturesExchange``, and its listenKey user stream.

The authentication, the order faults and the listenKey handling are ``OrdersApi``'s (the same rules
on ``/fapi`` as on ``/api``); the routes and the answers are the futures ones:

* ``POST/DELETE/GET /fapi/v1/order``, ``GET /fapi/v1/openOrders``, ``GET /fapi/v1/userTrades``
  (``fromId``, ``orderId``), ``GET /fapi/v2|v3/account``, ``GET /fapi/v2|v3/balance``,
  ``GET /fapi/v2|v3/positionRisk``, ``GET /fapi/v1/income`` (``incomeType=FUNDING_FEE``),
  ``GET /fapi/v1/leverageBracket`` (ccxt reads it before ``fetch_positions``);
* ``POST/DELETE/GET /fapi/v1/algoOrder``, ``GET /fapi/v1/openAlgoOrders``: conditional orders
  (``algo_orders``), reported on the stream as ``ALGO_UPDATE``;
* ``GET /fapi/v1/fundingRate`` (public): the funding times the replay passed, with rate and mark;
* ``POST/PUT/DELETE /fapi/v1/listenKey``; the stream on ``/ws/<listenKey>`` carries
  ``ORDER_TRADE_UPDATE`` and ``ACCOUNT_UPDATE`` (``m`` = ORDER or FUNDING_FEE);
* ``GET /emulator/truth`` with the positions and the funding paid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from spreadhawk.venues.emulator.algo_orders import AlgoOrder, algo_order_json, algo_update
from spreadhawk.venues.emulator.exchange import ExchangeError, Order, Trade
from spreadhawk.venues.emulator.futures_exchange import FuturesExchange
from spreadhawk.venues.emulator.futures_formats import (
    account_json,
    account_update,
    futures_order_json,
    futures_trade_json,
    futures_truth_json,
    income_json,
    order_trade_update,
    position_risk_json,
)
from spreadhawk.venues.emulator.orders_api import ApiKey, Handler, OrdersApi, _decimal, _integer, _symbol
from spreadhawk.venues.emulator.user_stream import UserStreams

__all__ = ["FuturesApi", "FuturesUserStreams"]


class FuturesUserStreams(UserStreams):
    """The futures listenKey stream: ``ORDER_TRADE_UPDATE`` per order event, ``ACCOUNT_UPDATE`` per
    account change (fills and funding)."""

    def __init__(self, exchange: FuturesExchange, secrets: Mapping[str, str]) -> None:
        super().__init__(exchange, secrets)
        self.futures = exchange
        exchange.account_listeners.append(self._on_account)
        exchange.algo.listeners.append(self._on_algo)

    def _on_execution(self, order: Order, exec_type: str, trade: Trade | None) -> None:
        self._publish(order_trade_update(order, exec_type, trade, self.exchange.clock()))

    def _on_account(self, reason: str) -> None:
        self._publish(account_update(self.futures, reason, self.exchange.clock()))

    def _on_algo(self, order: AlgoOrder) -> None:
        self._publish(algo_update(order, self.exchange.clock()))


class FuturesApi(OrdersApi):
    """Routes the USD-M endpoints of ``exchange`` for the holders of ``keys``."""

    def __init__(
        self,
        exchange: FuturesExchange,
        keys: list[ApiKey],
        streams: UserStreams,
        recorded_funding: Callable[[dict[str, str]], list[dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(exchange, keys, streams)
        self.futures = exchange
        self._recorded_funding = recorded_funding  # history_api's, for symbols this side does not trade

    def add_routes(self, app: web.Application) -> None:
        signed: list[tuple[str, str, Handler]] = [
            ("POST", "/fapi/v1/order", self._new_futures_order),
            ("DELETE", "/fapi/v1/order", self._cancel_futures),
            ("GET", "/fapi/v1/order", self._get_futures_order),
            ("GET", "/fapi/v1/openOrders", self._futures_open_orders),
            ("POST", "/fapi/v1/algoOrder", self._new_algo_order),
            ("DELETE", "/fapi/v1/algoOrder", self._cancel_algo_order),
            ("GET", "/fapi/v1/algoOrder", self._get_algo_order),
            ("GET", "/fapi/v1/openAlgoOrders", self._open_algo_orders),
            ("GET", "/fapi/v1/userTrades", self._user_trades),
            ("GET", "/fapi/v1/income", self._income),
            ("GET", "/fapi/v1/leverageBracket", self._leverage_bracket),
            ("GET", "/sapi/v1/account/apiRestrictions", self._restrictions),  # one endpoint for every key
        ]
        for version in ("v2", "v3"):
            signed += [
                ("GET", f"/fapi/{version}/account", self._futures_account),
                ("GET", f"/fapi/{version}/balance", self._balance),
                ("GET", f"/fapi/{version}/positionRisk", self._position_risk),
            ]
        for method, path, handler in signed:
            places = handler in (self._new_futures_order, self._new_algo_order)  # committing faults apply
            app.router.add_route(method, path, self._signed(handler, places=places))
        for method in ("POST", "PUT", "DELETE"):
            app.router.add_route(method, "/fapi/v1/listenKey", self._listen_key)
        app.router.add_get("/fapi/v1/fundingRate", self._funding_rate)  # public: market data
        app.router.add_get("/emulator/truth", self._truth)
        app.router.add_get("/admin/truth", self._truth)
        app.router.add_post("/emulator/order_fault", self._post_fault)

    async def _new_futures_order(self, request: web.Request, params: dict[str, str]) -> Any:
        reduce_only = params.get("reduceOnly", "false").lower()
        if reduce_only not in ("true", "false"):
            raise ExchangeError(-1100, "Illegal characters found in parameter 'reduceOnly'.")
        order, _ = self.futures.place(
            _symbol(params),
            params.get("side", "").upper(),
            params.get("type", "").upper(),
            qty=_decimal(params, "quantity"),
            quote_qty=_decimal(params, "quoteOrderQty"),
            price=_decimal(params, "price"),
            time_in_force=params.get("timeInForce"),
            client_id=params.get("newClientOrderId"),
            reduce_only=reduce_only == "true",
        )
        # USD-M answers with the order (newOrderRespType ACK by default); fills come on the user stream
        # and from userTrades.
        return futures_order_json(order)

    async def _new_algo_order(self, request: web.Request, params: dict[str, str]) -> Any:
        if params.get("algoType") != "CONDITIONAL":
            raise ExchangeError(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null.")
        reduce_only = params.get("reduceOnly", "false").lower()
        if reduce_only not in ("true", "false"):
            raise ExchangeError(-1100, "Illegal characters found in parameter 'reduceOnly'.")
        order = self.futures.algo.place(
            _symbol(params),
            params.get("side", "").upper(),
            params.get("type", "").upper(),
            qty=_decimal(params, "quantity"),
            trigger=_decimal(params, "triggerPrice"),
            reduce_only=reduce_only == "true",
            client_algo_id=params.get("clientAlgoId"),
        )
        return algo_order_json(order)

    async def _cancel_algo_order(self, request: web.Request, params: dict[str, str]) -> Any:
        order = self.futures.algo.cancel(_integer(params, "algoId"), params.get("clientAlgoId"))
        return {"algoId": order.algo_id, "clientAlgoId": order.client_algo_id, "code": "200", "msg": "success"}

    async def _get_algo_order(self, request: web.Request, params: dict[str, str]) -> Any:
        return algo_order_json(self.futures.algo.find(_integer(params, "algoId"), params.get("clientAlgoId")))

    async def _open_algo_orders(self, request: web.Request, params: dict[str, str]) -> Any:
        symbol = params["symbol"].upper() if params.get("symbol") else None
        return [algo_order_json(o) for o in self.futures.algo.open_orders(symbol)]

    async def _cancel_futures(self, request: web.Request, params: dict[str, str]) -> Any:
        return futures_order_json(self.futures.cancel(*self._which(params, "origClientOrderId")))

    async def _get_futures_order(self, request: web.Request, params: dict[str, str]) -> Any:
        order = self.futures.find(*self._which(params, "origClientOrderId"))
        if not self._visible(order):
            raise ExchangeError(-2013, "Order does not exist.")
        return futures_order_json(order)

    async def _futures_open_orders(self, request: web.Request, params: dict[str, str]) -> Any:
        symbol = params["symbol"].upper() if params.get("symbol") else None
        return [futures_order_json(o) for o in self.futures.open_orders(symbol) if self._visible(o)]

    async def _user_trades(self, request: web.Request, params: dict[str, str]) -> Any:
        return [futures_trade_json(t) for t in self._trades_page(params)]

    async def _futures_account(self, request: web.Request, params: dict[str, str]) -> Any:
        return account_json(self.futures)

    async def _balance(self, request: web.Request, params: dict[str, str]) -> Any:
        asset = account_json(self.futures)["assets"][0]
        keep = ("asset", "crossWalletBalance", "crossUnPnl", "availableBalance", "maxWithdrawAmount", "updateTime")
        return [{"accountAlias": "emulator", "balance": asset["walletBalance"], **{k: asset[k] for k in keep}}]

    async def _position_risk(self, request: web.Request, params: dict[str, str]) -> Any:
        wanted = params["symbol"].upper() if params.get("symbol") else None
        return [position_risk_json(self.futures, s) for s in sorted(self.futures.positions) if wanted in (None, s)]

    async def _income(self, request: web.Request, params: dict[str, str]) -> Any:
        symbol = params["symbol"].upper() if params.get("symbol") else None
        kind = params.get("incomeType")
        start, end = _integer(params, "startTime") or 0, _integer(params, "endTime")
        limit = min(_integer(params, "limit") or 100, 1000)
        records = [
            i
            for i in self.futures.income
            if symbol in (None, i.symbol) and kind in (None, i.income_type) and i.time >= start
            and (end is None or i.time <= end)
        ]  # fmt: skip
        return [income_json(i) for i in records[:limit]]

    async def _funding_rate(self, request: web.Request) -> web.Response:
        """``GET /fapi/v1/fundingRate``: the funding times the replay has passed, with rate and mark; for a
        symbol this side does not trade, the recorded history (``history_api``)."""
        wanted = request.query.get("symbol", "").upper() or None
        if wanted not in self.futures.rules and self._recorded_funding is not None:
            try:
                return web.json_response(self._recorded_funding(dict(request.query)))
            except Exception as exc:  # the history's own refusals (bad symbol, limit) are answers
                return web.json_response({"code": getattr(exc, "code", -1100), "msg": str(exc)}, status=400)
        start = int(request.query.get("startTime", 0) or 0)
        rates = [
            {"symbol": s, "fundingTime": t, "fundingRate": str(r), "markPrice": str(m)}
            for s, t, r, m in self.futures.funding_rates
            if wanted in (None, s) and t >= start
        ]
        return web.json_response(rates[: int(request.query.get("limit", 100) or 100)])

    async def _leverage_bracket(self, request: web.Request, params: dict[str, str]) -> Any:
        bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 1_000_000_000, "notionalFloor": 0,
                   "maintMarginRatio": 0.004, "cum": 0.0}  # fmt: skip
        return [{"symbol": s, "brackets": [bracket]} for s in sorted(self.futures.rules)]

    async def _truth(self, request: web.Request) -> web.Response:
        return web.json_response(futures_truth_json(self.futures))
