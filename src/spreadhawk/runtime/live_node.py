"""Live trading: the paper node's engine, strategies and journal, trading on exchange accounts.

Only the venue row changes (``modes.MODES['live']``): each venue is a ``CcxtVenue`` holding the API
key of a key store account. A live node trades only after

1. the key's permissions were read from the exchange (a key that can withdraw is refused, and one
   without an IP allow-list unless the config accepts it);
2. the journal's open business was settled with the exchange: fills made while the node was down are
   booked from the trade history after the last trade the journal holds; orders whose submit outcome
   never reached the journal are looked up by client id (found: booked as the exchange has them;
   absent past the visibility window: they never arrived); orders the journal holds open but the
   exchange has closed are closed as the exchange says;
3. what remains agrees: balances, perpetual positions, open orders. Any difference left refuses
   trading (``NotReconciledError``) with every difference listed.

On stop, with ``cancel_on_exit`` every open order of this node is cancelled and the node waits until
the exchange holds none of them (or ``exit_timeout_s`` passes: then it says which remain). Without it
they stay; a restart on the same journal finds them open on both sides and carries on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spreadhawk.alerts import AlertRouter, AlertSink, attach_alerts
from spreadhawk.domain.accounts import OrderReport
from spreadhawk.domain.events import CancelOrder, OrderCanceled
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.attribution import StrategyAttribution
from spreadhawk.engine.clock import Clock
from spreadhawk.engine.engine import MARKET_DATA, Engine
from spreadhawk.engine.journal import Journal
from spreadhawk.engine.live import LiveFeed, OnMessage, run_live
from spreadhawk.engine.ports import Venue
from spreadhawk.engine.reconcile import account_differences, order_differences
from spreadhawk.engine.records import ExternalOrderReported
from spreadhawk.engine.restore import RestoreSummary
from spreadhawk.risk.allocation import CapitalAllocator
from spreadhawk.risk.breakers import Mode
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.runtime.config import ConfigError, LiveTradingSection, RunConfig
from spreadhawk.runtime.modes import MODES, _allocator, _risk, _strategies, build_engine, watch_kill_switch
from spreadhawk.runtime.paper import NotReconciledError, restore_journal
from spreadhawk.runtime.polymarket_live import live_instruments
from spreadhawk.runtime.recorders import PriceRecorder
from spreadhawk.strategy.base import Strategy, attach_strategy

log = logging.getLogger(__name__)


class LiveVenue(Venue, Protocol):
    """What the live node asks of an exchange adapter beyond the ``Venue`` port (``CcxtVenue``,
    ``PolymarketVenue``): a session's start and close, the journal's resume point, who hears the
    client's breaker, and how to read its key's permissions (``quirks.key_permissions``: the name of
    a method of its ``exchange`` client, or None where keys have none to read)."""

    quirks: Any
    exchange_id: str

    @property
    def stream_live(self) -> bool:
        """Its private stream is live and has caught up with the trades made while it was not."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def resume(
        self,
        last_trade_ids: Mapping[str, int],
        in_flight: Mapping[ClientOrderId, Instrument],
        conditional: Mapping[ClientOrderId, Instrument] | None = None,
    ) -> None: ...

    def report_modes(self, on_mode: Callable[..., None]) -> None: ...


FeedFactory = Callable[[RunConfig, dict[InstrumentId, Instrument]], Sequence[LiveFeed]]
VenueFactory = Callable[[RunConfig, dict[InstrumentId, Instrument]], Mapping[str, LiveVenue]]
_WORKING = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL)
_IN_FLIGHT = (OrderStatus.SUBMITTED, OrderStatus.UNKNOWN)
_POLL_S = 0.02
OUR_CLIENT_ID = re.compile(r"^[0-9a-z]{1,13}\.")  # engine.order_ids: a run prefix (base 36 ms), a dot


class KeyPermissionError(Exception):
    """The key's permissions at the exchange forbid trading with it (withdrawals enabled...)."""


