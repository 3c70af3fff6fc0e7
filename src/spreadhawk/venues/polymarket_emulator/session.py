"""What the Polymarket emulator replays: CLOB market objects and market-channel messages, in order.

Two sources:

* ``collector_session(folder)``: a Caiooooo/polymarket-l2-collector folder (``.../15m/sol``: per
  market ``orderbooks/<slot>up.json``, ``<slot>down.json`` and ``trades/...``). The recorder dropped
  token and condition ids, so the emulator makes stable ones from the market's slug
  (``sol-updown-15m-<slot>``; tokens "Up" and "Down"). The first book of a token is sent as a
  ``book``; each later one either as a ``price_change`` of the levels that differ from the token's
  previous book (``updates="price_change"``, the default: what the live channel sends between
  snapshots, so a client's delta path is exercised; the book it builds is the recorded one), or
  as the recorded ``book`` itself (``updates="book"``). Both tokens' changes at one timestamp go in
  one message, as Polymarket batches a market's changes. Prints become ``last_trade_price``
  (side upper-cased). Pacing and order follow Polymarket's ``timestamp`` (the receive time lags
  by seconds after the recorder's reconnect). Resolution, a ``market_resolved`` at the window's
  end: ``winner`` if given, else inferred from the recorded reference (the Binance mid stamped on
  each record): "Up" iff the last mid is >= the first, the way up/down markets settle against
  their opening price. The first mid is 42 s after the window opened and Binance is not the
  settlement source, so an inferred winner is an approximation; a recording that stops more than
  a minute before the end (the hourly prefix) gets none.
* ``recorded_session(path, markets_file)``: a session file of the ``polymarket`` [[data]] format
  (``data.readers.polymarket_session``: one message, a list of them, or a recorder's
  ``{"received_ms": ..., "message": ...}`` a line) and its markets file (a CLOB ``/markets`` page,
  one CLOB market, or a Gamma payload). Messages are replayed as they are; pacing follows
  ``received_ms`` (else the message's ``timestamp``). A partial last line (a recorder killed mid-
  write) is skipped. A resolved Gamma market whose resolution the stream lacks gets a
  ``market_resolved`` at its end.

Errors are ``SessionError``: one line naming the file and the line or record.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.polymarket import PolymarketMarket, PolymarketToken
from spreadhawk.data.readers.polymarket_gamma import read_gamma_markets
from spreadhawk.venues.polymarket_emulator.books import BUY, SELL, WireBook, apply_message, book_hash
from spreadhawk.venues.polymarket_emulator.markets import digest, market_json, resolution_message

__all__ = ["Event", "PolymarketSession", "SessionError", "collector_session", "merge_sessions", "recorded_session"]

_LENGTH = re.compile(r"^(\d+)([mh])$")
_FILE = re.compile(r"^(\d+)(up|down)\.json$")
_LATE_S = 60  # a recording ending this long before the market's end is a prefix: no resolution inferred


class SessionError(ValueError):
    """A session that cannot be replayed; the message names the file and the place."""


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: int  # position on the replay's schedule
    message: dict[str, Any]  # a market-channel message, in the wire format


@dataclass(frozen=True, slots=True)
class PolymarketSession:
    markets: list[dict[str, Any]]  # CLOB market objects (``GET /markets``)
    events: list[Event]  # in replay order


def merge_sessions(sessions: Sequence[PolymarketSession]) -> PolymarketSession:
    """Several recordings as one exchange's: every market listed, the messages in time order (a
    stable merge: messages of one instant keep each recording's order)."""
    conditions = [str(m["condition_id"]) for s in sessions for m in s.markets]
    if len(set(conditions)) != len(conditions):
        raise SessionError(f"a market is in two of the sessions merged: {sorted(conditions)}")
    events = list(heapq.merge(*(s.events for s in sessions), key=lambda e: e.at_ms))
    return PolymarketSession([m for s in sessions for m in s.markets], events)


