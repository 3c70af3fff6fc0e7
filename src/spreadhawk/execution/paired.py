"""Paired-leg execution: send an opportunity's legs together, track them as one unit, hedge what legs out.

Every arbitrage strategy trades through a ``PairedExecutor`` instead of sending legs by hand. The
strategy decides (``Leg``: instrument, side, quantity, limit and the price it decided on); the
executor does the rest, with the strategy's context, so every order it sends carries the strategy's
id. It hears of its orders itself (``ctx.subscribe_orders``), before the strategy's own handlers do,
so a strategy reacting to one of its orders finds the unit already judged.

The rules, exactly:

* ``submit`` sends every leg at once (IOC limits by default) and arms a timer ``hedge_after_ms``
  later. The unit is judged when **all legs are terminal**, which may be long before the timer.
* At the deadline, legs still working are **canceled, never assumed dead**: a leg whose report has
  not arrived (or whose status is unknown) may have filled, and hedging it blind could double the
  exposure (RELIABILITY.md §1, finding 1). The unit is judged once their cancels resolve.
* A leg's *fill fraction* is ``filled / quantity``. Equal fractions mean no exposure: ``complete``
  (fractions > 0) or ``missed`` (nothing filled; nothing to do).
* Unequal fractions are exposure. ``hedge_mode="complete"`` buys/sells, at market on the same
  instrument, what each short-filled leg lacks to reach the largest fraction. It unwinds instead
  when a short leg was *refused* (rejected/denied: resending to that venue meets the same balance
  or rule), when the completion cannot be priced (book invalid or too thin), or when its cost at
  the current book (``avg_price_to_fill``) relative to the decision prices exceeds
  ``max_legging_loss``. ``hedge_mode="unwind"`` (and the fallback) reverses, at market, what each
  over-filled leg holds beyond the smallest fraction.
* Hedge quantities are rounded down to the lot; what rounding leaves is recorded as ``unhedged``.
* A hedge is sent once. When every hedge order is terminal the unit is ``hedged`` (completed) or
  ``unwound``, or ``failed`` if any quantity is left unhedged (a hedge rejected or not fully
  filled). Nothing is retried: a failed unit is a signal for a human or a risk rule, not a loop.

Money, all in quote (times contract size), positive = cost:

* ``slippage`` = sum over legs of ``sign * (fill price - decision price) * filled``;
* ``legging_loss`` = sum over hedges of ``hedge sign * (fill price - decision price of its leg) * filled``;
* fees are kept apart (per currency). So the quote a unit moves is its *decision value* (the legs
  and hedges priced at the decision prices: the planned edge when hedged or complete, 0 when
  unwound) minus slippage, legging loss and fees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, NewType, TypeVar

from spreadhawk.domain.events import OrderEvent, OrderSide, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import BookSide
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.engine.context import StrategyContext

ZERO = Decimal(0)
K = TypeVar("K")
UnitId = NewType("UnitId", str)
_REFUSED = frozenset({OrderStatus.REJECTED, OrderStatus.DENIED})


class HedgeMode(StrEnum):
    COMPLETE = "complete"  # trade what the short legs lack, at market (re-price on their venue)
    UNWIND = "unwind"  # reverse what the long legs hold in excess, at market


class UnitStatus(StrEnum):
    OPEN = "open"  # legs or hedges still working
    COMPLETE = "complete"  # all legs filled the same fraction (> 0): nothing to hedge
    HEDGED = "hedged"  # short legs completed at market
    UNWOUND = "unwound"  # excess reversed at market
    FAILED = "failed"  # exposure left (see ``UnitRecord.unhedged``)
    MISSED = "missed"  # no leg filled anything: no exposure, nothing done


@dataclass(frozen=True, slots=True)
class Leg:
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    limit_price: Decimal | None  # None = market order
    decision_price: Decimal  # the price the strategy decided on; slippage is measured against it

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"leg on {self.instrument_id}: quantity {self.quantity} must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class PairedExecutorConfig:
    max_legging_loss: Decimal  # quote; a completion estimated to cost more is unwound instead
    hedge_after_ms: int = 1_000  # how long legs may work before the open ones are canceled
    hedge_mode: HedgeMode = HedgeMode.COMPLETE
    time_in_force: TimeInForce = TimeInForce.IOC

    def __post_init__(self) -> None:
        object.__setattr__(self, "hedge_mode", HedgeMode(self.hedge_mode))
        object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))
        if self.hedge_after_ms < 0:
            raise ValueError(f"hedge_after_ms must be >= 0, got {self.hedge_after_ms}")
        if self.max_legging_loss < 0:
            raise ValueError(f"max_legging_loss must be >= 0, got {self.max_legging_loss}")


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """One order of a unit as the executor last saw it."""

    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    filled: Decimal
    avg_price: Decimal | None
    status: OrderStatus
    reason: str

    @classmethod
    def of(cls, order: Order) -> OrderSummary:
        return cls(
            order.client_order_id,
            order.instrument_id,
            order.side,
            order.quantity,
            order.filled_quantity,
            order.avg_price,
            order.status,
            order.reason,
        )


@dataclass(frozen=True, slots=True)
class HedgeAction:
    leg: int  # index of the leg hedged
    mode: HedgeMode  # complete: same side as the leg; unwind: the opposite side
    order: OrderSummary


@dataclass(slots=True)
class UnitRecord:
    """Everything about one unit; updated by the executor, read by everyone else."""

    unit_id: UnitId
    tag: str
    legs: tuple[Leg, ...]
    created_ns: int
    deadline_ns: int
    status: UnitStatus = UnitStatus.OPEN
    leg_orders: list[OrderSummary] = field(default_factory=list)
    hedges: list[HedgeAction] = field(default_factory=list)
    slippage: Decimal = ZERO
    legging_loss: Decimal = ZERO
    fees: dict[str, Decimal] = field(default_factory=dict)
    estimated_completion_cost: Decimal | None = None  # when a completion was considered
    unhedged: dict[InstrumentId, Decimal] = field(default_factory=dict)  # signed qty still to trade
    closed_ns: int | None = None
    note: str = ""
    sending: bool = False  # orders are being submitted: reports seen meanwhile wait for the end

    def filled(self, leg: int) -> Decimal:
        return self.leg_orders[leg].filled if leg < len(self.leg_orders) else ZERO

    def avg_price(self, leg: int) -> Decimal | None:
        return self.leg_orders[leg].avg_price if leg < len(self.leg_orders) else None


# (leg index, side, quantity) of hedge orders; exact fractions: legs of unequal size make thirds
Plan = list[tuple[int, OrderSide, Fraction]]


class PairedExecutor:
    def __init__(self, ctx: StrategyContext, config: PairedExecutorConfig) -> None:
        self._ctx = ctx
        self.config = config
        self.units: dict[UnitId, UnitRecord] = {}
        self._owner: dict[ClientOrderId, UnitId] = {}
        self._leg_ids: dict[UnitId, list[ClientOrderId]] = {}
        self._hedge_ids: dict[UnitId, list[tuple[int, HedgeMode, ClientOrderId]]] = {}
        self._count = 0
        ctx.subscribe_orders(self._on_order_event)

    @property
    def is_busy(self) -> bool:
        return any(u.status is UnitStatus.OPEN for u in self.units.values())

    # --------------------------------------------------------------------------- strategy side
    def submit(self, legs: Sequence[Leg], tag: str = "") -> UnitId:
        if len(legs) < 2:
            raise ValueError(f"a paired unit needs at least 2 legs, got {len(legs)}")
        self._count += 1
        unit_id = UnitId(f"{self._ctx.strategy_id}-u{self._count}")
        now = self._ctx.now_ns()
        record = UnitRecord(unit_id, tag, tuple(legs), now, now + self.config.hedge_after_ms * 1_000_000)
        self.units[unit_id] = record
        self._leg_ids[unit_id] = []
        self._hedge_ids[unit_id] = []
        record.sending = True
        try:
            for leg in legs:
                order = self._ctx.submit(
                    leg.instrument_id,
                    leg.side,
                    leg.quantity,
                    price=leg.limit_price,
                    time_in_force=self.config.time_in_force,
                )
                self._owner[order.client_order_id] = unit_id
                self._leg_ids[unit_id].append(order.client_order_id)
        finally:
            record.sending = False
        self._ctx.schedule(record.deadline_ns, lambda: self._on_deadline(unit_id))
        self._evaluate(record)  # a venue without latency has already answered
        return unit_id

    def _on_order_event(self, event: OrderEvent) -> None:
        """Any event of the strategy's orders; those of orders this executor did not send are ignored."""
        unit_id = self._owner.get(event.client_order_id)
        if unit_id is not None:
            self._evaluate(self.units[unit_id])

    def stats(self) -> dict[str, Any]:
        counts = {s.value: 0 for s in UnitStatus}
        for unit in self.units.values():
            counts[unit.status.value] += 1
        return {
            "units": len(self.units),
            **counts,
            "total_slippage": sum((u.slippage for u in self.units.values()), ZERO),
            "total_legging_loss": sum((u.legging_loss for u in self.units.values()), ZERO),
        }

    # --------------------------------------------------------------------------- judging
    def _evaluate(self, record: UnitRecord) -> None:
        # The unit is judged from the engine's orders, not from the event: reports that arrived
        # while ``submit`` was still sending (no latency) are then counted all the same.
        if record.status is not UnitStatus.OPEN or record.sending:
            return
        legs = [self._ctx.order(coid) for coid in self._leg_ids[record.unit_id]]
        hedges = [(i, mode, self._ctx.order(coid)) for i, mode, coid in self._hedge_ids[record.unit_id]]
        self._refresh(record, legs, hedges)
        if not hedges:
            if all(o.is_terminal for o in legs):
                self._judge_legs(record, legs)
        elif all(o.is_terminal for _, _, o in hedges):
            self._judge_hedges(record, hedges)

    def _judge_legs(self, record: UnitRecord, orders: list[Order]) -> None:
        fractions = [
            Fraction(o.filled_quantity) / Fraction(leg.quantity) for o, leg in zip(orders, record.legs, strict=True)
        ]
        top, bottom = max(fractions), min(fractions)
        if top == bottom:
            self._close(record, UnitStatus.COMPLETE if top > 0 else UnitStatus.MISSED)
            return
        refused = any(o.status in _REFUSED and f < top for o, f in zip(orders, fractions, strict=True))
        if self.config.hedge_mode is HedgeMode.COMPLETE and not refused:
            plan = [
                (i, leg.side, (top - f) * Fraction(leg.quantity))
                for i, (leg, f) in enumerate(zip(record.legs, fractions, strict=True))
            ]
            plan = [p for p in plan if p[2] > 0]
            cost = self._completion_cost(record, plan)
            record.estimated_completion_cost = cost
            if cost is not None and cost <= self.config.max_legging_loss:
                self._send_hedges(record, plan, HedgeMode.COMPLETE)
                return
            record.note = (
                "completion cannot be priced at the current book: unwound"
                if cost is None
                else f"completion would cost {cost} > max_legging_loss {self.config.max_legging_loss}: unwound"
            )
        elif refused:
            record.note = "a leg was refused by its venue: unwound"
        plan = [
            (i, _opposite(leg.side), (f - bottom) * Fraction(leg.quantity))
            for i, (leg, f) in enumerate(zip(record.legs, fractions, strict=True))
            if f > bottom
        ]
        self._send_hedges(record, plan, HedgeMode.UNWIND)

    def _completion_cost(self, record: UnitRecord, plan: Plan) -> Decimal | None:
        """Legging loss of ``plan`` at the current books, or None when a book cannot fill it.

        An estimate: the engine's book does not know the liquidity our own legs just took until
        the venue updates those levels, so the real cost can be higher (the record keeps both).
        """
        total = ZERO
        for i, side, quantity in plan:
            leg = record.legs[i]
            inst = self._ctx.instrument(leg.instrument_id)
            book = self._ctx.book(leg.instrument_id)
            need = inst.units(_lots(quantity, inst.lot_size))
            if not book.is_valid or need <= 0:
                return None
            taken = book.avg_price_to_fill(BookSide.ASK if side is OrderSide.BUY else BookSide.BID, need)
            if taken is None or taken[1] < need:
                return None
            paid = inst.tick_size * taken[0] * inst.size_increment  # exact: ticks * units
            total += side.sign * (paid - leg.decision_price * inst.size(need)) * inst.contract_size
        return total

    def _send_hedges(self, record: UnitRecord, plan: Plan, mode: HedgeMode) -> None:
        ids = self._hedge_ids[record.unit_id]
        record.sending = True
        try:
            for i, side, wanted in plan:
                leg = record.legs[i]
                quantity = _lots(wanted, self._ctx.instrument(leg.instrument_id).lot_size)
                if wanted != quantity:  # below one lot: no venue takes it; keep it visible
                    rest = wanted - Fraction(quantity)
                    _add(record.unhedged, leg.instrument_id, side.sign * Decimal(rest.numerator) / rest.denominator)
                if quantity <= 0:
                    continue
                order = self._ctx.submit(leg.instrument_id, side, quantity, time_in_force=TimeInForce.IOC)
                self._owner[order.client_order_id] = record.unit_id
                ids.append((i, mode, order.client_order_id))
        finally:
            record.sending = False
        if not ids:
            record.note = record.note or "imbalance below one lot: nothing could be sent"
            self._close(record, UnitStatus.FAILED)
            return
        self._evaluate(record)

    def _judge_hedges(self, record: UnitRecord, hedges: list[tuple[int, HedgeMode, Order]]) -> None:
        for _, _, order in hedges:
            left = order.quantity - order.filled_quantity
            if left > 0:
                _add(record.unhedged, order.instrument_id, order.side.sign * left)
        if any(record.unhedged.values()):
            failed = [
                f"{o.client_order_id} {o.status}: {o.reason}"
                for _, _, o in hedges
                if o.status is not OrderStatus.FILLED
            ]
            record.note = "; ".join(filter(None, [record.note, *failed]))
            self._close(record, UnitStatus.FAILED)
        else:
            self._close(record, UnitStatus.HEDGED if hedges[0][1] is HedgeMode.COMPLETE else UnitStatus.UNWOUND)

    def _on_deadline(self, unit_id: UnitId) -> None:
        record = self.units[unit_id]
        if record.status is not UnitStatus.OPEN or self._hedge_ids[unit_id]:
            return  # judged already, or hedging: hedges are market orders that end on their own
        working = [coid for coid in self._leg_ids[unit_id] if not self._ctx.order(coid).is_terminal]
        for coid in working:
            self._ctx.cancel(coid)
        if working:
            record.note = f"deadline: canceled {len(working)} leg(s) still working"

    def _close(self, record: UnitRecord, status: UnitStatus) -> None:
        record.status = status
        record.closed_ns = self._ctx.now_ns()

    # --------------------------------------------------------------------------- bookkeeping
    def _refresh(self, record: UnitRecord, legs: list[Order], hedges: list[tuple[int, HedgeMode, Order]]) -> None:
        record.leg_orders = [OrderSummary.of(o) for o in legs]
        record.hedges = [HedgeAction(i, mode, OrderSummary.of(o)) for i, mode, o in hedges]
        record.slippage = sum(
            (self._vs_decision(o, leg.decision_price) for o, leg in zip(legs, record.legs, strict=True)), ZERO
        )
        record.legging_loss = sum((self._vs_decision(o, record.legs[i].decision_price) for i, _, o in hedges), ZERO)
        fees: dict[str, Decimal] = {}
        for order in (*legs, *(o for _, _, o in hedges)):
            if order.fees:
                _add(fees, self._ctx.instrument(order.instrument_id).settlement, order.fees)
        record.fees = fees

    def _vs_decision(self, order: Order, decision_price: Decimal) -> Decimal:
        """What the order's fills cost against ``decision_price``, in quote (positive = worse)."""
        size = self._ctx.instrument(order.instrument_id).contract_size
        return order.side.sign * (order.filled_notional - decision_price * order.filled_quantity) * size


def _opposite(side: OrderSide) -> OrderSide:
    return OrderSide.SELL if side is OrderSide.BUY else OrderSide.BUY


def _lots(quantity: Fraction, lot: Decimal) -> Decimal:
    """``quantity`` rounded down to a whole number of lots, exactly."""
    return (quantity // Fraction(lot)) * lot


def _add(totals: dict[K, Decimal], key: K, amount: Decimal) -> None:
    totals[key] = totals.get(key, ZERO) + amount
