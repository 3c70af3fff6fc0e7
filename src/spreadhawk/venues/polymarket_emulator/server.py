"""A local Polymarket CLOB (market data): an aiohttp server on 127.0.0.1 replaying a recorded session.

Served in Polymarket's own formats (checked against the CLOB docs and the recorded payloads of
``shared/data/nautilus_trader/polymarket``):

* websocket ``/ws/market``: the client sends ``{"assets_ids": [...], "type": "market"}`` (later
  ``{"assets_ids": [...], "operation": "subscribe"|"unsubscribe"}``); it gets the current ``book`` of
  each of those tokens the replay has a book of (one JSON array, as Polymarket's initial dump), then
  every replayed ``book``, ``price_change`` (its entries for the client's tokens), ``last_trade_price``,
  ``tick_size_change`` and, with ``"custom_feature_enabled": true`` as Polymarket requires,
  ``market_resolved`` concerning them (``"initial_dump": false`` skips the first books). A text
  ``PING`` is answered ``PONG``; anything else not a subscription gets ``{"error": ...}`` naming it;
* REST (``rest``): ``GET /markets`` (pages of ``page_size``, ``next_cursor``), ``/markets/{condition_id}``,
  ``/book``, ``/price``, ``/midpoint``, ``/last-trade-price``, ``/tick-size``, ``/neg-risk``,
  ``/fee-rate`` (each ``?token_id=``), ``GET``/``POST /prices``, ``/time`` (the replay's clock, in
  seconds) and ``/``;
  control: ``POST /emulator/start``, ``GET /emulator/status``; in process ``disconnect_clients()``.

Hooks for the order side (built elsewhere on the same wire format): ``add_market_listener(fn)``
calls ``fn(message)`` with every message as it is published, after the emulator's own books have
it and before any client gets it (a resting order matches at the book that crossed it);
``emulator.app`` takes more routes until ``start``; ``extra_routes=[fn, ...]`` adds them at
construction.

The replay starts when the first client subscribes (``autostart``) or on ``start_replay``; pacing
follows the session's schedule divided by ``speed`` (0: as fast as the event loop goes). The server
is an adapter: it paces on the event loop's wall clock, as the Binance emulator does. In tests:
``async with PolymarketEmulator(session) as emu:`` binds port 0; ``emu.port`` is the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import WSCloseCode, WSMsgType, web

from spreadhawk.venues.polymarket_emulator.books import WireBook, apply_message
from spreadhawk.venues.polymarket_emulator.rest import ClobRest
from spreadhawk.venues.polymarket_emulator.session import (
    Event,
    PolymarketSession,
    collector_session,
    merge_sessions,
    recorded_session,
)

__all__ = ["MarketListener", "PolymarketEmulator"]

log = logging.getLogger(__name__)

MarketListener = Callable[[dict[str, Any]], None]
_CUSTOM = frozenset({"market_resolved", "best_bid_ask", "new_market"})  # behind custom_feature_enabled
_YIELD_EVERY = 256  # messages between yields to the loop when replaying as fast as possible


def message_assets(message: dict[str, Any]) -> set[str]:
    """The tokens a market-channel message concerns."""
    if "price_changes" in message:
        return {str(change.get("asset_id")) for change in message["price_changes"]}
    if "assets_ids" in message:
        return {str(asset) for asset in message["assets_ids"]}
    return {str(message.get("asset_id"))}


class _Client:
    """One websocket client: its tokens and a queue its writer drains, so that the initial dump and
    the replay's messages reach it in the order they were queued (and a slow client holds no one)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.assets: set[str] = set()
        self.custom = False  # subscribed with custom_feature_enabled
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer = asyncio.get_running_loop().create_task(self._write(), name="polymarket-emulator-writer")

    async def _write(self) -> None:
        while (text := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                log.debug("polymarket emulator: client gone while sending")
                return

    def offer(self, message: dict[str, Any], text: str) -> None:
        if message.get("event_type") in _CUSTOM and not self.custom:
            return  # Polymarket sends these only to subscriptions with custom_feature_enabled
        wanted = message_assets(message) & self.assets
        if not wanted:
            return
        if "price_changes" in message and len(wanted) < len(message_assets(message)):
            changes = [c for c in message["price_changes"] if str(c.get("asset_id")) in wanted]
            text = _dumps({**message, "price_changes": changes})
        self.queue.put_nowait(text)

    async def close(self) -> None:
        self.queue.put_nowait(None)
        await self.ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator: disconnect")
        self.writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.writer


class PolymarketEmulator:
    """Serves ``session`` as Polymarket's CLOB does (see the module docstring)."""

    def __init__(
        self,
        session: PolymarketSession,
        *,
        speed: float = 1.0,
        autostart: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 100,
        extra_routes: Sequence[Callable[[web.Application], None]] = (),
    ) -> None:
        if not speed >= 0:
            raise ValueError(f"speed must be >= 0 (0: as fast as possible), got {speed}")
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        self.session = session
        self.speed = speed
        self.autostart = autostart
        self.page_size = page_size
        self._host = host
        self._requested_port = port
        self.port = 0
        # A copy: the replay marks a resolved market closed and its winner, the session stays as loaded.
        self.markets = {str(m["condition_id"]): m for m in copy.deepcopy(session.markets)}
        self.market_of = {str(t["token_id"]): m for m in self.markets.values() for t in m["tokens"]}
        self.books = {token: WireBook(str(m["condition_id"]), token) for token, m in self.market_of.items()}
        self.tick_sizes = {token: str(m["minimum_tick_size"]) for token, m in self.market_of.items()}
        self.rest = ClobRest(
            self.markets, self.market_of, self.books, self.tick_sizes, page_size, lambda: self.clock_ms
        )
        self.listeners: list[MarketListener] = []
        self.position = 0  # messages published so far
        self.clock_ms = session.events[0].at_ms if session.events else 0  # the replay's time
        self.finished = asyncio.Event()
        self._clients: set[_Client] = set()
        self._task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self._add_routes(self.app)
        for add_routes in extra_routes:
            add_routes(self.app)

    @classmethod
    def from_collector(
        cls, folder: Path, *, winner: str = "", updates: str = "price_change", **options: Any
    ) -> PolymarketEmulator:
        """Replay a Caiooooo collector folder (``.../15m/sol``); see ``session.collector_session``."""
        return cls(collector_session(folder, winner=winner, updates=updates), **options)

    @classmethod
    def from_collectors(
        cls, folders: Sequence[Path], *, updates: str = "price_change", **options: Any
    ) -> PolymarketEmulator:
        """Several collector folders replayed together, as one exchange lists several markets; each
        resolved as ``collector_session`` infers it (none when its recording stops before its end)."""
        sessions = [collector_session(folder, updates=updates) for folder in folders]
        return cls(merge_sessions(sessions), **options)

    @classmethod
    def from_session_file(cls, path: Path, markets_file: Path, **options: Any) -> PolymarketEmulator:
        """Replay a ``polymarket`` [[data]] session file and its markets file."""
        return cls(recorded_session(path, markets_file), **options)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/market", self._websocket)
        self.rest.add_routes(app)
        app.router.add_post("/emulator/start", self._post_start)
        app.router.add_get("/emulator/status", self._status)

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> int:
        """Bind and serve; returns the port (the one asked for, or a free one for port 0)."""
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._requested_port).start()
        self.port = int(self._runner.addresses[0][1])
        log.info("Polymarket emulator on %s (%d markets)", self.http_url, len(self.markets))
        return self.port

    async def stop(self) -> None:
        """Stop the replay, close every connection and the server."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in list(self._clients):
            await client.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PolymarketEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def add_market_listener(self, listener: MarketListener) -> None:
        """Call ``listener(message)`` with every market message as it is published (synchronously)."""
        self.listeners.append(listener)

    async def disconnect_clients(self) -> int:
        """Close every market-channel connection (a fault for tests: clients must reconnect and
        resubscribe); the replay goes on. Returns how many were closed."""
        clients = list(self._clients)
        for client in clients:
            self._clients.discard(client)
            await client.close()
        return len(clients)

    def start_replay(self) -> None:
        """Start replaying (idempotent)."""
        if self._task is None and not self.finished.is_set():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="polymarket-emulator-replay")

    @property
    def started(self) -> bool:
        return self._task is not None or self.finished.is_set()

    @property
    def http_url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The market channel (the live one is ``wss://ws-subscriptions-clob.polymarket.com/ws/market``)."""
        return f"ws://{self._host}:{self.port}/ws/market"

    # --- the replay -------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        events = self.session.events
        start, first = loop.time(), (events[0].at_ms if events else 0)
        try:
            for i, event in enumerate(events):
                if self.speed > 0:
                    wait = start + (event.at_ms - first) / 1000 / self.speed - loop.time()
                    if wait > 0:  # an adapter paces on the wall clock, as the Binance emulator does
                        await asyncio.sleep(wait)  # noqa: TID251
                elif i % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # noqa: TID251 -- let the clients' writers run
                self.publish(event)
        except Exception:  # a bug must not die silently in a background task
            log.exception("polymarket emulator replay failed")
            raise
        finally:
            self.finished.set()

    def publish(self, event: Event) -> None:
        """Apply one message to the books, tell the listeners, queue it to the clients that want it."""
        message = event.message
        self.position += 1
        self.clock_ms = max(self.clock_ms, event.at_ms)
        self._apply(message)
        for listener in self.listeners:
            listener(message)
        text = _dumps(message)
        for client in list(self._clients):
            client.offer(message, text)

    def _apply(self, message: dict[str, Any]) -> None:
        # The sessions were checked when loaded (session.py applies every message to scratch books).
        kind = message.get("event_type")
        if kind == "market_resolved":
            market = self.markets.get(str(message.get("market")))
            if market is not None:  # what /markets says of a resolved market
                market.update(closed=True, accepting_orders=False)
                for token in market["tokens"]:
                    token["winner"] = str(token["token_id"]) == str(message.get("winning_asset_id"))
        elif kind == "tick_size_change" and str(message.get("asset_id")) in self.tick_sizes:
            self.tick_sizes[str(message["asset_id"])] = str(message["new_tick_size"])
        else:
            apply_message(self.books, message)

    # --- websocket --------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = _Client(ws)
        self._clients.add(client)
        try:
            async for frame in ws:
                if frame.type is WSMsgType.TEXT:
                    self._request(client, frame.data)
        finally:
            self._clients.discard(client)
            client.queue.put_nowait(None)
        return ws

    def _request(self, client: _Client, text: str) -> None:
        if text.strip() == "PING":
            client.queue.put_nowait("PONG")
            return
        try:
            request = json.loads(text)
            if not isinstance(request, dict):
                raise ValueError("expected a JSON object")
            assets = request.get("assets_ids")
            if not isinstance(assets, list) or not all(isinstance(a, str) for a in assets):
                raise ValueError("'assets_ids' must be a list of token ids (strings)")
            operation = request.get("operation", "subscribe")
            if request.get("type", "market").lower() != "market" or operation not in ("subscribe", "unsubscribe"):
                raise ValueError("expected type 'market' and operation 'subscribe' or 'unsubscribe'")
        except ValueError as exc:  # JSONDecodeError is one
            client.queue.put_nowait(_dumps({"error": f"invalid subscription: {exc}"}))
            return
        if operation == "unsubscribe":
            client.assets.difference_update(assets)
            return
        new = [a for a in assets if a not in client.assets]
        client.assets.update(assets)
        client.custom = client.custom or request.get("custom_feature_enabled") is True
        dump = [self.books[a].message() for a in new if a in self.books and self.books[a].has_book]
        if dump and request.get("initial_dump", True) is not False:
            client.queue.put_nowait(_dumps(dump))
        if self.autostart:
            self.start_replay()

    # --- control ----------------------------------------------------------------------
    async def _post_start(self, request: web.Request) -> web.Response:
        self.start_replay()
        return web.json_response({"started": True})

    async def _status(self, request: web.Request) -> web.Response:
        status = {
            "started": self.started,
            "finished": self.finished.is_set(),
            "position": self.position,
            "events": len(self.session.events),
            "clock_ms": self.clock_ms,
            "connections": len(self._clients),
            "markets": len(self.markets),
        }
        return web.json_response(status)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
