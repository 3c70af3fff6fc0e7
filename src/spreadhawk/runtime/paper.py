"""Paper trading: the backtest's engine, strategies and simulated venues on a live feed and the wall
clock, with a journal that survives restarts.

A paper node writes every command and report to its journal (fsync before an order intent leaves).
Started again on the same journal it rebuilds orders, positions, balances and id counters from it
(``engine.restore``), rebuilds each simulated venue in the state the journal left it, compares the
two (balances, positions, open orders) and refuses to trade while a difference it cannot explain
remains. An order the journal says was sent but whose outcome never made it to disk is looked up at
the venue: a venue that does not know it means it never arrived (recorded as rejected), which
explains the difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from spreadhawk.alerts import AlertRouter, AlertSink, attach_alerts
from spreadhawk.domain.events import OrderRejected
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.attribution import StrategyAttribution
from spreadhawk.engine.clock import Clock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Journal, JournalError, JournalReader
from spreadhawk.engine.live import LiveFeed, OnMessage, run_live
from spreadhawk.engine.reconcile import order_differences
from spreadhawk.engine.restore import RestoreSummary, restore
from spreadhawk.risk.allocation import CapitalAllocator
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.modes import (
    MODES,
    _allocator,
    _risk,
    _strategies,
    _venue_settings,
    build_engine,
    watch_kill_switch,
)
from spreadhawk.runtime.polymarket_live import live_instruments
from spreadhawk.runtime.recorders import PriceRecorder
from spreadhawk.strategy.base import Strategy, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, VenueResume, connect_simulated

FeedFactory = Callable[[RunConfig, dict[InstrumentId, Instrument]], Sequence[LiveFeed]]


class NotReconciledError(Exception):
    """The node found differences between its journal and its venues that it cannot explain."""


@dataclass
class PaperNode:
    engine: Engine
    strategies: list[Strategy]
    venues: dict[str, SimulatedVenue]
    feeds: Sequence[LiveFeed]
    attribution: StrategyAttribution
    prices: PriceRecorder
    journal_path: Path
    restored: RestoreSummary | None  # what the journal gave back (None: a fresh start)
    risk: RiskEngine | None = None
    allocator: CapitalAllocator | None = None
    differences: list[str] = field(default_factory=list)  # unexplained, after reconciliation
    explained: list[str] = field(default_factory=list)  # found and resolved at start
    started_with: dict[InstrumentId, Decimal] = field(default_factory=dict)  # positions when trading began
    started: bool = False  # reconciled and strategies started
    alerts: AlertRouter | None = None  # closed (flushed) when the node stops

    async def reconcile(self) -> None:
        """Compare the journal's state with each venue's; resolve what can be explained; raise
        ``NotReconciledError`` with every difference that remains (nothing is traded then)."""
        engine = self.engine
        engine.drain()  # the venues' account snapshots: compared with the restored ledger on arrival
        differences = list(engine.accounts.differences)
        for name, venue in sorted(self.venues.items()):
            reports = await venue.open_orders()
            await self._resolve_lost(name, venue, {report.client_order_id for report in reports})
            differences.extend(order_differences(name, reports, engine.orders))
        self.differences = differences
        if differences:
            if self.alerts is not None:
                self.alerts.reconciliation(differences, engine.clock.now_ns())
            raise NotReconciledError("; ".join(differences))

    async def _resolve_lost(self, name: str, venue: SimulatedVenue, open_there: set[ClientOrderId]) -> None:
        """Orders sent before the stop whose outcome never reached the journal: if the venue says one
        does not exist, it never arrived; record it as rejected (an explained difference)."""
        engine = self.engine
        for coid, order in list(engine.orders.items()):
            lost = order.status in (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN) and coid not in open_there
            if lost and venue_of(order.instrument_id) == name and await venue.query_order(coid) is None:
                reason = "not at the venue after a restart: the order never arrived"
                found = f"{name} order {coid} is {order.status} in the engine but not open at the venue"
                engine.on_venue_event(OrderRejected(engine.clock.now_ns(), coid, reason))
                self.explained.append(f"{found} -> {reason}")

    async def run(self, stop: asyncio.Event, on_message: OnMessage | None = None) -> None:
        """Trade until ``stop`` is set; always leaves the journal flushed and closed."""
        try:
            await run_live(self.engine, self.feeds, stop, on_message=on_message, ready=self._start)
        finally:
            if self.started:  # a node that refused to trade never started its strategies
                for strategy in self.strategies:
                    strategy.on_stop()
            self.engine.journal.close()
            if self.risk is not None:
                self.risk.kill_switch.close()
            if self.alerts is not None:
                self.alerts.close()

    async def _start(self) -> None:
        await self.reconcile()
        self.engine.protective.cancel_orphans()  # a stop whose position closed in the crash window
        self.started_with = {iid: p.quantity for iid, p in self.engine.portfolio.positions.items() if p.quantity}
        for strategy in self.strategies:
            strategy.on_start()
        self.started = True


def build_paper(
    config: RunConfig,
    journal_path: Path,
    feed_factory: FeedFactory,
    *,
    clock: Clock | None = None,
    started_ns: int | None = None,
    alerts: AlertSink | None = None,
) -> PaperNode:
    """Wire a paper node; resume from ``journal_path`` when it holds a previous run's journal.

    ``clock`` is the wall clock by default; a clock that follows the exchange's timestamps suits a
    replay at accelerated speed (the emulator). ``started_ns`` (default: the clock's now) names the
    run in its client order ids. ``alerts`` (an ``AlertDispatcher``) hears of fills, breakers, the
    kill switch, disconnects and reconciliation differences; the node closes it when it stops."""
    instruments = live_instruments(config)  # [[instruments]] and the Polymarket markets' tokens
    if not instruments:
        raise ConfigError("paper trading needs [[instruments]] (the live feeds name them)")
    mode = MODES["paper"]
    clock = clock or mode.clock(0)
    engine = build_engine(mode, config, instruments, clock, Journal(), started_ns)  # file journal: after restore
    strategies = _strategies(config)
    for strategy in strategies:  # before restore: the journal's fills are booked to their strategies
        engine.attribution.register(strategy.id)
    restored = restore_journal(engine, journal_path)
    engine.journal = Journal(journal_path, durability=mode.durability)
    venues = _paper_venues(config, instruments, engine, resumed=restored is not None)
    for venue in venues.values():
        connect_simulated(engine, venue)
    for strategy in strategies:
        attach_strategy(engine, strategy)
    node = PaperNode(
        engine, strategies, venues, feed_factory(config, instruments), engine.attribution, PriceRecorder(engine),
        journal_path, restored,
    )  # fmt: skip
    node.risk = _risk(config, engine)
    watch_kill_switch(config, node.risk)
    node.allocator = _allocator(config, engine, strategies, node.risk)
    if alerts is not None:  # after the restore: the journal's fills are not news
        node.alerts = attach_alerts(engine, alerts, risk=node.risk)
    return node


def restore_journal(engine: Engine, path: Path) -> RestoreSummary | None:
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        return restore(engine, JournalReader(path))
    except JournalError as exc:
        raise ConfigError(f"cannot resume from the journal: {exc}") from None


def _paper_venues(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], engine: Engine, *, resumed: bool
) -> dict[str, SimulatedVenue]:
    """One simulated venue per venue name: fresh with the config's balances, or as the journal left it."""
    venues = {}
    ledger, portfolio = engine.portfolio.ledger, engine.portfolio
    for name, settings in _venue_settings(config, instruments, {}).items():
        if not resumed:
            venues[name] = settings.venue(name, id_prefix=engine.order_ids.prefix)
            continue
        balances = {asset: amount for asset, amount in ledger.venue_balances(name).items() if amount}
        positions = {
            iid: (pos.quantity, pos.avg_price)
            for iid, pos in portfolio.positions.items()
            if pos.quantity and instruments[iid].venue == name and instruments[iid].kind is InstrumentKind.PERPETUAL
        }
        working = [
            order
            for order in engine.orders.values()
            if venue_of(order.instrument_id) == name
            and order.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL)
        ]
        resume = VenueResume(positions, sorted(working, key=lambda o: o.ts_init))
        venues[name] = settings.venue(name, balances=balances, id_prefix=engine.order_ids.prefix, resume=resume)
    return venues
