"""spreadhawk: crypto arbitrage and market-neutral trading on one deterministic engine.

The names below are the public API (guarded by tests/test_public_api.py); everything else may
change between versions.
"""

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
from spreadhawk.engine.clock import SimClock, WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue

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
