"""A recorded Polymarket up/down session in the layout of the Caiooooo/polymarket-l2-collector
recorder (``../shared/data/polymarket_series/caiooooo_l2_collector``), as records a backtest replays.

One folder per market length and asset (``15m/sol``) holds, per market (its window's start ``<slot>``
in epoch seconds), ``orderbooks/<slot>up.json`` and ``<slot>down.json`` (the market channel's
``book`` messages: bids ascending and asks descending, best last) and ``trades/<slot>up.json`` and
``<slot>down.json`` (its ``last_trade_price`` prints, ``side`` the taker's). Every record carries
``asset_price``, the Binance spot ``bookTicker`` mid of the asset when the message was handled.

What the replay gets, in time order (Polymarket's ``timestamp``):

* instruments ``POLYMARKET:<asset>-updown-<length>-<slot>-UP`` and ``-DOWN``: BINARY, tick and lot
  0.01 (prints come in finer sizes, to 1e-6 share), expiring at the window's end, no fee (none was
  charged on these markets when this was recorded; give ``taker_fee`` for a what-if);
* a ``BookSnapshot`` per book message and a ``TradeTick`` per print;
* the reference ``BINANCE:<ASSET>/USDT``: a ``QuoteTick`` whenever the recorded mid changes. Only
  the mid was recorded: the quote is the tightest 0.01-tick bid and ask around it (one tick apart
  when the mid falls between ticks, as it does for these one-tick-spread books; two ticks apart
  when it falls on one), so its mid is exact. Its sizes were not recorded (one lot a side): read
  it, do not trade it;
* with ``winner`` (``"Up"`` or ``"Down"``, Polymarket's resolution, which the recorder did not
  keep), an ``InstrumentSettled`` of each token at the window's end (1 to the winner, 0 else).

Token ids were dropped by the recorder: the instruments' ``base`` is ``<asset>-updown-<length>-
<slot>-UP`` (what the ledger holds). Errors name the file and the record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import NS_PER_MS, NS_PER_SECOND, DataFormatError, Grid
from spreadhawk.data.readers.polymarket import _levels
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, BookSnapshot, InstrumentSettled, MarketData, QuoteTick, TradeTick

__all__ = ["CollectorSession", "read_polymarket_collector"]

VENUE = "POLYMARKET"
REFERENCE_VENUE = "BINANCE"
STEP = Decimal("0.01")
_LENGTH = re.compile(r"^(\d+)([mh])$")
_FILE = re.compile(r"^(\d+)(up|down)\.json$")
_SIDES = {"buy": Aggressor.BUYER, "sell": Aggressor.SELLER}


@dataclass(frozen=True, slots=True)
class CollectorSession:
    up: Instrument
    down: Instrument
    reference: Instrument
    records: list[MarketData]


def read_polymarket_collector(folder: Path, *, winner: str = "", taker_fee: Decimal = Decimal(0)) -> CollectorSession:
    """The session recorded in ``folder`` (``.../15m/sol``); see the module docstring."""
    length = _LENGTH.match(folder.parent.name)
    if length is None or not folder.is_dir():
        raise DataFormatError(f"{folder}: expected a collector folder such as .../15m/sol (length/asset)")
    minutes = int(length[1]) * (60 if length[2] == "h" else 1)
    files = sorted(p for kind in ("orderbooks", "trades") for p in (folder / kind).glob("*.json"))
    slots = {m[1] for p in files if (m := _FILE.match(p.name))}
    if len(slots) != 1:
        found = sorted(slots)
        raise DataFormatError(f"{folder}: expected the files of one market (<slot>up.json, <slot>down.json): {found}")
    slot = int(slots.pop())
    if winner not in ("", "Up", "Down"):
        raise DataFormatError(f"{folder}: winner must be 'Up' or 'Down', got {winner!r}")
    asset = folder.name.lower()
    stem = f"{asset}-updown-{folder.parent.name}-{slot}"
    expiry = (slot + minutes * 60) * NS_PER_SECOND
    tokens = {side: _token(f"{stem}-{side.upper()}", expiry, taker_fee) for side in ("up", "down")}
    reference = Instrument(
        REFERENCE_VENUE, f"{asset.upper()}/USDT", InstrumentKind.SPOT, asset.upper(), "USDT",
        tick_size=STEP, lot_size=Decimal("0.00001"),
        size_increment=Decimal("0.00000001"),  # Binance's book sizes, to 8 decimals (a live feed of it)
    )  # fmt: skip
    records: list[MarketData] = []
    mids: list[tuple[int, Decimal]] = []
    for side, inst in tokens.items():
        for number, raw in enumerate(_records(folder / "orderbooks" / f"{slot}{side}.json"), start=1):
            records.append(_book(raw, inst, number, folder / "orderbooks" / f"{slot}{side}.json", mids))
        for number, raw in enumerate(_records(folder / "trades" / f"{slot}{side}.json"), start=1):
            records.append(_trade(raw, inst, number, folder / "trades" / f"{slot}{side}.json", mids))
    records += _reference_quotes(reference, mids)
    if winner:
        for side, inst in tokens.items():
            records.append(InstrumentSettled(inst.id, expiry, Decimal(1 if side == winner.lower() else 0)))
    records.sort(key=lambda record: record.ts_ns)  # stable: a book and a print at one instant keep file order
    return CollectorSession(tokens["up"], tokens["down"], reference, records)


def _token(symbol: str, expiry_ns: int, taker_fee: Decimal) -> Instrument:
    # Orders and books in 0.01 shares; prints finer (a market buy of a dollar amount), to the
    # share's on-chain 6 decimals.
    return Instrument(
        VENUE,
        symbol,
        InstrumentKind.BINARY,
        symbol,
        "USDC",
        tick_size=STEP,
        lot_size=STEP,
        size_increment=Decimal("0.000001"),
        taker_fee=taker_fee,
        expiry_ns=expiry_ns,
    )


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []  # a market the recorder kept only prints (or only books) of
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise DataFormatError(f"{path}: expected a JSON list of records")
    return payload


def _book(raw: dict[str, Any], inst: Instrument, number: int, path: Path, mids: list[Any]) -> BookSnapshot:
    try:
        ticks, units = Grid(inst.tick_size), Grid(inst.size_increment)
        bids = sorted(_levels(raw["bids"], ticks, units), reverse=True)  # the market channel's own levels
        asks = sorted(_levels(raw["asks"], ticks, units))
        ts = int(raw["timestamp"]) * NS_PER_MS
        mids.append((ts, _mid(raw["asset_price"])))
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataFormatError(f"{path}: record {number}: {detail}") from None
    return BookSnapshot(inst.id, ts, number, tuple(lv for lv in bids if lv[1]), tuple(lv for lv in asks if lv[1]))


def _trade(raw: dict[str, Any], inst: Instrument, number: int, path: Path, mids: list[Any]) -> TradeTick:
    try:
        side = _SIDES[str(raw["side"]).lower()]
        ts = int(raw["timestamp"]) * NS_PER_MS
        price = Grid(inst.tick_size).count(str(raw["price"]))
        size = Grid(inst.size_increment).count(str(raw["size"]))
        mids.append((ts, _mid(raw["asset_price"])))
    except (KeyError, TypeError, ValueError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise DataFormatError(f"{path}: record {number}: {detail}") from None
    return TradeTick(inst.id, ts, price, size, side, f"{inst.base}-{raw['timestamp']}-{number}")


def _mid(value: Any) -> Decimal:
    """The recorded mid, a float ((bid + ask) / 2 computed by the recorder): snapped to the half
    tick it is within float noise of (130.79500000000002 is 130.795)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"asset_price {value!r} is not a number")
    mid = Decimal(repr(value) if isinstance(value, float) else str(value))
    snapped = (mid * 2 / STEP).to_integral_value() * STEP / 2
    if abs(mid - snapped) > Decimal("1e-9"):
        raise ValueError(f"asset_price {value!r} is not a mid of {STEP} ticks")
    return snapped


def _reference_quotes(reference: Instrument, mids: list[tuple[int, Decimal]]) -> list[QuoteTick]:
    """A quote each time the recorded mid changes: the tightest tick grid bid/ask around it."""
    out: list[QuoteTick] = []
    last = None
    for ts, mid in sorted(mids, key=lambda item: item[0]):
        if mid == last or mid <= 0:
            continue
        last = mid
        half_ticks = int(mid * 2 / reference.tick_size)  # exact: _mid snapped it
        if half_ticks % 2:  # between two ticks: those two
            bid, ask = (half_ticks - 1) // 2, (half_ticks + 1) // 2
        else:  # on a tick: one tick either side
            bid, ask = half_ticks // 2 - 1, half_ticks // 2 + 1
        lot = reference.units(reference.lot_size)
        out.append(QuoteTick(reference.id, ts, bid, lot, ask, lot))
    return out