@dataclass
class LiveNode:
    engine: Engine
    strategies: list[Strategy]
    venues: dict[str, LiveVenue]
    feeds: Sequence[LiveFeed]
    journal_path: Path
    restored: RestoreSummary | None
    config: RunConfig
    attribution: StrategyAttribution
    prices: PriceRecorder
    risk: RiskEngine | None = None
    allocator: CapitalAllocator | None = None
    differences: list[str] = field(default_factory=list)
    explained: list[str] = field(default_factory=list)
    permissions: dict[str, dict[str, object]] = field(default_factory=dict)  # by venue, as the exchange said
    left_open: list[str] = field(default_factory=list)  # orders still open at the exchange after the exit
    acknowledge_external: bool = False  # the operator saw the external activity found at start
    acknowledged: set[str] = field(default_factory=set)  # external client ids found at start
    halted_by: str | None = None  # why new orders were halted while trading (external activity)
    started: bool = False  # reconciled and strategies started (until they are stopped)
    stopped: bool = False  # strategies were started, then stopped
    alerts: AlertRouter | None = None  # closed (flushed) when the node stops

    async def run(self, stop: asyncio.Event, on_message: OnMessage | None = None) -> None:
        """Connect, check the keys, reconcile, trade until ``stop``; always leaves the journal closed."""
        try:
            await self._connect()
            await run_live(self.engine, self.feeds, stop, on_message=on_message, ready=self._start)
            self._stop_strategies()
            if self.stopped and self.config.live_trading.cancel_on_exit:
                await self.cancel_all()
        finally:
            await self._close()

    async def look(self) -> None:
        """A dry run: connect, check the keys and reconcile; nothing is sent, no strategy starts."""
        try:
            await self._connect()
            await self.reconcile()
            for orphan in self.engine.protective.orphans():  # sent nothing: says what a start would cancel
                self.explained.append(
                    f"protective order {orphan.client_order_id} would be cancelled: its position is closed"
                )
        finally:
            await self._close()

    async def _close(self) -> None:
        self._stop_strategies()
        for venue in self.venues.values():
            await venue.close()
        self._drain_reports()  # market data would reach strategies that are not (or no longer) trading
        self.engine.journal.close()
        if self.risk is not None:
            self.risk.kill_switch.close()
        if self.alerts is not None:
            self.alerts.close()

    def _stop_strategies(self) -> None:
        """From here on nothing new is sent (a strategy reacting to a cancel is denied), and each
        strategy is told once."""
        self.engine.halt_reason = "the node is stopping"
        if self.started:
            self.started = False
            self.stopped = True
            for strategy in self.strategies:
                strategy.on_stop()

    async def _connect(self) -> None:
        for name, venue in sorted(self.venues.items()):
            await venue.start()
            permissions = await _permissions(venue)
            self.permissions[name] = permissions if permissions is not None else {"checked": False}
            problem = _refusal(permissions, self.config.live_trading)
            if problem:
                raise KeyPermissionError(f"{name}: the API key {problem}; not trading with it")

    async def _start(self) -> None:
        await self.reconcile()
        # A position closed in the crash window, or while the node was down, leaves its stop behind
        # (RELIABILITY.md scenario 24): cancelled before any strategy acts. Not in a dry run.
        for orphan in self.engine.protective.cancel_orphans():
            self.explained.append(f"protective order {orphan.client_order_id} cancelled: its position is closed")
        self.engine.bus.subscribe(ExternalOrderReported, self._on_external)
        for strategy in self.strategies:
            strategy.on_start()
        self.started = True

    # ------------------------------------------------------------------------------ reconciliation
    async def reconcile(self) -> None:
        """Settle what the journal left open with each exchange, then compare; raise
        ``NotReconciledError`` with every difference that remains."""
        engine = self.engine
        timeout = self.config.live_trading.visibility_window_s * 4 + 10
        await self._until(lambda: all(v.stream_live for v in self.venues.values()), timeout, "the trade catch-up")
        await self._until(lambda: not self._in_flight(), timeout, "the look-up of orders in flight")
        differences: list[str] = self._external_while_down()
        for name, venue in sorted(self.venues.items()):
            reports = self._without_external(name, await venue.open_orders(), differences)
            open_there = {report.client_order_id for report in reports}
            for cid, order in sorted(engine.orders.items()):
                if order.status in _WORKING and venue_of(order.instrument_id) == name and cid not in open_there:
                    await self._closed_while_down(venue, cid)
            self._drain_reports()
            differences.extend(order_differences(name, reports, engine.orders))
            differences.extend(account_differences(await venue.account_snapshot(), engine.portfolio))
        self.differences = differences
        if differences:
            if self.alerts is not None:
                self.alerts.reconciliation(differences, engine.clock.now_ns())
            raise NotReconciledError("; ".join(differences))

    def _external_while_down(self) -> list[str]:
        """Trades of orders this node never sent, booked by the catch-up (activity while it was down)."""
        found = []
        for report in self.engine.external_reports:
            self.acknowledged.add(report.client_order_id)
            line = f"external order {report.client_order_id}: {report.event_type} {report.detail}".rstrip()
            found.append(line)
        return self._acknowledge(found)

    def _without_external(self, venue: str, reports: list[OrderReport], differences: list[str]) -> list[OrderReport]:
        """Open orders this node never sent, and that do not carry a client id of its own making: someone
        else's (a person, another program). They are never cancelled by this node; trading beside them
        needs an operator's acknowledgement."""
        kept, external = [], []
        for report in reports:
            cid = report.client_order_id
            if cid in self.engine.orders or OUR_CLIENT_ID.match(cid):
                kept.append(report)  # ours (or ours and lost: order_differences reports it)
            else:
                self.acknowledged.add(cid)
                external.append(f"external order {cid} open at {venue}: {report.side} {report.quantity}")
        differences.extend(self._acknowledge(external))
        return kept

    def _acknowledge(self, found: list[str]) -> list[str]:
        """With the operator's acknowledgement, external activity is explained; without, a difference."""
        if self.acknowledge_external:
            self.explained.extend(f"{line} (acknowledged: left alone)" for line in found)
            return []
        return [f"{line}; start with --acknowledge-external to trade beside it" for line in found]

    def _on_external(self, report: ExternalOrderReported) -> None:
        """External activity while trading: no new entry until an operator has looked at it. With the
        risk engine on, every venue goes HEDGE_ONLY (orders that reduce a position still go out, as
        RELIABILITY.md scenario 15 asks); without it nothing can tell an exit from an entry, so
        nothing new is sent."""
        if report.client_order_id in self.acknowledged:
            return
        reason = f"external activity on the account ({report.client_order_id} {report.event_type}): "
        if self.risk is not None:
            self.halted_by = (
                reason + "only risk-reducing orders until acknowledged (restart with --acknowledge-external)"
            )
            for venue in self.venues:
                self.risk.impose_venue_mode(venue, Mode.HEDGE_ONLY, self.halted_by, source="external activity")
        else:
            self.halted_by = reason + "new orders halted until acknowledged (restart with --acknowledge-external)"
            self.engine.halt_reason = self.halted_by
        log.error("%s", self.halted_by)

    async def _closed_while_down(self, venue: LiveVenue, cid: ClientOrderId) -> None:
        """An order the journal holds working is not open at the exchange: its fills came with the
        catch-up; what is left of it was cancelled (or expired) there."""
        report = await venue.query_order(cid)
        order = self.engine.orders[cid]
        if report is None:
            return  # unknown to the exchange too: reported as a difference
        if report.filled_quantity == order.quantity:
            return  # filled: its fills are (or will be reported as) booked
        event = OrderCanceled(self.engine.clock.now_ns(), cid, "closed at the venue while the node was down")
        self.engine.on_venue_event(event)
        self.explained.append(f"{venue.name} order {cid}: {order.status} in the journal, closed at the venue")

    def _in_flight(self) -> list[ClientOrderId]:
        return [cid for cid, order in self.engine.orders.items() if order.status in _IN_FLIGHT]

    async def _until(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Let the venues' reports in (the driver does not run yet) until ``done`` or a timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            self._drain_reports()
            if done():
                return
            if loop.time() > deadline:
                problem = f"{what} did not finish within {timeout_s:.0f} s"
                if self.alerts is not None:
                    self.alerts.reconciliation([problem], self.engine.clock.now_ns())
                raise NotReconciledError(problem)
            await asyncio.sleep(_POLL_S)

    def _drain_reports(self) -> None:
        """Handle the venues' reports waiting in the inbox; market data stays queued, in order, for the
        driver. The strategies are attached but not started: fed a book now, they would trade before
        the node has reconciled (found by the crash tests: an order sent mid-reconciliation)."""
        engine = self.engine
        market: list[object] = []
        inbox = engine.inbox
        while inbox:
            message = inbox.take()
            if isinstance(message, MARKET_DATA):
                market.append(message)
            else:
                engine.handle(message)
        for message in market:
            inbox.post(message)

    # ------------------------------------------------------------------------------ exit
    async def cancel_all(self) -> None:
        """Cancel every open order of this node; wait until the exchanges hold none of them."""
        engine = self.engine
        ours = engine.order_ids.prefix
        for cid, order in sorted(engine.orders.items()):
            if order.is_open and order.status is not OrderStatus.PENDING_CANCEL:
                engine.cancel(CancelOrder(engine.clock.now_ns(), cid, order.instrument_id, order.strategy_id))
        remaining: list[str] = []

        async def none_open() -> bool:
            nonlocal remaining
            remaining = []
            for venue in self.venues.values():
                reports = await venue.open_orders()
                remaining += [r.client_order_id for r in reports if r.client_order_id in engine.orders]
            return not remaining

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.live_trading.exit_timeout_s
        while True:
            self._drain_reports()
            if await none_open() and not any(o.status in _IN_FLIGHT for o in engine.orders.values()):
                break
            if loop.time() > deadline:
                break
            await asyncio.sleep(_POLL_S * 5)
        self._drain_reports()
        self.left_open = sorted(remaining)
        if self.left_open:
            log.error("orders still open at the exchange after the exit (prefix %s): %s", ours, self.left_open)


async def _permissions(venue: LiveVenue) -> dict[str, object] | None:
    """The key's permissions as the exchange reports them (Binance: GET /sapi/v1/account/apiRestrictions);
    None when this exchange's quirks name no way to ask."""
    method = venue.quirks.key_permissions
    if method is None:
        return None
    answer = await getattr(getattr(venue, "exchange", None), method)()
    return dict(answer) if isinstance(answer, dict) else {}


def _refusal(permissions: dict[str, object] | None, trading: LiveTradingSection) -> str:
    if permissions is None:
        if trading.allow_unverified_key:
            return ""
        return "permissions cannot be checked on this exchange (set live_trading.allow_unverified_key to accept)"
    if not permissions:
        return "permissions could not be read (no answer from the key-permission endpoint)"
    if permissions.get("enableWithdrawals") is not False:
        return "allows withdrawals (enableWithdrawals is not false)"
    if permissions.get("ipRestrict") is not True and not trading.allow_unrestricted_ip:
        return "has no IP allow-list (ipRestrict is not true; live_trading.allow_unrestricted_ip accepts that)"
    return ""


def build_live(
    config: RunConfig,
    journal_path: Path,
    feed_factory: FeedFactory,
    venue_factory: VenueFactory,
    *,
    clock: Clock | None = None,
    started_ns: int | None = None,
    acknowledge_external: bool = False,
    alerts: AlertSink | None = None,
) -> LiveNode:
    """Wire a live node; resume from ``journal_path`` when it holds a previous run's journal.
    ``alerts`` (an ``AlertDispatcher``): as ``build_paper``'s; the node closes it when it stops."""
    instruments = live_instruments(config)  # [[instruments]] and the Polymarket markets' tokens
    if not instruments:
        raise ConfigError("live trading needs [[instruments]] (the live feeds name them)")
    mode = MODES["live"]
    clock = clock or mode.clock(0)
    engine = build_engine(mode, config, instruments, clock, Journal(), started_ns)
    strategies = _strategies(config)
    for strategy in strategies:
        engine.attribution.register(strategy.id)
    restored = restore_journal(engine, journal_path)
    engine.journal = Journal(journal_path, durability=mode.durability)
    venues = dict(venue_factory(config, instruments))
    for name, venue in venues.items():
        venue.resume(*_resume_point(engine, name))
        engine.add_venue(venue)
    for strategy in strategies:
        attach_strategy(engine, strategy)
    feeds = feed_factory(config, instruments)
    node = LiveNode(
        engine, strategies, venues, feeds, journal_path, restored, config, engine.attribution, PriceRecorder(engine)
    )  # fmt: skip
    node.acknowledge_external = acknowledge_external
    node.risk = _risk(config, engine)
    watch_kill_switch(config, node.risk)
    if node.risk is not None:  # a broken connection or an exchange ban puts the venue in a stricter mode
        for venue in venues.values():
            venue.report_modes(node.risk.impose_venue_mode)
    node.allocator = _allocator(config, engine, strategies, node.risk)
    if alerts is not None:  # after the restore: the journal's fills are not news
        node.alerts = attach_alerts(engine, alerts, risk=node.risk)
    return node


def _resume_point(
    engine: Engine, venue: str
) -> tuple[dict[str, int], dict[ClientOrderId, Instrument], dict[ClientOrderId, Instrument]]:
    """Per symbol, the newest exchange trade id the journal booked; the orders sent whose outcome it
    lacks; the conditional (stop-loss, take-profit) orders not known to have ended."""
    last: dict[str, int] = {}
    in_flight: dict[ClientOrderId, Instrument] = {}
    conditional: dict[ClientOrderId, Instrument] = {}
    for cid, order in engine.orders.items():
        instrument = engine.instruments[order.instrument_id]
        if instrument.venue != venue:
            continue
        numeric = [int(t) for t in order.trade_ids if t.isdigit()]
        if numeric:
            last[instrument.symbol] = max(last.get(instrument.symbol, 0), *numeric)
        if order.status in _IN_FLIGHT:
            in_flight[cid] = instrument
        if order.order_type.is_conditional and not order.is_terminal:
            conditional[cid] = instrument
    return last, in_flight, conditional
