"""What the trading emulator knows of the market: the markets, their books, their resolutions.

Fed by market-channel messages in Polymarket's wire format (``book``, ``price_change`` in the single
and the batched ``price_changes`` form, ``last_trade_price``, ``tick_size_change``,
``market_resolved``), the ones the market-data emulator replays to its clients. A message that cannot
be read raises ``MarketMessageError`` naming the problem before anything is changed.

Books are the recorded liquidity of other traders; our marketable orders take from them (the level
shrinks by what we took until the next ``book`` snapshot replaces it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["Book", "MarketMessageError", "Markets", "TradePrint", "TradingMarket"]


class MarketMessageError(ValueError):
    """A market-channel message the emulator cannot apply."""


@dataclass
class TradingMarket:
    """One CLOB market (a condition) and its two outcome tokens."""

    condition_id: str
    outcomes: dict[str, str]  # token id -> outcome name ("Yes", "Up", ...)
    tick_size: Decimal
    min_order_size: Decimal
    neg_risk: bool = False
    fee_rate_bps: int = 0  # the taker fee rate ``/fee-rate`` answers (see ``trading_fees``)
    winner: str | None = None  # the winning token once resolved

    @property
    def resolved(self) -> bool:
        return self.winner is not None


@dataclass
class Book:
    bids: dict[Decimal, Decimal] = field(default_factory=dict)  # price -> size
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def levels(self, side: str) -> list[tuple[Decimal, Decimal]]:
        """The levels a ``side`` order takes from, best first (a BUY takes the asks)."""
        if side == "BUY":
            return sorted(self.asks.items())
        return sorted(self.bids.items(), reverse=True)

    def take(self, side: str, price: Decimal, size: Decimal) -> None:
        book = self.asks if side == "BUY" else self.bids
        left = book[price] - size
        if left > 0:
            book[price] = left
        else:
            del book[price]


@dataclass(frozen=True)
class TradePrint:
    """A ``last_trade_price``: someone traded ``size`` at ``price`` on ``asset_id``."""

    asset_id: str
    price: Decimal
    size: Decimal


def _decimal(message: dict[str, Any], key: str) -> Decimal:
    value = message.get(key)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise MarketMessageError(f"{message.get('event_type')}: {key} {value!r} is not a number") from None
    if not result.is_finite() or result < 0:
        raise MarketMessageError(f"{message.get('event_type')}: {key} {value!r} is not a non-negative number")
    return result


def _levels(message: dict[str, Any], key: str) -> dict[Decimal, Decimal]:
    rows = message.get(key)
    if not isinstance(rows, list):
        raise MarketMessageError(f"book: {key} is not a list")
    levels: dict[Decimal, Decimal] = {}
    for row in rows:
        if not isinstance(row, dict):
            raise MarketMessageError(f"book: a {key} level is not an object")
        size = _decimal({"event_type": "book", **row}, "size")
        if size > 0:
            levels[_decimal({"event_type": "book", **row}, "price")] = size
    return levels


class Markets:
    """The markets by condition id, the token index and the books by token."""

    def __init__(self) -> None:
        self.by_condition: dict[str, TradingMarket] = {}
        self.by_token: dict[str, TradingMarket] = {}
        self.books: dict[str, Book] = {}

    def add(self, market: TradingMarket) -> None:
        self.by_condition[market.condition_id] = market
        for token in market.outcomes:
            self.by_token[token] = market
            self.books.setdefault(token, Book())

    def market_of(self, token: str) -> TradingMarket:
        market = self.by_token.get(token)
        if market is None:
            raise MarketMessageError(f"unknown asset_id {token!r}")
        return market

    def apply(self, message: dict[str, Any]) -> TradePrint | TradingMarket | None:
        """Apply one market-channel message; a trade print or a resolved market is returned for the
        exchange to act on (resting orders, redemption)."""
        if not isinstance(message, dict):
            raise MarketMessageError(f"market message is a {type(message).__name__}, not an object")
        kind = message.get("event_type")
        if kind == "book":
            token = str(message.get("asset_id"))
            self.market_of(token)
            bids, asks = _levels(message, "bids"), _levels(message, "asks")
            self.books[token] = Book(bids, asks)
            return None
        if kind == "price_change":
            self._price_changes(message)
            return None
        if kind == "last_trade_price":
            token = str(message.get("asset_id"))
            self.market_of(token)
            return TradePrint(token, _decimal(message, "price"), _decimal(message, "size"))
        if kind == "tick_size_change":
            market = self.market_of(str(message.get("asset_id")))
            market.tick_size = _decimal(message, "new_tick_size")
            return None
        if kind == "market_resolved":
            return self._resolved(message)
        if kind in ("best_bid_ask", "new_market"):
            return None  # nothing the matching needs
        raise MarketMessageError(f"unknown market event_type {kind!r}")

    def _price_changes(self, message: dict[str, Any]) -> None:
        # v1 (before 2024-10): one change at the top level; v2: a batch in ``price_changes``
        changes = message.get("price_changes", [message])
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise MarketMessageError("price_change: price_changes is not a list of objects")
        parsed = []
        for change in changes:
            token, side = str(change.get("asset_id")), change.get("side")
            self.market_of(token)
            if side not in ("BUY", "SELL"):
                raise MarketMessageError(f"price_change: side {side!r} is neither BUY nor SELL")
            row = {"event_type": "price_change", **change}
            parsed.append((token, side, _decimal(row, "price"), _decimal(row, "size")))
        for token, side, price, size in parsed:  # every change read before any is applied
            levels = self.books[token].bids if side == "BUY" else self.books[token].asks
            if size == 0:
                levels.pop(price, None)
            else:
                levels[price] = size

    def _resolved(self, message: dict[str, Any]) -> TradingMarket:
        market = self.by_condition.get(str(message.get("market")))
        if market is None:
            raise MarketMessageError(f"market_resolved: unknown market {message.get('market')!r}")
        winner = str(message.get("winning_asset_id"))
        if winner not in market.outcomes:
            raise MarketMessageError(f"market_resolved: winning_asset_id {winner!r} is not a token of the market")
        market.winner = winner
        return market
