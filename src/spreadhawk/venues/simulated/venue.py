"""The simulated venue: an honest exchange for backtests (and, on live data, for paper trading).

What it models, and the conventions it documents:

* **Latency.** An order (or cancel) reaches the matching engine ``latency_ns`` after it was sent,
  and meets the book as it is then; reports travel back ``ack_latency_ns``.
* **Depth.** Market, limit, IOC and FOK orders sweep L2 depth level by level (slippage, partial
  fills). Liquidity we took stays taken until the exchange next updates that level.
* **Post-only** limits that would take liquidity are rejected, as on Binance (``-2010``).
* **Reduce-only** orders on perpetuals that would grow the position, or take it past zero, are
  rejected (Binance USD-M ``-2022``). Stop-loss and take-profit orders rest off the book until a
  trade reaches their trigger, then go in as market orders (see ``stops``).
* **Queue position.** A resting limit joins the back of its level: it fills only after the volume
  ahead of it has traded (public trades at its price), or when the market trades or quotes through
  its price. Cancels ahead of it shrink the queue only down to the level's displayed size.
* **Bars.** For instruments that have only bars, an order decided on a bar's close meets the
  market at the next bar's open (see ``bars``).
* **Balances.** The venue holds its own balances; an order they cannot cover is rejected and a
  resting order locks its funds (see ``SimAccount``).
* **Funding and settlement** are paid on positions (see ``payouts``).
* **Transfers.** A withdrawal leaves at once if the free balance covers amount + fee and is
  credited at the destination venue after the route's delay (see ``transfers``).
* **Book unavailable.** While the venue's book is invalid (sequence gap, crossed) it cannot match:
  orders are rejected rather than filled at prices nobody could have had.
* **Atomic reports.** Everything one arrival or one market-data record causes is settled inside the
  venue before any report goes out (see ``reports``); the free balances that step changed are
  reported first (as a real venue's account stream does), so the engine's estimate errs towards
  having less, never more.
* **The account is the venue's.** Opening balances are given to the venue (``balances=``); it
  reports them to the engine as an ``AccountSnapshot`` when bound, and a later ``deposit`` as a
  ``BalanceAdjusted``, as an exchange's account stream would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from spreadhawk.domain.accounts import AccountSnapshot, BalanceAdjusted, OrderReport
from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderRejected,
    OrderType,
    RejectCode,
    RequestTransfer,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import (
    Bar,
    BookDeltas,
    BookSide,
    BookSnapshot,
    FundingRate,
    InstrumentSettled,
    MarketData,
    MarkPrice,
    QuoteTick,
    TradeTick,
)
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.domain.orders import Order
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.ports import TransferMessage, VenueHub
from spreadhawk.venues.simulated.account import SimAccount, quantity_for_budget
from spreadhawk.venues.simulated.bars import BarOrders
from spreadhawk.venues.simulated.desk import Desk
from spreadhawk.venues.simulated.matching import sweep
from spreadhawk.venues.simulated.order_reports import working_order_reports
from spreadhawk.venues.simulated.payouts import FundingDesk, settle_holdings
from spreadhawk.venues.simulated.stops import ArmedStop, StopBook
from spreadhawk.venues.simulated.transfers import DEFAULT_WITHDRAWALS, SimTransfers
from spreadhawk.venues.simulated.working import WorkingOrders

ZERO = Decimal(0)
BACK_OF_QUEUE = 2**62  # shrinks to the level's displayed size at the first book update


@dataclass(frozen=True)
class VenueResume:
    """What a restarted node's simulated venue takes over from the journal."""

    positions: Mapping[InstrumentId, tuple[Decimal, Decimal]]  # perpetuals: (quantity, average price)
    orders: Sequence[Order]  # resting limit orders still open


