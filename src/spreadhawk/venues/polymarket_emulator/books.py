"""One token's order book as the CLOB's wire format has it: price and size strings, kept exact.

The emulator keeps its books in the wire format (not the domain's integer ticks) because it serves
them back in that format (``GET /book``, the ``book`` sent on subscribe) and a client must get the
very strings the recording has. Ordering is by the price's ``Decimal`` value; the CLOB lists bids
ascending and asks descending, best *last*, in REST and websocket alike, and so does ``levels``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["BUY", "SELL", "WireBook", "apply_message", "book_hash", "wire_levels"]

BUY, SELL = "BUY", "SELL"


def _price(text: Any) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ValueError(f"price {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"price {text!r} is not a number")
    return value


def wire_levels(levels: Mapping[Decimal, tuple[str, str]], side: str) -> list[dict[str, str]]:
    """Levels in the CLOB's order: bids ascending, asks descending (best last)."""
    keys = sorted(levels, reverse=side == SELL)
    return [{"price": levels[k][0], "size": levels[k][1]} for k in keys]


def book_hash(summary: Mapping[str, Any]) -> str:
    """The CLOB's book hash: SHA1 of the compact JSON of the summary with ``hash`` empty, in the
    server's field order (so a client that checks it, as py-clob-client can, finds it right)."""
    order = ("market", "asset_id", "timestamp", "hash", "bids", "asks", "min_order_size", "tick_size")
    payload = {key: "" if key == "hash" else summary.get(key) for key in order}
    payload["neg_risk"] = summary.get("neg_risk")
    payload["last_trade_price"] = summary.get("last_trade_price")
    return hashlib.sha1(json.dumps(payload, separators=(",", ":")).encode(), usedforsecurity=False).hexdigest()


class WireBook:
    """The book of ``asset_id`` (of market ``market``), updated by the market channel's messages."""

    def __init__(self, market: str, asset_id: str) -> None:
        self.market = market
        self.asset_id = asset_id
        self.bids: dict[Decimal, tuple[str, str]] = {}  # price -> (price text, size text)
        self.asks: dict[Decimal, tuple[str, str]] = {}
        self.timestamp = "0"
        self.last_trade_price = ""  # "" until a print
        self.last_trade_side = ""
        self.has_book = False  # a ``book`` message has been applied

    def replace(self, bids: Iterable[Mapping[str, Any]], asks: Iterable[Mapping[str, Any]], timestamp: str) -> None:
        """A full snapshot (a ``book`` message)."""
        self.bids = {_price(lv["price"]): (str(lv["price"]), str(lv["size"])) for lv in bids if _live(lv["size"])}
        self.asks = {_price(lv["price"]): (str(lv["price"]), str(lv["size"])) for lv in asks if _live(lv["size"])}
        self.timestamp = timestamp
        self.has_book = True

    def change(self, side: str, price: str, size: str, timestamp: str) -> None:
        """One level's new absolute size (a ``price_change`` entry; size 0 removes the level)."""
        levels = self._side(side)
        key = _price(price)
        if _live(size):
            levels[key] = (price, size)
        else:
            levels.pop(key, None)
        self.timestamp = timestamp

    def trade(self, price: str, side: str, timestamp: str) -> None:
        self.last_trade_price, self.last_trade_side = price, side
        self.timestamp = timestamp

    def _side(self, side: str) -> dict[Decimal, tuple[str, str]]:
        if side == BUY:
            return self.bids
        if side == SELL:
            return self.asks
        raise ValueError(f"side must be BUY or SELL, got {side!r}")

    # --- reading ------------------------------------------------------------------------
    def best_bid(self) -> str:
        return self.bids[max(self.bids)][0] if self.bids else ""

    def best_ask(self) -> str:
        return self.asks[min(self.asks)][0] if self.asks else ""

    def midpoint(self) -> Decimal | None:
        if not self.bids or not self.asks:
            return None
        return (max(self.bids) + min(self.asks)) / 2

    def levels(self, side: str) -> list[dict[str, str]]:
        return wire_levels(self._side(side), side)

    def message(self) -> dict[str, Any]:
        """The ``book`` message of the current state (what a subscriber gets first)."""
        summary = {
            "market": self.market,
            "asset_id": self.asset_id,
            "timestamp": self.timestamp,
            "bids": self.levels(BUY),
            "asks": self.levels(SELL),
        }
        return {"event_type": "book", **summary, "hash": book_hash(summary)}

    def summary(self, *, min_order_size: str, tick_size: str, neg_risk: bool) -> dict[str, Any]:
        """The ``GET /book`` answer, with every field py-clob-client's ``OrderBookSummary`` reads."""
        summary: dict[str, Any] = {
            "market": self.market,
            "asset_id": self.asset_id,
            "timestamp": self.timestamp,
            "hash": "",
            "bids": self.levels(BUY),
            "asks": self.levels(SELL),
            "min_order_size": min_order_size,
            "tick_size": tick_size,
            "neg_risk": neg_risk,
            "last_trade_price": self.last_trade_price,
        }
        summary["hash"] = book_hash(summary)
        return summary


def _live(size: Any) -> bool:
    try:
        return Decimal(str(size)) != 0
    except InvalidOperation:
        raise ValueError(f"size {size!r} is not a number") from None


def apply_message(books: Mapping[str, WireBook], message: Mapping[str, Any]) -> None:
    """Apply a market-channel message to the books of its tokens (others are ignored). Raises
    ``KeyError``/``ValueError``/``TypeError``/``AttributeError`` on a malformed message."""
    kind, ts = message.get("event_type"), str(message.get("timestamp", ""))
    if kind == "price_change":
        for change in message.get("price_changes", [message]):
            book = books.get(str(change.get("asset_id")))
            if book is not None:
                book.change(str(change["side"]), str(change["price"]), str(change["size"]), ts)
        return
    book = books.get(str(message.get("asset_id")))
    if book is None:
        return
    if kind == "book":
        book.replace(message["bids"], message["asks"], ts)
    elif kind == "last_trade_price":
        book.trade(str(message["price"]), str(message["side"]), ts)
