"""Captures of cryptofeed's raw-data recorder (``cryptofeed/sample_data``).

A REST file (``BINANCE.0``, ``POLONIEX.0``) holds ``<url> -> <unix time>: <json body>`` then a
``configuration: {...}`` line. A WebSocket file (``POLONIEX.ws.1.0``) holds connection lines
(``wss://... <-> ...``, ``wss://... <- <time>: <sent message>``) and ``<unix time>: <raw message>``.

Instruments use CCXT unified symbols (``BCH/USDT``), so they match ``data.readers.instruments`` and a
live CCXT adapter.

Poloniex ``book_lv2`` (v3 API, 2022): ``{"channel":"book_lv2","action":"snapshot"|"update","data":[{
"symbol","createTime","asks":[[price,size],..],"bids":..,"lastId","id","ts"}]}``. Ids are contiguous:
each message carries its own ``id`` and the ``lastId`` it follows (a snapshot's ``lastId`` is
``id - 1``). So a snapshot has ``sequence = id``, and an update ``first_sequence = sequence = id`` and
``prev_sequence = lastId``. Sizes are absolute; ``"0"`` deletes a level. ``ts_ns`` is the push time
``ts`` (ms); messages stay in file order and ``ts_ns`` is clamped to be non-decreasing across symbols.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import NS_PER_MS, DataFormatError, Grid, decimal_of, require_file
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSnapshot, Level

BINANCE_SPOT_FEE = Decimal("0.001")  # VIP 0, no BNB discount
# Poloniex spot, level 1 of the fee schedule introduced with the v3 platform in 2022.
POLONIEX_MAKER_FEE = Decimal("0.00145")
POLONIEX_TAKER_FEE = Decimal("0.00155")

__all__ = ["iter_poloniex_books", "read_binance_exchange_info", "read_poloniex_markets"]


def _rest_body(path: Path) -> Any:
    """The JSON body of the first line of a cryptofeed REST capture."""
    require_file(path)
    with path.open(encoding="utf-8") as lines:
        first = lines.readline()
    head, sep, body = first.partition(": ")
    if not sep or " -> " not in head:
        raise DataFormatError(f"{path}: line 1: expected '<url> -> <time>: <json>'")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: line 1: invalid JSON: {exc}") from None


def read_binance_exchange_info(path: Path) -> list[Instrument]:
    """Spot instruments of a ``/api/v3/exchangeInfo`` capture: symbols TRADING with spot allowed.

    Tick from ``PRICE_FILTER.tickSize``, lot from ``LOT_SIZE.stepSize``, min notional from
    ``MIN_NOTIONAL.minNotional`` (or the newer ``NOTIONAL``); both fees 0.1%. Book sizes are read at
    1e-8 (``baseAssetPrecision``), as in ``data.readers.instruments``. Symbols whose tick or step is
    0 (filter disabled) cannot be priced on a grid and are left out.
    """
    info = _rest_body(path)
    try:
        symbols = info["symbols"]
        out = [inst for raw in symbols if (inst := _binance_symbol(raw)) is not None]
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataFormatError(f"{path}: line 1: {detail}") from None
    return out


def _binance_symbol(raw: dict[str, Any]) -> Instrument | None:
    if raw["status"] != "TRADING" or not raw.get("isSpotTradingAllowed", True):
        return None
    filters = {f["filterType"]: f for f in raw["filters"]}
    tick = decimal_of(filters["PRICE_FILTER"]["tickSize"])
    lot = decimal_of(filters["LOT_SIZE"]["stepSize"])
    if tick <= 0 or lot <= 0:
        return None
    notional = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {"minNotional": "0"}
    return Instrument(
        venue="BINANCE",
        symbol=f"{raw['baseAsset']}/{raw['quoteAsset']}",
        kind=InstrumentKind.SPOT,
        base=raw["baseAsset"],
        quote=raw["quoteAsset"],
        tick_size=tick.normalize(),
        lot_size=lot.normalize(),
        maker_fee=BINANCE_SPOT_FEE,
        taker_fee=BINANCE_SPOT_FEE,
        min_notional=decimal_of(notional["minNotional"]),
        size_increment=min(Decimal("0.00000001"), lot.normalize()),
    )


def read_poloniex_markets(
    path: Path, *, taker_fee: Decimal = POLONIEX_TAKER_FEE, maker_fee: Decimal = POLONIEX_MAKER_FEE
) -> list[Instrument]:
    """Instruments of a Poloniex ``/markets`` capture whose ``state`` is ``NORMAL``.

    Tick ``10**-priceScale``, lot ``10**-quantityScale``, min notional ``minAmount`` (in quote).
    ``minQuantity`` has no field in ``Instrument``; on the triangle's markets it equals the lot.
    """
    markets = _rest_body(path)
    try:
        out = []
        for raw in markets:
            if raw["state"] != "NORMAL":
                continue
            limits = raw["symbolTradeLimit"]
            lot = Decimal(1).scaleb(-int(limits["quantityScale"]))
            out.append(
                Instrument(
                    venue="POLONIEX",
                    symbol=f"{raw['baseCurrencyName']}/{raw['quoteCurrencyName']}",
                    kind=InstrumentKind.SPOT,
                    base=raw["baseCurrencyName"],
                    quote=raw["quoteCurrencyName"],
                    tick_size=Decimal(1).scaleb(-int(limits["priceScale"])),
                    lot_size=lot,
                    maker_fee=maker_fee,
                    taker_fee=taker_fee,
                    min_notional=decimal_of(limits["minAmount"]),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataFormatError(f"{path}: line 1: {detail}") from None
    return out


def iter_poloniex_books(path: Path, instruments: Iterable[Instrument]) -> Iterator[BookSnapshot | BookDeltas]:
    """``book_lv2`` snapshots and updates of the ``instruments`` given (others are skipped), in file order."""
    require_file(path)
    by_symbol = {f"{inst.base}_{inst.quote}": inst for inst in instruments}
    return _poloniex_books(path, by_symbol)


def _poloniex_books(path: Path, by_symbol: dict[str, Instrument]) -> Iterator[BookSnapshot | BookDeltas]:
    grids = {sym: (Grid(inst.tick_size), Grid(inst.size_increment)) for sym, inst in by_symbol.items()}
    last_ts = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip() or line.startswith("wss://"):
                continue
            try:
                records = _poloniex_line(line, by_symbol, grids)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise DataFormatError(f"{path}: line {number}: {detail}") from None
            for record in records:
                if record.ts_ns < last_ts:
                    record = _restamp(record, last_ts)  # noqa: PLW2901 - the clamp is the point
                last_ts = record.ts_ns
                yield record


def _restamp(record: BookSnapshot | BookDeltas, ts_ns: int) -> BookSnapshot | BookDeltas:
    if isinstance(record, BookSnapshot):
        return BookSnapshot(record.instrument_id, ts_ns, record.sequence, record.bids, record.asks)
    return BookDeltas(
        record.instrument_id,
        ts_ns,
        record.first_sequence,
        record.sequence,
        record.prev_sequence,
        record.bids,
        record.asks,
    )


def _poloniex_line(
    line: str, by_symbol: dict[str, Instrument], grids: dict[str, tuple[Grid, Grid]]
) -> list[BookSnapshot | BookDeltas]:
    _stamp, sep, body = line.partition(": ")
    if not sep:
        raise ValueError("expected '<time>: <json>'")
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError(f"expected a JSON object, got {type(message).__name__}")
    if message.get("channel") != "book_lv2" or "data" not in message:
        return []  # subscription acks, trades
    action = message["action"]
    if action not in ("snapshot", "update"):
        raise ValueError(f"unknown book_lv2 action {action!r}")
    out: list[BookSnapshot | BookDeltas] = []
    for item in message["data"]:
        inst = by_symbol.get(item["symbol"])
        if inst is None:
            continue
        ticks, units = grids[item["symbol"]]
        bids = _levels(item["bids"], ticks, units)
        asks = _levels(item["asks"], ticks, units)
        ts = int(item["ts"]) * NS_PER_MS
        seq = int(item["id"])
        if action == "snapshot":
            bids = tuple(sorted((lv for lv in bids if lv[1]), reverse=True))
            asks = tuple(sorted(lv for lv in asks if lv[1]))
            out.append(BookSnapshot(inst.id, ts, seq, bids, asks))
        else:
            out.append(BookDeltas(inst.id, ts, seq, seq, int(item["lastId"]), bids, asks))
    return out


def _levels(raw: list[list[str]], ticks: Grid, units: Grid) -> tuple[Level, ...]:
    levels = []
    for price, size in raw:
        count = units.count(size)
        if count < 0:
            raise ValueError(f"negative size {size}")
        levels.append((ticks.count(price), count))
    return tuple(levels)
