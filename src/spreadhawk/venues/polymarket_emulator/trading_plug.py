"""The trading side plugged into the market-data emulator: one local CLOB that replays a recorded
session *and* takes orders against it (``spreadhawk emulate-polymarket --wallet ADDRESS=USDC``).

The trading exchange learns every market the emulator lists (tick, minimum size, neg-risk flag, the
taker fee from the market's ``taker_base_fee``), hears every market-channel message after the
emulator's own books have it (so a resting order fills on the print that crosses it, before any
client hears of the print), and keeps the replay's clock: its orders and trades are stamped on the
session's timeline, as the market data is.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from spreadhawk.venues.polymarket_emulator.server import PolymarketEmulator
from spreadhawk.venues.polymarket_emulator.trading_api import add_trading_routes
from spreadhawk.venues.polymarket_emulator.trading_exchange import PolymarketTradingExchange

__all__ = ["plug_trading"]

NS_PER_MS = 1_000_000


def plug_trading(emulator: PolymarketEmulator, wallets: Mapping[str, Decimal]) -> PolymarketTradingExchange:
    """Add the trading endpoints to ``emulator`` (before it starts) and fund ``wallets`` with USDC."""
    exchange = PolymarketTradingExchange(clock=lambda: emulator.clock_ms * NS_PER_MS)
    for market in emulator.markets.values():
        exchange.add_clob_market(market, fee_rate_bps=int(market.get("taker_base_fee") or 0))
    for address, usdc in wallets.items():
        exchange.fund(address, usdc)
    emulator.add_market_listener(exchange.on_market_message)
    add_trading_routes(emulator.app, exchange, market_info=False)  # /tick-size, /neg-risk, /fee-rate: served
    return exchange
