"""A live market-data feed through ccxt: REST snapshots via ccxt, websocket diffs via ccxt.pro's client.

Why not ``watch_order_book``: ccxt keeps its own float book, coalesces diffs into one resolved book,
drops duplicates and stale diffs silently, and on a gap raises ``ChecksumError`` and forgets the book
(``ccxt/pro/binance.py`` ``handle_order_book``). The engine needs every diff as a ``BookDeltas`` with
its sequence ids, and a ``FeedStatus`` the moment anything goes wrong. So the feed opens ccxt.pro's
websocket client itself (``exchange.client(url)`` + ``exchange.watch`` to connect and subscribe), takes
the raw exchange objects from that client, and does Binance's documented sync procedure on them:

1. subscribe, buffer the diffs of each instrument;
2. on its first diff, fetch a REST snapshot through ccxt (``public_get_depth`` / ``fapipublic_get_depth``);
3. post the ``BookSnapshot``, drop buffered diffs it contains, post the rest from the one that bridges it;
4. afterwards each diff must follow the last one: spot ``U == last u + 1``, futures ``pu == last u``.

Faults, each posted at once as a ``FeedStatus`` of the instrument (anything but LIVE makes the engine
invalidate its book) and followed by a resync (steps 2-3):

* gap (a diff does not follow): GAP;
* out of order (a diff older than one already received that is not a repeat of it): GAP;
* malformed diff: GAP, naming the problem;
* duplicate (a diff already received again): harmless, since the book already holds it: dropped and
  counted, and said with a LIVE status while the book is live (no resync);
* nothing for ``staleness_s`` (a frozen stream, or a diff delayed that long): STALE; resync when data
  resumes. A diff that is late but in order within the limit is applied normally;
* disconnect: DISCONNECTED for every instrument; reconnect after an exponential backoff with jitter
  from a seeded RNG, resubscribe, resync every book.

``post`` is called from the event loop thread, in arrival order; after a resync the feed posts the
``BookSnapshot`` then ``FeedStatus(LIVE, "resynced ...")`` then the buffered diffs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import ccxt.pro as ccxtpro
from ccxt.base.errors import BaseError as CcxtError

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, FeedState, FeedStatus, MarketData
from spreadhawk.venues.ccxt.mapping import BinanceRecords, MappingError

__all__ = ["PROFILES", "CcxtLiveFeed", "FeedConfigError", "FeedCounts", "VenueProfile"]

log = logging.getLogger(__name__)

Post = Callable[[MarketData], None]
_HASH = "spreadhawk:feed"  # ccxt message hash of the feed's subscription (resolved never; rejected on close)
_MAX_PENDING = 10_000  # diffs buffered per instrument while a snapshot is on its way
_RECENT = 64  # (U, u) pairs remembered per instrument to tell a duplicate from an out-of-order diff


class FeedConfigError(ValueError):
    """The feed cannot serve what it was asked for (unknown exchange id, instrument not listed)."""


@dataclass(frozen=True, slots=True)
class VenueProfile:
    """An exchange's quirks as data: where its websocket is, how its book streams are named and chained."""

    ws_key: str  # exchange.urls["api"]["ws"][ws_key]
    depth_method: str  # ccxt implicit REST method answering the exchange's raw depth snapshot
    depth_stream: str  # stream suffix of the diff-depth stream
    extra_streams: tuple[str, ...]  # other streams: trades, best bid/ask, mark price
    options: Mapping[str, Any] = field(default_factory=dict)  # ccxt options the feed needs


PROFILES: dict[str, VenueProfile] = {
    "binance": VenueProfile(
        "spot",
        "public_get_depth",
        "depth@100ms",
        ("trade", "bookTicker"),
        {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}},
    ),
    "binanceusdm": VenueProfile(
        "linear",
        "fapipublic_get_depth",
        "depth@0ms",
        ("trade", "bookTicker", "markPrice@1s"),
        {"fetchMarkets": {"types": ["linear"]}},
    ),
}


class _Phase(Enum):
    WAITING = "waiting"  # needs a snapshot: fetched when the next diff arrives
    FETCHING = "fetching"  # snapshot request in flight; diffs are buffered
    BRIDGING = "bridging"  # snapshot posted; waiting for the diff that continues it
    LIVE = "live"  # diffs chain