# --------------------------------------------------------------------------- the collector's folders
def collector_session(folder: Path, *, winner: str = "", updates: str = "price_change") -> PolymarketSession:
    """The collector folder's market (see the module docstring)."""
    length = _LENGTH.match(folder.parent.name)
    if length is None or not folder.is_dir():
        raise SessionError(f"{folder}: expected a collector folder such as .../15m/sol (length/asset)")
    if winner not in ("", "Up", "Down"):
        raise SessionError(f"{folder}: winner must be 'Up' or 'Down', got {winner!r}")
    if updates not in ("price_change", "book"):
        raise SessionError(f"updates must be 'price_change' or 'book', got {updates!r}")
    files = sorted(p for kind in ("orderbooks", "trades") for p in (folder / kind).glob("*.json"))
    slots = {m[1] for p in files if (m := _FILE.match(p.name))}
    if len(slots) != 1:
        raise SessionError(
            f"{folder}: expected the files of one market (<slot>up.json, <slot>down.json): {sorted(slots)}"
        )
    slot = int(slots.pop())
    minutes = int(length[1]) * (60 if length[2] == "h" else 1)
    slug = f"{folder.name.lower()}-updown-{folder.parent.name}-{slot}"
    end_ms = (slot + minutes * 60) * 1000
    condition = "0x" + digest(slug)
    tokens = {side: str(int(digest(f"{slug}-{side}")[:60], 16)) for side in ("up", "down")}
    market = PolymarketMarket(
        condition_id=condition,
        question=f"{folder.name.upper()} Up or Down ({folder.parent.name} window from {slot})",
        slug=slug,
        neg_risk=False,
        neg_risk_market_id="",
        tokens=(PolymarketToken("Up", tokens["up"]), PolymarketToken("Down", tokens["down"])),
        tick_size=Decimal("0.01"),
        min_order_size=Decimal(5),
        end_ns=end_ms * 1_000_000,
        maker_fee=Decimal(0),
        taker_fee=Decimal(0),
        active=True,
        closed=False,
    )
    rows = _rows(folder, slot)
    books = {side: WireBook(condition, token) for side, token in tokens.items()}
    events: list[Event] = []
    mids: list[Decimal] = []
    for ts, kind_rank, side, raw, path, number in rows:
        message: dict[str, Any] | None
        try:
            mids.append(Decimal(repr(raw["asset_price"])))
            if kind_rank == 1:
                message = _print(raw, condition, tokens[side], str(ts))
            else:
                message = _book_update(raw, books[side], str(ts), as_book=updates == "book")
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise SessionError(f"{path}: record {number}: {detail}") from None
        if message is not None:
            _append(events, Event(ts, message))
    chosen = winner or _inferred(mids, rows[-1][0] if rows else 0, end_ms)
    # No winner flag yet: /markets says who won once the replay has published the resolution.
    raw_market = market_json(market, question_id="0x" + digest(f"{slug}-question"))
    if chosen:
        events.append(Event(end_ms, resolution_message(raw_market, tokens[chosen.lower()], end_ms)))
    return PolymarketSession([raw_market], events)


def _rows(folder: Path, slot: int) -> list[tuple[int, int, str, dict[str, Any], Path, int]]:
    """Every book (kind 0) and print (kind 1) of both tokens as (ts, kind, side, record, file, number),
    in time order; at one instant books before prints and Up before Down."""
    rows = []
    for kind_rank, kind in enumerate(("orderbooks", "trades")):
        for side in ("up", "down"):
            path = folder / kind / f"{slot}{side}.json"
            for number, raw in enumerate(_records(path), start=1):
                rows.append((_int(raw, "timestamp", path, number), kind_rank, side, raw, path, number))
    rows.sort(key=lambda row: (row[0], row[1], row[2] == "down"))
    return rows


def _inferred(mids: list[Decimal], last_ms: int, end_ms: int) -> str:
    if not mids or last_ms < end_ms - _LATE_S * 1000:
        return ""
    return "Up" if mids[-1] >= mids[0] else "Down"


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []  # the recorder kept only prints (or only books) of this market
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SessionError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise SessionError(f"{path}: expected a JSON list of records")
    return payload


def _int(raw: Mapping[str, Any], field: str, path: Path, number: int) -> int:
    try:
        return int(raw[field])
    except KeyError:
        raise SessionError(f"{path}: record {number}: missing field '{field}'") from None
    except (TypeError, ValueError):
        raise SessionError(f"{path}: record {number}: field {field!r} is not an integer: {raw[field]!r}") from None


def _print(raw: Mapping[str, Any], market: str, token: str, ts: str) -> dict[str, Any]:
    side = str(raw["side"]).upper()
    if side not in (BUY, SELL):
        raise ValueError(f"side must be buy or sell, got {raw['side']!r}")
    for field in ("price", "size"):
        Decimal(str(raw[field]))  # a number, or InvalidOperation names the record
    return {
        "asset_id": token,
        "event_type": "last_trade_price",
        "fee_rate_bps": "0",
        "market": market,
        "price": str(raw["price"]),
        "side": side,
        "size": str(raw["size"]),
        "timestamp": ts,
    }


def _book_update(raw: Mapping[str, Any], book: WireBook, ts: str, *, as_book: bool) -> dict[str, Any] | None:
    bids, asks = list(raw["bids"]), list(raw["asks"])
    if as_book or not book.has_book:
        book.replace(bids, asks, ts)
        summary = {"market": book.market, "asset_id": book.asset_id, "timestamp": ts, "bids": bids, "asks": asks}
        return {"event_type": "book", **summary, "hash": book_hash(summary)}
    target = WireBook(book.market, book.asset_id)
    target.replace(bids, asks, ts)
    changes = []
    for side, old, new in ((BUY, book.bids, target.bids), (SELL, book.asks, target.asks)):
        for price in sorted(set(old) | set(new)):
            before, after = old.get(price), new.get(price)
            if before is not None and after is not None and Decimal(before[1]) == Decimal(after[1]):
                continue
            text, size = after if after is not None else (before[0] if before else str(price), "0")
            book.change(side, text, size, ts)
            changes.append(_change(book, side, text, size))
    book.timestamp = ts
    if not changes:
        return None  # the same book again: the live channel would have sent nothing
    return {"market": book.market, "price_changes": changes, "event_type": "price_change", "timestamp": ts}


