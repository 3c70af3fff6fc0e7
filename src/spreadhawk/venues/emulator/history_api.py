"""Binance's history endpoints on the emulator, answered from the recordings in ``shared/data``.

* ``GET /api/v3/klines``, ``GET /fapi/v1/klines`` -- freqtrade's candles (``freqtrade/ohlcv/<B>_<Q>-<tf>.feather|json``
  for spot, ``freqtrade/futures/<B>_USDT_USDT-<tf>-futures.feather`` for USD-M);
* ``GET /api/v3/aggTrades``, ``GET /fapi/v1/aggTrades`` -- the ``trade`` events of the hftbacktest captures
  (``hftbacktest/<market>/<symbol>_<yyyymmdd>.gz``), aggregated as Binance does: consecutive trades at the
  same time, price and side (the capture has no taker order id, so "same taker order" is taken to be that);
  an aggregate's id ``a`` counts up from the first trade id of the capture;
* ``GET /fapi/v1/fundingRate`` -- freqtrade's ``<B>_USDT_USDT-8h-funding_rate.feather`` (the rate is the candle's
  open, its time the funding time), ``markPrice`` from the 8h mark candle opening in the same period.

Paging follows Binance's documentation (binance-spot-api-docs rest-api.md; USD-M market data): ``limit`` with a
default and a maximum, ``startTime``/``endTime`` inclusive, ``fromId`` inclusive for aggTrades (not combinable
with a time window, and a window of more than one hour is refused), results ascending; without a start the
most recent ``limit`` entries up to ``endTime``. A recorded float is printed through its shortest repr (the
value freqtrade stored), spot values padded to Binance's 8 decimals. Kline fields the recordings do not have
(quote volume, trade count, taker volumes) are ``"0"``/``0``. A symbol without a recording answers ``[]``.

``arm(HistoryFault(...))`` (or ``POST /emulator/history_fault``) makes ``count`` history requests, after ``after``
answered ones, fail with ``status`` -- 429 carries Binance's ``Retry-After`` header and code -1003 -- so clients'
rate-limit and resume handling can be tested. ``requests`` counts the history requests answered (faults included).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from aiohttp import web

from spreadhawk.venues.emulator.captures import Market, StreamKind, load_capture

__all__ = ["HistoryApi", "HistoryFault", "aggregate_trades"]

_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
# Binance's kline intervals and their lengths (a month is served with a 31-day close time: none is recorded).
_INTERVALS = {
    **{f"{n}m": n * _MINUTE_MS for n in (1, 3, 5, 15, 30)},
    **{f"{n}h": n * _HOUR_MS for n in (1, 2, 4, 6, 8, 12)},
    **{"1d": 24 * _HOUR_MS, "3d": 72 * _HOUR_MS, "1w": 168 * _HOUR_MS, "1M": 744 * _HOUR_MS},
}
# (default, maximum) of ``limit`` per endpoint and market, from Binance's documentation.
_KLINE_LIMITS = {Market.SPOT: (500, 1000), Market.USDM: (500, 1500)}
_AGG_LIMITS = (500, 1000)
_FUNDING_LIMITS = (100, 1000)
_CAPTURE_FOLDERS = {Market.SPOT: "binance_spot", Market.USDM: "binance_usdm_futures"}
_PREFIXES = {Market.SPOT: "/api/v3", Market.USDM: "/fapi/v1"}


class _BadRequestError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(frozen=True, slots=True)
class HistoryFault:
    """After ``after`` answered requests, the next ``count`` fail with ``status`` (429: ``Retry-After`` seconds)."""

    status: int = 429
    count: int = 1
    retry_after: int = 1
    after: int = 0


def aggregate_trades(trades: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Binance ``trade`` events (ascending ids) -> aggTrades objects (``a, p, q, f, l, T, m, M``).

    Consecutive trades with equal ``T``, ``p`` and ``m`` form one aggregate; its quantity is the exact sum,
    printed with the most decimals of its parts (Binance prints fixed decimals per market, so this is them).
    """
    out: list[dict[str, Any]] = []
    base: int | None = None
    for trade in trades:
        if base is None:
            base = int(trade["t"])
        last = out[-1] if out else None
        if last is not None and (last["T"], last["p"], last["m"]) == (trade["T"], trade["p"], trade["m"]):
            places = max(_places(last["q"]), _places(trade["q"]))
            last["q"] = f"{Decimal(last['q']) + Decimal(trade['q']):.{places}f}"
            last["l"] = int(trade["t"])
            continue
        out.append(
            {
                "a": base + len(out),
                "p": trade["p"],
                "q": trade["q"],
                "f": int(trade["t"]),
                "l": int(trade["t"]),
                "T": int(trade["T"]),
                "m": bool(trade["m"]),
                "M": bool(trade.get("M", True)),
            }
        )
    return out


