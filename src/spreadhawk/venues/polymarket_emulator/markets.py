"""CLOB market objects and resolution messages the emulator makes for markets it knows from elsewhere
(a collector folder, a Gamma payload), in the shapes of ``GET /markets/{condition_id}`` and of the
market channel's ``market_resolved``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spreadhawk.data.readers.polymarket import PolymarketMarket

__all__ = ["digest", "market_json", "resolution_message"]


def market_json(market: PolymarketMarket, *, winner: str = "", question_id: str = "") -> dict[str, Any]:
    """A CLOB market object (``GET /markets/<condition_id>``) for a market known from elsewhere."""
    end = datetime.fromtimestamp(market.end_ns // 1_000_000_000, UTC) if market.end_ns is not None else None
    return {
        "enable_order_book": True,
        "active": market.active,
        "closed": market.closed,
        "archived": False,
        "accepting_orders": market.active and not market.closed,
        "accepting_order_timestamp": None,
        "minimum_order_size": _number(market.min_order_size),
        "minimum_tick_size": _number(market.tick_size),
        "condition_id": market.condition_id,
        "question_id": question_id or market.condition_id,
        "question": market.question,
        "description": "",
        "market_slug": market.slug,
        "end_date_iso": end.strftime("%Y-%m-%dT%H:%M:%SZ") if end else None,
        "game_start_time": None,
        "seconds_delay": 0,
        "fpmm": "",
        "maker_base_fee": int(market.maker_fee * 10_000),
        "taker_base_fee": int(market.taker_fee * 10_000),
        "notifications_enabled": False,
        "neg_risk": market.neg_risk,
        "neg_risk_market_id": market.neg_risk_market_id,
        "neg_risk_request_id": "",
        "icon": "",
        "image": "",
        "rewards": {"rates": None, "min_size": 0, "max_spread": 0},
        "is_50_50_outcome": False,
        "tokens": [
            {"token_id": t.token_id, "outcome": t.outcome, "price": 0, "winner": bool(winner) and t.outcome == winner}
            for t in market.tokens
        ],
        "tags": [],
    }


def _number(value: Decimal) -> int | float:
    # The CLOB writes tick and minimum size as JSON numbers (0.01, 5).
    return int(value) if value == value.to_integral_value() else float(value)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def resolution_message(market: Mapping[str, Any], winner_token: str, timestamp_ms: int) -> dict[str, Any]:
    tokens = market["tokens"]
    outcome = next((str(t["outcome"]) for t in tokens if str(t["token_id"]) == winner_token), "")
    return {
        "event_type": "market_resolved",
        "id": str(market.get("question_id", "")),
        "market": str(market["condition_id"]),
        "slug": str(market.get("market_slug", "")),
        "question": str(market.get("question", "")),
        "assets_ids": [str(t["token_id"]) for t in tokens],
        "outcomes": [str(t["outcome"]) for t in tokens],
        "winning_asset_id": winner_token,
        "winning_outcome": outcome,
        "timestamp": str(timestamp_ms),
    }