def _change(book: WireBook, side: str, price: str, size: str) -> dict[str, Any]:
    order_hash = digest(f"{book.asset_id}:{book.timestamp}:{side}:{price}:{size}")[:40]
    return {
        "asset_id": book.asset_id,
        "price": price,
        "size": size,
        "side": side,
        "hash": order_hash,
        "best_bid": book.best_bid() or "0",
        "best_ask": book.best_ask() or "1",
    }


def _append(events: list[Event], event: Event) -> None:
    """One ``price_change`` per market and instant: merge with the previous one if it is the same."""
    last = events[-1].message if events else None
    message = event.message
    if (
        last is not None
        and last.get("event_type") == message.get("event_type") == "price_change"
        and last["market"] == message["market"]
        and last["timestamp"] == message["timestamp"]
    ):
        last["price_changes"].extend(message["price_changes"])
        return
    events.append(event)


# --------------------------------------------------------------------------- recorder session files
def recorded_session(path: Path, markets_file: Path) -> PolymarketSession:
    """The session file's messages and its markets (see the module docstring)."""
    markets, winners = _markets(markets_file)
    events: list[Event] = []
    resolved: set[str] = set()
    # Scratch books: a message the emulator could not apply is an error here, naming its line.
    books = {
        str(t["token_id"]): WireBook(str(m["condition_id"]), str(t["token_id"])) for m in markets for t in m["tokens"]
    }
    for number, received, message in _lines(path):
        kind = message.get("event_type")
        try:
            at = received if received is not None else int(message["timestamp"])
        except (KeyError, TypeError, ValueError):
            raise SessionError(f"{path}: line {number}: a {kind or 'message'} without an integer 'timestamp'") from None
        try:
            apply_message(books, message)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise SessionError(f"{path}: line {number}: {kind}: {detail}") from None
        if kind == "market_resolved":
            resolved.add(str(message.get("market")))
        events.append(Event(at, dict(message)))
    events.sort(key=lambda e: e.at_ms)  # stable: one line's messages keep their order
    last = events[-1].at_ms if events else 0
    for market in markets:
        token = winners.get(str(market["condition_id"]))
        if token and str(market["condition_id"]) not in resolved:
            end = _end_ms(market)
            at = max(end, last) if end is not None else last
            events.append(Event(at, resolution_message(market, token, at)))
    return PolymarketSession(markets, events)


def _lines(path: Path) -> Iterable[tuple[int, int | None, Mapping[str, Any]]]:
    if not path.is_file():
        raise SessionError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                return  # a recorder stopped mid-line: everything before it stands
            raise SessionError(f"{path}: line {number}: invalid JSON: {exc}") from None
        received = None
        if isinstance(payload, Mapping) and "message" in payload and "event_type" not in payload:
            received = payload.get("received_ms")
            if not isinstance(received, int) or isinstance(received, bool):
                raise SessionError(f"{path}: line {number}: 'received_ms' must be an integer, got {received!r}")
            payload = payload["message"]
        for message in payload if isinstance(payload, list) else [payload]:
            if not isinstance(message, Mapping):
                raise SessionError(f"{path}: line {number}: expected a message (a JSON object)")
            yield number, received, message


def _markets(path: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(CLOB market objects, condition id -> winning token id for the resolved ones)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionError(f"{path}: cannot read the markets file: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None  # JSON lines or gzip: a Gamma recorder's file, read below
    if isinstance(payload, Mapping) and isinstance(payload.get("data"), list):
        raw = [m for m in payload["data"] if isinstance(m, Mapping)]
    elif isinstance(payload, Mapping) and "condition_id" in payload:
        raw = [payload]
    else:
        try:
            gamma = read_gamma_markets(path)
        except DataFormatError as exc:
            raise SessionError(str(exc)) from None
        markets = [market_json(g.market, winner=g.winner or "") for g in gamma]
        return markets, {m["condition_id"]: _winner_token(m) for m in markets if _winner_token(m)}
    for index, market in enumerate(raw):
        if "condition_id" not in market or not isinstance(market.get("tokens"), list):
            raise SessionError(f"{path}: market {index}: a CLOB market needs 'condition_id' and 'tokens'")
    markets = [dict(m) for m in raw]
    return markets, {m["condition_id"]: _winner_token(m) for m in markets if _winner_token(m)}


def _winner_token(market: Mapping[str, Any]) -> str:
    return next((str(t["token_id"]) for t in market["tokens"] if t.get("winner") is True), "")


def _end_ms(market: Mapping[str, Any]) -> int | None:
    end = market.get("end_date_iso")
    if not end:
        return None
    stamp = datetime.fromisoformat(str(end))
    return int((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp() * 1000)