def _places(text: str) -> int:
    return len(text.partition(".")[2])


def _text(value: float, market: Market) -> str:
    exact = Decimal(repr(float(value)))
    if market is Market.SPOT and -exact.as_tuple().exponent <= 8:  # type: ignore[operator]
        return f"{exact:.8f}"
    return f"{exact:f}"


def _ms(stamps: pd.Series) -> list[int]:
    return [int(ts.value // 1_000_000) for ts in stamps]


@lru_cache(maxsize=32)
def _frame(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
        frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
        return frame
    return pd.read_feather(path)


class HistoryApi:
    """History endpoints of one market, over the recordings under ``data_dir`` (``shared/data``)."""

    def __init__(self, data_dir: Path, market: Market) -> None:
        self.data_dir = data_dir
        self.market = Market(market)
        self.requests = 0
        self._faults: list[HistoryFault] = []

    @classmethod
    def beside(cls, exchange_info_dir: Path, market: Market) -> HistoryApi:
        """The history of the data folder holding ``exchange_info_dir`` (``<data>/cryptofeed/sample_data``)."""
        return cls(exchange_info_dir.parent.parent, market)

    def add_routes(self, app: web.Application, *, funding: bool = True) -> None:
        """``funding=False``: the USD-M order side answers ``fundingRate`` (falling back to ``funding_rate``)."""
        prefix = _PREFIXES[self.market]
        app.router.add_get(f"{prefix}/klines", self._wrap(self.klines))
        app.router.add_get(f"{prefix}/aggTrades", self._wrap(self.agg_trades))
        if self.market is Market.USDM and funding:
            app.router.add_get(f"{prefix}/fundingRate", self._wrap(self.funding_rate))
        app.router.add_post("/emulator/history_fault", self._post_fault)

    def arm(self, fault: HistoryFault) -> None:
        self._faults.append(fault)

    def disarm(self) -> None:
        self._faults.clear()

    # --- the endpoints: query parameters -> Binance's JSON ---------------------------------
    def klines(self, query: dict[str, str]) -> list[list[Any]]:
        symbol = _symbol(query)
        interval = query.get("interval", "")
        if interval not in _INTERVALS:
            raise _BadRequestError(-1120, "Invalid interval.")
        limit = _limit(query, *_KLINE_LIMITS[self.market])
        rows = self._klines(symbol, interval)
        return _page(rows, lambda row: int(row[0]), query, limit)

    def agg_trades(self, query: dict[str, str]) -> list[dict[str, Any]]:
        symbol = _symbol(query)
        limit = _limit(query, *_AGG_LIMITS)
        trades = self._agg_trades(symbol)
        if "fromId" in query:
            if "startTime" in query or "endTime" in query:
                raise _BadRequestError(-1128, "Combination of optional parameters invalid.")
            from_id = _int(query, "fromId")
            return [t for t in trades if t["a"] >= from_id][:limit]
        start, end = query.get("startTime"), query.get("endTime")
        if start is not None and end is not None and _int(query, "endTime") - _int(query, "startTime") > _HOUR_MS:
            raise _BadRequestError(-1127, "More than 1 hours between startTime and endTime.")
        return _page(trades, lambda trade: int(trade["T"]), query, limit)

    def funding_rate(self, query: dict[str, str]) -> list[dict[str, Any]]:
        symbol = _symbol(query)
        limit = _limit(query, *_FUNDING_LIMITS)
        return _page(self._funding(symbol), lambda row: int(row["fundingTime"]), query, limit)

    # --- the recordings -----------------------------------------------------------------------
    def _klines(self, symbol: str, interval: str) -> list[list[Any]]:
        if self.market is Market.SPOT:
            candidates = sorted((self.data_dir / "freqtrade" / "ohlcv").glob(f"*-{interval}.*"))
        else:
            candidates = sorted((self.data_dir / "freqtrade" / "futures").glob(f"*-{interval}-futures.feather"))
        paths = [p for p in candidates if _pair_id(p.name, self.market) == symbol and p.suffix in (".json", ".feather")]
        if not paths:
            return []
        frame = _frame(paths[0])
        step = _INTERVALS[interval]
        rows = []
        for opened, o, h, lo, c, v in zip(
            _ms(frame["date"]), frame["open"], frame["high"], frame["low"], frame["close"], frame["volume"], strict=True
        ):
            prices = [_text(x, self.market) for x in (o, h, lo, c, v)]
            rows.append([opened, *prices, opened + step - 1, "0", 0, "0", "0", "0"])
        return rows

    def _agg_trades(self, symbol: str) -> list[dict[str, Any]]:
        return _agg_cache(self.data_dir / "hftbacktest" / _CAPTURE_FOLDERS[self.market], symbol)

    def _funding(self, symbol: str) -> list[dict[str, Any]]:
        folder = self.data_dir / "freqtrade" / "futures"
        base = symbol.removesuffix("USDT")
        path = folder / f"{base}_USDT_USDT-8h-funding_rate.feather"
        if not symbol.endswith("USDT") or not path.is_file():
            return []
        rates = _frame(path)
        marks: dict[int, float] = {}
        mark_path = folder / f"{base}_USDT_USDT-8h-mark.feather"
        if mark_path.is_file():
            mark_frame = _frame(mark_path)
            marks = dict(zip(_ms(mark_frame["date"]), mark_frame["open"], strict=True))
        rows = []
        for funded, rate in zip(_ms(rates["date"]), rates["open"], strict=True):
            mark = marks.get(funded - funded % (8 * _HOUR_MS))
            rows.append(
                {
                    "symbol": symbol,
                    "fundingTime": funded,
                    "fundingRate": f"{Decimal(repr(float(rate))):.8f}",
                    "markPrice": "" if mark is None else _text(mark, Market.USDM),
                }
            )
        return rows

    # --- HTTP ------------------------------------------------------------------------------------
    def _wrap(self, endpoint: Callable[[dict[str, str]], Any]) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.Response:
            self.requests += 1
            if self._faults and self._faults[0].after > 0:
                self._faults[0] = replace(self._faults[0], after=self._faults[0].after - 1)
            elif self._faults:
                return self._fail()
            try:
                answer = endpoint(dict(request.query))
            except _BadRequestError as exc:
                return web.json_response({"code": exc.code, "msg": exc.msg}, status=400)
            return web.json_response(answer, dumps=lambda obj: json.dumps(obj, separators=(",", ":")))

        return handler

    def _fail(self) -> web.Response:
        fault = self._faults[0]
        if fault.count <= 1:
            self._faults.pop(0)
        else:
            self._faults[0] = replace(fault, count=fault.count - 1)
        if fault.status == 429:
            body = {"code": -1003, "msg": "Too many requests; current limit of IP is 6000 request weight per 1 M."}
            return web.json_response(body, status=429, headers={"Retry-After": str(fault.retry_after)})
        return web.json_response(
            {"code": -1001, "msg": "Internal error; unable to process your request."}, status=fault.status
        )

    async def _post_fault(self, request: web.Request) -> web.Response:
        try:
            spec = await request.json()
            fault = HistoryFault(**{key: int(value) for key, value in spec.items()})
        except (ValueError, TypeError, AttributeError) as exc:  # bad JSON, unknown field or non-integer
            return web.json_response({"error": f"bad history fault: {exc}"}, status=400)
        self.arm(fault)
        return web.json_response({"armed": {"status": fault.status, "count": fault.count}})


@lru_cache(maxsize=8)
def _agg_cache(folder: Path, symbol: str) -> list[dict[str, Any]]:
    trades: list[dict[str, Any]] = []
    for path in sorted(folder.glob(f"{symbol.lower()}_[0-9]*.gz")):
        if path.name.endswith(".dat.gz"):
            continue  # the 2023 captures are another format, and overlap no 2024 day
        trades.extend(m.data for m in load_capture(path).messages if m.kind is StreamKind.TRADE)
    trades.sort(key=lambda t: int(t["t"]))
    return aggregate_trades(trades)


def _pair_id(file_name: str, market: Market) -> str:
    pair = file_name.split("-", 1)[0]  # "XRP_ETH" / "XRP_USDT_USDT"
    parts = pair.split("_")
    return "".join(parts[:2]) if market is Market.USDM else "".join(parts)


def _symbol(query: dict[str, str]) -> str:
    symbol = query.get("symbol", "")
    if not symbol:
        raise _BadRequestError(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    return symbol.upper()


def _int(query: dict[str, str], name: str) -> int:
    try:
        return int(query[name])
    except ValueError:
        raise _BadRequestError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _limit(query: dict[str, str], default: int, maximum: int) -> int:
    limit = _int(query, "limit") if "limit" in query else default
    if limit < 1:
        raise _BadRequestError(-1130, "Invalid data sent for a parameter: limit.")
    return min(limit, maximum)  # Binance caps an over-large limit at its maximum


def _page(rows: list[Any], time_of: Callable[[Any], int], query: dict[str, str], limit: int) -> list[Any]:
    """Rows (ascending) with times in [startTime, endTime]: the first ``limit`` from a start, else the last."""
    start = _int(query, "startTime") if "startTime" in query else None
    end = _int(query, "endTime") if "endTime" in query else None
    if start is not None and end is not None and start > end:
        raise _BadRequestError(-1023, "Start time is greater than end time.")
    chosen = [r for r in rows if (start is None or time_of(r) >= start) and (end is None or time_of(r) <= end)]
    return chosen[:limit] if start is not None else chosen[-limit:]
