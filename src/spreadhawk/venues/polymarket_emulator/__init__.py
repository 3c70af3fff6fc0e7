"""A local Polymarket CLOB: replays a recorded session over Polymarket's market websocket channel and
public REST API (``server``), and takes orders through the trading endpoints (``trading_api``)."""

from spreadhawk.venues.polymarket_emulator.markets import market_json, resolution_message
from spreadhawk.venues.polymarket_emulator.server import MarketListener, PolymarketEmulator, message_assets
from spreadhawk.venues.polymarket_emulator.session import (
    Event,
    PolymarketSession,
    SessionError,
    collector_session,
    recorded_session,
)

__all__ = [
    "Event",
    "MarketListener",
    "PolymarketEmulator",
    "PolymarketSession",
    "SessionError",
    "collector_session",
    "market_json",
    "message_assets",
    "recorded_session",
    "resolution_message",
]
