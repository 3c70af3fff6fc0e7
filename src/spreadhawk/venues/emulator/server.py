"""A local Binance market-data exchange: an aiohttp server on 127.0.0.1 that replays raw captures.

Endpoints, in Binance's formats (spot under ``/api/v3``, USD-M under ``/fapi/v1``):

* ``GET exchangeInfo`` -- the recorded answer of cryptofeed's sample data (``BINANCE.0`` /
  ``BINANCE_FUTURES.0``), enough for ``ccxt.load_markets()``;
* ``GET depth?symbol=&limit=`` -- the book at the replay position. Before the replay has passed the
  recorded snapshot this is the recorded answer itself (the first sync); afterwards it is the recorded
  snapshot with every replayed diff applied, ``lastUpdateId`` = ``u`` of the last diff replayed
  (whether or not a fault kept it from the clients), so a client can resync after any fault;
* ``GET time`` (with ``trading``: the order side's clock, the one signed timestamps are checked
  against; otherwise the replay position), ``GET ping``;
* every REST answer carries ``X-MBX-USED-WEIGHT-*`` and requests beyond the exchangeInfo
  ``rateLimits`` are answered 429, then 418 (see ``rate_limits``; ``rate_limits=`` lowers them);
* websocket ``/ws`` and ``/ws/<n>``: ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests,
  then the raw ``depthUpdate``, ``bookTicker``, ``trade`` and ``markPriceUpdate`` objects of the
  subscribed streams (``btcusdt@depth``, ``btcusdt@depth@100ms``, ``@bookTicker``, ``@trade``,
  ``@aggTrade`` (served the trade events), ``@markPrice[@1s]``);
* with ``trading``: the signed order endpoints, the listenKey user stream on ``/ws/<listenKey>``,
  ``GET /emulator/truth``, ``POST /emulator/order_fault`` and ``POST /emulator/stream_fault``; spot:
  ``GET /sapi/v1/account/apiRestrictions`` too (see ``orders_api``, ``exchange``, ``user_stream``,
  ``order_faults``, ``stream_faults``); USD-M: positions, funding income (see ``futures_api``,
  ``futures_exchange``);
* control: ``POST /emulator/fault`` (a fault as JSON, see ``faults.Fault``), ``POST /emulator/start``,
  ``GET /emulator/status``.

``start_at_ms`` moves every exchange time it sends (``E``, ``T``, in streams and depth answers) so
that the replay's first message is stamped then: a capture of one day replayed beside a recording of
another (seed 004's Binance reference beside a Polymarket session, on one timeline).

The replay starts when the first client subscribes (``autostart``) or on ``start_replay``. In tests use
it in-process: ``async with BinanceEmulator(...) as emu:`` binds port 0; ``emu.port`` is the port.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from spreadhawk.venues.emulator.captures import Capture, Market, StreamKind, capture_paths, load_capture
from spreadhawk.venues.emulator.exchange import SpotExchange, symbol_rules
from spreadhawk.venues.emulator.faults import Fault, FaultError
from spreadhawk.venues.emulator.futures_api import FuturesApi, FuturesUserStreams
from spreadhawk.venues.emulator.futures_exchange import FuturesExchange
from spreadhawk.venues.emulator.history_api import HistoryApi
from spreadhawk.venues.emulator.orders_api import OrdersApi, TradingConfig
from spreadhawk.venues.emulator.rate_limits import RateLimitConfig, RateLimiter, rewrite_limits
from spreadhawk.venues.emulator.replay import Replay, shifted
from spreadhawk.venues.emulator.user_stream import UserStreams

__all__ = ["BinanceEmulator", "exchange_info_text"]

log = logging.getLogger(__name__)

_PREFIX = {Market.SPOT: "/api/v3", Market.USDM: "/fapi/v1"}
_INFO_FILE = {Market.SPOT: "BINANCE.0", Market.USDM: "BINANCE_FUTURES.0"}
_DEFAULT_LIMIT = {Market.SPOT: 100, Market.USDM: 500}
_MAX_LIMIT = 5000
_STREAMS = {
    "depth": StreamKind.DEPTH,
    "bookTicker": StreamKind.BOOK_TICKER,
    "trade": StreamKind.TRADE,
    "aggTrade": StreamKind.TRADE,
    "markPrice": StreamKind.MARK_PRICE,
}
_UPDATE_SPEEDS = {"", "0ms", "100ms", "250ms", "500ms", "1000ms", "1s", "3s"}


@lru_cache(maxsize=4)
def exchange_info_text(path: Path) -> str:
    """The recorded exchangeInfo JSON: the first line of a cryptofeed capture, after ``-> <ts>: ``."""
    with path.open(encoding="utf-8") as lines:
        first = lines.readline()
    marker = first.find(": ", first.find(" -> "))
    if " -> " not in first or marker < 0:
        raise ValueError(f"{path}: first line is not '<url> -> <ts>: <json>'")
    return first[marker + 2 :].strip()


def _parse_stream(name: Any) -> tuple[str, StreamKind]:
    """``"btcusdt@depth@100ms"`` -> ``("BTCUSDT", DEPTH)``; ValueError naming the problem otherwise."""
    if not isinstance(name, str) or name.count("@") not in (1, 2):
        raise ValueError(f"invalid stream name {name!r}")
    symbol, stream, *speed = name.split("@")
    kind = _STREAMS.get(stream)
    if not symbol or kind is None or (speed and speed[0] not in _UPDATE_SPEEDS):
        raise ValueError(f"invalid stream name {name!r}")
    return symbol.upper(), kind


class _Connection:
    """One websocket client and its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.streams: dict[str, tuple[str, StreamKind]] = {}  # name as subscribed -> key

    def wants(self, symbol: str, kind: StreamKind) -> bool:
        return (symbol, kind) in self.streams.values()

    async def send(self, text: str) -> None:
        if self.ws.closed:
            return
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            log.debug("emulator: client gone while sending")

    async def close(self) -> None:
        await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator: disconnect")


