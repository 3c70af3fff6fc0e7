"""Recorded Polymarket REST answers: CLOB ``/prices`` and the trades of the CLOB and of the Data API.

* ``read_polymarket_prices``: the answer of ``POST /prices`` (body ``[{"token_id", "side"}, ...]``) or
  ``GET /prices?token_ids=&sides=``: ``{"<token id>": {"BUY": p, "SELL": p}, ...}``, a side missing
  when it was not asked for or has no order. Prices come as strings or JSON numbers (the docs show
  numbers; a float is taken by its shortest repr, so 0.45 is exactly 0.45). ``BUY`` is the best bid and
  ``SELL`` the best ask, as the live CLOB answers ``/price`` (the side of the resting orders).
* ``read_polymarket_trades``: one ``TradeTick`` per trade of the tokens of ``instruments`` (others are
  skipped), from either payload:

  - the CLOB's trades (``GET /data/trades``: ``{"data": [...], "next_cursor"}``, a list of them, or one
    object as the user channel's ``trade``): ``asset_id``, ``side``, ``size``, ``price``,
    ``match_time`` (epoch seconds) and ``id``; the side is the aggressor's only when ``trader_side``
    is ``TAKER`` (else ``UNKNOWN``), as in ``read_polymarket_trade``;
  - the Data API's trades (``GET https://data-api.polymarket.com/trades``: a JSON list): ``asset``,
    ``side``, ``size`` and ``price`` (numbers), ``timestamp`` (epoch seconds), ``transactionHash``.
    The Data API lists taker trades unless asked otherwise (``takerOnly`` defaults to true), so
    ``side`` is read as the aggressor's. One transaction can fill several rows: the trade id is the
    hash and the row's number among the rows of that hash.

  Unknown fields are ignored and optional ones may be missing (``trader_side``, ``id`` of a CLOB
  trade, ``transactionHash``); trades come out in time order (stable). Errors are one line naming
  the file and the item (``trades.json: item 3: missing field 'price'``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import NS_PER_SECOND, DataFormatError, Grid, decimal_of, decimal_of_float
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor, TradeTick

__all__ = ["TokenPrices", "read_polymarket_prices", "read_polymarket_trades"]

Source = Path | str | Mapping[str, Any] | list[Any]
_SIDES = {"BUY": Aggressor.BUYER, "SELL": Aggressor.SELLER}


@dataclass(frozen=True, slots=True)
class TokenPrices:
    token_id: str
    best_bid: Decimal | None  # the answer's BUY
    best_ask: Decimal | None  # the answer's SELL


def _load(source: Source) -> tuple[Any, str]:
    if not isinstance(source, Path | str):
        return source, "<payload>"
    path = Path(source)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: invalid JSON: {exc}") from None


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"field {field!r}: expected a number, got {value!r}")
    return decimal_of_float(value) if isinstance(value, float) else decimal_of(str(value))


# --------------------------------------------------------------------------- /prices
def read_polymarket_prices(source: Source) -> dict[str, TokenPrices]:
    """Best bid and ask per token of a recorded ``/prices`` answer (see the module docstring)."""
    payload, label = _load(source)
    if not isinstance(payload, Mapping):
        raise DataFormatError(f"{label}: expected a JSON object of token id -> {{side: price}}")
    out = {}
    for token, sides in payload.items():
        try:
            if not isinstance(sides, Mapping):
                raise ValueError(f"expected an object of side -> price, got {sides!r}")
            unknown = set(sides) - set(_SIDES)
            if unknown:
                raise ValueError(f"unknown side(s) {sorted(unknown)} (BUY or SELL)")
            bid, ask = (_number(sides[s], s) if s in sides else None for s in ("BUY", "SELL"))
            if any(p is not None and not 0 <= p <= 1 for p in (bid, ask)):
                raise ValueError(f"a price outside [0, 1]: {dict(sides)}")
        except ValueError as exc:
            raise DataFormatError(f"{label}: token {token}: {exc}") from None
        out[str(token)] = TokenPrices(str(token), bid, ask)
    return out


# --------------------------------------------------------------------------- trades
def read_polymarket_trades(source: Source, instruments: Iterable[Instrument]) -> list[TradeTick]:
    """The trades of ``instruments``' tokens in a CLOB or Data API trades payload, in time order."""
    payload, label = _load(source)
    if isinstance(payload, Mapping):
        items = payload["data"] if isinstance(payload.get("data"), list) else [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        raise DataFormatError(f"{label}: expected a list of trades, a page {{'data': [...]}} or one trade")
    by_token = {inst.base: inst for inst in instruments}
    seen: dict[str, int] = {}
    out = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, Mapping):
                raise ValueError(f"expected a trade (a JSON object), got {type(item).__name__}")
            trade = _clob(item, by_token) if "asset_id" in item else _data_api(item, by_token, seen)
        except KeyError as exc:
            raise DataFormatError(f"{label}: item {index}: missing field {exc}") from None
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{label}: item {index}: {exc}") from None
        if trade is not None:
            out.append(trade)
    out.sort(key=lambda t: t.ts_ns)
    return out


def _clob(item: Mapping[str, Any], by_token: Mapping[str, Instrument]) -> TradeTick | None:
    inst = by_token.get(str(item["asset_id"]))
    if inst is None:
        return None
    side = _side(item["side"])
    aggressor = side if item.get("trader_side") == "TAKER" else Aggressor.UNKNOWN
    ts = int(item["match_time"]) * NS_PER_SECOND
    trade_id = str(item.get("id") or f"{item['asset_id']}-{item['match_time']}")
    return TradeTick(
        inst.id,
        ts,
        _count(inst.tick_size, item["price"]),
        _count(inst.size_increment, item["size"]),
        aggressor,
        trade_id,
    )


def _data_api(item: Mapping[str, Any], by_token: Mapping[str, Instrument], seen: dict[str, int]) -> TradeTick | None:
    inst = by_token.get(str(item["asset"]))
    if inst is None:
        return None
    side = _side(item["side"])
    ts = int(item["timestamp"]) * NS_PER_SECOND
    tx = str(item.get("transactionHash") or f"{item['asset']}-{item['timestamp']}")
    seen[tx] = number = seen.get(tx, 0) + 1
    price, size = _count(inst.tick_size, item["price"]), _count(inst.size_increment, item["size"])
    return TradeTick(inst.id, ts, price, size, side, f"{tx}-{number}")


def _count(step: Decimal, value: Any) -> int:
    number = value if isinstance(value, str) else str(_number(value, "price/size"))
    return Grid(step).count(number)


def _side(value: Any) -> Aggressor:
    side = _SIDES.get(str(value).upper())
    if side is None:
        raise ValueError(f"field 'side': expected BUY or SELL, got {value!r}")
    return side
