"""One page of exchange history at a time through ccxt: candles, public trades, funding rates.

The sync ccxt client is used (a download is a batch job, not part of an event loop) with its own rate
limiter on (``enableRateLimit``: it spaces requests by ``rateLimit`` times each endpoint's weight). ccxt
does not wait out a 429 itself, so ``_call`` does: it sleeps the ``Retry-After`` the exchange sent (or a
doubling back-off when there is none) and asks again; network errors get a few such retries too. Every
other failure becomes a ``HistoryError`` with a one-line message naming the problem.

``exchange.number = str`` makes ccxt hand over prices and sizes as the exchange's own decimal text, so
nothing goes through a float: bars and funding rates become ``Decimal``, trade prices and sizes exact
integer counts of the market's tick and size step (``Grid``).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
from ccxt.base.errors import BadSymbol, DDoSProtection, ExchangeError, OperationFailed
from ccxt.base.errors import BaseError as CcxtError

from spreadhawk.data.readers._common import NS_PER_MS, Grid
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor, Bar, FundingRate, TradeTick
from spreadhawk.venues.ccxt.mapping import MappingError, instrument_from_market
from spreadhawk.venues.ccxt.urls import local_urls

__all__ = ["CcxtHistory", "HistoryError"]

T = TypeVar("T")

MARKETS = ("spot", "usdm")
# ccxt class and market types to load per (exchange, market); other exchanges use their own id and
# ccxt's ``defaultType`` (``swap`` for usdm).
_CCXT_IDS = {("binance", "spot"): "binance", ("binance", "usdm"): "binanceusdm"}
_MARKET_TYPES = {"spot": "spot", "usdm": "linear"}
# Exchanges whose trade ids are consecutive integers that ``fetch_trades`` accepts as a cursor: resuming
# from "last id + 1" can neither skip nor repeat a trade. Elsewhere trades are paged by time.
ID_CURSOR = {"binance": "fromId", "binanceusdm": "fromId"}
HOUR_MS = 3_600_000
_SIDES = {"buy": Aggressor.BUYER, "sell": Aggressor.SELLER}


class HistoryError(Exception):
    """A download cannot go on; the message is one line naming the problem."""


class CcxtHistory:
    """Pages of history from ``exchange_id`` (``market`` spot or usdm), optionally at a local ``host``."""

    def __init__(
        self,
        exchange_id: str,
        market: str,
        host: str | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 5,
        timeout_ms: int = 10_000,
        id_cursor: bool = True,
    ) -> None:
        if market not in MARKETS:
            raise HistoryError(f"unknown market {market!r}: use spot or usdm")
        self.ccxt_id = _CCXT_IDS.get((exchange_id, market), exchange_id)
        exchange_class = getattr(ccxt, self.ccxt_id, None)
        known: list[str] = getattr(ccxt, "exchanges", [])  # ccxt's list of exchange ids (untyped)
        if exchange_class is None or self.ccxt_id not in known:
            close = difflib.get_close_matches(exchange_id, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise HistoryError(f"unknown exchange {exchange_id!r}{hint}")
        options: dict[str, Any] = {"fetchMarkets": {"types": [_MARKET_TYPES[market]]}}
        if self.ccxt_id == exchange_id:  # not a per-market ccxt class: choose the market type by option
            options["defaultType"] = "spot" if market == "spot" else "swap"
        self.exchange: Any = exchange_class({"enableRateLimit": True, "timeout": timeout_ms, "options": options})
        self.exchange.number = str  # decimal text in, exact values out (module docstring)
        if host is not None:
            base = host if host.startswith(("http://", "https://")) else f"http://{host}"
            try:
                urls = local_urls(self.ccxt_id, base)
            except ValueError as exc:
                raise HistoryError(str(exc)) from None
            self.exchange.urls = {**self.exchange.urls, "api": {**self.exchange.urls["api"], **urls["api"]}}
        self.where = host or exchange_id
        self.venue = exchange_id.upper()
        self.market_kind = market
        self._sleep = sleep
        self._max_retries = max_retries
        self._id_cursor = id_cursor  # False pages trades by time even where ids could be used (tests)
        self.waits: list[float] = []  # seconds slept before retries, for the summary and the tests

    # --- markets --------------------------------------------------------------------------------
    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol`` (ccxt unified, ``BTC/USDT`` or ``BTC/USDT:USDT``); loads the markets."""
        # The first contact is not retried on network errors: an unreachable host is said at once.
        markets: Mapping[str, Any] = self._call(self.exchange.load_markets, retry_network=False)
        market = markets.get(symbol)
        if market is None:
            close = difflib.get_close_matches(symbol, list(markets), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise HistoryError(f"unknown symbol {symbol!r} on {self.ccxt_id} {self.market_kind}{hint}")
        try:
            instrument = instrument_from_market(market, venue=self.venue)
        except MappingError as exc:
            raise HistoryError(str(exc)) from None
        base_step = (market.get("precision") or {}).get("base")
        if market.get("spot") and base_step is not None:
            # Spot trades print sizes in the base asset's precision, finer than today's lot step when an
            # order placed under an older step fills (as instruments.py notes for the recordings).
            instrument = replace(instrument, size_increment=Decimal(str(base_step)))
        return instrument

    def timeframe_ms(self, timeframe: str) -> int:
        known = self.exchange.timeframes or {}
        if timeframe not in known:
            raise HistoryError(f"unknown timeframe {timeframe!r} on {self.ccxt_id}; known: {', '.join(known)}")
        return int(self.exchange.parse_timeframe(timeframe)) * 1000

    def now_ms(self) -> int:
        return int(self.exchange.milliseconds())

    @property
    def trade_cursor(self) -> str | None:
        """The request parameter that pages trades by id, or None when they are paged by time."""
        return ID_CURSOR.get(self.ccxt_id) if self._id_cursor else None

    # --- pages ----------------------------------------------------------------------------------
    def bars(self, instrument: Instrument, timeframe: str, since_ms: int, until_ms: int, limit: int) -> list[Bar]:
        """Candles opening in [since_ms, until_ms), ascending; a bar's ``ts_ns`` is its close time."""
        step = self.timeframe_ms(timeframe)
        rows = self._call(
            self.exchange.fetch_ohlcv, instrument.symbol, timeframe, since_ms, limit, {"until": until_ms - 1}
        )
        bars = []
        for opened, o, h, lo, c, v in (row[:6] for row in rows):
            if since_ms <= int(opened) < until_ms:
                close_ns = (int(opened) + step) * NS_PER_MS
                prices = (Decimal(str(x)) for x in (o, h, lo, c, v))
                bars.append(Bar(instrument.id, close_ns, step * NS_PER_MS, *prices))
        return bars

    def trades(
        self, instrument: Instrument, *, since_ms: int | None, until_ms: int, from_id: int | None, limit: int
    ) -> list[TradeTick]:
        """Trades from id ``from_id`` (with ``trade_cursor``) or from time ``since_ms``, ascending."""
        params: dict[str, Any] = {}
        if from_id is not None:
            assert self.trade_cursor is not None
            params[self.trade_cursor] = from_id
        elif self.trade_cursor is not None and since_ms is not None:
            # Binance refuses a time window over an hour: probe [since, since + 1 h] at most.
            params["until"] = min(until_ms - 1, since_ms + HOUR_MS)
        rows = self._call(self.exchange.fetch_trades, instrument.symbol, since_ms, limit, params)
        prices, sizes = Grid(instrument.tick_size), Grid(instrument.size_increment)
        ticks = []
        for row in rows:
            try:
                ticks.append(
                    TradeTick(
                        instrument.id,
                        int(row["timestamp"]) * NS_PER_MS,
                        prices.count(str(row["price"])),
                        sizes.count(str(row["amount"])),
                        _SIDES.get(str(row.get("side")), Aggressor.UNKNOWN),
                        str(row["id"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise HistoryError(f"{instrument.symbol}: unreadable trade {row.get('id')!r}: {exc}") from None
        return ticks

    def funding(self, instrument: Instrument, since_ms: int, until_ms: int, limit: int) -> list[FundingRate]:
        """Realised funding rates with funding times in [since_ms, until_ms), ascending."""
        rows = self._call(
            self.exchange.fetch_funding_rate_history, instrument.symbol, since_ms, limit, {"until": until_ms - 1}
        )
        out = []
        for row in rows:
            funded = int(row["timestamp"]) * NS_PER_MS
            if since_ms * NS_PER_MS <= funded < until_ms * NS_PER_MS:
                out.append(FundingRate(instrument.id, funded, Decimal(str(row["fundingRate"])), funded))
        return out

    def close(self) -> None:
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()

    # --- one request, with waits -----------------------------------------------------------------
    def _call(self, method: Callable[..., T], *args: Any, retry_network: bool = True) -> T:
        backoff = 1.0
        for attempt in range(self._max_retries + 1):
            try:
                return method(*args)
            except DDoSProtection as exc:  # 429 / 418 and ccxt's RateLimitExceeded (a subclass)
                if attempt == self._max_retries:
                    raise HistoryError(
                        f"{self.where}: still rate limited after {attempt} waits: {_line(exc)}"
                    ) from None
                wait = self._retry_after() or backoff
            except OperationFailed as exc:  # unreachable, timed out, 5xx, Binance's -1001 internal error
                if attempt == self._max_retries or not retry_network:
                    raise HistoryError(f"cannot reach {self.where}: {_line(exc)}") from None
                wait = backoff
            except BadSymbol as exc:
                raise HistoryError(f"{self.where}: {_line(exc)}") from None
            except (ExchangeError, CcxtError) as exc:
                raise HistoryError(f"{self.where} refused the request: {_line(exc)}") from None
            self.waits.append(wait)
            self._sleep(wait)
            backoff = min(backoff * 2, 60.0)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _retry_after(self) -> float | None:
        headers = self.exchange.last_response_headers or {}
        value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
        try:
            return max(float(value), 0.0) if value is not None else None
        except ValueError:
            return None  # an HTTP date: rare for exchanges; fall back to the back-off


def _line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