@dataclass(slots=True)
class FeedCounts:
    """What happened to one instrument's stream since the feed started."""

    diffs: int = 0  # diffs posted
    duplicates: int = 0
    gaps: int = 0  # gaps, out-of-order and malformed diffs
    stale: int = 0
    disconnects: int = 0
    resyncs: int = 0  # snapshots posted
    malformed: int = 0  # malformed messages (of any stream)


class _Stream:
    """Sync state of one instrument."""

    def __init__(self, instrument: Instrument, market_id: str) -> None:
        self.instrument = instrument
        self.iid: InstrumentId = instrument.id
        self.market_id = market_id
        self.mapper = BinanceRecords(instrument)
        self.phase = _Phase.WAITING
        self.state = FeedState.DISCONNECTED  # last state said (LIVE once synced)
        self.last_u = -1
        self.max_u = -1
        self.recent: deque[tuple[int, int]] = deque(maxlen=_RECENT)
        self.pending: list[BookDeltas] = []
        self.fetch: asyncio.Task[None] | None = None
        self.last_depth_at = 0.0  # loop time of the last diff
        self.counts = FeedCounts()

    def reset(self, phase: _Phase) -> None:
        self.phase = phase
        self.pending = []
        if self.fetch is not None:
            self.fetch.cancel()
            self.fetch = None


