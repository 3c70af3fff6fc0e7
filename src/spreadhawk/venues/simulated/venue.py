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
  market at the next bar's open: a market order fills there in full (no depth is known); a resting
  limit fills when a later bar trades through it (at its price, or at the open if the bar gaps
  through).
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
    OrderFilled,
    OrderRejected,
    OrderType,
    RejectCode,
    RequestTransfer,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
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
from spreadhawk.engine.ports import TransferMessage, VenueEvent, VenueHub
from spreadhawk.venues.simulated.account import SimAccount, quantity_for_budget
from spreadhawk.venues.simulated.matching import sweep
from spreadhawk.venues.simulated.payouts import FundingDesk, settle_holdings
from spreadhawk.venues.simulated.reports import ReportOutbox
from spreadhawk.venues.simulated.resting import WorkingOrder, allocate_trade, bar_limit_fill_price, marketable_at_open
from spreadhawk.venues.simulated.stops import ArmedStop, StopBook
from spreadhawk.venues.simulated.transfers import DEFAULT_WITHDRAWALS, SimTransfers

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
        self._id_prefix = id_prefix  # paper: the run's prefix, so trade ids never repeat across restarts
        self.latency_ns = latency_ns
        self.account = SimAccount(name, leverage)
        self._transfers = SimTransfers(self.account, withdrawals)
        self.withdrawals: Mapping[str, WithdrawalTerms] = self._transfers.withdrawals
        self._hub: VenueHub | None = None
        self._working: dict[InstrumentId, dict[ClientOrderId, WorkingOrder]] = {}
        self._stops = StopBook()
        self._pending_bar_orders: dict[InstrumentId, dict[ClientOrderId, tuple[SubmitOrder, str]]] = {}
        self._bar_instruments: set[InstrumentId] = set()
        self._consumed: dict[InstrumentId, dict[int, int]] = {}
        self._funding = FundingDesk()
        self._settled: set[InstrumentId] = set()
        # Records that arrive rarely; each is handled in one venue step.
        self._slow_handlers: dict[type, Callable[[Any], None]] = {
            Bar: self._on_bar,
            FundingRate: self._on_funding,
            InstrumentSettled: self._on_settlement,
        }
        self._reports = ReportOutbox(ack_latency_ns)
        self._ids = 0

    # --------------------------------------------------------------------------- port
    def bind(self, hub: VenueHub) -> None:
        """Open the account with the opening balances and report it, as a venue does on connect."""
        self._hub = hub

        def open_account() -> None:
            now = hub.now_ns()
            for asset, amount in self._opening.items():
                self.account.deposit(now, asset, amount, "opening")
            if self._resume is not None:
                self._resume_state(self._resume)
            self.account.dirty.clear()  # the snapshot carries the free balances
            self._emit(self.account.snapshot(now))

        self._step(open_account)

    @property
    def hub(self) -> VenueHub:
        if self._hub is None:
            raise RuntimeError(f"venue {self.name} is not bound to an engine")
        return self._hub

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Funds arriving from outside (reported to the engine as a ``BalanceAdjusted``)."""

        def credit() -> None:
            now = self.hub.now_ns()
            self.account.deposit(now, asset, amount, "deposit")
            self._emit(BalanceAdjusted(now, self.name, asset, amount, "deposit"))

        self._step(credit)

    async def query_order(self, client_order_id: ClientOrderId) -> OrderReport | None:
        return self._reports_by_id().get(client_order_id)

    async def open_orders(self) -> list[OrderReport]:
        return [report for _, report in sorted(self._reports_by_id().items())]

    async def account_snapshot(self) -> AccountSnapshot:
        return self.account.snapshot(self.hub.now_ns())

    def _reports_by_id(self) -> dict[ClientOrderId, OrderReport]:
        """Orders working at this venue (resting, or waiting for the next bar), as order reports."""
        now = self.hub.now_ns()
        reports: dict[ClientOrderId, OrderReport] = {}
        for iid, working_orders in self._working.items():
            inst = self.hub.instrument(iid)
            for coid, working in working_orders.items():
                cmd = working.cmd
                reports[coid] = OrderReport(
                    now,
                    coid,
                    working.venue_order_id,
                    iid,
                    cmd.side,
                    cmd.order_type,
                    cmd.quantity,
                    inst.price(working.price_ticks),
                    cmd.time_in_force,
                    cmd.quantity - working.leaves,
                    True,
                )
        for stop in self._stops.armed():
            cmd = stop.cmd
            reports[cmd.client_order_id] = OrderReport(
                now, cmd.client_order_id, stop.venue_order_id, cmd.instrument_id, cmd.side, cmd.order_type,
                cmd.quantity, None, cmd.time_in_force, ZERO, True,
            )  # fmt: skip
        for pending in self._pending_bar_orders.values():
            for coid, (cmd, voi) in pending.items():
                reports[coid] = OrderReport(
                    now,
                    coid,
                    voi,
                    cmd.instrument_id,
                    cmd.side,
                    cmd.order_type,
                    cmd.quantity,
                    cmd.price,
                    cmd.time_in_force,
                    ZERO,
                    True,
                )
        return reports

    def balances(self) -> dict[str, Decimal]:
        return self.account.ledger.venue_balances(self.name)

    def free_balance(self, asset: str) -> Decimal:
        return self.account.free(asset)

    def submit(self, command: SubmitOrder) -> None:
        self._after(self.latency_ns, lambda: self._step(lambda: self._arrive(command)))

    def cancel(self, command: CancelOrder) -> None:
        self._after(self.latency_ns, lambda: self._step(lambda: self._cancel_arrives(command)))

    def transfer(self, message: TransferMessage) -> None:
        """A withdrawal to send (after the order latency, like any request), or one to credit on arrival."""
        hub, desk = self.hub, self._transfers
        if isinstance(message, RequestTransfer):
            request = message
            self._after(self.latency_ns, lambda: self._step(lambda: self._emit(desk.withdraw(request, hub.now_ns()))))
        elif desk.expect(message):
            sent = message
            arrival = max(sent.arrives_ns, hub.now_ns())  # never in the past, however late the notice came
            hub.schedule(arrival, lambda: self._step(lambda: self._emit(desk.credit(sent, hub.now_ns()))))

    def on_market_data(self, data: MarketData) -> None:
        kind = type(data)
        iid = data.instrument_id
        if kind is BookDeltas or kind is BookSnapshot:
            self._on_book(data)  # type: ignore[arg-type]
        elif kind is TradeTick:
            if self._working.get(iid) or self._stops.has(iid):
                self._step(lambda: self._on_trade(data))  # type: ignore[arg-type]
        elif kind is QuoteTick:
            book = self.hub.book(iid)
            if book is not None and book.from_quotes:  # the engine kept the book from this quote
                self._consumed.pop(iid, None)  # a fresh picture of the touch includes what we took
                if self._working.get(iid):
                    self._step(lambda: self._match_resting_against_book(iid))
        elif kind is MarkPrice:
            self._funding.on_mark(iid, data.mark)  # type: ignore[union-attr]
        else:
            handler = self._slow_handlers.get(kind)
            if handler is not None:
                self._step(lambda: handler(data))

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
        if self._working.get(iid):
            self._step(lambda: self._match_resting_against_book(iid))

    # --------------------------------------------------------------------------- plumbing
    @property
    def ack_latency_ns(self) -> int:
        return self._reports.ack_latency_ns

    def _after(self, delay_ns: int, action: Callable[[], None]) -> None:
        self._reports.after(self.hub, delay_ns, action)

    def _step(self, action: Callable[[], None]) -> None:
        def step() -> None:
            action()
            free = self.account.take_free_report(self.hub.now_ns())
            if free is not None:
                self._reports.emit_first(free)

        self._reports.step(self.hub, step)

    def _emit(self, event: VenueEvent) -> None:
        self._reports.emit(event)

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{self.name}-{self._id_prefix}{prefix}{self._ids}"

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
            self._rest(order.as_command(), order.venue_order_id, inst, order.leaves_quantity, inst.ticks(order.price))
            self._working[inst.id][order.client_order_id].queue_ahead = BACK_OF_QUEUE

    def _reject(self, cmd: SubmitOrder, code: RejectCode, reason: str) -> None:
        self._emit(OrderRejected(self.hub.now_ns(), cmd.client_order_id, reason, code))

    def _refuse(self, cmd: SubmitOrder, code: RejectCode, reason: str, fired: ArmedStop | None) -> None:
        """A refusal on arrival; a conditional order was accepted when placed, so when it fires a
        refusal ends it as expired (Binance: the algo order ends REJECTED, its order EXPIRED)."""
        if fired is None:
            self._reject(cmd, code, reason)
        else:
            self._emit(OrderExpired(self.hub.now_ns(), cmd.client_order_id))

    def _fill(
        self,
        cmd: SubmitOrder,
        venue_order_id: str,
        inst: Instrument,
        price: Decimal,
        qty: Decimal,
        liquidity: Liquidity,
        leaves: Decimal | None,
        ts_ns: int | None = None,
    ) -> None:
        fee_rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
        fill = OrderFilled(
            ts_ns=self.hub.now_ns() if ts_ns is None else ts_ns,
            client_order_id=cmd.client_order_id,
            venue_order_id=venue_order_id,
            trade_id=self._next_id("t"),
            instrument_id=inst.id,
            side=cmd.side,
            quantity=qty,
            price=price,
            fee=inst.fee(qty, price, fee_rate),
            fee_currency=inst.settlement,
            liquidity=liquidity,
            leaves_quantity=leaves,
        )
        self.account.apply_fill(fill, inst)
        self._emit(fill)

    # --------------------------------------------------------------------------- arrival
    def _arrive(self, cmd: SubmitOrder, fired: ArmedStop | None = None) -> None:
        """An order reaching the matching engine: placed now, or a conditional order that ``fired``."""
        inst = self.hub.instrument(cmd.instrument_id)
        if cmd.instrument_id in self._settled:
            self._reject(cmd, RejectCode.SETTLED, f"{cmd.instrument_id} has settled and no longer trades")
            return
        if cmd.order_type.is_conditional and fired is None:
            voi = self._next_id("o")
            self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
            self._stops.arm(cmd, voi)  # off the book, no funds reserved, until a trade reaches the trigger
            return
        refusal = self._reduce_only_refusal(cmd, inst)
        if refusal is not None:
            self._refuse(cmd, RejectCode.REDUCE_ONLY, refusal, fired)
            return
        book = self.hub.book(cmd.instrument_id)
        has_book = book is not None and book.update_count > 0
        if cmd.instrument_id in self._bar_instruments and not has_book:
            self._arrive_on_bars(cmd, inst)  # bars are all this venue knows of the market
            return
        if book is None or not book.is_valid:
            reason = book.invalid_reason if book is not None else "no book"
            self._refuse(cmd, RejectCode.BOOK_UNAVAILABLE, f"venue cannot match: book unavailable ({reason})", fired)
            return
        self._execute(cmd, inst, book, fired)

    def _execute(self, cmd: SubmitOrder, inst: Instrument, book: OrderBook, fired: ArmedStop | None) -> None:
        """Sweep the book, check the funds, fill; a GTC limit's remainder rests."""
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
            self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, self._next_id("o")))
            self._emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, "FOK: not fully fillable"))
            return
        rests = cmd.order_type is OrderType.LIMIT and cmd.time_in_force is TimeInForce.GTC
        rest_qty = quantity - inst.size(filled_units) if rests else ZERO
        need_asset, need = self.account.order_requirement(inst, cmd, fills, rest_qty)
        shortfall = self.account.shortfall(need_asset, need)
        if shortfall is not None:
            self._refuse(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall, fired)
            return
        if fired is None:
            voi = self._next_id("o")
            self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
        else:
            voi = fired.venue_order_id
        leaves = quantity
        for price, size in fills:
            consumed[price] = consumed.get(price, 0) + size
            qty = inst.size(size)
            leaves -= qty
            final = cmd.quote_quantity is not None and leaves == ZERO
            self._fill(cmd, voi, inst, inst.price(price), qty, Liquidity.TAKER, ZERO if final else None)
        if rest_qty > 0 and limit is not None:
            self._rest(cmd, voi, inst, rest_qty, limit)
        elif leaves > 0 or (cmd.quote_quantity is not None and not fills):
            reason = "unfilled remainder canceled (IOC/market)"
            self._emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, reason))

    def _reduce_only_refusal(self, cmd: SubmitOrder, inst: Instrument) -> str | None:
        """Why a reduce-only order on a perpetual would not only reduce the position (None: it would)."""
        if not cmd.reduce_only or inst.kind is not InstrumentKind.PERPETUAL:
            return None
        held = self.account.position(inst).quantity
        if held * cmd.side.sign >= 0 or cmd.quantity > abs(held):
            return f"reduce-only {cmd.side} {cmd.quantity} would not reduce the position of {held}"
        return None

    def _on_trade(self, trade: TradeTick) -> None:
        """Resting orders meet the print first (they were on the book); then the stops it fires go in."""
        if self._working.get(trade.instrument_id):
            self._match_resting_against_trade(trade)
        inst = self.hub.instrument(trade.instrument_id)
        for stop in self._stops.fire(trade.instrument_id, inst.price(trade.price)):
            self._arrive(replace(stop.cmd, order_type=OrderType.MARKET, trigger_price=None), stop)

    def _rest(self, cmd: SubmitOrder, voi: str, inst: Instrument, qty: Decimal, limit: int) -> None:
        book = self.hub.book(inst.id)
        own_side = BookSide.BID if cmd.side.sign > 0 else BookSide.ASK
        ahead = book.size_at(own_side, limit) if book is not None and book.is_valid else 0
        asset, amount = self.account.requirement(inst, cmd.side, qty, inst.price(limit), inst.maker_fee)
        self.account.reserve(asset, amount)
        working = WorkingOrder(cmd, voi, qty, limit, ahead, asset, amount)
        self._working.setdefault(inst.id, {})[cmd.client_order_id] = working

    def _cancel_arrives(self, cmd: CancelOrder) -> None:
        now = self.hub.now_ns()
        if self._stops.disarm(cmd.instrument_id, cmd.client_order_id) is not None:
            self._emit(OrderCanceled(now, cmd.client_order_id, "canceled by client"))
            return
        pending = self._pending_bar_orders.get(cmd.instrument_id, {}).pop(cmd.client_order_id, None)
        if pending is not None:  # a bar order still waiting for the next open
            self._emit(OrderCanceled(now, cmd.client_order_id, "canceled by client before the next bar"))
            return
        working = self._working.get(cmd.instrument_id, {}).pop(cmd.client_order_id, None)
        if working is None:
            self._emit(OrderCancelRejected(now, cmd.client_order_id, "order not open at venue"))
            return
        self.account.release(working.reserve_asset, working.reserved)
        self._emit(OrderCanceled(now, cmd.client_order_id, "canceled by client"))

    # --------------------------------------------------------------------------- resting orders
    def _fill_resting(self, working: WorkingOrder, inst: Instrument, units: int, price: Decimal | None = None) -> None:
        qty = min(inst.size(units), working.leaves)
        if qty <= 0:
            return
        share = working.reserved * qty / working.leaves
        self.account.release(working.reserve_asset, share)
        working.reserved -= share
        working.leaves -= qty
        fill_price = price if price is not None else inst.price(working.price_ticks)
        self._fill(working.cmd, working.venue_order_id, inst, fill_price, qty, Liquidity.MAKER, None)
        if working.leaves <= 0:
            del self._working[inst.id][working.cmd.client_order_id]

    def _match_resting_against_book(self, iid: InstrumentId) -> None:
        """Queue upkeep, and fills when the displayed book has moved through a resting price."""
        book = self.hub.book(iid)
        if book is None or not book.is_valid:
            return
        inst = self.hub.instrument(iid)
        consumed = self._consumed.setdefault(iid, {})
        for working in list(self._working[iid].values()):
            own = BookSide.BID if working.is_buy else BookSide.ASK
            working.queue_ahead = min(working.queue_ahead, book.size_at(own, working.price_ticks))
            opposite = book.levels(BookSide.ASK if working.is_buy else BookSide.BID)
            units = inst.units(working.leaves)
            through = sweep(opposite, units, limit=working.price_ticks, is_buy=working.is_buy, consumed=consumed)
            if through:
                # Displayed liquidity crossing our price trades with us at our price (we were there first).
                for price, size in through:
                    consumed[price] = consumed.get(price, 0) + size
                self._fill_resting(working, inst, sum(size for _, size in through))

    def _match_resting_against_trade(self, trade: TradeTick) -> None:
        inst = self.hub.instrument(trade.instrument_id)
        working = self._working[trade.instrument_id]
        leaves = {coid: inst.units(w.leaves) for coid, w in working.items()}
        for order, units in allocate_trade(list(working.values()), trade, leaves):
            self._fill_resting(order, inst, units)

    # --------------------------------------------------------------------------- bars
    def _arrive_on_bars(self, cmd: SubmitOrder, inst: Instrument) -> None:
        """Market and IOC/FOK orders meet the next bar's open; GTC limits rest (see the docstring)."""
        if cmd.order_type is OrderType.MARKET or cmd.time_in_force is not TimeInForce.GTC:
            self._pending_bar_orders.setdefault(inst.id, {})[cmd.client_order_id] = (cmd, self._next_id("o"))
            return
        assert cmd.price is not None
        asset, need = self.account.requirement(inst, cmd.side, cmd.quantity, cmd.price, inst.maker_fee)
        shortfall = self.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall)
            return
        voi = self._next_id("o")
        self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
        self._rest(cmd, voi, inst, cmd.quantity, inst.ticks(cmd.price))

    def _on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        self._bar_instruments.add(iid)
        inst = self.hub.instrument(iid)
        for cmd, voi in self._pending_bar_orders.pop(iid, {}).values():
            self._fill_at_open(cmd, voi, inst, bar)
        book = self.hub.book(iid)
        if book is not None and book.update_count > 0:
            return  # the book and the trades match resting orders; bars built from them add nothing
        for working in list(self._working.get(iid, {}).values()):
            price = bar_limit_fill_price(working.is_buy, inst.price(working.price_ticks), bar)
            if price is not None:
                self._fill_resting(working, inst, inst.units(working.leaves), price)
        for stop, price in self._stops.fire_on_bar(iid, bar):
            self._fire_on_bar(stop, inst, price)

    def _fire_on_bar(self, stop: ArmedStop, inst: Instrument, price: Decimal) -> None:
        """A stop a bar reached fills in full where it fired (no depth is known), as a taker."""
        cmd = stop.cmd
        refusal = self._reduce_only_refusal(cmd, inst)
        asset, need = self.account.requirement(inst, cmd.side, cmd.quantity, price, inst.taker_fee)
        if refusal is not None or self.account.shortfall(asset, need) is not None:
            self._emit(OrderExpired(self.hub.now_ns(), cmd.client_order_id))
            return
        self._fill(cmd, stop.venue_order_id, inst, price, cmd.quantity, Liquidity.TAKER, ZERO)

    def _fill_at_open(self, cmd: SubmitOrder, voi: str, inst: Instrument, bar: Bar) -> None:
        """Fill at the bar's open, stamped with the open time, when that price traded."""
        ts = max(bar.open_ts_ns, cmd.ts_ns)
        price = bar.open
        if cmd.price is not None and not marketable_at_open(cmd.side.sign > 0, cmd.price, bar):
            self._emit(OrderAccepted(ts, cmd.client_order_id, voi))
            self._emit(OrderCanceled(ts, cmd.client_order_id, f"{cmd.time_in_force}: limit not reached at the open"))
            return
        qty = cmd.quantity
        if cmd.quote_quantity is not None:
            qty = inst.round_lot_down(cmd.quote_quantity / (price * inst.contract_size * (1 + inst.taker_fee)))
            if qty <= 0:
                reason = f"quote quantity {cmd.quote_quantity} buys less than one lot at {price}"
                self._reject(cmd, RejectCode.BELOW_ONE_LOT, reason)
                return
        asset, need = self.account.requirement(inst, cmd.side, qty, price, inst.taker_fee)
        shortfall = self.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, RejectCode.INSUFFICIENT_BALANCE, shortfall)
            return
        self._emit(OrderAccepted(ts, cmd.client_order_id, voi))
        self._fill(cmd, voi, inst, price, qty, Liquidity.TAKER, ZERO, ts)

    # --------------------------------------------------------------------------- settlement
    def _on_settlement(self, settled: InstrumentSettled) -> None:
        """Pay out every unit held, and cancel the orders still working: the instrument is gone."""
        iid = settled.instrument_id
        if iid in self._settled:
            return
        self._settled.add(iid)
        inst = self.hub.instrument(iid)
        now = self.hub.now_ns()
        for working in list(self._working.pop(iid, {}).values()):
            self.account.release(working.reserve_asset, working.reserved)
            self._emit(OrderCanceled(now, working.cmd.client_order_id, "instrument settled"))
        for cmd, _ in self._pending_bar_orders.pop(iid, {}).values():
            self._emit(OrderCanceled(now, cmd.client_order_id, "instrument settled"))
        for stop in self._stops.take_all(iid):
            self._emit(OrderCanceled(now, stop.cmd.client_order_id, "instrument settled"))
        payout = settle_holdings(inst, settled.price, self.account, now)
        if payout is not None:
            self._emit(payout)

    # --------------------------------------------------------------------------- funding
    def _on_funding(self, funding: FundingRate) -> None:
        iid = funding.instrument_id
        paid = self._funding.pay(funding, self.hub.instrument(iid), self.hub.book(iid), self.account, self.hub.now_ns())
        if paid is not None:
            self._emit(paid)


def connect_simulated(engine: Engine, venue: SimulatedVenue) -> None:
    """Wire a simulated venue into ``engine``: the trading port, the market-data tap it matches
    against, and withdrawals (the simulator always allows them)."""
    engine.add_venue(venue)
    engine.tap_market_data(venue.name, venue.on_market_data)
    engine.enable_withdrawals(venue.name, venue)
