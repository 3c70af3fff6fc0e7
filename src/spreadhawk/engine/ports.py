"""Ports: the engine's only contact with market data and execution.

Kept tiny (STYLE §4). Backtest plugs a ``ReplayFeed`` and a ``SimulatedVenue``; paper plugs a live
feed and the same ``SimulatedVenue``; live plugs a live feed and an exchange adapter. The engine
cannot tell which. (``spreadhawk.venues.ports`` re-exports these for adapter authors; they are
defined here because the engine, the lower layer, must name them.)

The trading ``Venue`` port is what a real exchange offers: send an order, cancel it, look one up by
client id, list the open ones, snapshot the account. ``submit`` and ``cancel`` return at once; every
outcome comes back later as a report through ``VenueHub.emit`` (the engine's inbox). The three
look-ups are coroutines because on a real exchange they are network round trips; reconciliation
awaits them before trading starts. Two duties only a simulator has are separate, optional ports
the composition root wires explicitly: the market-data tap (a simulated venue must see the market
to match against it) and withdrawals (moving money off a venue, which a live venue enables only
with the operator's explicit permission).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Protocol

from spreadhawk.domain.accounts import AccountEvent, AccountSnapshot, OrderReport
from spreadhawk.domain.events import (
    CancelOrder,
    FundingPaid,
    OrderEvent,
    RequestTransfer,
    SettlementPaid,
    SubmitOrder,
    TransferEvent,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.domain.orders import Order
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.clock import Clock
from spreadhawk.engine.portfolio import Portfolio

VenueEvent = OrderEvent | FundingPaid | SettlementPaid | TransferEvent | AccountEvent
# What the engine routes to a venue about a transfer: a withdrawal to send (to the source venue), or a
# withdrawal on its way in (to the destination venue: a real exchange sees it on chain and ignores
# this; the simulated one credits it when the route's delay has passed).
TransferMessage = RequestTransfer | WithdrawalSent


class VenueHub(Protocol):
    """What the engine lends a venue: time, timers, the books, and a way to report events."""

    def now_ns(self) -> int: ...

    def schedule(self, ts_ns: int, callback: Callable[[], None]) -> None: ...

    def book(self, instrument_id: InstrumentId) -> OrderBook | None: ...

    def instrument(self, instrument_id: InstrumentId) -> Instrument: ...

    def emit(self, event: VenueEvent) -> None:
        """Report from the engine's own thread (handled after the current step, never inside it)."""
        ...

    def post(self, event: VenueEvent) -> None:
        """Report from any other task or thread (thread-safe: through the engine's inbox)."""
        ...


class Venue(Protocol):
    """The trading port a real exchange fits (see the module docstring)."""

    name: str

    def bind(self, hub: VenueHub) -> None: ...

    def submit(self, command: SubmitOrder) -> None: ...

    def cancel(self, command: CancelOrder) -> None: ...

    async def query_order(self, client_order_id: ClientOrderId) -> OrderReport | None:
        """The venue's view of one order; ``None`` only when the venue says it does not exist (a
        network error raises: it is never taken as "not found")."""
        ...

    async def open_orders(self) -> list[OrderReport]: ...

    async def account_snapshot(self) -> AccountSnapshot: ...


MarketDataTap = Callable[[MarketData], None]


class Withdrawals(Protocol):
    """Moving assets off a venue: optional, enabled per venue by the composition root."""

    withdrawals: Mapping[str, WithdrawalTerms]  # by asset: the routes out of this venue

    def transfer(self, message: TransferMessage) -> None: ...


class Feed(Protocol):
    """Market data in non-decreasing ``ts_ns`` order."""

    def __iter__(self) -> Iterator[MarketData]: ...


class RiskView(Protocol):
    """What a pre-trade risk check may read of the engine (the ``Engine`` itself satisfies it)."""

    @property
    def clock(self) -> Clock: ...

    @property
    def instruments(self) -> dict[InstrumentId, Instrument]: ...

    @property
    def books(self) -> dict[InstrumentId, OrderBook]: ...

    @property
    def portfolio(self) -> Portfolio: ...

    @property
    def orders(self) -> dict[ClientOrderId, Order]: ...

    def price(self, instrument_id: InstrumentId) -> Decimal | None:
        """Book mid while the book is valid, else the last trade or bar close."""


class PreTradeRisk(Protocol):
    """Every ``SubmitOrder`` that passes the exchange rules goes through ``check`` before any venue.

    ``check`` returns ``None`` (the order leaves) or a denial reason (the engine records an
    ``OrderDenied`` with it, journaled, and the strategy hears of it like any denial). A passed
    order is in flight from that moment. ``on_event`` receives every order event after the engine
    applied it (order state and portfolio updated) and before any strategy hears of it, so the
    risk state is current when the strategy reacts.
    """

    def check(self, command: SubmitOrder, view: RiskView) -> str | None: ...

    def on_event(self, event: OrderEvent) -> None: ...


class CapitalScale(Protocol):
    """How much of its configured capital a strategy should use now (1 = all of it).

    A capital allocator (``spreadhawk.risk.allocation``) plugs in here; with none, the engine's
    ``capital`` is ``None`` and ``StrategyContext.capital_scale`` is exactly 1. ``instrument_id`` is
    the instrument the strategy is about to take a position in (``None`` for a hedged trade).
    """

    def scale(self, strategy_id: str, instrument_id: InstrumentId | None = None) -> Decimal: ...