class BinanceEmulator:
    """Serves ``captures`` (one market, one capture per symbol) as Binance does."""

    def __init__(
        self,
        captures: Sequence[Capture],
        *,
        market: Market,
        exchange_info: Path,
        speed: float = 1.0,
        faults: Iterable[Fault] = (),
        autostart: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        trading: TradingConfig | None = None,
        rate_limits: RateLimitConfig | None = None,
        start_at_ms: int | None = None,
    ) -> None:
        self.market = Market(market)
        shift = 0 if start_at_ms is None else start_at_ms - _first_event_ms(captures)
        self.replay = Replay(captures, speed=speed, faults=faults, time_shift_ms=shift)
        self.autostart = autostart
        self._info_dir = exchange_info
        self._host = host
        self._requested_port = port
        self._connections: set[_Connection] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.trading = trading
        self.exchange: SpotExchange | None = None  # the order side, when ``trading`` is configured
        self.user_streams: UserStreams | None = None
        self.orders_api: OrdersApi | None = None  # arm order faults with ``orders_api.arm``
        self.route_hooks: list[Callable[[web.Application], None]] = []  # more routes, added at start
        self._rate_config = rate_limits or RateLimitConfig()
        self._info_text: str | None = None  # this market's exchangeInfo, with ``rate_limits`` applied
        self.rate_limiter: RateLimiter | None = None
        self.history = HistoryApi.beside(exchange_info, self.market)  # klines/aggTrades/fundingRate (history_api)

    @classmethod
    def from_data_dir(cls, data_dir: Path, market: Market, symbols: Sequence[str], **options: Any) -> BinanceEmulator:
        """An emulator over the hftbacktest captures of ``symbols`` in ``data_dir`` (``shared/data``)."""
        captures = [load_capture(path) for path in capture_paths(data_dir, Market(market), list(symbols))]
        return cls(captures, market=Market(market), exchange_info=data_dir / "cryptofeed" / "sample_data", **options)

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> int:
        """Bind and serve; returns the port (the one asked for, or a free one for port 0)."""
        try:
            info = rewrite_limits(
                json.loads(exchange_info_text(self._info_dir / _INFO_FILE[self.market])), self._rate_config
            )
        except (OSError, ValueError) as exc:  # served as a 500 by exchangeInfo; nothing to enforce
            log.warning("emulator: no exchangeInfo, so no rate limits: %s", exc)
            info = {}
        self._info_text = _dumps(info) if info else None
        self.rate_limiter = RateLimiter(info, ban_s=self._rate_config.ban_s)
        app = web.Application(middlewares=[self.rate_limiter.middleware])
        prefix = _PREFIX[self.market]
        app.router.add_get("/api/v3/exchangeInfo", self._spot_info)
        app.router.add_get("/fapi/v1/exchangeInfo", self._usdm_info)
        for api in _PREFIX.values():
            app.router.add_get(f"{api}/time", self._time)
            app.router.add_get(f"{api}/ping", self._ping)
        app.router.add_get(f"{prefix}/depth", self._depth)
        app.router.add_get("/ws", self._websocket)
        app.router.add_get("/ws/{n}", self._websocket)
        # ccxt's USD-M client splits Binance's futures streams by category: <base>/{public,market,private}/ws,
        # the user stream as /private/ws?listenKey=<key>.
        for category in ("public", "market", "private"):
            app.router.add_get(f"/{category}/ws", self._websocket)
        app.router.add_post("/emulator/fault", self._post_fault)
        app.router.add_post("/emulator/start", self._post_start)
        app.router.add_get("/emulator/status", self._status)
        # with a USD-M order side, fundingRate is the side's (the funding the replay applied), then history's
        self.history.add_routes(app, funding=self.trading is None or self.market is not Market.USDM)
        if self.trading is not None:
            self._add_trading(app, self.trading)
        for add_routes in self.route_hooks:
            add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._requested_port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])  # the bound port, also when 0 was asked for
        log.info("Binance %s emulator on %s (symbols %s)", self.market, self.http_url, ", ".join(self.replay.symbols))
        return self.port

    def _add_trading(self, app: web.Application, trading: TradingConfig) -> None:
        info = json.loads(exchange_info_text(self._info_dir / _INFO_FILE[self.market]))
        rules = symbol_rules(info, self.replay.symbols)
        secrets = {k.key: k.secret for k in trading.keys}
        fees: dict[str, Any] = {"taker_fee": trading.taker_fee, "maker_fee": trading.maker_fee}
        clock = lambda: int(time.time() * 1000)  # noqa: E731 -- the exchange's wall clock, as ccxt signs with its own
        if self.market is Market.USDM:
            quotes = {r.quote for r in rules.values()}
            futures = FuturesExchange(
                rules, self.replay.books, trading.balances.get(min(quotes), "0"), **fees, clock=clock
            )
            self.exchange = futures
            self.user_streams = FuturesUserStreams(futures, secrets)
            self.orders_api = FuturesApi(futures, list(trading.keys), self.user_streams, self.history.funding_rate)
        else:
            self.exchange = SpotExchange(rules, self.replay.books, trading.balances, **fees, clock=clock)
            self.user_streams = UserStreams(self.exchange, secrets)
            self.orders_api = OrdersApi(self.exchange, list(trading.keys), self.user_streams)
            app.router.add_get("/ws-api/v3", self._ws_api)
        self.replay.listeners.append(self.exchange.on_market)
        self.orders_api.add_routes(app)
        self.user_streams.add_routes(app)  # the stream faults' control endpoint

    async def stop(self) -> None:
        """Stop the replay, close every connection and the server."""
        await self.replay.stop()
        for connection in list(self._connections):
            await connection.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BinanceEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- in-process control -----------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Arm ``fault`` now (it fires at the ``fault.after``-th next diff of its symbol)."""
        self.replay.arm(fault)

    def start_replay(self) -> None:
        self.replay.start()

    @property
    def http_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._host}:{self.port}/ws"

    def ccxt_urls(self) -> dict[str, Any]:
        """The ``urls`` override pointing a ccxt binance (spot) / binanceusdm client at this emulator."""
        base = self.http_url
        if self.market is Market.SPOT:
            api = {"public": f"{base}/api/v3", "private": f"{base}/api/v3", "v1": f"{base}/api/v1"}
            ws = {"spot": self.ws_url, "ws-api": {"spot": f"{self.ws_url}-api/v3"}}
            return {"api": {**api, "sapi": f"{base}/sapi/v1", "ws": ws}}
        api = {
            "fapiPublic": f"{base}/fapi/v1",
            "fapiPublicV2": f"{base}/fapi/v2",
            "fapiPublicV3": f"{base}/fapi/v3",
            "fapiPrivate": f"{base}/fapi/v1",
            "fapiPrivateV2": f"{base}/fapi/v2",
            "fapiPrivateV3": f"{base}/fapi/v3",
            "fapiData": f"{base}/futures/data",
        }
        return {"api": {**api, "ws": {"linear": self.ws_url, "future": self.ws_url}}}

    # --- REST -------------------------------------------------------------------------
    def _info(self, market: Market) -> web.Response:
        if market is self.market and self._info_text is not None:
            return web.Response(text=self._info_text, content_type="application/json")
        path = self._info_dir / _INFO_FILE[market]
        try:
            text = exchange_info_text(path)
        except (OSError, ValueError) as exc:
            return _error(500, -1000, f"emulator has no exchangeInfo: {exc}")
        return web.Response(text=text, content_type="application/json")

    async def _spot_info(self, request: web.Request) -> web.Response:
        return self._info(Market.SPOT)

    async def _usdm_info(self, request: web.Request) -> web.Response:
        return self._info(Market.USDM)

    async def _time(self, request: web.Request) -> web.Response:
        if self.exchange is not None:  # the clock signed requests are checked against
            return web.json_response({"serverTime": self.exchange.clock()})
        return web.json_response({"serverTime": self.replay.last_event_ms or 0})

    async def _ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "").upper()
        book = self.replay.books.get(symbol)
        if book is None:
            return _error(400, -1121, "Invalid symbol.")
        try:
            limit = int(request.query.get("limit", _DEFAULT_LIMIT[self.market]))
        except ValueError:
            return _error(400, -1100, "Illegal characters found in parameter 'limit'.")
        if not 1 <= limit <= _MAX_LIMIT:
            return _error(400, -1130, "Invalid data sent for a parameter: limit.")
        if book.last_update_id == book.recorded_update_id:
            recorded = self.replay.recorded_snapshots[symbol]
            answer = {**recorded, "bids": recorded["bids"][:limit], "asks": recorded["asks"][:limit]}
        else:
            answer = book.depth(limit)
        return web.json_response(shifted(answer, self.replay.time_shift_ms), dumps=_dumps)

    # --- control ----------------------------------------------------------------------
    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            fault = Fault.from_mapping(await request.json())
            self.inject(fault)
        except (FaultError, ValueError) as exc:  # ValueError covers malformed JSON too
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"armed": _fault_json(fault)})

    async def _post_start(self, request: web.Request) -> web.Response:
        self.start_replay()
        return web.json_response({"started": True})

    async def _status(self, request: web.Request) -> web.Response:
        replay = self.replay
        status = {
            "market": str(self.market),
            "started": replay.started,
            "finished": replay.finished.is_set(),
            "position": replay.position,
            "sent": replay.sent,
            "connections": len(self._connections),
            "books": {symbol: book.last_update_id for symbol, book in replay.books.items()},
            "fired": [{**_fault_json(f.fault), "at_symbol": f.symbol, "update_id": f.update_id} for f in replay.fired],
        }
        return web.json_response(status)

    # --- websocket --------------------------------------------------------------------
    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        assert self.user_streams is not None  # routed only with trading
        return await self.user_streams.serve_ws_api(request)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        listen_key = request.match_info.get("n") or request.query.get("listenKey", "")
        if self.user_streams is not None and self.user_streams.known(listen_key):
            return await self.user_streams.serve(request, listen_key)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        connection = _Connection(ws)
        self._connections.add(connection)
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await ws.send_str(self._request(connection, message.data))
        finally:
            self._connections.discard(connection)
            self.replay.subscribers.discard(connection)
        return ws

    def _request(self, connection: _Connection, text: str) -> str:
        """Answer one websocket request (Binance's live subscribing)."""
        try:
            request = json.loads(text)
        except ValueError:
            return _dumps({"error": {"code": 3, "msg": "Invalid JSON: expected a JSON object"}})
        if not isinstance(request, dict):
            return _dumps({"error": {"code": 3, "msg": "Invalid JSON: expected a JSON object"}})
        request_id = request.get("id")
        method, params = request.get("method"), request.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return _dumps({"result": sorted(connection.streams), "id": request_id})
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            return _dumps({"error": {"code": 2, "msg": f"Invalid request: {method!r}"}, "id": request_id})
        try:
            streams = {name: _parse_stream(name) for name in params}
        except ValueError as exc:
            return _dumps({"error": {"code": 2, "msg": f"Invalid request: {exc}"}, "id": request_id})
        if method == "SUBSCRIBE":
            connection.streams.update(streams)
            self.replay.subscribers.add(connection)
            if self.autostart:
                self.replay.start()
        else:
            for name in streams:
                connection.streams.pop(name, None)
        return _dumps({"result": None, "id": request_id})


def _first_event_ms(captures: Sequence[Capture]) -> int:
    """The exchange time of the replay's first message (its receive time when it has no ``E``)."""
    first = min((c.messages[0] for c in captures if c.messages), key=lambda m: m.received_ns)
    return int(first.data.get("E", first.received_ns // 1_000_000))


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _error(status: int, code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def _fault_json(fault: Fault) -> dict[str, Any]:
    return {key: str(value) if key == "kind" else value for key, value in asdict(fault).items()}
