"""spreadhawk: crypto arbitrage and market-neutral trading on one deterministic engine.

The names below are the public API (guarded by tests/test_public_api.py); everything else may
change between versions.
"""

import importlib
from typing import TYPE_CHECKING, Any

from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, instrument_id
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import (
    Aggressor,
    Bar,
    BookDeltas,
    BookSide,
    BookSnapshot,
    FundingRate,
    MarkPrice,
    QuoteTick,
    TradeTick,
)
from spreadhawk.domain.orderbook import BookInvalidError, OrderBook
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.domain.positions import Position

if TYPE_CHECKING:
    from spreadhawk.engine.clock import SimClock, WallClock
    from spreadhawk.engine.engine import Engine
    from spreadhawk.engine.replay import ReplayFeed, run_replay
    from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
    from spreadhawk.venues.simulated.venue import SimulatedVenue

# The engine, the strategy base (pydantic) and the simulated venue load on first use: importing any
# spreadhawk module (the CLI's, for `spreadhawk --help`) imports this package first, and must not
# pay for the whole engine.
_LAZY = {
    "SimClock": "spreadhawk.engine.clock",
    "WallClock": "spreadhawk.engine.clock",
    "Engine": "spreadhawk.engine.engine",
    "ReplayFeed": "spreadhawk.engine.replay",
    "run_replay": "spreadhawk.engine.replay",
    "Strategy": "spreadhawk.strategy.base",
    "StrategyConfig": "spreadhawk.strategy.base",
    "attach_strategy": "spreadhawk.strategy.base",
    "SimulatedVenue": "spreadhawk.venues.simulated.venue",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spreadhawk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


__version__ = "0.1.0"

__all__ = [
    "Aggressor",
    "Bar",
    "BookDeltas",
    "BookInvalidError",
    "BookSide",
    "BookSnapshot",
    "CancelOrder",
    "ClientOrderId",
    "Engine",
    "FundingRate",
    "Instrument",
    "InstrumentId",
    "InstrumentKind",
    "Liquidity",
    "MarkPrice",
    "Order",
    "OrderAccepted",
    "OrderBook",
    "OrderCanceled",
    "OrderFilled",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "Position",
    "QuoteTick",
    "ReplayFeed",
    "SimClock",
    "SimulatedVenue",
    "Strategy",
    "StrategyConfig",
    "SubmitOrder",
    "TimeInForce",
    "TradeTick",
    "WallClock",
    "__version__",
    "attach_strategy",
    "instrument_id",
    "run_replay",
]
