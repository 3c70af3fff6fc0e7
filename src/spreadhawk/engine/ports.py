"""Ports: the engine's only contact with market data and execution.

Kept tiny (STYLE §4). Backtest plugs a ``ReplayFeed`` and a ``SimulatedVenue``; paper plugs a live
feed and the same ``SimulatedVenue``; live plugs a live feed and an exchange adapter. The engine
cannot tell which. (``spreadhawk.venues.ports`` re-exports these for adapter authors; they are
defined here because the engine, the lower layer, must name them.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Protocol

from spreadhawk.domain.events import CancelOrder, FundingPaid, OrderEvent, SettlementPaid, SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.domain.orderbook import OrderBook

VenueEvent = OrderEvent | FundingPaid | SettlementPaid


class VenueHub(Protocol):
    """What the engine lends a venue: time, timers, the books, and a way to report events."""

    def now_ns(self) -> int: ...

    def schedule(self, ts_ns: int, callback: Callable[[], None]) -> None: ...

    def book(self, instrument_id: InstrumentId) -> OrderBook | None: ...

    def instrument(self, instrument_id: InstrumentId) -> Instrument: ...

    def emit(self, event: VenueEvent) -> None: ...


class Venue(Protocol):
    name: str

    def bind(self, hub: VenueHub) -> None: ...

    def submit(self, command: SubmitOrder) -> None: ...

    def cancel(self, command: CancelOrder) -> None: ...

    def on_market_data(self, data: MarketData) -> None: ...

    def balances(self) -> dict[str, Decimal]: ...


class Feed(Protocol):
    """Market data in non-decreasing ``ts_ns`` order."""

    def __iter__(self) -> Iterator[MarketData]: ...