class SimulatedVenue:
    def __init__(
        self,
        name: str,
        *,
        latency_ns: int = 0,
        ack_latency_ns: int = 0,
        leverage: Decimal = Decimal(1),
        withdrawals: Mapping[str, WithdrawalTerms] = DEFAULT_WITHDRAWALS,
        balances: Mapping[str, Decimal] | None = None,
        id_prefix: str = "",
        resume: VenueResume | None = None,
    ) -> None:
        self.name = name
        self._opening = dict(sorted((balances or {}).items()))
        self._resume = resume
        self.latency_ns = latency_ns
        self.account = SimAccount(name, leverage)
        self._transfers = SimTransfers(self.account, withdrawals)
        self.withdrawals: Mapping[str, WithdrawalTerms] = self._transfers.withdrawals
        # Binding, ids and reports, shared with the parts below (paper: ``id_prefix`` is the run's).
        self._desk = Desk(name, self.account, ack_latency_ns, id_prefix)
        self._working = WorkingOrders(self._desk)
        self._stops = StopBook()
        self._bars = BarOrders(self._desk, self._working, self._stops, self._reject)
        self._consumed: dict[InstrumentId, dict[int, int]] = {}
        self._funding = FundingDesk()
        self._settled: set[InstrumentId] = set()
        # Records that arrive rarely; each is handled in one venue step.
        self._slow_handlers: dict[type, Callable[[Any], None]] = {
            Bar: self._bars.on_bar,
            FundingRate: self._on_funding,
            InstrumentSettled: self._on_settlement,
        }

    # --------------------------------------------------------------------------- port
    def bind(self, hub: VenueHub) -> None:
        """Open the account with the opening balances and report it, as a venue does on connect."""
        self._desk.bind(hub)

        def open_account() -> None:
            now = hub.now_ns()
            for asset, amount in self._opening.items():
                self.account.deposit(now, asset, amount, "opening")
            if self._resume is not None:
                self._resume_state(self._resume)
            self.account.dirty.clear()  # the snapshot carries the free balances
            self._desk.emit(self.account.snapshot(now))

        self._desk.step(open_account)

    @property
    def hub(self) -> VenueHub:
        return self._desk.hub

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Funds arriving from outside (reported to the engine as a ``BalanceAdjusted``)."""

        def credit() -> None:
            now = self.hub.now_ns()
            self.account.deposit(now, asset, amount, "deposit")
            self._desk.emit(BalanceAdjusted(now, self.name, asset, amount, "deposit"))

        self._desk.step(credit)

    async def query_order(self, client_order_id: ClientOrderId) -> OrderReport | None:
        return self._reports_by_id().get(client_order_id)

    async def open_orders(self) -> list[OrderReport]:
        return [report for _, report in sorted(self._reports_by_id().items())]

    async def account_snapshot(self) -> AccountSnapshot:
        return self.account.snapshot(self.hub.now_ns())

    def _reports_by_id(self) -> dict[ClientOrderId, OrderReport]:
        """Orders working at this venue (resting, or waiting for the next bar), as order reports."""
        return working_order_reports(self.hub, self._working.orders, self._stops.armed(), self._bars.pending)

    def balances(self) -> dict[str, Decimal]:
        return self.account.ledger.venue_balances(self.name)

    def free_balance(self, asset: str) -> Decimal:
        return self.account.free(asset)

    def submit(self, command: SubmitOrder) -> None:
        self._desk.after(self.latency_ns, lambda: self._desk.step(lambda: self._arrive(command)))

    def cancel(self, command: CancelOrder) -> None:
        self._desk.after(self.latency_ns, lambda: self._desk.step(lambda: self._cancel_arrives(command)))

    def transfer(self, message: TransferMessage) -> None:
        """A withdrawal to send (after the order latency, like any request), or one to credit on arrival."""
        hub, transfers, step, emit = self.hub, self._transfers, self._desk.step, self._desk.emit
        if isinstance(message, RequestTransfer):
            request = message
            self._desk.after(self.latency_ns, lambda: step(lambda: emit(transfers.withdraw(request, hub.now_ns()))))
        elif transfers.expect(message):
            sent = message
            arrival = max(sent.arrives_ns, hub.now_ns())  # never in the past, however late the notice came
            hub.schedule(arrival, lambda: step(lambda: emit(transfers.credit(sent, hub.now_ns()))))

    def on_market_data(self, data: MarketData) -> None:
        kind = type(data)
        iid = data.instrument_id
        if kind is BookDeltas or kind is BookSnapshot:
            self._on_book(data)  # type: ignore[arg-type]
        elif kind is TradeTick:
            if self._working.orders.get(iid) or self._stops.has(iid):
                self._desk.step(lambda: self._on_trade(data))  # type: ignore[arg-type]
        elif kind is QuoteTick:
            book = self.hub.book(iid)
            if book is not None and book.from_quotes:  # the engine kept the book from this quote
                self._consumed.pop(iid, None)  # a fresh picture of the touch includes what we took
                if self._working.orders.get(iid):
                    self._desk.step(lambda: self._working.match_against_book(iid, self._consumed))
        elif kind is MarkPrice:
            self._funding.on_mark(iid, data.mark)  # type: ignore[union-attr]
        else:
            handler = self._slow_handlers.get(kind)
            if handler is not None:
                self._desk.step(lambda: handler(data))

    def _on_book(self, data: BookSnapshot | BookDeltas) -> None:
        iid = data.instrument_id
        consumed = self._consumed.get(iid)
        if consumed:
            if type(data) is BookSnapshot:
                consumed.clear()  # a fresh picture of the book includes what we took
            else:
                for price, _ in data.bids:
                    consumed.pop(price, None)
                for price, _ in data.asks:
                    consumed.pop(price, None)
        if self._working.orders.get(iid):
            self._desk.step(lambda: self._working.match_against_book(iid, self._consumed))

    # --------------------------------------------------------------------------- plumbing
    @property
    def ack_latency_ns(self) -> int:
        return self._desk.ack_latency_ns

    def _resume_state(self, resume: VenueResume) -> None:
        """A restarted paper node's venue: its positions and working orders as the journal left them.
        A resumed order joins the back of its price level (its old queue position is unknowable)."""
        for iid, (quantity, avg_price) in sorted(resume.positions.items()):
            inst = self.hub.instrument(iid)
            self.account.adopt_position(inst, quantity, avg_price)
        for order in resume.orders:
            inst = self.hub.instrument(order.instrument_id)
            if order.order_type.is_conditional and order.venue_order_id is not None:
                self._stops.arm(order.as_command(), order.venue_order_id)
                continue
            if order.price is None or order.venue_order_id is None:
                continue  # only resting limits outlive a step
            command, limit = order.as_command(), inst.ticks(order.price)
            self._working.rest(command, order.venue_order_id, inst, order.leaves_quantity, limit)
            self._working.orders[inst.id][order.client_order_id].queue_ahead = BACK_OF_QUEUE

    def _reject(self, cmd: SubmitOrder, code: RejectCode, reason: str) -> None:
        self._desk.emit(OrderRejected(self.hub.now_ns(), cmd.client_order_id, reason, code))

    def _refuse(self, cmd: SubmitOrder, code: RejectCode, reason: str, fired: ArmedStop | None) -> None:
        """A refusal on arrival; a conditional order was accepted when placed, so when it fires a
        refusal ends it as expired (Binance: the algo order ends REJECTED, its order EXPIRED)."""
        if fired is None:
            self._reject(cmd, code, reason)
        else:
            self._desk.emit(OrderExpired(self.hub.now_ns(), cmd.client_order_id))

    # --------------------------------------------------------------------------- arrival
    def _arrive(self, cmd: SubmitOrder, fired: ArmedStop | None = None) -> None:
        """An order reaching the matching engine: placed now, or a conditional order that ``fired``."""
        desk = self._desk
        inst = self.hub.instrument(cmd.instrument_id)
        if cmd.instrument_id in self._settled:
            self._reject(cmd, RejectCode.SETTLED, f"{cmd.instrument_id} has settled and no longer trades")
            return
        if cmd.order_type.is_conditional and fired is None:
            voi = desk.next_id("o")
            desk.emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
            self._stops.arm(cmd, voi)  # off the book, no funds reserved, until a trade reaches the trigger
            return
        refusal = desk.reduce_only_refusal(cmd, inst)
        if refusal is not None:
            self._refuse(cmd, RejectCode.REDUCE_ONLY, refusal, fired)
            return
        book = self.hub.book(cmd.instrument_id)
        has_book = book is not None and book.update_count > 0
        if cmd.instrument_id in self._bars.instruments and not has_book:
            self._bars.arrive_on_bars(cmd, inst)  # bars are all this venue knows of the market
            return
        if book is None or not book.is_valid:
            reason = book.invalid_reason if book is not None else "no book"
            self._refuse(cmd, RejectCode.BOOK_UNAVAILABLE, f"venue cannot match: book unavailable ({reason})", fired)
            return
        self._execute(cmd, inst, book, fired)

    def _execute(self, cmd: SubmitOrder, inst: Instrument, book: OrderBook, fired: ArmedStop | None) -> None:
        """Sweep the book, check the funds, fill; a GTC limit's remainder rests."""
        desk = self._desk
        is_buy = cmd.side.sign > 0
        limit = inst.ticks(cmd.price) if cmd.price is not None else None
        opposite = book.levels(BookSide.ASK if is_buy else BookSide.BID)
        if cmd.post_only and limit is not None and opposite:
            best = opposite[0][0]
            if (is_buy and limit >= best) or (not is_buy and limit <= best):
                self._reject(cmd, RejectCode.POST_ONLY, "post-only order would take liquidity")
                return
        consumed = self._consumed.setdefault(inst.id, {})
        quantity = cmd.quantity
        if cmd.quote_quantity is not None:
            quantity = quantity_for_budget(inst, cmd.quote_quantity, opposite, consumed)
        units = inst.units(quantity)
        fills = [] if cmd.post_only else sweep(opposite, units, limit=limit, is_buy=is_buy, consumed=consumed)
        filled_units = sum(size for _, size in fills)
        if cmd.time_in_force is TimeInForce.FOK and filled_units < units and fired is None:
            desk.emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, desk.next_id("o")))
            desk.emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, "FOK: not fully fillable"))
            return
        rests = cmd.order_type is OrderType.LIMIT and cmd.time_in_force is TimeInForce.GTC
        rest_qty = quantity - inst.size(filled_units) if rests else ZERO
        need_asset, need = self.account.order_requirement(inst, cmd, fills, rest_qty)
        shortfall = self.account.shortfall(need_asset, need)
        if shortfall is not None:
            self._refuse(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall, fired)
            return
        if fired is None:
            voi = desk.next_id("o")
            desk.emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
        else:
            voi = fired.venue_order_id
        leaves = quantity
        for price, size in fills:
            consumed[price] = consumed.get(price, 0) + size
            qty = inst.size(size)
            leaves -= qty
            final = cmd.quote_quantity is not None and leaves == ZERO
            desk.fill(cmd, voi, inst, inst.price(price), qty, Liquidity.TAKER, ZERO if final else None)
        if rest_qty > 0 and limit is not None:
            self._working.rest(cmd, voi, inst, rest_qty, limit)
        elif leaves > 0 or (cmd.quote_quantity is not None and not fills):
            reason = "unfilled remainder canceled (IOC/market)"
            desk.emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, reason))

    def _on_trade(self, trade: TradeTick) -> None:
        """Resting orders meet the print first (they were on the book); then the stops it fires go in."""
        if self._working.orders.get(trade.instrument_id):
            self._working.match_against_trade(trade)
        inst = self.hub.instrument(trade.instrument_id)
        for stop in self._stops.fire(trade.instrument_id, inst.price(trade.price)):
            self._arrive(replace(stop.cmd, order_type=OrderType.MARKET, trigger_price=None), stop)

    def _cancel_arrives(self, cmd: CancelOrder) -> None:
        now = self.hub.now_ns()
        emit = self._desk.emit
        if self._stops.disarm(cmd.instrument_id, cmd.client_order_id) is not None:
            emit(OrderCanceled(now, cmd.client_order_id, "canceled by client"))
            return
        pending = self._bars.pending.get(cmd.instrument_id, {}).pop(cmd.client_order_id, None)
        if pending is not None:  # a bar order still waiting for the next open
            emit(OrderCanceled(now, cmd.client_order_id, "canceled by client before the next bar"))
            return
        working = self._working.orders.get(cmd.instrument_id, {}).pop(cmd.client_order_id, None)
        if working is None:
            emit(OrderCancelRejected(now, cmd.client_order_id, "order not open at venue"))
            return
        self.account.release(working.reserve_asset, working.reserved)
        emit(OrderCanceled(now, cmd.client_order_id, "canceled by client"))

    # --------------------------------------------------------------------------- settlement
    def _on_settlement(self, settled: InstrumentSettled) -> None:
        """Pay out every unit held, and cancel the orders still working: the instrument is gone."""
        iid = settled.instrument_id
        if iid in self._settled:
            return
        self._settled.add(iid)
        inst = self.hub.instrument(iid)
        now = self.hub.now_ns()
        emit = self._desk.emit
        for working in list(self._working.orders.pop(iid, {}).values()):
            self.account.release(working.reserve_asset, working.reserved)
            emit(OrderCanceled(now, working.cmd.client_order_id, "instrument settled"))
        for cmd, _ in self._bars.pending.pop(iid, {}).values():
            emit(OrderCanceled(now, cmd.client_order_id, "instrument settled"))
        for stop in self._stops.take_all(iid):
            emit(OrderCanceled(now, stop.cmd.client_order_id, "instrument settled"))
        payout = settle_holdings(inst, settled.price, self.account, now)
        if payout is not None:
            emit(payout)

    # --------------------------------------------------------------------------- funding
    def _on_funding(self, funding: FundingRate) -> None:
        iid = funding.instrument_id
        paid = self._funding.pay(funding, self.hub.instrument(iid), self.hub.book(iid), self.account, self.hub.now_ns())
        if paid is not None:
            self._desk.emit(paid)


def connect_simulated(engine: Engine, venue: SimulatedVenue) -> None:
    """Wire a simulated venue into ``engine``: the trading port, the market-data tap it matches
    against, and withdrawals (the simulator always allows them)."""
    engine.add_venue(venue)
    engine.tap_market_data(venue.name, venue.on_market_data)
    engine.enable_withdrawals(venue.name, venue)
