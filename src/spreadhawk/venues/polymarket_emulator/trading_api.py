"""The trading endpoints of the Polymarket emulator, as py-clob-client 0.34.6 calls them.

``add_trading_routes(app, exchange)`` adds them to any aiohttp application (the market-data
emulator's server, or a test's own): L1 ``POST /auth/api-key`` and ``GET /auth/derive-api-key``;
L2 ``POST /order``, ``DELETE /order``, ``DELETE /orders``, ``DELETE /cancel-all``,
``GET /data/order/{id}``, ``GET /data/orders``, ``GET /data/trades``, ``GET /balance-allowance``,
``GET /balance-allowance/update``; the user channel ``/ws/user`` (``user_channel``); and
``POST /emulator/redeem`` (L2), the stand-in for redeeming on chain (see ``redeem``), and
``POST /emulator/user-channel/drop`` (a network fault on the user channel) and
``POST /emulator/order-fault`` ``{"lose_answers": n}``: the next n orders are placed but answered 503,
as when the answer is lost on the way back; ``{"hold_trades": true}``: trades are matched but neither
listed nor pushed until ``{"hold_trades": false}`` (the trade feeds lagging the order answer). With
``market_info`` (default) also the public look-ups order signing needs: ``GET /tick-size``,
``GET /neg-risk``, ``GET /fee-rate`` -- pass ``market_info=False`` when the server has them.

Errors as Polymarket answers them: bad credentials 401 ``{"error": "Unauthorized/Invalid api key"}``;
a refused order or request 400 ``{"error": "<reason>"}``.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from aiohttp import web

from spreadhawk.venues.polymarket.eip712 import exchange_address
from spreadhawk.venues.polymarket_emulator.trading_auth import UNAUTHORIZED, ApiCredentials, AuthError
from spreadhawk.venues.polymarket_emulator.trading_exchange import MICRO, OrderRefusedError, PolymarketTradingExchange
from spreadhawk.venues.polymarket_emulator.trading_formats import order_wire, trade_wire
from spreadhawk.venues.polymarket_emulator.user_channel import UserSockets, user_channel_handler

__all__ = ["add_trading_routes"]

log = logging.getLogger(__name__)

END_CURSOR = "LTE="  # Polymarket's "no more pages"
UNLIMITED = str(2**256 - 1)  # the allowance an approved wallet has


def add_trading_routes(app: web.Application, exchange: PolymarketTradingExchange, *, market_info: bool = True) -> None:
    """Serve ``exchange``'s trading endpoints on ``app`` (see the module docstring)."""
    api = _TradingApi(exchange)
    app.router.add_post("/auth/api-key", api.create_api_key)
    app.router.add_get("/auth/derive-api-key", api.create_api_key)
    app.router.add_post("/order", api.post_order)
    app.router.add_delete("/order", api.cancel)
    app.router.add_delete("/orders", api.cancel_many)
    app.router.add_delete("/cancel-all", api.cancel_all)
    app.router.add_get("/data/order/{order_id}", api.get_order)
    app.router.add_get("/data/orders", api.get_orders)
    app.router.add_get("/data/trades", api.get_trades)
    app.router.add_get("/balance-allowance", api.balance_allowance)
    app.router.add_get("/balance-allowance/update", api.balance_allowance)
    app.router.add_post("/emulator/redeem", api.redeem)
    app.router.add_post("/emulator/order-fault", api.order_fault)
    sockets = UserSockets()
    app.router.add_get("/ws/user", user_channel_handler(exchange, sockets))
    app.router.add_post("/emulator/user-channel/drop", sockets.drop)
    if market_info:
        app.router.add_get("/tick-size", api.tick_size)
        app.router.add_get("/neg-risk", api.neg_risk)
        app.router.add_get("/fee-rate", api.fee_rate)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class _TradingApi:
    def __init__(self, exchange: PolymarketTradingExchange) -> None:
        self.exchange = exchange
        self.lose_answers = 0  # orders placed whose answer is replaced by a 503 (see order_fault)

    async def _level2(self, request: web.Request) -> tuple[ApiCredentials, str]:
        body = await request.text()
        try:
            creds = self.exchange.auth.level2(request.headers, request.method, request.path, body)
        except AuthError as exc:
            log.info("polymarket emulator: 401 on %s %s: %s", request.method, request.path, exc)
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": UNAUTHORIZED}), content_type="application/json"
            ) from None
        return creds, body

    @staticmethod
    def _json(body: str) -> Any:
        try:
            return json.loads(body) if body else None
        except json.JSONDecodeError:
            raise web.HTTPBadRequest(
                text=json.dumps({"error": "Invalid order payload"}), content_type="application/json"
            ) from None

    async def create_api_key(self, request: web.Request) -> web.Response:
        try:
            creds = self.exchange.auth.level1(request.headers)
        except AuthError as exc:
            log.info("polymarket emulator: 401 on %s: %s", request.path, exc)
            return _error(401, UNAUTHORIZED)
        return web.json_response(creds.wire())

    async def post_order(self, request: web.Request) -> web.Response:
        creds, body = await self._level2(request)
        try:
            answer = self.exchange.place(creds, self._json(body))
        except OrderRefusedError as exc:
            return _error(400, str(exc))
        if self.lose_answers > 0:
            self.lose_answers -= 1
            return _error(503, "answer lost (emulator fault)")
        return web.json_response(answer)

    async def order_fault(self, request: web.Request) -> web.Response:
        fault = await request.json()
        if not isinstance(fault, dict) or not fault or set(fault) - {"lose_answers", "hold_trades"}:
            return _error(400, 'expected {"lose_answers": n} and/or {"hold_trades": true|false}')
        if not isinstance(fault.get("lose_answers", 0), int) or not isinstance(fault.get("hold_trades", False), bool):
            return _error(400, "lose_answers is a count, hold_trades true or false")
        self.lose_answers = fault.get("lose_answers", self.lose_answers)
        if fault.get("hold_trades") is True:
            self.exchange.hold_trades = True
        elif fault.get("hold_trades") is False:
            self.exchange.release_trades()
        return web.json_response({"lose_answers": self.lose_answers, "hold_trades": self.exchange.hold_trades})

    async def cancel(self, request: web.Request) -> web.Response:
        creds, body = await self._level2(request)
        payload = self._json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("orderID"), str):
            return _error(400, "Invalid payload: orderID missing")
        return web.json_response(self.exchange.cancel(creds, [payload["orderID"]]))

    async def cancel_many(self, request: web.Request) -> web.Response:
        creds, body = await self._level2(request)
        payload = self._json(body)
        if not isinstance(payload, list) or not all(isinstance(i, str) for i in payload):
            return _error(400, "Invalid payload: a list of order ids")
        return web.json_response(self.exchange.cancel(creds, payload))

    async def cancel_all(self, request: web.Request) -> web.Response:
        creds, _ = await self._level2(request)
        return web.json_response(self.exchange.cancel_all(creds))

    async def get_order(self, request: web.Request) -> web.Response:
        creds, _ = await self._level2(request)
        order = self.exchange.orders.get(request.match_info["order_id"])
        if order is None or order.owner != creds.api_key:
            return web.json_response(None)  # Polymarket answers null for an unknown order
        return web.json_response(order_wire(order))

    async def get_orders(self, request: web.Request) -> web.Response:
        creds, _ = await self._level2(request)
        rows = [order_wire(o) for o in self.exchange.open_orders(creds, dict(request.query))]
        return web.json_response({"data": rows, "next_cursor": END_CURSOR, "limit": len(rows), "count": len(rows)})

    async def get_trades(self, request: web.Request) -> web.Response:
        creds, _ = await self._level2(request)
        rows = [trade_wire(f, "CONFIRMED", False) for f in self.exchange.user_trades(creds, dict(request.query))]
        return web.json_response({"data": rows, "next_cursor": END_CURSOR, "limit": len(rows), "count": len(rows)})

    async def balance_allowance(self, request: web.Request) -> web.Response:
        creds, _ = await self._level2(request)
        asset_type = request.query.get("asset_type", "")
        if asset_type == "COLLATERAL":
            held = self.exchange.balance(creds.address)
        elif asset_type == "CONDITIONAL" and request.query.get("token_id"):
            held = self.exchange.balance(creds.address, request.query["token_id"])
        else:
            return _error(400, "invalid asset_type: COLLATERAL, or CONDITIONAL with a token_id")
        spenders = {exchange_address(self.exchange.chain_id, n): UNLIMITED for n in (False, True)}
        return web.json_response({"balance": str(int(held * MICRO)), "allowances": spenders})

    async def redeem(self, request: web.Request) -> web.Response:
        creds, body = await self._level2(request)
        payload = self._json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("condition_id"), str):
            return _error(400, "Invalid payload: condition_id missing")
        try:
            return web.json_response(self.exchange.redeem(creds, payload["condition_id"]))
        except OrderRefusedError as exc:
            return _error(400, str(exc))

    def _market(self, request: web.Request) -> Any:
        market = self.exchange.markets.by_token.get(request.query.get("token_id", ""))
        if market is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "market not found"}), content_type="application/json")
        return market

    async def tick_size(self, request: web.Request) -> web.Response:
        return web.json_response({"minimum_tick_size": float(Decimal(self._market(request).tick_size))})

    async def neg_risk(self, request: web.Request) -> web.Response:
        return web.json_response({"neg_risk": self._market(request).neg_risk})

    async def fee_rate(self, request: web.Request) -> web.Response:
        return web.json_response({"base_fee": self._market(request).fee_rate_bps})
