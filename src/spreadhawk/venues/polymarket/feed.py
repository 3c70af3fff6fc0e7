"""A live Polymarket market-data feed: the CLOB's market websocket channel as the engine's records.

``PolymarketLiveFeed(instruments, ws_url=...)`` subscribes to the tokens of ``instruments`` (each an
instrument whose ``base`` is the token id, as ``PolymarketMarket.instruments()`` makes them) and
posts, in arrival order, what the parsers of ``data.readers.polymarket`` make of each message:

* ``book`` -> ``BookSnapshot`` (and ``FeedStatus(LIVE)`` when it (re)starts the instrument's book);
* ``price_change`` -> ``BookDeltas`` (per token; before the token's first ``book`` of a connection
  they cannot apply and are dropped, counted in ``gaps``);
* ``last_trade_price`` -> ``TradeTick`` (a print the instrument cannot hold is skipped and counted in
  ``malformed``, the book untouched: prints come in sizes to 1e-6 share, so give instruments
  ``size_increment=Decimal("0.000001")``; ``PolymarketMarket.instruments()`` counts 0.01 shares);
* ``market_resolved`` -> ``InstrumentSettled`` of each fed token of the market (1 to the winner);
* ``tick_size_change`` to another tick than the instrument's -> ``FeedStatus(GAP)``: prices after it
  lie on another grid and one run has one instrument definition; the book is invalid from there;
* ``best_bid_ask``, ``new_market`` and unknown events: nothing a book does not carry, skipped.

Polymarket sends no sequence numbers, so a lost message cannot be seen (``PolymarketSequencer``
numbers arrivals); what can be seen is handled by starting the books afresh: a malformed message
(``FeedStatus(GAP)`` naming it), a disconnect (``DISCONNECTED`` for every instrument) and nothing at
all received, not even the ``PONG`` to the feed's ``PING`` (sent every ``ping_interval_s``, as
Polymarket asks), for ``staleness_s`` (``STALE``). Each closes the connection and reconnects after an
exponential backoff with jitter from a seeded RNG; the new subscription brings a fresh ``book`` of
every token. A quiet market is not stale: Polymarket sends nothing while a book does not change.

Same interface as ``CcxtLiveFeed`` (``run(post)``, ``close()``, ``counts(instrument_id)``,
``fetching``). Statuses are stamped with the latest exchange time the feed has seen (wall time
before any), so a replayed session's records and statuses share one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from spreadhawk.data.readers._common import NS_PER_MS, DataFormatError
from spreadhawk.data.readers.polymarket import (
    PolymarketSequencer,
    read_polymarket_book,
    read_polymarket_price_changes,
    read_polymarket_trade,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import FeedState, FeedStatus, InstrumentSettled, MarketData

__all__ = ["LIVE_WS_URL", "FeedConfigError", "PolymarketFeedCounts", "PolymarketLiveFeed"]

log = logging.getLogger(__name__)

LIVE_WS_URL = "wss://ws-subscriptions-clob.polymarket.com/ws/market"
Post = Callable[[MarketData], None]
_SKIPPED = frozenset({"best_bid_ask", "new_market"})


class FeedConfigError(ValueError):
    """The feed cannot serve what it was asked for."""


@dataclass(slots=True)
class PolymarketFeedCounts:
    """What happened to one token's stream since the feed started (names as ``ccxt.feed.FeedCounts``)."""

    diffs: int = 0  # price changes posted
    trades: int = 0
    gaps: int = 0  # changes that could not apply, tick size changes, malformed messages
    stale: int = 0
    disconnects: int = 0
    resyncs: int = 0  # book snapshots posted
    malformed: int = 0


class _Token:
    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.iid: InstrumentId = instrument.id
        self.synced = False  # a book arrived on this connection
        self.state = FeedState.DISCONNECTED
        self.counts = PolymarketFeedCounts()


