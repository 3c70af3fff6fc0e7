"""The engine: one deterministic, single-threaded event loop for every mode.

Market data arrives from a driver (``run_replay``, or ``run_live`` through the inbox) in time order;
timers wait in a ``Scheduler``; venue reports wait in the ``Inbox``. Everything is processed in
(timestamp_ns, sequence) order: before a market-data event at time t the driver fires every timer
due at or before t, and after every step (a record, a timer, a report) the engine handles what that
step posted to its inbox before anything else. So a venue's report reaches the engine at the same
timestamp with the next sequence number, never inside the strategy call that caused it, in every
mode. The engine updates its books, lets the venue react (a simulated venue matches resting
orders), then hands the event to the strategies. Strategy commands and venue events are journaled
before they are acted on.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, get_args

from spreadhawk.domain.accounts import AccountSnapshot, BalanceAdjusted, FreeBalances
from spreadhawk.domain.events import (
    CancelOrder,
    DepositCredited,
    FundingPaid,
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderSubmitted,
    RequestTransfer,
    SettlementPaid,
    SubmitOrder,
    TransferFailed,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.domain.orders import IllegalTransitionError, Order
from spreadhawk.domain.transfers import Transfer
from spreadhawk.engine.attribution import StrategyAttribution
from spreadhawk.engine.bookkeeping import Bookkeeping
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.clock import Clock, SimClock
from spreadhawk.engine.crashpoints import crashpoint
from spreadhawk.engine.hub import EngineHub
from spreadhawk.engine.inbox import Inbox
from spreadhawk.engine.journal import Journal
from spreadhawk.engine.market_cache import MarketCache
from spreadhawk.engine.messages import EquitySampled
from spreadhawk.engine.order_ids import ClientOrderIds
from spreadhawk.engine.portfolio import Portfolio
from spreadhawk.engine.ports import CapitalScale, MarketDataTap, PreTradeRisk, Venue, VenueEvent, Withdrawals
from spreadhawk.engine.pre_trade import less_orders_in_flight, pre_trade_check
from spreadhawk.engine.protective import ProtectiveOrders
from spreadhawk.engine.records import EngineError, UnknownOrders
from spreadhawk.engine.scheduler import Scheduler
from spreadhawk.engine.transfer_desk import TransferDesk
from spreadhawk.engine.venue_accounts import VenueAccounts

Handler = Callable[[Any], None]

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        clock: Clock | None = None,
        valuation_currency: str = "USDT",
        equity_interval_ns: int = 60_000_000_000,
        journal: Journal | None = None,
        benchmark: InstrumentId | None = None,
        unknown_orders: UnknownOrders = UnknownOrders.FAIL,
        order_ids: ClientOrderIds | None = None,
    ) -> None:
        self.clock: Clock = clock or SimClock()
        self.instruments = {i.id: i for i in instruments}
        self.portfolio = Portfolio(self.instruments.values(), valuation_currency)
        self.orders: dict[ClientOrderId, Order] = {}
        self.journal = journal or Journal()
        self.scheduler = Scheduler()
        self.inbox = Inbox()  # messages from other tasks and threads (live feeds, live venues)
        self._reports: deque[VenueEvent] = deque()  # reports made on the engine's own thread, this step
        self.unknown_orders = unknown_orders
        self.order_ids = order_ids or ClientOrderIds()
        self.anomalies: list[str] = []  # venue reports that could not be applied (live, paper)
        self.halt_reason: str | None = None  # set by a node that must send nothing new (stopping; external activity)
        self.venues: dict[str, Venue] = {}
        self.equity_curve: list[tuple[int, Decimal]] = []
        self.benchmark = benchmark  # priced at every equity sample (returns correlation)
        self.benchmark_curve: list[tuple[int, Decimal | None]] = []
        self.events_processed = 0
        self.transfers: dict[str, Transfer] = {}  # by transfer id, in request order
        self._equity_interval_ns = equity_interval_ns
        self._next_equity_ns: int | None = None
        self.bus = MessageBus()
        self._routes = self.bus.routes  # hot path: market data goes to its (type, instrument) route
        self._market = MarketCache(self.instruments, self.clock, self.bus)  # books, last prices, venue taps
        self.books = self._market.books
        self.book_ages = self._market.book_ages  # per-venue age limits: an older book is stale (set_book_age_limit)
        self._venue_of: dict[InstrumentId, Venue] = {}  # hot path: no string split per event
        self.withdrawal_ports: dict[str, Withdrawals] = {}
        # a lambda, not the bound method: restore swaps the journal, the accounts must write to the current one
        self.accounts = VenueAccounts(self.portfolio, self.bus, lambda record: self.journal.append(record))  # noqa: PLW0108
        # Fills (ours and external ones) and payments booked into the portfolio; a lambda for the same reason.
        self._bookkeeping = Bookkeeping(
            self.portfolio,
            self.bus,
            lambda record: self.journal.append(record),  # noqa: PLW0108
            self.instruments,
        )
        self.fills = self._bookkeeping.fills
        self.external_reports = self._bookkeeping.external_reports
        self._exposure_ns = 0
        self._last_exposure_check: int | None = None
        # Pre-trade risk and capital allocation, handed in by the composition root (``use_risk``,
        # ``use_capital``). None: exchange rules only; every strategy's scale is 1.
        self.risk: PreTradeRisk | None = None
        self.capital: CapitalScale | None = None
        # Each strategy's own fills, positions and PnL. Subscribed here, before any other listener,
        # so a strategy reading its own position in ``on_order_filled`` sees that fill in it.
        self.attribution = StrategyAttribution(self)
        self.protective = ProtectiveOrders(self)  # cancels stops and take-profits whose position closed
        self._transfer_desk = TransferDesk(self, self._reports.append)

    # --------------------------------------------------------------------------- wiring
    def add_venue(self, venue: Venue) -> None:
        """Connect a trading venue. Its account reaches the engine as the venue reports it (an
        ``AccountSnapshot`` opens the ledger of that venue): nothing is booked by hand."""
        if venue.name in self.venues:
            raise EngineError(f"venue {venue.name!r} added twice")
        self.venues[venue.name] = venue
        for iid, inst in self.instruments.items():
            if inst.venue == venue.name:
                self._venue_of[iid] = venue
        venue.bind(EngineHub(self, self._reports.append))

    def limit_book_ages(self, max_age_ns: Callable[[str], int]) -> None:
        """Books of each venue not updated for longer than ``max_age_ns(venue)`` are stale: invalid
        (nothing trades against them) until their next update (see ``engine.book_age``)."""
        for iid, inst in self.instruments.items():
            self.book_ages.limit(iid, max_age_ns(inst.venue))

    def use_risk(self, risk: PreTradeRisk) -> None:
        """Pass every order through ``risk`` before it leaves (after the exchange's own rules)."""
        self.risk = risk

    def use_capital(self, capital: CapitalScale) -> None:
        """Answer strategies' ``ctx.capital_scale`` from ``capital``."""
        self.capital = capital

    def tap_market_data(self, venue: str, tap: MarketDataTap) -> None:
        """Show ``venue``'s market data to ``tap`` before any strategy sees it (a simulated venue
        matches resting orders against it). A live exchange needs none: it has the real market."""
        if venue not in self.venues:
            raise EngineError(f"no venue {venue!r} to tap market data for")
        self._market.tap(venue, tap)

    def enable_withdrawals(self, venue: str, port: Withdrawals) -> None:
        """Allow transfers out of ``venue`` through ``port`` (the simulator always; a live venue only
        with the operator's explicit permission)."""
        if venue not in self.venues:
            raise EngineError(f"no venue {venue!r} to enable withdrawals on")
        self.withdrawal_ports[venue] = port

    # --------------------------------------------------------------------------- time
    def schedule(self, ts_ns: int, callback: Callable[[], None]) -> None:
        self.scheduler.schedule(ts_ns, callback)

    def run_until(self, ts_ns: int) -> None:
        """Fire every timer due at or before ``ts_ns``, in order, advancing the clock to each; the
        reports a timer causes are handled before the next timer fires."""
        advance_to = self.clock.advance_to
        pop = self.scheduler.pop_due
        reports = self._reports
        ages = self.book_ages
        expire_books = self._market.expire_books
        while (item := pop(ts_ns)) is not None:
            due, callback = item
            advance_to(due)
            if due >= ages.next_deadline_ns:
                expire_books(due)
            callback()
            if reports:
                self.settle()

    def settle(self) -> None:
        """Handle the reports venues made during the step that just ended, oldest first (handling one
        may cause more: they queue behind). The driver does it after each step; a command issued
        between steps (the operator's, through the API) does it itself, leaving the inbox to the driver."""
        reports = self._reports
        while reports:
            self.on_venue_event(reports.popleft())

    def handle(self, message: object) -> None:
        """One message from the inbox: a market-data record or a venue report (then its consequences)."""
        if isinstance(message, MARKET_DATA):
            self.process(message)  # type: ignore[arg-type]
        else:
            now = self.clock.now_ns()
            if now >= self.book_ages.next_deadline_ns:
                self._market.expire_books(now)  # a strategy reacting to this report must not read an old book
            self.on_venue_event(message)  # type: ignore[arg-type]
            if self._reports:
                self.settle()

    def drain(self) -> None:
        """Handle everything waiting: reports of the last step, then the inbox, in order. A test that
        calls the engine directly (rather than through a driver) calls this to let reports arrive."""
        self.settle()
        inbox = self.inbox
        while inbox:
            self.handle(inbox.take())

    # --------------------------------------------------------------------------- market data
    def process(self, data: MarketData) -> None:
        """One market-data record: update the book, let the venue react, then the strategies; then
        whatever they caused (venue reports) before the next record."""
        self._market.apply(data)  # the book, the last price, then the venue's tap
        if self._reports:
            self.settle()  # what the venue did on this record (a resting order filled) happened first
        self._dispatch(data)
        if self._reports:
            self.settle()

    def process_batch(self, records: list[MarketData]) -> None:
        """Records that share one timestamp happened at the same instant (two venues sampled
        together): every book and venue sees all of them before any strategy sees one, so no
        strategy pairs one venue's new book with another's previous one."""
        apply = self._market.apply
        for data in records:
            apply(data)
        if self._reports:
            self.settle()
        for data in records:
            self._dispatch(data)
        if self._reports:
            self.settle()

    def _dispatch(self, data: MarketData) -> None:
        # keyed by instrument: a strategy that named its instruments hears only of those
        try:
            handlers = self._routes[type(data)][data.instrument_id]
        except KeyError:
            handlers = self.bus.route(type(data), data.instrument_id)
        if handlers:
            for handler in handlers:
                handler(data)
        self.events_processed += 1
        ts = data.ts_ns
        if self._next_equity_ns is None or ts >= self._next_equity_ns:
            self.sample_equity(ts)

    def price(self, instrument_id: InstrumentId) -> Decimal | None:
        """Book mid while the book is valid or only stale (its last mid is the latest price known: a
        mark, not a trade), else the last trade or bar close. Exact: integer ticks, never a float."""
        return self._market.price(instrument_id)

    def available(self, venue: str, asset: str) -> Decimal:
        """What an order may still use of ``asset`` on ``venue``.

        The free balance the venue last reported (less what resting orders lock and open perpetual
        positions hold as margin) — the ledger balance alone over-states it when several strategies
        share a venue — less what our spot orders still on their way to the venue will lock when
        they arrive. Orders the venue has accepted but whose acknowledgement is still in flight are
        counted twice: the estimate errs towards having less.
        """
        if venue not in self.venues:
            return Decimal(0)
        free = self.accounts.free(venue, asset)
        if free is None:
            free = self.portfolio.ledger.balance(venue, asset)
        return less_orders_in_flight(free, venue, asset, self.orders.values(), self.instruments, self.price)

    def sample_equity(self, ts_ns: int) -> None:
        equity = self.portfolio.equity(self.price)
        bench = self.price(self.benchmark) if self.benchmark is not None else None
        if self.equity_curve and self.equity_curve[-1][0] == ts_ns:
            self.equity_curve[-1] = (ts_ns, equity)
            self.benchmark_curve[-1] = (ts_ns, bench)
        else:
            self.equity_curve.append((ts_ns, equity))
            self.benchmark_curve.append((ts_ns, bench))
        self.bus.publish(EquitySampled(ts_ns, equity))
        if self._last_exposure_check is not None and self.portfolio.has_exposure():
            self._exposure_ns += ts_ns - self._last_exposure_check
        self._last_exposure_check = ts_ns
        self._next_equity_ns = ts_ns + self._equity_interval_ns

    @property
    def exposure_ns(self) -> int:
        return self._exposure_ns

    # --------------------------------------------------------------------------- commands
    def submit(self, command: SubmitOrder) -> Order:
        """Journal the intent, check exchange rules, then send. A denied order never leaves."""
        if command.client_order_id in self.orders:
            raise EngineError(f"duplicate client order id {command.client_order_id}")
        crashpoint("before_intent_commit")
        order = Order.from_command(command)
        try:
            self.journal.append(command, sync=True)  # on disk before it can leave (paper and live fsync here)
        except OSError as exc:  # disk full, I/O error: an intent that is not on disk must not leave
            self._halt(f"the journal cannot be written ({exc}); nothing is sent until a restart")
            self.orders[order.client_order_id] = order
            self.protective.track(order)
            self._apply_order_event(OrderDenied(self.clock.now_ns(), command.client_order_id, str(self.halt_reason)))
            return self.orders[order.client_order_id]
        self.orders[order.client_order_id] = order
        self.protective.track(order)
        inst = self.instruments.get(command.instrument_id)
        venue = self.venues.get(venue_of(command.instrument_id))
        reason = self.halt_reason or pre_trade_check(command, inst, venue)
        if reason is None and self.risk is not None:
            reason = self.risk.check(command, self)
        if reason is not None:
            self._record(OrderDenied(self.clock.now_ns(), command.client_order_id, reason))
            return self.orders[order.client_order_id]
        self._record(OrderSubmitted(self.clock.now_ns(), command.client_order_id))
        assert venue is not None  # checked by pre_trade_check
        crashpoint("after_intent_commit_before_send")
        venue.submit(command)
        return self.orders[order.client_order_id]

    def cancel(self, command: CancelOrder) -> None:
        order = self.orders.get(command.client_order_id)
        if order is None or order.is_terminal:
            return  # nothing to cancel; not an error for a strategy racing a fill
        self.journal.append(command, sync=True)
        self.venues[venue_of(command.instrument_id)].cancel(command)

    # --------------------------------------------------------------------------- transfers
    def request_transfer(self, command: RequestTransfer) -> Transfer:
        """Journal the intent, then route it to the source venue (a transfer nobody can send fails here)."""
        return self._transfer_desk.request(command)

    # --------------------------------------------------------------------------- venue events
    def on_venue_event(self, event: VenueEvent) -> None:
        if isinstance(event, OrderAccepted):
            crashpoint("after_ack_before_commit")
        self.journal.append(event)
        if isinstance(event, AccountSnapshot | BalanceAdjusted | FreeBalances):
            self.accounts.apply(event)
            return
        if isinstance(event, WithdrawalSent | DepositCredited | TransferFailed):
            self._transfer_desk.apply(event)
            return
        if isinstance(event, FundingPaid | SettlementPaid):
            self._bookkeeping.book_payment(event)
            return
        self._apply_order_event(event)

    def _record(self, event: OrderEvent) -> None:
        """An event the engine itself raises: journaled like a venue's, then applied."""
        self.journal.append(event)
        self._apply_order_event(event)

    def _apply_order_event(self, event: OrderEvent) -> None:
        order = self.orders.get(event.client_order_id)
        if order is None:
            self._unknown_order(event)
            return
        try:
            updated = order.apply(event)
        except IllegalTransitionError as exc:  # an overfill, a report out of any order
            if self.unknown_orders is UnknownOrders.FAIL:
                raise  # a replay: our own simulator is wrong, stop at once
            problem = f"{type(exc).__name__}: {exc}"
            self._halt(f"a venue report cannot be applied ({problem}); new orders halted until reconciled")
            return
        self.orders[order.client_order_id] = updated
        if isinstance(event, OrderFilled) and updated is not order:
            self._bookkeeping.book_fill(event)
        if self.risk is not None:
            self.risk.on_event(event)  # before the strategy reacts, so the risk state is current
        self.bus.publish(event, key=order.strategy_id)  # the owning strategy, and any listener

    def _halt(self, reason: str) -> None:
        """Live and paper: stop sending new orders, say why, keep running (reports still apply)."""
        self.halt_reason = self.halt_reason or reason
        self.anomalies.append(reason)
        log.critical("%s", reason)

    def _unknown_order(self, event: OrderEvent) -> None:
        """A report about an order this node never sent: fail fast in replay; in paper and live book
        what it did to the account (a fill moves balances whoever placed the order), record it, and
        tell whoever listens (console, database, alerts). It belongs to no strategy."""
        name = type(event).__name__
        if self.unknown_orders is UnknownOrders.FAIL:
            raise EngineError(f"venue reported {name} for unknown order {event.client_order_id}")
        self._bookkeeping.book_external(event)


MARKET_DATA: tuple[type, ...] = get_args(MarketData)
