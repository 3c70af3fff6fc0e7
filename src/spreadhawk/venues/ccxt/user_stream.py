"""The user stream of a ``CcxtVenue``: sessions of ``watch_my_trades`` with a REST catch-up each.

A session subscribes (on the WebSocket API, confirmed by asking ``session.subscriptions``), then
runs the venue's REST catch-up, and only then is ``live``: the venue refuses submits until it is
(RELIABILITY.md §4.2 scenario 8, NautilusTrader's STREAM_RECONCILING). It then reports the stream's
trades while a keep-alive check runs every ``heartbeat_s``. A dropped socket, a ccxt error,
``eventStreamTerminated``, ``listenKeyExpired`` and a failed keep-alive check (no answer within
``stall_timeout_s``, or no subscription listed) all end the session the same way: backoff, and a new
session on a fresh connection (§3 user data stream, §4.2 scenario 9).

A stream can also lose a report without ending (a report held back and never sent, as the seeded
fault plans found): ``reconcile_every`` runs the same REST catch-up while the stream is live, so such
a fill is booked within that interval (RELIABILITY.md §2.3, continuous reconciliation at runtime).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from decimal import Decimal
from typing import Any

from ccxt.base.errors import BaseError as CcxtError
from ccxt.base.errors import OperationFailed

from spreadhawk.venues.ccxt.orders import stream_leaves
from spreadhawk.venues.ccxt.stream_guard import StreamGuard

__all__ = ["StreamLostError", "UserStream"]

log = logging.getLogger(__name__)

# What a lost connection raises (the venue's "unknown outcome" errors, and ccxt's own).
_NETWORK = (OperationFailed, OSError, TimeoutError, CcxtError)

TradeHandler = Callable[[dict[str, Any], Decimal | None, str], Awaitable[None]]


class StreamLostError(Exception):
    """The user stream ended without an error from ccxt: terminated, expired, stalled."""


class UserStream:
    """Runs forever (``run``); ``live``, ``state`` and ``reconnects`` say where it is."""

    def __init__(
        self,
        venue: str,
        exchange: Callable[[], Any],
        *,
        market_ids: Callable[[], Collection[str]],
        catch_up: Callable[[], Awaitable[None]],
        on_trade: TradeHandler,
        delay: Callable[[int], float],
        heartbeat_s: float,
        stall_timeout_s: float,
        ws_api: bool = True,
    ) -> None:
        if not (heartbeat_s > 0 and stall_timeout_s > 0):
            raise ValueError("heartbeat_s and stall_timeout_s must be positive")
        self.venue = venue
        self._exchange = exchange
        self._market_ids = market_ids
        self._catch_up = catch_up
        self._on_trade = on_trade
        self._delay = delay
        self.heartbeat_s, self.stall_timeout_s = heartbeat_s, stall_timeout_s
        # Binance spot: the user stream is a WebSocket-API subscription, confirmed and kept alive by
        # asking ``session.subscriptions``; USD-M: a listenKey stream (no such question exists).
        self.ws_api = ws_api
        self.live = False  # subscribed and caught up
        self.state = "connecting"  # what it is doing (the venue says it in refusals)
        self.reconnects = 0  # sessions started after the first

    async def run(self) -> None:
        """Sessions, forever: subscribe, catch up over REST, report trades until the stream is lost."""
        attempt = 0
        sessions = 0
        while True:
            self.state = "connecting"
            exchange = self._exchange()
            guard = StreamGuard(self.venue, self._market_ids())
            watcher: asyncio.Future[Any] | None = None
            keeper: asyncio.Task[None] | None = None
            try:
                # Subscribe first, then catch up: a trade in between is seen twice, never zero times.
                if self.ws_api:
                    client = exchange.client(exchange.urls["api"]["ws"]["ws-api"]["spot"])
                    guard.install(client)
                    watcher = asyncio.ensure_future(exchange.watch_my_trades())
                    await self._subscribed(guard, client, watcher)
                else:
                    watcher = asyncio.ensure_future(exchange.watch_my_trades())
                    client = await self._listen_key_client(exchange, watcher)
                    guard.install(client)
                sessions += 1
                self.reconnects = sessions - 1
                self.state = "catching up"
                await self._catch_up()
                self.live, self.state = True, "live"
                attempt = 0
                if self.ws_api:  # a listenKey stream has no subscription to ask about: expiry events end it
                    keeper = asyncio.get_running_loop().create_task(self._keep_alive(guard, client))
                await self._report(guard, watcher)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # we are being stopped
                    await _stop(watcher, keeper)
                    raise
                # ccxt cancels its pending futures when a websocket client is closed under it: the
                # stream is gone, not this task.
                self._lost("closed")
            except (StreamLostError, *_NETWORK) as exc:
                self._lost(f"lost ({type(exc).__name__}: {exc})")
            await _stop(watcher, keeper)
            await _drop_websockets(exchange)
            await asyncio.sleep(self._delay(attempt))
            attempt += 1

    async def _report(self, guard: StreamGuard, watcher: asyncio.Future[Any]) -> None:
        """Report the stream's trades until the guard says it ended (``StreamLostError``) or the
        watcher fails (its error propagates)."""
        ended = asyncio.ensure_future(guard.ended.wait())
        try:
            while True:
                await asyncio.wait({watcher, ended}, return_when=asyncio.FIRST_COMPLETED)
                if ended.done():
                    raise StreamLostError(guard.reason)
                trades = watcher.result()
                watcher = asyncio.ensure_future(self._exchange().watch_my_trades())
                for trade in trades:
                    await self._on_trade(trade, stream_leaves(trade), "stream")
        finally:
            ended.cancel()
            if not watcher.done():
                watcher.cancel()

    async def _subscribed(self, guard: StreamGuard, client: Any, watcher: asyncio.Future[Any]) -> None:
        """Wait until the exchange lists this session's subscription (asked, not assumed)."""
        loop = asyncio.get_running_loop()
        patience = 3 * self.stall_timeout_s
        deadline = loop.time() + patience
        await asyncio.wait_for(asyncio.shield(client.connected), self.stall_timeout_s)
        while not await guard.probe(client, self.stall_timeout_s):
            if watcher.done():  # the subscription failed: its error says why
                watcher.result()
            if loop.time() > deadline:
                raise StreamLostError(f"no subscription listed {patience:.1f} s after subscribing")
            await asyncio.sleep(self._delay(0))

    async def _listen_key_client(self, exchange: Any, watcher: asyncio.Future[Any]) -> Any:
        """The websocket of a listenKey stream (USD-M), once connected: the subscription is the URL."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3 * self.stall_timeout_s
        while True:
            found = [c for url, c in (exchange.clients or {}).items() if "listenKey" in url or "/private" in url]
            if found:
                await asyncio.wait_for(asyncio.shield(found[0].connected), self.stall_timeout_s)
                return found[0]
            if watcher.done():  # the subscription failed: its error says why
                watcher.result()
            if loop.time() > deadline:
                raise StreamLostError("no listenKey stream opened")
            await asyncio.sleep(self._delay(0))

    async def _keep_alive(self, guard: StreamGuard, client: Any) -> None:
        """Every ``heartbeat_s``: the subscription must be listed, within ``stall_timeout_s``."""
        while not guard.ended.is_set():
            await asyncio.sleep(self.heartbeat_s)
            try:
                if not await guard.probe(client, self.stall_timeout_s):
                    guard.end("the keep-alive check lists no subscription")
            except TimeoutError:
                guard.end(f"no answer to the keep-alive check within {self.stall_timeout_s} s: the stream stalled")
            except _NETWORK as exc:
                guard.end(f"the keep-alive check failed: {exc}")

    async def reconcile_every(self, interval_s: float) -> None:
        """Forever: every ``interval_s``, the catch-up, while the stream is live (a session catches up
        by itself when it starts). A failed one is logged and tried again next time."""
        while True:
            await asyncio.sleep(interval_s)
            if not self.live:
                continue
            try:
                await self._catch_up()
            except _NETWORK as exc:
                log.warning(
                    "venue %s: periodic trade reconciliation failed (%s); next in %s s", self.venue, exc, interval_s
                )

    def _lost(self, how: str) -> None:
        self.live, self.state = False, "reconnecting"
        log.warning("venue %s: user stream %s; reconnecting, submits refused until caught up", self.venue, how)


async def _stop(watcher: asyncio.Future[Any] | None, keeper: asyncio.Task[None] | None) -> None:
    for pending in (watcher, keeper):
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, *_NETWORK):
                await pending


async def _drop_websockets(exchange: Any) -> None:
    """Forget the broken websocket clients, so the next watch opens a fresh connection."""
    clients = exchange.clients or {}
    for url in list(clients):
        stale = clients.pop(url)
        with contextlib.suppress(*_NETWORK):
            await stale.close()