class PolymarketLiveFeed:
    """Books, prints and resolutions of ``instruments`` (Polymarket tokens) from the market channel."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        ws_url: str = LIVE_WS_URL,
        staleness_s: float = 30.0,
        ping_interval_s: float = 10.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        backoff_jitter: float = 0.25,
        seed: int = 0,
    ) -> None:
        if not instruments:
            raise FeedConfigError("a live feed needs at least one instrument")
        if not (staleness_s > 0 and ping_interval_s > 0 and backoff_max_s >= backoff_initial_s > 0):
            raise FeedConfigError(
                "staleness_s, ping_interval_s and the backoff delays must be positive (max >= initial)"
            )
        tokens = [inst.base for inst in instruments]
        if len(set(tokens)) != len(tokens):
            raise FeedConfigError(f"one instrument per token, got {tokens}")
        self.instruments = tuple(instruments)
        self.ws_url = ws_url
        self.staleness_s = staleness_s
        self.ping_interval_s = ping_interval_s
        self._backoff = (backoff_initial_s, backoff_max_s, backoff_jitter)
        self._rng = random.Random(seed)
        self._tokens = {inst.base: _Token(inst) for inst in instruments}
        self._sequencer = PolymarketSequencer()
        self._post: Post | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._last_rx = 0.0  # loop time of the last frame received
        self._exchange_ns = 0  # latest exchange time seen
        self._connected = False
        self._books_this_connection = 0
        self.messages = 0  # market messages handled

    # --- public -----------------------------------------------------------------------
    def counts(self, instrument_id: InstrumentId) -> PolymarketFeedCounts:
        for token in self._tokens.values():
            if token.iid == instrument_id:
                return token.counts
        raise KeyError(f"{instrument_id} is not fed")

    @property
    def fetching(self) -> bool:
        """Connected and waiting for the first book of some token (the subscription's snapshot)."""
        return self._connected and any(not t.synced for t in self._tokens.values())

    async def run(self, post: Post) -> None:
        """Feed ``post`` until cancelled; reconnects by itself."""
        self._post = post
        attempt = 0
        try:
            async with aiohttp.ClientSession() as http:
                while True:
                    try:
                        reason = await self._session(http)
                    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                        reason = f"{type(exc).__name__}: {exc}"
                    except Exception as exc:  # a bug here must not end market data; it is logged in full
                        log.exception("polymarket feed: unexpected error")
                        reason = f"unexpected {type(exc).__name__}: {exc}"
                    if self._books_this_connection:
                        attempt = 0  # the connection worked: start the backoff over
                    self._disconnected(reason)
                    delay = self._delay(attempt)
                    attempt += 1
                    log.warning("polymarket feed: %s; reconnecting in %.2f s", reason, delay)
                    await asyncio.sleep(delay)  # noqa: TID251 -- an adapter waits in real time
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the websocket; safe to call twice."""
        ws, self._ws = self._ws, None
        if ws is not None and not ws.closed:
            await ws.close()

    # --- connection -------------------------------------------------------------------
    def _delay(self, attempt: int) -> float:
        initial, most, jitter = self._backoff
        backoff: float = min(most, initial * 2 ** min(attempt, 30))
        return backoff * (1 + jitter * self._rng.random())

    async def _session(self, http: aiohttp.ClientSession) -> str:
        """Subscribe and serve until the connection drops; returns why it dropped."""
        loop = asyncio.get_running_loop()
        async with http.ws_connect(self.ws_url, autoping=True, heartbeat=None) as ws:
            self._ws = ws
            self._connected = True
            self._books_this_connection = 0
            for token in self._tokens.values():
                token.synced = False
            subscription = {"assets_ids": list(self._tokens), "type": "market", "custom_feature_enabled": True}
            await ws.send_str(json.dumps(subscription))
            self._last_rx = loop.time()
            why: list[str] = []
            keepalive = loop.create_task(self._keepalive(ws, why), name="polymarket-feed-keepalive")
            try:
                async for frame in ws:
                    if frame.type is WSMsgType.TEXT:
                        self._last_rx = loop.time()
                        if frame.data != "PONG" and not self._on_text(frame.data):
                            why.append("malformed message")
                            break
                    elif frame.type is WSMsgType.ERROR:
                        why.append(f"websocket error: {ws.exception()}")
                        break
            finally:
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keepalive
                self._connected = False
            return why[0] if why else "websocket closed"

    async def _keepalive(self, ws: aiohttp.ClientWebSocketResponse, why: list[str]) -> None:
        """PING every ``ping_interval_s``; STALE and close when nothing came for ``staleness_s``."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval_s
        while True:
            await asyncio.sleep(min(self.ping_interval_s, self.staleness_s) / 4)  # noqa: TID251
            now = loop.time()
            if now - self._last_rx > self.staleness_s:
                reason = f"nothing received for {now - self._last_rx:.2f} s (limit {self.staleness_s} s)"
                for token in self._tokens.values():
                    token.counts.stale += 1
                    self._status(token, FeedState.STALE, reason)
                why.append(reason)
                await ws.close()
                return
            if now >= next_ping:
                next_ping = now + self.ping_interval_s
                try:
                    await ws.send_str("PING")
                except (ConnectionError, RuntimeError):
                    return  # the connection is going: the receive loop ends and says why

    def _disconnected(self, reason: str) -> None:
        for token in self._tokens.values():
            token.synced = False
            if token.state is not FeedState.DISCONNECTED:
                token.counts.disconnects += 1
                self._status(token, FeedState.DISCONNECTED, reason)

    # --- messages ---------------------------------------------------------------------
    def _on_text(self, text: str) -> bool:
        """Post what one frame carries; False when it is malformed (the books start afresh)."""
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            return self._malformed(None, f"invalid JSON: {exc}")
        for message in payload if isinstance(payload, list) else [payload]:
            if not isinstance(message, Mapping):
                return self._malformed(None, f"expected a JSON object, got {type(message).__name__}")
            self.messages += 1
            try:
                self._on_message(message)
            except (DataFormatError, KeyError, TypeError, ValueError) as exc:
                token = self._tokens.get(str(message.get("asset_id")))
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                return self._malformed(token, f"{message.get('event_type')}: {detail.removeprefix('<payload>: ')}")
        return True

    def _on_message(self, message: Mapping[str, Any]) -> None:
        kind = message.get("event_type")
        if "timestamp" in message and str(message["timestamp"]).isdigit():
            self._exchange_ns = max(self._exchange_ns, int(message["timestamp"]) * NS_PER_MS)
        if kind == "price_change":
            self._price_change(message)
        elif kind == "market_resolved":
            self._resolved(message)
        elif kind in ("book", "last_trade_price", "tick_size_change"):
            token = self._tokens.get(str(message.get("asset_id")))
            if token is None:
                return  # a token this feed was not asked for
            if kind == "book":
                self._emit(read_polymarket_book(message, token.instrument, self._sequencer))
                token.counts.resyncs += 1
                self._books_this_connection += 1
                if not token.synced or token.state is not FeedState.LIVE:
                    token.synced = True
                    self._status(token, FeedState.LIVE, "book snapshot")
            elif kind == "last_trade_price":
                self._trade(token, message)
            elif Decimal(str(message["new_tick_size"])) != token.instrument.tick_size:
                token.counts.gaps += 1
                token.synced = False
                self._status(token, FeedState.GAP, f"tick size changed to {message['new_tick_size']}")
        elif kind not in _SKIPPED:
            log.debug("polymarket feed: skipped %s message", kind)

    def _trade(self, token: _Token, message: Mapping[str, Any]) -> None:
        try:
            trade = read_polymarket_trade(message, token.instrument)
        except DataFormatError as exc:
            # A print leaves the book as it is: skip it rather than restart the book. The usual
            # cause is an instrument counting sizes in 0.01 shares (PolymarketMarket.instruments())
            # while prints come to the share's 6 decimals: give size_increment 0.000001.
            token.counts.malformed += 1
            log.warning("polymarket feed %s: print skipped: %s", token.iid, str(exc).removeprefix("<payload>: "))
            return
        self._emit(trade)
        token.counts.trades += 1

    def _price_change(self, message: Mapping[str, Any]) -> None:
        changes = message.get("price_changes", [message])
        concerned = [self._tokens[a] for a in {str(c.get("asset_id")) for c in changes} if a in self._tokens]
        ready = [t.instrument for t in concerned if t.synced and t.state is FeedState.LIVE]
        for token in concerned:
            if not (token.synced and token.state is FeedState.LIVE):
                token.counts.gaps += 1  # no book to apply it to: the next book restarts the token
        for deltas in read_polymarket_price_changes(message, ready, self._sequencer):
            self._emit(deltas)
            self._tokens[self._base(deltas.instrument_id)].counts.diffs += 1

    def _resolved(self, message: Mapping[str, Any]) -> None:
        winner = str(message["winning_asset_id"])
        assets = [str(a) for a in message.get("assets_ids") or [winner]]
        ts = int(message["timestamp"]) * NS_PER_MS
        for asset in assets:
            token = self._tokens.get(asset)
            if token is not None:
                self._emit(InstrumentSettled(token.iid, ts, Decimal(1 if asset == winner else 0)))

    def _base(self, iid: InstrumentId) -> str:
        return next(base for base, token in self._tokens.items() if token.iid == iid)

    def _malformed(self, token: _Token | None, reason: str) -> bool:
        for each in [token] if token is not None else list(self._tokens.values()):
            each.counts.malformed += 1
            each.counts.gaps += 1
            each.synced = False
            self._status(each, FeedState.GAP, f"malformed message: {reason}")
        return False

    def _status(self, token: _Token, state: FeedState, reason: str) -> None:
        token.state = state
        if state is not FeedState.LIVE:
            log.warning("polymarket feed %s: %s: %s", token.iid, state.name, reason)
        self._emit(FeedStatus(token.iid, self._exchange_ns or time.time_ns(), state, reason))  # noqa: TID251

    def _emit(self, record: MarketData) -> None:
        if self._post is not None:
            self._post(record)
