"""The simulated venue: an honest exchange for backtests (and, on live data, for paper trading).

What it models, and the conventions it documents:

* **Latency.** An order (or cancel) reaches the matching engine ``latency_ns`` after it was sent,
  and meets the book as it is then; reports travel back ``ack_latency_ns``.
* **Depth.** Market, limit, IOC and FOK orders sweep L2 depth level by level (slippage, partial
  fills). Liquidity we took stays taken until the exchange next updates that level.
* **Post-only** limits that would take liquidity are rejected, as on Binance (``-2010``).
* **Queue position.** A resting limit joins the back of its level: it fills only after the volume
  ahead of it has traded (public trades at its price), or when the market trades or quotes through
  its price. Cancels ahead of it shrink the queue only down to the level's displayed size.
* **Bars.** For instruments that have only bars, an order decided on a bar's close meets the
  market at the next bar's open: a market order fills there in full (no depth is known); a resting
  limit fills when a later bar trades through it (at its price, or at the open if the bar gaps
  through).
* **Balances.** The venue holds its own balances; an order they cannot cover is rejected and a
  resting order locks its funds (see ``SimAccount``).
* **Funding.** At each funding time every perpetual position pays or receives
  ``position × contract size × mark × rate``.
* **Book unavailable.** While the venue's book is invalid (sequence gap, crossed) it cannot match:
  orders are rejected rather than filled at prices nobody could have had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.domain.events import BalancePosted as Posting
from spreadhawk.domain.events import (
    CancelOrder,
    FundingPaid,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderType,
    PostingReason,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import (
    Aggressor,
    Bar,
    BookDeltas,
    BookSide,
    BookSnapshot,
    FundingRate,
    MarketData,
    MarkPrice,
    TradeTick,
)
from spreadhawk.engine.ports import VenueEvent, VenueHub
from spreadhawk.venues.simulated.account import SimAccount
from spreadhawk.venues.simulated.matching import sweep, sweep_budget

ZERO = Decimal(0)


@dataclass(slots=True)
class _Working:
    """A resting order inside the venue (mutable: the venue's private state)."""

    cmd: SubmitOrder
    venue_order_id: str
    leaves: Decimal
    price_ticks: int
    queue_ahead: int
    reserve_asset: str
    reserved: Decimal


class SimulatedVenue:
    def __init__(
        self,
        name: str,
        *,
        latency_ns: int = 0,
        ack_latency_ns: int = 0,
        leverage: Decimal = Decimal(1),
    ) -> None:
        self.name = name
        self.latency_ns = latency_ns
        self.ack_latency_ns = ack_latency_ns
        self.account = SimAccount(name, leverage)
        self._hub: VenueHub | None = None
        self._working: dict[InstrumentId, dict[str, _Working]] = {}
        self._pending_bar_orders: dict[InstrumentId, list[tuple[SubmitOrder, str]]] = {}
        self._bar_instruments: set[InstrumentId] = set()
        self._consumed: dict[InstrumentId, dict[int, int]] = {}
        self._marks: dict[InstrumentId, Decimal] = {}
        self._funding_paid: dict[InstrumentId, int] = {}
        self._ids = 0

    # --------------------------------------------------------------------------- port
    def bind(self, hub: VenueHub) -> None:
        self._hub = hub

    @property
    def hub(self) -> VenueHub:
        if self._hub is None:
            raise RuntimeError(f"venue {self.name} is not bound to an engine")
        return self._hub

    def deposit(self, asset: str, amount: Decimal) -> None:
        self.account.deposit(self.hub.now_ns(), asset, amount)

    def balances(self) -> dict[str, Decimal]:
        return self.account.ledger.venue_balances(self.name)

    def submit(self, command: SubmitOrder) -> None:
        self._after(self.latency_ns, lambda: self._arrive(command))

    def cancel(self, command: CancelOrder) -> None:
        self._after(self.latency_ns, lambda: self._cancel_arrives(command))

    def on_market_data(self, data: MarketData) -> None:
        kind = type(data)
        iid = data.instrument_id
        if kind is BookDeltas or kind is BookSnapshot:
            consumed = self._consumed.get(iid)
            if consumed:
                if kind is BookSnapshot:
                    consumed.clear()
                else:
                    for price, _ in data.bids:  # type: ignore[union-attr]
                        consumed.pop(price, None)
                    for price, _ in data.asks:  # type: ignore[union-attr]
                        consumed.pop(price, None)
            if self._working.get(iid):
                self._match_resting_against_book(iid)
        elif kind is TradeTick:
            if self._working.get(iid):
                self._match_resting_against_trade(data)  # type: ignore[arg-type]
        elif kind is Bar:
            self._on_bar(data)  # type: ignore[arg-type]
        elif kind is MarkPrice:
            self._marks[iid] = data.mark  # type: ignore[union-attr]
        elif kind is FundingRate:
            self._on_funding(data)  # type: ignore[arg-type]

    # --------------------------------------------------------------------------- plumbing
    def _after(self, delay_ns: int, action: Callable[[], None]) -> None:
        if delay_ns <= 0:
            action()
        else:
            self.hub.schedule(self.hub.now_ns() + delay_ns, action)

    def _emit(self, event: VenueEvent) -> None:
        hub = self.hub
        self._after(self.ack_latency_ns, lambda: hub.emit(event))

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{self.name}-{prefix}{self._ids}"

    def _reject(self, cmd: SubmitOrder, reason: str) -> None:
        self._emit(OrderRejected(self.hub.now_ns(), cmd.client_order_id, reason))

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
        fee = qty * price * inst.contract_size * fee_rate
        fill = OrderFilled(
            ts_ns=self.hub.now_ns() if ts_ns is None else ts_ns,
            client_order_id=cmd.client_order_id,
            venue_order_id=venue_order_id,
            trade_id=self._next_id("t"),
            instrument_id=inst.id,
            side=cmd.side,
            quantity=qty,
            price=price,
            fee=fee,
            fee_currency=inst.settlement,
            liquidity=liquidity,
            leaves_quantity=leaves,
        )
        self.account.apply_fill(fill, inst)
        self._emit(fill)

    # --------------------------------------------------------------------------- arrival
    def _arrive(self, cmd: SubmitOrder) -> None:
        inst = self.hub.instrument(cmd.instrument_id)
        if cmd.instrument_id in self._bar_instruments:
            self._arrive_on_bars(cmd, inst)
            return
        book = self.hub.book(cmd.instrument_id)
        if book is None or not book.is_valid:
            reason = book.invalid_reason if book is not None else "no book"
            self._reject(cmd, f"venue cannot match: book unavailable ({reason})")
            return
        is_buy = cmd.side is OrderSide.BUY
        limit = inst.ticks(cmd.price) if cmd.price is not None else None
        opposite = book.levels(BookSide.ASK if is_buy else BookSide.BID)
        if cmd.post_only and limit is not None and opposite:
            best = opposite[0][0]
            if (is_buy and limit >= best) or (not is_buy and limit <= best):
                self._reject(cmd, "post-only order would take liquidity")
                return
        consumed = self._consumed.setdefault(inst.id, {})
        quantity = cmd.quantity
        if cmd.quote_quantity is not None:
            quantity = self._quantity_for_budget(inst, cmd.quote_quantity, opposite, consumed)
        units = inst.units(quantity)
        fills = [] if cmd.post_only else sweep(opposite, units, limit=limit, is_buy=is_buy, consumed=consumed)
        filled_units = sum(size for _, size in fills)
        if cmd.time_in_force is TimeInForce.FOK and filled_units < units:
            self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, self._next_id("o")))
            self._emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, "FOK: not fully fillable"))
            return
        rests = cmd.order_type is OrderType.LIMIT and cmd.time_in_force is TimeInForce.GTC
        rest_qty = quantity - inst.size(filled_units) if rests else ZERO
        taker_notional = sum((inst.price(p) * inst.size(s) for p, s in fills), ZERO)
        need_asset, need = self._requirement(inst, cmd, fills, rest_qty, taker_notional)
        shortfall = self.account.shortfall(need_asset, need)
        if shortfall is not None:
            self._reject(cmd, shortfall)
            return
        voi = self._next_id("o")
        self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
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
            self._emit(
                OrderCanceled(self.hub.now_ns(), cmd.client_order_id, "unfilled remainder canceled (IOC/market)")
            )

    def _requirement(
        self,
        inst: Instrument,
        cmd: SubmitOrder,
        fills: list[tuple[int, int]],
        rest_qty: Decimal,
        taker_notional: Decimal,
    ) -> tuple[str, Decimal]:
        taker_qty = inst.size(sum(size for _, size in fills))
        avg = taker_notional / taker_qty if taker_qty else ZERO
        asset, need = self.account.requirement(inst, cmd.side, taker_qty, avg, inst.taker_fee)
        if rest_qty > 0 and cmd.price is not None:
            _, rest_need = self.account.requirement(inst, cmd.side, rest_qty, cmd.price, inst.maker_fee)
            need += rest_need
        return asset, need

    @staticmethod
    def _quantity_for_budget(
        inst: Instrument, budget: Decimal, levels: list[tuple[int, int]], consumed: dict[int, int]
    ) -> Decimal:
        """Base quantity a quote budget buys over ``levels``, taker fee included, rounded down to lots."""
        spend = budget / (1 + inst.taker_fee) / inst.contract_size
        tick_units = int(spend / (inst.tick_size * inst.size_increment))
        fills = sweep_budget(levels, tick_units, consumed=consumed)
        return inst.round_lot_down(inst.size(sum(size for _, size in fills)))

    def _rest(self, cmd: SubmitOrder, voi: str, inst: Instrument, qty: Decimal, limit: int) -> None:
        book = self.hub.book(inst.id)
        own_side = BookSide.BID if cmd.side is OrderSide.BUY else BookSide.ASK
        ahead = book.size_at(own_side, limit) if book is not None and book.is_valid else 0
        asset, amount = self.account.requirement(inst, cmd.side, qty, inst.price(limit), inst.maker_fee)
        self.account.reserve(asset, amount)
        working = _Working(cmd, voi, qty, limit, ahead, asset, amount)
        self._working.setdefault(inst.id, {})[cmd.client_order_id] = working

    def _cancel_arrives(self, cmd: CancelOrder) -> None:
        working = self._working.get(cmd.instrument_id, {}).pop(cmd.client_order_id, None)
        if working is None:
            self._emit(OrderCancelRejected(self.hub.now_ns(), cmd.client_order_id, "order not open at venue"))
            return
        self.account.release(working.reserve_asset, working.reserved)
        self._emit(OrderCanceled(self.hub.now_ns(), cmd.client_order_id, "canceled by client"))

    # --------------------------------------------------------------------------- resting orders
    def _fill_resting(self, working: _Working, inst: Instrument, units: int, price: Decimal | None = None) -> None:
        qty = min(inst.size(units), working.leaves)
        if qty <= 0:
            return
        fill_price = price if price is not None else inst.price(working.price_ticks)
        share = working.reserved * qty / working.leaves
        self.account.release(working.reserve_asset, share)
        working.reserved -= share
        working.leaves -= qty
        self._fill(working.cmd, working.venue_order_id, inst, fill_price, qty, Liquidity.MAKER, None)
        if working.leaves <= 0:
            del self._working[inst.id][working.cmd.client_order_id]

    def _match_resting_against_book(self, iid: InstrumentId) -> None:
        book = self.hub.book(iid)
        if book is None or not book.is_valid:
            return
        inst = self.hub.instrument(iid)
        for working in list(self._working[iid].values()):
            is_buy = working.cmd.side is OrderSide.BUY
            own = BookSide.BID if is_buy else BookSide.ASK
            working.queue_ahead = min(working.queue_ahead, book.size_at(own, working.price_ticks))
            opposite = book.levels(BookSide.ASK if is_buy else BookSide.BID)
            through = sweep(
                opposite,
                inst.units(working.leaves),
                limit=working.price_ticks,
                is_buy=is_buy,
                consumed=self._consumed.setdefault(iid, {}),
            )
            units = sum(size for _, size in through)
            if units:
                # The market moved through our price: the displayed liquidity that crossed us trades
                # with us at our price (we were there first).
                for price, size in through:
                    consumed = self._consumed[iid]
                    consumed[price] = consumed.get(price, 0) + size
                self._fill_resting(working, inst, units)

    def _match_resting_against_trade(self, trade: TradeTick) -> None:
        inst = self.hub.instrument(trade.instrument_id)
        for working in list(self._working[trade.instrument_id].values()):
            is_buy = working.cmd.side is OrderSide.BUY
            hits_us = trade.aggressor is (Aggressor.SELLER if is_buy else Aggressor.BUYER)
            if not hits_us and trade.aggressor is not Aggressor.UNKNOWN:
                continue
            better = trade.price < working.price_ticks if is_buy else trade.price > working.price_ticks
            if better:
                self._fill_resting(working, inst, trade.size)
            elif trade.price == working.price_ticks:
                if working.queue_ahead >= trade.size:
                    working.queue_ahead -= trade.size
                else:
                    excess = trade.size - working.queue_ahead
                    working.queue_ahead = 0
                    self._fill_resting(working, inst, excess)

    # --------------------------------------------------------------------------- bars
    def _arrive_on_bars(self, cmd: SubmitOrder, inst: Instrument) -> None:
        if cmd.order_type is OrderType.MARKET:
            self._pending_bar_orders.setdefault(inst.id, []).append((cmd, self._next_id("o")))
            return
        assert cmd.price is not None
        asset, need = self.account.requirement(inst, cmd.side, cmd.quantity, cmd.price, inst.maker_fee)
        shortfall = self.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, shortfall)
            return
        voi = self._next_id("o")
        self._emit(OrderAccepted(self.hub.now_ns(), cmd.client_order_id, voi))
        self._rest(cmd, voi, inst, cmd.quantity, inst.ticks(cmd.price))

    def _on_bar(self, bar: Bar) -> None:
        iid = bar.instrument_id
        self._bar_instruments.add(iid)
        inst = self.hub.instrument(iid)
        for cmd, voi in self._pending_bar_orders.pop(iid, []):
            self._fill_market_at_open(cmd, voi, inst, bar.open, bar.open_ts_ns)
        for working in list(self._working.get(iid, {}).values()):
            is_buy = working.cmd.side is OrderSide.BUY
            limit = inst.price(working.price_ticks)
            if (is_buy and bar.low < limit) or (not is_buy and bar.high > limit):
                gapped = bar.open < limit if is_buy else bar.open > limit
                self._fill_resting(working, inst, inst.units(working.leaves), bar.open if gapped else None)

    def _fill_market_at_open(
        self, cmd: SubmitOrder, voi: str, inst: Instrument, price: Decimal, open_ts_ns: int
    ) -> None:
        """Fill at the bar's open; the fill is stamped with the open time, when that price traded."""
        qty = cmd.quantity
        if cmd.quote_quantity is not None:
            qty = inst.round_lot_down(cmd.quote_quantity / (price * inst.contract_size * (1 + inst.taker_fee)))
            if qty <= 0:
                self._reject(cmd, f"quote quantity {cmd.quote_quantity} buys less than one lot at {price}")
                return
        asset, need = self.account.requirement(inst, cmd.side, qty, price, inst.taker_fee)
        shortfall = self.account.shortfall(asset, need)
        if shortfall is not None:
            self._reject(cmd, shortfall)
            return
        self._emit(OrderAccepted(max(open_ts_ns, cmd.ts_ns), cmd.client_order_id, voi))
        self._fill(cmd, voi, inst, price, qty, Liquidity.TAKER, ZERO, max(open_ts_ns, cmd.ts_ns))

    # --------------------------------------------------------------------------- funding
    def _on_funding(self, funding: FundingRate) -> None:
        iid = funding.instrument_id
        if funding.ts_ns < funding.funding_ts_ns or self._funding_paid.get(iid) == funding.funding_ts_ns:
            return  # an estimate, or this funding time was already paid
        inst = self.hub.instrument(iid)
        if inst.kind is not InstrumentKind.PERPETUAL:
            return
        self._funding_paid[iid] = funding.funding_ts_ns
        position = self.account.position(inst)
        mark = self._marks.get(iid)
        if mark is None:
            book = self.hub.book(iid)
            mid = book.mid_ticks() if book is not None and book.is_valid else None
            mark = inst.tick_size * Decimal(repr(mid)) if mid is not None else None
        if not position.quantity or mark is None:
            return
        amount = -position.quantity * inst.contract_size * mark * funding.rate
        self.account.post(
            Posting(
                self.hub.now_ns(), self.name, inst.settlement, amount, PostingReason.FUNDING, str(funding.funding_ts_ns)
            )
        )
        self._emit(FundingPaid(self.hub.now_ns(), iid, position.quantity, mark, funding.rate, amount, inst.settlement))