class CcxtLiveFeed:
    """Order books, trades, best bid/ask and mark/funding of ``instruments`` on ``exchange_id``, live."""

    def __init__(
        self,
        exchange_id: str,
        instruments: Sequence[Instrument],
        *,
        urls: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        staleness_s: float = 5.0,
        depth_limit: int = 1000,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        backoff_jitter: float = 0.25,
        seed: int = 0,
    ) -> None:
        profile = PROFILES.get(exchange_id)
        if profile is None:
            raise FeedConfigError(f"no live feed profile for {exchange_id!r} (known: {', '.join(PROFILES)})")
        if not instruments:
            raise FeedConfigError("a live feed needs at least one instrument")
        if not (staleness_s > 0 and backoff_initial_s > 0 and backoff_max_s >= backoff_initial_s >= 0):
            raise FeedConfigError("staleness_s and the backoff delays must be positive (max >= initial)")
        self.exchange_id = exchange_id
        self.profile = profile
        self.instruments = tuple(instruments)
        self.staleness_s = staleness_s
        self.depth_limit = depth_limit
        self._backoff = (backoff_initial_s, backoff_max_s, backoff_jitter)
        self._rng = random.Random(seed)
        settings: dict[str, Any] = {"enableRateLimit": False, **(config or {})}
        settings["options"] = {**profile.options, **(options or {})}
        if urls is not None:
            settings["urls"] = dict(urls)
        self._settings = settings
        self._exchange: Any = None
        self._streams: dict[str, _Stream] = {}  # by exchange market id ("BTCUSDT")
        self._post: Post | None = None
        self.messages = 0  # stream messages handled (answers to subscriptions not counted)

    # --- public -----------------------------------------------------------------------
    def counts(self, instrument_id: InstrumentId) -> FeedCounts:
        for stream in self._streams.values():
            if stream.iid == instrument_id:
                return stream.counts
        raise KeyError(f"{instrument_id} is not fed (or the feed has not loaded its markets yet)")

    @property
    def fetching(self) -> bool:
        """A book snapshot is being fetched (diffs are buffered meanwhile)."""
        return any(stream.fetch is not None and not stream.fetch.done() for stream in self._streams.values())

    async def run(self, post: Post) -> None:
        """Feed ``post`` until cancelled; reconnects by itself. Raises only ``FeedConfigError``.
        Closes the ccxt client when it ends."""
        self._post = post
        attempt = 0
        try:
            while True:
                try:
                    await self._connect()
                    if any(s.counts.resyncs for s in self._streams.values()):
                        attempt = 0
                    reason = await self._session()
                except FeedConfigError:
                    raise
                except (CcxtError, OSError, TimeoutError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # a bug here must not end market data; it is logged in full
                    log.exception("live feed %s: unexpected error", self.exchange_id)
                    reason = f"unexpected {type(exc).__name__}: {exc}"
                self._disconnected(reason)
                delay = self._delay(attempt)
                attempt += 1
                log.warning("live feed %s: %s; reconnecting in %.2f s", self.exchange_id, reason, delay)
                await asyncio.sleep(delay)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the ccxt client (REST session and websockets); safe to call twice."""
        await self._stop_streams()
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    # --- connection -------------------------------------------------------------------
    def _delay(self, attempt: int) -> float:
        initial, most, jitter = self._backoff
        backoff: float = min(most, initial * 2 ** min(attempt, 30))
        return backoff * (1 + jitter * self._rng.random())

    async def _connect(self) -> None:
        if self._exchange is None:
            self._exchange = getattr(ccxtpro, self.exchange_id)(self._settings)
        exchange = self._exchange
        if not exchange.markets:
            await exchange.load_markets()
        if not self._streams:
            for instrument in self.instruments:
                if instrument.symbol not in exchange.markets:
                    raise FeedConfigError(f"{instrument.symbol} is not listed on {self.exchange_id}")
                market_id = str(exchange.market(instrument.symbol)["id"])
                self._streams[market_id] = _Stream(instrument, market_id)

    async def _session(self) -> str:
        """Subscribe and serve until the connection drops; returns why it dropped."""
        exchange = self._exchange
        url = exchange.urls["api"]["ws"][self.profile.ws_key]
        client = exchange.client(url)
        client.on_message_callback = self._on_message  # the raw exchange objects, every one, in order
        now = asyncio.get_running_loop().time()
        for stream in self._streams.values():
            stream.reset(_Phase.WAITING)
            stream.last_depth_at = now
        names = [
            f"{market_id.lower()}@{suffix}"
            for market_id in self._streams
            for suffix in (self.profile.depth_stream, *self.profile.extra_streams)
        ]
        request = {"method": "SUBSCRIBE", "params": names, "id": 1}
        watchdog = asyncio.get_running_loop().create_task(self._watch_staleness())
        try:
            await exchange.watch(url, _HASH, request, _HASH)
            return "websocket closed"  # never resolved: a resolution would be a ccxt change
        except CcxtError as exc:
            return f"websocket lost: {exc}"
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            stale = exchange.clients.pop(url, None) if exchange.clients else None
            if stale is not None:
                await stale.close()

    def _disconnected(self, reason: str) -> None:
        for stream in self._streams.values():
            stream.reset(_Phase.WAITING)
            if stream.state is not FeedState.DISCONNECTED:
                stream.counts.disconnects += 1
                self._status(stream, FeedState.DISCONNECTED, reason)

    async def _stop_streams(self) -> None:
        tasks = [s.fetch for s in self._streams.values() if s.fetch is not None]
        for stream in self._streams.values():
            stream.reset(_Phase.WAITING)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_staleness(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(self.staleness_s / 4, 1.0))
            now = loop.time()
            for stream in self._streams.values():
                silent = now - stream.last_depth_at
                if silent > self.staleness_s and stream.state is not FeedState.STALE:
                    stream.counts.stale += 1
                    stream.reset(_Phase.WAITING)
                    self._status(
                        stream, FeedState.STALE, f"no depth update for {silent:.2f} s (limit {self.staleness_s} s)"
                    )

    # --- messages ---------------------------------------------------------------------
    def _on_message(self, client: Any, message: Any) -> None:
        """ccxt's client calls this for every message; it must never raise into ccxt's receive loop."""
        try:
            self._dispatch(message)
        except Exception:  # a bug must not stop the receive loop; the stream goes on
            log.exception("live feed %s: cannot handle message %.200r", self.exchange_id, message)

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            log.error("live feed %s: malformed message (not a JSON object): %.200r", self.exchange_id, message)
            return
        if "id" in message and ("result" in message or "error" in message):
            if message.get("error") is not None:
                log.error("live feed %s: exchange refused request: %s", self.exchange_id, message["error"])
            return
        self.messages += 1
        data = message.get("data") if "stream" in message else message
        stream = self._streams.get(str(data.get("s"))) if isinstance(data, dict) else None
        if stream is None or not isinstance(data, dict):
            log.warning("live feed %s: message for no fed instrument: %.200r", self.exchange_id, message)
            return
        received = time.time_ns()
        try:
            records = stream.mapper.records(received, data)
        except MappingError as exc:
            stream.counts.malformed += 1
            if data.get("e") == "depthUpdate":  # a diff is lost: the book is wrong from here on
                self._fault(stream, f"malformed depth diff: {exc}")
            else:
                log.error("live feed %s %s: malformed message: %s", self.exchange_id, stream.market_id, exc)
            return
        for record in records:
            if isinstance(record, BookDeltas):
                self._on_diff(stream, record)
            else:
                self._emit(record)

    def _on_diff(self, stream: _Stream, diff: BookDeltas) -> None:
        stream.last_depth_at = asyncio.get_running_loop().time()
        key = (diff.first_sequence, diff.sequence)
        if key in stream.recent:
            stream.counts.duplicates += 1
            note = f"duplicate diff {key[0]}..{key[1]} dropped (already received; harmless)"
            if stream.phase is _Phase.LIVE:
                self._status(stream, FeedState.LIVE, f"{note}, {stream.counts.duplicates} so far")
            else:
                log.info("live feed %s: %s", stream.market_id, note)
            return
        stream.recent.append(key)
        if diff.sequence < stream.max_u:
            self._fault(stream, f"out of order: diff {key[0]}..{key[1]} arrived after diff ..{stream.max_u}")
            return
        stream.max_u = diff.sequence
        if stream.state is FeedState.STALE and stream.phase is _Phase.WAITING:
            log.info("live feed %s: data resumed after STALE, resyncing", stream.market_id)
        if stream.phase in (_Phase.WAITING, _Phase.FETCHING):
            self._buffer(stream, diff)
        else:
            self._apply(stream, diff)

    def _buffer(self, stream: _Stream, diff: BookDeltas) -> None:
        if len(stream.pending) >= _MAX_PENDING:
            del stream.pending[0]
        stream.pending.append(diff)
        if stream.phase is _Phase.WAITING:
            stream.phase = _Phase.FETCHING
            stream.fetch = asyncio.get_running_loop().create_task(self._resync(stream))

    def _apply(self, stream: _Stream, diff: BookDeltas) -> None:
        last = stream.last_u
        if diff.sequence <= last:
            return  # contained in the snapshot
        if stream.phase is _Phase.BRIDGING:
            # The rule the domain OrderBook applies to its first delta after a snapshot.
            if diff.first_sequence > last + 1 and diff.prev_sequence > last:
                self._fault(stream, f"no diff continues snapshot {last}: next diff spans {diff.first_sequence}..")
                return
            stream.phase = _Phase.LIVE
        elif diff.prev_sequence != last:
            self._fault(
                stream,
                f"sequence gap: diff {diff.first_sequence}..{diff.sequence} follows {diff.prev_sequence}, "
                f"the book is at {last}",
            )
            return
        stream.last_u = diff.sequence
        stream.counts.diffs += 1
        self._emit(diff)

    def _fault(self, stream: _Stream, reason: str) -> None:
        """A diff is missing or unusable: say GAP now and resync from the next diff on."""
        stream.counts.gaps += 1
        stream.reset(_Phase.WAITING)
        self._status(stream, FeedState.GAP, reason)

    async def _resync(self, stream: _Stream) -> None:
        attempt = 0
        while True:
            try:
                raw = await getattr(self._exchange, self.profile.depth_method)(
                    {"symbol": stream.market_id, "limit": self.depth_limit}
                )
                snapshot = stream.mapper.snapshot(time.time_ns(), raw)
                break
            except (CcxtError, OSError, TimeoutError, MappingError) as exc:
                delay = self._delay(attempt)
                attempt += 1
                log.warning("live feed %s: snapshot failed (%s); retrying in %.2f s", stream.market_id, exc, delay)
                await asyncio.sleep(delay)
        stream.fetch = None
        stream.counts.resyncs += 1
        stream.last_u = snapshot.sequence
        stream.phase = _Phase.BRIDGING
        self._emit(snapshot)
        self._status(stream, FeedState.LIVE, f"resynced from snapshot {snapshot.sequence}")
        pending, stream.pending = stream.pending, []
        for diff in pending:
            if stream.phase not in (_Phase.BRIDGING, _Phase.LIVE):
                break  # a buffered diff did not continue the snapshot: the next diff starts a new resync
            self._apply(stream, diff)

    def _status(self, stream: _Stream, state: FeedState, reason: str) -> None:
        stream.state = state
        if state is not FeedState.LIVE:
            log.warning("live feed %s: %s: %s", stream.market_id, state.name, reason)
        self._emit(FeedStatus(stream.iid, stream.mapper.estimated_exchange_ns(time.time_ns()), state, reason))

    def _emit(self, record: MarketData) -> None:
        if self._post is not None:
            self._post(record)
