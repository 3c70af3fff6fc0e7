"""The CLOB's public REST answers over the emulator's state (its books, markets and clock).

Shapes as Polymarket's CLOB answers them and py-clob-client reads them: ``GET /markets`` pages
(``{"data", "next_cursor", "limit", "count"}``; cursors are base64 offsets, ``LTE=`` the end),
``/markets/{condition_id}``, ``/book`` (with ``min_order_size``, ``tick_size``, ``neg_risk``,
``last_trade_price`` and the book's hash), ``/price`` (``side=BUY``: the best bid; ``SELL``: the best
ask, as the live CLOB answers), ``/midpoint`` (``{"mid"}``), ``/last-trade-price``, ``/tick-size``
(``{"minimum_tick_size"}`` a number), ``/neg-risk``, ``/fee-rate`` (``{"base_fee"}`` in bps),
``/prices`` (``GET ?token_ids=&sides=`` or ``POST [{"token_id", "side"}]``: ``{token: {side: price}}``),
``/time`` (seconds) and ``/`` (``"OK"``). Errors: ``{"error": ...}`` with 400 or 404.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from spreadhawk.venues.polymarket_emulator.books import BUY, SELL, WireBook

__all__ = ["END_CURSOR", "ClobRest"]

END_CURSOR = "LTE="  # base64("-1"): the CLOB's "no more pages"
_NO_BOOK = "No orderbook exists for the requested token id"


def _cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


class ClobRest:
    """The REST routes; the dictionaries are the emulator's own (they change as the replay goes)."""

    def __init__(
        self,
        markets: dict[str, dict[str, Any]],
        market_of: dict[str, dict[str, Any]],
        books: dict[str, WireBook],
        tick_sizes: dict[str, str],
        page_size: int,
        clock_ms: Callable[[], int],
    ) -> None:
        self._markets_by_id = markets
        self._market_of = market_of
        self._books = books
        self._tick_sizes = tick_sizes
        self._page_size = page_size
        self._clock = clock_ms

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self._ok)
        app.router.add_get("/time", self._time)
        app.router.add_get("/markets", self._markets)
        app.router.add_get("/markets/{condition_id}", self._market)
        for path, handler in (
            ("/book", self._book),
            ("/price", self._price),
            ("/midpoint", self._midpoint),
            ("/last-trade-price", self._last_trade),
            ("/tick-size", self._tick_size),
            ("/neg-risk", self._neg_risk),
            ("/fee-rate", self._fee_rate),
        ):
            app.router.add_get(path, self._with_token(handler))
        app.router.add_get("/prices", self._prices_query)
        app.router.add_post("/prices", self._prices_body)

    def _with_token(self, handler: Callable[[str, web.Request], web.Response]) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            token = request.query.get("token_id", "")
            if not token:
                return _error(400, "missing query parameter 'token_id'")
            if token not in self._books:
                return _error(404, _NO_BOOK)
            return handler(token, request)

        return handle

    async def _ok(self, request: web.Request) -> web.Response:
        return web.json_response("OK")

    async def _time(self, request: web.Request) -> web.Response:
        return web.json_response(self._clock() // 1000)

    async def _markets(self, request: web.Request) -> web.Response:
        cursor = request.query.get("next_cursor", "") or "MA=="
        try:
            offset = int(base64.b64decode(cursor, validate=True).decode())
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return _error(400, f"invalid next_cursor {cursor!r}")
        markets = list(self._markets_by_id.values())
        page = markets[offset : offset + self._page_size] if offset >= 0 else []
        after = offset + len(page)
        cursor_out = _cursor(after) if offset >= 0 and after < len(markets) else END_CURSOR
        return web.json_response(
            {"data": page, "next_cursor": cursor_out, "limit": self._page_size, "count": len(page)}, dumps=_dumps
        )

    async def _market(self, request: web.Request) -> web.Response:
        market = self._markets_by_id.get(request.match_info["condition_id"])
        return web.json_response(market, dumps=_dumps) if market is not None else _error(404, "market not found")

    def _book(self, token: str, request: web.Request) -> web.Response:
        book, market = self._books[token], self._market_of[token]
        if not book.has_book:
            return _error(404, _NO_BOOK)
        summary = book.summary(
            min_order_size=str(market["minimum_order_size"]),
            tick_size=self._tick_sizes[token],
            neg_risk=bool(market.get("neg_risk", False)),
        )
        return web.json_response(summary, dumps=_dumps)

    def _price(self, token: str, request: web.Request) -> web.Response:
        side = request.query.get("side", "").upper()
        if side not in (BUY, SELL):
            return _error(400, f"side must be BUY or SELL, got {request.query.get('side', '')!r}")
        book = self._books[token]
        price = book.best_bid() if side == BUY else book.best_ask()
        return web.json_response({"price": price}) if price else _error(404, _NO_BOOK)

    async def _prices_query(self, request: web.Request) -> web.Response:
        """``GET /prices?token_ids=a,b&sides=BUY,SELL`` (one side per token id)."""
        tokens = [t for t in request.query.get("token_ids", "").split(",") if t]
        sides = [s for s in request.query.get("sides", "").split(",") if s]
        if not tokens or len(sides) != len(tokens):
            return _error(400, "token_ids and sides: comma-separated lists of the same length")
        return self._prices(list(zip(tokens, sides, strict=True)))

    async def _prices_body(self, request: web.Request) -> web.Response:
        """``POST /prices`` with ``[{"token_id": ..., "side": "BUY"|"SELL"}, ...]`` (py-clob-client's get_prices)."""
        try:
            body = await request.json()
            pairs = [(str(item["token_id"]), str(item["side"])) for item in body]
        except (ValueError, KeyError, TypeError):
            return _error(400, 'expected a JSON list of {"token_id": ..., "side": "BUY"|"SELL"}')
        return self._prices(pairs)

    def _prices(self, pairs: list[tuple[str, str]]) -> web.Response:
        """``{token: {side: best price}}``: BUY the best bid, SELL the best ask; sides without orders left out."""
        answer: dict[str, dict[str, str]] = {}
        for token, side in pairs:
            book = self._books.get(token)
            if book is None:
                return _error(404, f"{_NO_BOOK}: {token}")
            if side.upper() not in (BUY, SELL):
                return _error(400, f"side must be BUY or SELL, got {side!r}")
            price = book.best_bid() if side.upper() == BUY else book.best_ask()
            if price:
                answer.setdefault(token, {})[side.upper()] = price
        return web.json_response(answer, dumps=_dumps)

    def _midpoint(self, token: str, request: web.Request) -> web.Response:
        mid = self._books[token].midpoint()
        return web.json_response({"mid": str(mid.normalize())}) if mid is not None else _error(404, _NO_BOOK)

    def _last_trade(self, token: str, request: web.Request) -> web.Response:
        book = self._books[token]
        return web.json_response({"price": book.last_trade_price or "0.5", "side": book.last_trade_side})

    def _tick_size(self, token: str, request: web.Request) -> web.Response:
        tick = self._tick_sizes[token]
        return web.json_response({"minimum_tick_size": float(tick) if "." in tick else int(tick)})

    def _neg_risk(self, token: str, request: web.Request) -> web.Response:
        return web.json_response({"neg_risk": bool(self._market_of[token].get("neg_risk", False))})

    def _fee_rate(self, token: str, request: web.Request) -> web.Response:
        return web.json_response({"base_fee": int(self._market_of[token].get("taker_base_fee", 0) or 0)})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
