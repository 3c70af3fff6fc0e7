"""The trading ``Venue`` port on an exchange through ccxt (REST) and ccxt.pro (user stream).

What differs between exchanges comes from ``quirks`` (one table entry per exchange id): Binance spot
(``binance``) and USD-M perpetuals (``binanceusdm``) are complete and tested against the emulator. For
perpetuals the account snapshot carries the positions and funding payments are reported as
``FundingPaid`` (``funding``).

``submit`` and ``cancel`` return at once and schedule a task on the running asyncio loop (the live
driver's; the tasks are in ``outcomes``); every outcome is reported through ``VenueHub.post`` (the
engine's inbox), never ``emit``, because these tasks are not the engine's step.

Reliability rules (RELIABILITY.md §1, §4.2 scenarios 3, 4, 5, 14):

* a submit whose answer is lost (timeout, dropped connection, 5xx, Binance -1007) is reported as
  ``OrderStatusUnknown`` and looked up by its client order id, retried with backoff; it is **never
  re-sent** (a Binance client id is unique among open orders only: a re-send can trade twice);
* only ``OrderNotFound`` repeated past ``visibility_window_s`` (Binance orders may briefly vanish
  from the API) means the order never arrived; a network error is never taken as "not found";
* an order's reports are ordered accepted -> fills -> end: the engine refuses ``OrderAccepted`` on
  a filled order, so stream fills that overtake the REST answer wait until it is reported;
* fills come from the order answer, the user stream (``watch_my_trades``) and a REST catch-up after
  every (re)connect; they carry the exchange trade id, so duplicates are harmless (applied once)
  (``fills``).

User stream (§3, §4.2 scenarios 8, 9; S13): ``eventStreamTerminated``, ``listenKeyExpired``, a failed
keep-alive check (``session.subscriptions`` every ``heartbeat_s``, answered within ``stall_timeout_s``)
and a dropped socket all mean the same (``user_stream``): reconnect with backoff, resubscribe, REST
catch-up. Until the catch-up is done, submits are refused locally (``RejectCode.STREAM_RECONCILING``):
the node's view of the account may be behind. A frame or trade that cannot be read is logged raw and
skipped (``stream_guard``); it never stops the stream nor reaches the ledger.

Event timestamps come from the hub (the engine's clock), never from this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from ccxt.base.errors import OrderNotFound

from spreadhawk.domain.accounts import AccountSnapshot, OrderReport, PositionReport
from spreadhawk.domain.events import (
    CancelOrder,
    OrderCancelRejected,
    OrderPendingCancel,
    OrderRejected,
    RejectCode,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.ports import VenueEvent, VenueHub
from spreadhawk.venues.ccxt.account import account_snapshot, position_reports
from spreadhawk.venues.ccxt.client import GuardConfig, ModeListener
from spreadhawk.venues.ccxt.conditional import ConditionalOrders
from spreadhawk.venues.ccxt.fills import Fills
from spreadhawk.venues.ccxt.funding import FundingPoller
from spreadhawk.venues.ccxt.guarded import guarded_client
from spreadhawk.venues.ccxt.order_requests import OrderRequests
from spreadhawk.venues.ccxt.orders import order_report
from spreadhawk.venues.ccxt.outcomes import OrderOutcomes
from spreadhawk.venues.ccxt.quirks import (
    MY_TRADES,
    MarketRules,
    RateLimit,
    check_client_id,
    quirks_for,
    read_published,
    widest_client_id,
)
from spreadhawk.venues.ccxt.redact import redacted_logger
from spreadhawk.venues.ccxt.user_stream import UserStream

__all__ = ["CcxtVenue"]

log = logging.getLogger(__name__)


class CcxtVenue:
    """Trading ``instruments`` (their ``venue`` must be ``name``) on the ccxt exchange ``exchange_id``."""

    def __init__(
        self,
        name: str,
        exchange_id: str,
        instruments: Sequence[Instrument],
        *,
        api_key: str,
        api_secret: str,
        urls: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
        visibility_window_s: float = 3.0,
        backoff_initial_s: float = 0.05,
        backoff_max_s: float = 2.0,
        heartbeat_s: float = 20.0,
        stall_timeout_s: float = 10.0,
        guards: GuardConfig | None = None,  # rate limiter, circuit breaker, time sync (see client.py)
        funding_poll_s: float = 30.0,
        trade_poll_s: float = 10.0,  # REST catch-up while the stream is live: a lost report's longest wait
    ) -> None:
        self.quirks = quirks_for(exchange_id)
        if MY_TRADES not in self.quirks.streams:  # fills come from it (see the module doc)
            raise ValueError(f"{exchange_id} has no {MY_TRADES} stream: CcxtVenue cannot hear its fills")
        misfits = [i.id for i in instruments if i.kind is not self.quirks.kind]
        if misfits:
            raise ValueError(f"{exchange_id} trades {self.quirks.kind} instruments here, not {', '.join(misfits)}")
        strangers = [i.id for i in instruments if i.venue != name]
        if strangers:
            raise ValueError(f"instruments of another venue than {name!r}: {', '.join(strangers)}")
        if not (visibility_window_s > 0 and trade_poll_s > 0 and backoff_max_s >= backoff_initial_s > 0):
            raise ValueError(
                "visibility_window_s, trade_poll_s and the backoff delays must be positive (max >= initial)"
            )
        self.trade_poll_s = trade_poll_s
        self.name = name
        self.exchange_id = exchange_id
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._instruments = {i.id: i for i in instruments}
        self._by_symbol = {i.symbol: i for i in instruments}
        settings: dict[str, Any] = {"apiKey": api_key, "secret": api_secret, "enableRateLimit": False}
        # ccxt logs request headers (the API key) at DEBUG: its logger redacts the credentials
        settings["logger"] = redacted_logger(f"spreadhawk.venues.ccxt.client.{name}", (api_key, api_secret))
        settings["options"] = {**self.quirks.options, **(options or {})}
        if urls is not None:
            settings["urls"] = dict(urls)
        self._settings = settings
        self._guards = guards or GuardConfig()
        self._exchange: Any = None
        self._hub: VenueHub | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # requests: submits, cancels, look-ups
        self._pollers: list[asyncio.Task[None]] = []  # for as long as the venue runs
        self._stream_task: asyncio.Task[None] | None = None
        self._instrument_of: dict[ClientOrderId, Instrument] = {}
        self._in_flight_at_resume: dict[ClientOrderId, Instrument] = {}
        self.conditional = ConditionalOrders(self.quirks)  # stop-loss / take-profit orders (see conditional)
        # Trades seen and held back, whose orders they are, where the catch-up starts (see fills).
        self._fills = Fills(
            name,
            lambda: self.exchange,
            self._by_symbol,
            self.quirks,
            self.conditional,
            post=self._post,
            now_ns=lambda: self.hub.now_ns(),  # noqa: PLW0108 (not bound yet: the hub comes with ``bind``)
        )
        self._stream = UserStream(
            name,
            lambda: self.exchange,
            market_ids=lambda: [m["id"] for s in self._by_symbol if (m := self.exchange.markets.get(s))],
            catch_up=self._fills.catch_up,
            on_trade=self._fills.on_trade,
            delay=self._delay,
            heartbeat_s=heartbeat_s,
            stall_timeout_s=stall_timeout_s,
            ws_api=self.quirks.ccxt_id == "binance",  # spot's user data is on the WebSocket API
        )
        self.funding_poll_s = funding_poll_s
        self.requests = OrderRequests(lambda: self.exchange, self.quirks, self._delay, name, self.conditional.params)
        # What the submits, look-ups and cancels spawned below come to, reported (see outcomes).
        self._outcomes = OrderOutcomes(
            name,
            lambda: self.exchange,
            self.quirks,
            self.requests,
            self.conditional,
            self._fills,
            visibility_window_s=visibility_window_s,
            post=self._post,
            now_ns=lambda: self.hub.now_ns(),  # noqa: PLW0108 (not bound yet: the hub comes with ``bind``)
            spawn=self._spawn,
        )
        self.market_rules: dict[str, MarketRules] = {}  # by symbol, read from the loaded markets
        self.rate_limits: tuple[RateLimit, ...] = ()  # as the exchange publishes them (exchangeInfo)

    # --------------------------------------------------------------------------- lifecycle
    def bind(self, hub: VenueHub) -> None:
        self._hub = hub

    @property
    def hub(self) -> VenueHub:
        if self._hub is None:
            raise RuntimeError(f"venue {self.name} is not bound to an engine")
        return self._hub

    @property
    def exchange(self) -> Any:
        if self._exchange is None:
            raise RuntimeError(f"venue {self.name} is not started")
        return self._exchange

    async def start(self) -> None:
        """Load markets, mark where trade history starts, report the account, start the user stream.

        Trades before ``start`` are reconciliation's business: the catch-up starts after the newest."""
        check_client_id(self.quirks, widest_client_id(self.hub.now_ns()))  # before any connection
        self._exchange = guarded_client(self.quirks.ccxt_id, self._settings, self._guards, self.name)
        await self._exchange.load_markets()
        self.market_rules, self.rate_limits = await read_published(self._exchange, self.quirks, list(self._by_symbol))
        for symbol in self._by_symbol:
            if symbol not in self._fills.last_trade_id:  # not resumed: history before now is not ours to book
                newest = await self._exchange.fetch_my_trades(symbol, None, 1)
                self._fills.last_trade_id[symbol] = max((int(t["id"]) for t in newest), default=0)
        self.hub.post(await self.account_snapshot())
        self._stream_task = asyncio.get_running_loop().create_task(self._user_stream(), name=f"{self.name}-user")
        self._poll(self._stream.reconcile_every(self.trade_poll_s), "trade-poll")
        sent_at = asyncio.get_running_loop().time()  # a resumed order's visibility window starts now
        for cid, instrument in self._in_flight_at_resume.items():
            self._spawn(self._outcomes.look_up(cid, instrument, sent_at), f"look-up-{cid}")
        perpetuals = [i for i in self._instruments.values() if i.kind is InstrumentKind.PERPETUAL]
        if perpetuals:  # payments from now on; earlier ones are reconciliation's business
            poller = FundingPoller(perpetuals)
            await poller.prime(self._exchange)
            self._poll(poller.run(lambda: self.exchange, self.hub.now_ns, self._post, self.funding_poll_s), "funding")

    def report_modes(self, on_mode: ModeListener) -> None:
        """Before ``start``: who hears the mode the client's breaker and bans put the venue in (the
        risk engine's ``impose_venue_mode``)."""
        self._guards = dataclasses.replace(self._guards, on_mode=on_mode)

    def resume(
        self,
        last_trade_ids: Mapping[str, int],
        in_flight: Mapping[ClientOrderId, Instrument],
        conditional: Mapping[ClientOrderId, Instrument] | None = None,
    ) -> None:
        """Before ``start``: continue where a journal left off. The catch-up books every trade after
        ``last_trade_ids`` (by symbol; fills made while the node was down), and each order in
        ``in_flight`` (sent, its outcome never journaled) is looked up by client id like a lost
        answer: found, it is reported with its fills; absent past the visibility window, rejected.
        ``conditional``: the journal's stop-loss and take-profit orders not known to have ended."""
        self._fills.last_trade_id.update(last_trade_ids)
        for cid, instrument in (conditional or {}).items():
            self.conditional.track(cid, instrument)
        for cid, instrument in in_flight.items():
            self._instrument_of[cid] = instrument
            self._fills.held[cid] = []
        self._in_flight_at_resume = dict(in_flight)

    async def close(self) -> None:
        """Stop every task, then close the ccxt client (REST session and websockets); safe twice."""
        tasks = [*self._tasks, *self._pollers, *([self._stream_task] if self._stream_task is not None else [])]
        self._stream_task, self._pollers = None, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        exchange, self._exchange = self._exchange, None
        if exchange is not None:
            await exchange.close()

    @property
    def visibility_window_s(self) -> float:
        """How long a new order may be invisible to look-ups before it counts as never arrived."""
        return self._outcomes.visibility_window_s

    @property
    def stream_live(self) -> bool:
        """The user stream is subscribed and caught up: submits go out."""
        return self._stream.live

    @property
    def stream_state(self) -> str:
        """What the user stream is doing: connecting, catching up, live, reconnecting."""
        return self._stream.state

    @property
    def busy(self) -> bool:
        """Requests (orders, cancels, look-ups) are in flight."""
        return bool(self._tasks)

    @property
    def trades_booked(self) -> int:
        """Trades reported to the engine (each once, by trade id)."""
        return len(self._fills.seen)

    @property
    def fills_by_source(self) -> dict[str, int]:
        """Fills reported, by where from: the order answer, the stream, the catch-up."""
        return self._fills.by_source

    @property
    def reconnects(self) -> int:
        """User-stream sessions started after the first."""
        return self._stream.reconnects

    # --------------------------------------------------------------------------- port: commands
    def submit(self, command: SubmitOrder) -> None:
        instrument = self._instruments.get(command.instrument_id)
        if instrument is None:
            self._post(OrderRejected(self.hub.now_ns(), command.client_order_id, "instrument not traded here"))
            return
        if not self.stream_live:  # the account view may be behind: nothing new goes out until caught up
            reason = f"user stream {self.stream_state}: submits are refused until it is live and caught up"
            self._post(OrderRejected(self.hub.now_ns(), command.client_order_id, reason, RejectCode.STREAM_RECONCILING))
            return
        self._instrument_of[command.client_order_id] = instrument
        self._fills.held[command.client_order_id] = []
        if command.order_type.is_conditional:
            self.conditional.track(command.client_order_id, instrument)
        self._spawn(self._outcomes.submit(command, instrument), f"submit-{command.client_order_id}")

    def cancel(self, command: CancelOrder) -> None:
        instrument = self._instruments.get(command.instrument_id)
        if instrument is None:
            self._post(OrderCancelRejected(self.hub.now_ns(), command.client_order_id, "instrument not traded here"))
            return
        if command.client_order_id in self._fills.held:
            self._outcomes.cancel_after.add(command.client_order_id)
            return
        # PENDING_CANCEL until the venue answers: never assumed canceled nor still working (§4.2
        # scenario 21). Posted, not emitted: a cancel may come from outside a step (an operator), and
        # an emitted report waits for the next step. Ahead of the cancel's answer in the inbox; if a
        # fill ahead of it ends the order, the engine keeps the end (the transition table says so).
        self._post(OrderPendingCancel(self.hub.now_ns(), command.client_order_id))
        if command.client_order_id in self.conditional.open:
            self.conditional.cancelling.add(command.client_order_id)  # this cancel reports how it ended
        self._spawn(self._outcomes.cancel(command.client_order_id, instrument), f"cancel-{command.client_order_id}")

    # --------------------------------------------------------------------------- port: look-ups
    async def query_order(self, client_order_id: ClientOrderId) -> OrderReport | None:
        known = self._instrument_of.get(client_order_id)
        asks = [self.requests.by_client(client_order_id)]
        if self.conditional.supported and not self.conditional.params(client_order_id):
            asks.append({**asks[0], str(self.quirks.conditional_param): True})  # or a conditional order
        for instrument in [known] if known is not None else list(self._instruments.values()):
            for params in asks:
                try:
                    order = await self.exchange.fetch_order(None, instrument.symbol, params)
                except OrderNotFound:
                    continue  # a network error propagates: it is never "not found"
                return order_report(order, instrument.id, self.hub.now_ns())
        return None

    async def open_orders(self) -> list[OrderReport]:
        reports: list[OrderReport] = []
        for instrument in self._instruments.values():
            for order in await self.exchange.fetch_open_orders(instrument.symbol):
                reports.append(order_report(order, instrument.id, self.hub.now_ns()))
            for order in await self.conditional.open_at_exchange(self.exchange, instrument.symbol):
                report = order_report(order, instrument.id, self.hub.now_ns())
                self.conditional.track(report.client_order_id, instrument)  # adopted: its calls go to its endpoints
                reports.append(report)
        return sorted(reports, key=lambda r: r.client_order_id)

    async def account_snapshot(self) -> AccountSnapshot:
        balance = await self.exchange.fetch_balance()
        positions: tuple[PositionReport, ...] = ()
        if self.quirks.kind is InstrumentKind.PERPETUAL:
            positions = position_reports(await self.exchange.fetch_positions(list(self._by_symbol)), self._by_symbol)
        return account_snapshot(balance, self.name, self.hub.now_ns(), positions)

    # --------------------------------------------------------------------------- user stream
    async def _user_stream(self) -> None:
        await self._stream.run()  # sessions, catch-ups and the keep-alive check: see user_stream

    # --------------------------------------------------------------------------- helpers
    def _post(self, event: VenueEvent) -> None:
        self.hub.post(event)

    def _poll(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}-{name}")
        task.add_done_callback(self._finished)  # a poller that dies says why
        self._pollers.append(task)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("venue %s: task %s failed", self.name, task.get_name(), exc_info=task.exception())

    def _delay(self, attempt: int) -> float:
        initial, most = self._backoff
        return float(min(most, initial * 2 ** min(attempt, 30)))
