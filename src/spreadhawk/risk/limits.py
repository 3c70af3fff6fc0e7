"""The pre-trade risk engine: every order passes through ``check`` or becomes ``OrderDenied``.

``RiskEngine.attach(engine)`` lets it observe the engine; the composition root then makes it the
engine's ``PreTradeRisk`` port (``engine.use_risk(risk)``). A denial reason
starts with a stable code (``"asset_concentration: ..."``, a ``DenialCode``), so denials can be
counted by reason.
The checks, in order (the first that fails names the denial):

1. kill switch on -> ``kill_switch`` (only the risk engine's own flattening orders pass);
2. the venue's degradation mode HALTED -> ``halted``; HEDGE_ONLY -> ``hedge_only`` unless the
   order reduces risk; a tripped loss limit -> ``loss_limit``; a paused strategy -> ``strategy_paused``
   (both unless the order reduces risk);
3. order rate (account and strategy, per second and per minute) -> ``order_rate``;
4. order notional above the maximum times the size multiplier -> ``order_notional``; a market
   order with no mark to value it -> ``no_mark``;
5. a limit price more than the band beyond the market (above the best ask or below the best bid,
   or the mark when a side is empty) -> ``price_band``;
6. for orders that add risk: |net exposure in the asset| (holdings on every venue, perpetuals and
   orders in flight) -> ``asset_concentration``; the strategy's exposure -> ``strategy_exposure``;
   capital deployed -> ``capital_deployed``; gross notional over equity -> ``leverage``; the
   1-day VaR of the holdings plus the order over ``max_var_fraction`` of equity -> ``var_limit``
   (off by default; ``var_limit.py``).

An order **reduces risk** when it is ``reduce_only`` or shrinks the account's |net position| in its
base asset. Such orders are never refused for exposure, loss limits, pauses or HEDGE_ONLY.

**Sizes halved** (drawdown at 8 %, or a venue in REDUCED mode) means the limits on size are
multiplied by 0.5: the maximum order notional and the asset and strategy fractions. The engine
never resizes an order (a paired leg silently shrunk would leave the other leg unhedged); it denies
what is above the halved limits, and strategies can read ``size_multiplier()`` to size down.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from spreadhawk.domain.events import (
    CancelOrder,
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderType,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.messages import EquitySampled
from spreadhawk.engine.ports import RiskView
from spreadhawk.risk.breakers import Drawdown, LosingStreaks, LossLimits, Mode, VenueHealth
from spreadhawk.risk.checks import InstrumentFacts, Projection, exposure_denial, price_band_denial, touch_of
from spreadhawk.risk.config import NS_PER_S, RiskLimits
from spreadhawk.risk.denials import Denial, DenialCode
from spreadhawk.risk.exposure import ExposureBook, InFlight
from spreadhawk.risk.kill_switch import InMemoryKillSwitchStore, KillSwitch, KillSwitchChanged, KillSwitchStore
from spreadhawk.risk.marks import Marks
from spreadhawk.risk.rates import OrderRates
from spreadhawk.risk.records import RiskStateChanged
from spreadhawk.risk.var_limit import VarLimit

ZERO = Decimal(0)
ONE = Decimal(1)
HALF = Decimal("0.5")
RISK_STRATEGY_ID = "risk"  # the risk engine's own (flattening) orders


class RiskEngine:
    def __init__(self, limits: RiskLimits | None = None, kill_switch_store: KillSwitchStore | None = None) -> None:
        self.limits = limits or RiskLimits()
        self.kill_switch = KillSwitch(kill_switch_store or InMemoryKillSwitchStore())  # read before any order
        self.book = ExposureBook()
        self.rates = OrderRates(self.limits)
        self.loss_limits = LossLimits(self.limits)
        self.drawdown = Drawdown()
        self.streaks = LosingStreaks()
        self.health = VenueHealth(self.limits)
        self.denials: Counter[DenialCode] = Counter()
        self._denied: tuple[ClientOrderId, DenialCode] | None = None  # check()'s last; its OrderDenied is next
        self.records: list[RiskStateChanged | KillSwitchChanged] = []
        self.halving = False
        self.paused_until: dict[str, int] = {}
        self.in_review: set[str] = set()
        self.operator_paused: dict[str, str] = {}  # strategy id -> who paused it and why (until resumed)
        self._modes: dict[str, Mode] = {}
        self._sent_ns: dict[ClientOrderId, int] = {}
        self._dirty = True
        self._remark_due = False
        self._checked: tuple[ClientOrderId | None, Decimal] = (None, ZERO)
        self._engine: Engine | None = None
        self._mark_interval_ns = int(self.limits.mark_interval_s * NS_PER_S)
        self.var_limit = VarLimit(self.limits) if self.limits.max_var_fraction is not None else None

    # ------------------------------------------------------------------ wiring
    def attach(self, engine: Engine) -> None:
        """Observe ``engine`` (marks, equity samples, venues); a kill switch found on (a restart) takes
        effect now. It checks orders once the composition root calls ``engine.use_risk(self)``."""
        self._engine = engine
        self.marks = Marks(engine.instruments, self.limits.max_leverage)
        self._venues = tuple(sorted({i.venue for i in engine.instruments.values()}))
        weight = self.marks.margin_fraction
        self._info = {
            iid: InstrumentFacts(
                i.base,
                i.venue,
                i.quote,
                i.contract_size,
                weight if i.kind is InstrumentKind.PERPETUAL else ONE,
                i.tick_size,
            )
            for iid, i in engine.instruments.items()
        }
        self._books_of = {
            venue: [engine.books[iid] for iid, inst in engine.instruments.items() if inst.venue == venue]
            for venue in self._venues
        }
        engine.bus.subscribe(EquitySampled, self._on_equity)
        if self.var_limit is not None:
            self.var_limit.attach(engine, self.marks, self._venues)
        if self.kill_switch.engaged:
            engine.schedule(engine.clock.now_ns(), self._cancel_and_flatten)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the risk engine is not attached to an engine")
        return self._engine

    # ------------------------------------------------------------------ the port
    def check(self, command: SubmitOrder, view: RiskView) -> str | None:
        now = view.clock.now_ns()
        if command.strategy_id == RISK_STRATEGY_ID:
            denial = None  # its own flattening orders
        else:
            if self._dirty:
                self._remark(now)
            elif now - self.marks.ts_ns >= self._mark_interval_ns and not self._remark_due:
                # re-marked in the event loop right after this order, not on its path: this check
                # uses marks at most ``mark_interval_s`` plus one event old
                self._remark_due = True
                self.engine.schedule(now, self._scheduled_remark)
            denial = self._denial(command, view, now)
        if denial is None:
            self._admit(command, view, now)
            return None
        self._denied = (command.client_order_id, denial.code)
        return str(denial)

    def on_event(self, event: OrderEvent) -> None:
        if type(event) is OrderDenied:
            # Ours is known by its code; any other (the exchange's rules, or one replayed from the
            # journal on a restart) is read from its reason.
            denied, self._denied = self._denied, None
            ours = denied is not None and denied[0] == event.client_order_id
            self.denials[denied[1] if ours and denied is not None else DenialCode.of(event.reason)] += 1
            return
        coid = event.client_order_id
        entry = self.book.in_flight.get(coid)
        if entry is None:
            return
        engine = self.engine
        order = engine.orders[coid]
        info = self._info[order.instrument_id]
        if isinstance(event, OrderAccepted):
            sent = self._sent_ns.pop(coid, None)
            if sent is not None:
                # measured on our clock when the ack arrives: the round trip a live node sees
                self.health.on_acknowledged(info.venue, engine.clock.now_ns() - sent)
        elif isinstance(event, OrderRejected):
            self.health.on_rejected(info.venue, event.ts_ns)
        base_per_unit = info.contract_size
        self.book.update(coid, order.filled_quantity, order.leaves_quantity, order.is_terminal, base_per_unit)
        if order.is_terminal:
            self._sent_ns.pop(coid, None)
        if isinstance(event, OrderFilled):
            if order.strategy_id != RISK_STRATEGY_ID:
                self._on_round_trip(order.strategy_id, event, info.contract_size)
            self._remark(engine.clock.now_ns())

    # ------------------------------------------------------------------ operator actions
    def engage_kill_switch(self, by: str, reason: str, *, flatten: bool | None = None) -> bool:
        """Cancel every open order (and close positions when ``flatten``), deny every new order."""
        change = self.kill_switch.engage(
            self.engine.clock.now_ns(), by, reason, flatten=self.limits.flatten_on_kill if flatten is None else flatten
        )
        if change is None:
            return False
        self._take_effect(change)
        return True

    def resume(self, by: str, reason: str) -> bool:
        """Turn the kill switch off: trading may start again (breakers start from the current equity)."""
        change = self.kill_switch.resume(self.engine.clock.now_ns(), by, reason)
        if change is None:
            return False
        self._take_effect(change)
        return True

    def _take_effect(self, change: KillSwitchChanged) -> None:
        """A change of the kill switch, made here or found in its store: journaled, then on cancels
        every open order (and flattens when asked), off measures the breakers from here again."""
        self._note(change)
        if change.engaged:
            self.engine.schedule(self.engine.clock.now_ns(), self._cancel_and_flatten)
        else:
            self.drawdown = Drawdown()  # measured again from here, or the breaker would trip at once
            self._dirty = True

    def watch_kill_switch(self, every_ns: int) -> Callable[[], None]:
        """Read the kill switch's store every ``every_ns`` (paper and live: another process -- the
        operator's ``spreadhawk kill on`` -- may change it); a change found takes effect as if it had
        been made here: on cancels and denies, off lets trading start again. For a wall-clock node:
        it reschedules itself for ever (a replay's final drain would never end); the returned
        function stops it."""
        engine = self.engine
        watching = [True]

        def look() -> None:
            if not watching[0]:
                return
            change = self.kill_switch.refresh()
            if change is not None:
                self._take_effect(change)
            engine.schedule(engine.clock.now_ns() + every_ns, look)

        engine.schedule(engine.clock.now_ns() + every_ns, look)
        return lambda: watching.__setitem__(0, False)

    def pause_strategy(self, strategy_id: str, by: str, reason: str) -> None:
        """The operator pauses a strategy: its new risk is denied (orders that reduce risk still pass)
        until ``resume_strategy``."""
        self.operator_paused[strategy_id] = f"paused by {by}: {reason}"
        self._record("strategy_pause", strategy_id, "paused", reason, by=by)

    def adjust_limits(self, changes: dict[str, Decimal | None], by: str, reason: str) -> None:
        """New values for pre-trade limits that every order reads afresh (``api.control.ADJUSTABLE_LIMITS``);
        recorded and journaled like any change of the risk state."""
        self.limits = dataclasses.replace(self.limits, **changes)  # type: ignore[arg-type]
        for name, value in sorted(changes.items()):
            self._record("limit", name, "none" if value is None else str(value), reason, by=by)

    def resume_strategy(self, strategy_id: str, by: str, reason: str) -> None:
        """Lift a strategy's pause (the hour's, the review's or the operator's); its losing streak starts
        again at 0."""
        self.paused_until.pop(strategy_id, None)
        self.in_review.discard(strategy_id)
        self.operator_paused.pop(strategy_id, None)
        self.streaks.streak[strategy_id] = 0
        self._record("strategy_pause", strategy_id, "resumed", reason, by=by)

    def set_venue_connected(self, venue: str, connected: bool) -> None:
        """A live adapter reports its connection; a disconnected venue is HEDGE_ONLY."""
        if connected:
            self.health.disconnected.discard(venue)
        else:
            self.health.disconnected.add(venue)

    def impose_venue_mode(self, venue: str, mode: Mode, reason: str, source: str = "adapter") -> None:
        """``source`` (a live adapter, the node) imposes ``mode`` on ``venue`` (``Mode.FULL`` lifts
        it): see ``VenueHealth.impose``."""
        self.health.impose(venue, mode, reason, source)

    def mode(self, venue: str, instrument_id: InstrumentId | None = None) -> tuple[Mode, str]:
        """The degradation mode of ``venue`` now, and why; with an instrument, the stricter of the
        venue's and that market's own (a frozen book), which is the mode an order there gets.
        A change of a venue's mode is recorded and journaled."""
        engine = self._engine or self.engine
        now = engine.clock.now_ns()
        if self.kill_switch.engaged:
            state = self.kill_switch.state
            return Mode.HALTED, f"kill switch on (by {state.by if state else '?'})"
        last = max((book.ts_ns for book in self._books_of[venue]), default=0)
        mode, why = self.health.mode(venue, now, (now - last) / NS_PER_S if last > 0 else None)
        if self._modes.get(venue, Mode.FULL) is not mode:
            self._modes[venue] = mode
            self._record("mode", venue, mode.name, why or "healthy")
        book = engine.books.get(instrument_id) if instrument_id is not None else None
        if book is not None and book.ts_ns > 0 and book.ts_ns < last:
            own, own_why = self.health.staleness(str(instrument_id), (now - book.ts_ns) / NS_PER_S)
            if own > mode:
                return own, own_why
        return mode, why

    def size_multiplier(self, mode: Mode = Mode.FULL) -> Decimal:
        multiplier = HALF if self.halving else ONE
        return multiplier * self.limits.reduced_size_factor if mode is Mode.REDUCED else multiplier

    # ------------------------------------------------------------------ checks
    def _denial(self, command: SubmitOrder, view: RiskView, now: int) -> Denial | None:  # noqa: PLR0911 (one exit per check, in order)
        if self.kill_switch.engaged:
            state = self.kill_switch.state
            assert state is not None
            return Denial(DenialCode.KILL_SWITCH, f"on since {state.ts_ns} by {state.by}: {state.reason}")
        info = self._info[command.instrument_id]
        price = command.price if command.price is not None else view.price(command.instrument_id)
        signed = self._base_quantity(command, info, price) * command.side.sign
        net = self.marks.account_net(info.asset, view, self._venues)
        reducing = command.reduce_only or abs(net + signed) < abs(net)
        mode, why = self.mode(info.venue, command.instrument_id)
        if mode is Mode.HALTED:
            return Denial(DenialCode.HALTED, why)
        if not reducing:
            reason = self._gate(command.strategy_id, mode, why, now)
            if reason is not None:
                return reason
        reason = self.rates.denial(command.strategy_id, now)
        if reason is not None:
            return reason
        if price is None:
            return Denial(DenialCode.NO_MARK, f"no price to value a market order on {command.instrument_id}")
        notional = self._notional(command, info, price)
        self._checked = (command.client_order_id, notional)  # _admit reuses it
        multiplier = self.size_multiplier(mode)
        lim = self.limits
        if lim.max_order_notional is not None and notional > lim.max_order_notional * multiplier:
            return Denial(DenialCode.ORDER_NOTIONAL, f"{notional:.2f} > {lim.max_order_notional * multiplier:.2f}")
        mark = view.price(command.instrument_id)
        reason = price_band_denial(self.limits, command, mark, touch_of(view, command.instrument_id), info)
        if reason is not None or reducing:
            return reason
        price_now = self.marks.prices.get(info.asset) or self.marks.price(info.asset, view) or ZERO
        projected = Projection(command.strategy_id, net, signed, notional, price_now)
        reason = exposure_denial(self.limits, self.marks, self.book, info, projected, multiplier)
        if reason is None and self.var_limit is not None:
            reason = self.var_limit.denial(info.asset, float(signed * price_now), self.marks.equity)
        return reason

    def _gate(self, strategy_id: str, mode: Mode, why: str, now: int) -> Denial | None:
        if mode is Mode.HEDGE_ONLY:
            return Denial(DenialCode.HEDGE_ONLY, f"{why}; only risk-reducing orders pass")
        active = self.loss_limits.active(now)
        if active is not None:
            return Denial(DenialCode.LOSS_LIMIT, f"{active[0]} loss limit hit; new risk refused until {active[1]}")
        why_paused = self.pause_reason(strategy_id, now)
        if why_paused is not None:
            return Denial(DenialCode.STRATEGY_PAUSED, f"{strategy_id} {why_paused}")
        return None

    def pause_reason(self, strategy_id: str, now: int) -> str | None:
        """Why ``strategy_id`` may take no new risk at ``now`` (by the operator, pending review, after a
        losing streak), or None when it may."""
        if strategy_id in self.operator_paused:
            return self.operator_paused[strategy_id]
        if strategy_id in self.in_review:
            return f"paused pending review ({self.streaks.streak.get(strategy_id, 0)} losses in a row)"
        until = self.paused_until.get(strategy_id)
        if until is not None and now < until:
            return f"paused until {until} after a losing streak"
        return None

    def _base_quantity(self, command: SubmitOrder, info: InstrumentFacts, price: Decimal | None) -> Decimal:
        if command.quote_quantity is not None:
            return command.quote_quantity / price / info.contract_size if price else ZERO
        return command.quantity * info.contract_size

    def _notional(self, command: SubmitOrder, info: InstrumentFacts, price: Decimal) -> Decimal:
        """In the valuation currency (the quote converted at its mark)."""
        if command.quote_quantity is not None:
            quote_notional = command.quote_quantity
        else:
            quote_notional = command.quantity * price * info.contract_size
        rate = ONE if info.quote == self.engine.portfolio.valuation_currency else self.marks.prices.get(info.quote)
        if rate is None:
            rate = self.marks.price(info.quote, self.engine) or ONE
        return quote_notional * rate

    def _admit(self, command: SubmitOrder, view: RiskView, now: int) -> None:
        info = self._info[command.instrument_id]
        coid, notional = self._checked
        if coid != command.client_order_id:  # not valued by _denial (the risk engine's own orders)
            price = command.price if command.price is not None else view.price(command.instrument_id)
            notional = self._notional(command, info, price) if price is not None else ZERO
        quote_sized = command.quote_quantity is not None
        unit = ZERO if quote_sized or not command.quantity else notional / command.quantity
        entry = InFlight(command.strategy_id, info.asset, command.side.sign, unit, info.deployed_weight, notional)
        entry.fixed = quote_sized
        self.book.add(command.client_order_id, entry)
        self._sent_ns[command.client_order_id] = now
        if command.strategy_id != RISK_STRATEGY_ID:
            self.rates.record(command.strategy_id, now)

    # ------------------------------------------------------------------ breakers
    def _scheduled_remark(self) -> None:
        self._remark_due = False
        self._remark(self.engine.clock.now_ns())

    def _on_equity(self, sample: EquitySampled) -> None:
        self._remark(sample.ts_ns)

    def _remark(self, now: int) -> None:
        engine = self.engine
        self.marks.remark(now, engine, self.book)
        self._dirty = False
        if self.var_limit is not None:
            self.var_limit.on_remark()
        equity = self.marks.equity
        for kind, loss, end in self.loss_limits.update(now, equity):
            self._record("loss_limit", kind, "tripped", f"loss {loss:.2%} of the {kind}'s start; until {end}")
        lim = self.limits
        drawdown = self.drawdown.update(equity)
        halving = lim.drawdown_halve is not None and drawdown >= lim.drawdown_halve
        if halving is not self.halving:
            self.halving = halving
            self._record("drawdown", "account", "halved" if halving else "cleared", f"drawdown {drawdown:.2%}")
        if lim.drawdown_flatten is not None and drawdown >= lim.drawdown_flatten and not self.kill_switch.engaged:
            reason = f"drawdown {drawdown:.2%} >= {lim.drawdown_flatten:.0%}: flatten and halt"
            self.engage_kill_switch("breaker:drawdown", reason, flatten=True)

    def _on_round_trip(self, strategy_id: str, fill: OrderFilled, contract_size: Decimal) -> None:
        pnl = self.streaks.on_fill(strategy_id, fill, contract_size)
        if pnl is None or pnl >= 0:
            return
        streak = self.streaks.streak[strategy_id]
        lim = self.limits
        if lim.losing_streak_review is not None and streak >= lim.losing_streak_review:
            if strategy_id not in self.in_review:
                self.in_review.add(strategy_id)
                self._record("strategy_pause", strategy_id, "review", f"{streak} losing round trips in a row")
        elif lim.losing_streak_pause is not None and streak % lim.losing_streak_pause == 0:
            until = fill.ts_ns + lim.pause_ns
            self.paused_until[strategy_id] = until
            self._record(
                "strategy_pause", strategy_id, "paused", f"{streak} losing round trips in a row; until {until}"
            )

    def _cancel_and_flatten(self) -> None:
        """Cancel every open order; when the switch allows it, close every position at market."""
        engine = self.engine
        now = engine.clock.now_ns()
        for order in list(engine.orders.values()):
            if order.is_open and order.strategy_id != RISK_STRATEGY_ID:
                engine.cancel(CancelOrder(now, order.client_order_id, order.instrument_id, order.strategy_id))
        if not self.kill_switch.allows_flatten:
            return
        for iid, position in sorted(engine.portfolio.positions.items()):
            if position.is_flat or engine.price(iid) is None:
                continue
            perp = engine.instruments[iid].kind is InstrumentKind.PERPETUAL
            side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
            command = SubmitOrder(
                now,
                # the run's id scheme: an id a restarted node (whose switch is still on) never reuses
                engine.order_ids.next(RISK_STRATEGY_ID),
                RISK_STRATEGY_ID,
                iid,
                side,
                OrderType.MARKET,
                abs(position.quantity),
                reduce_only=perp,
            )
            engine.submit(command)

    def _note(self, change: KillSwitchChanged) -> None:
        self.records.append(change)
        self.engine.journal.append(change)
        self.engine.bus.publish(change)  # to whoever listens (alerts, a dashboard)

    def _record(self, what: str, subject: str, state: str, reason: str, *, by: str = "risk") -> None:
        record = RiskStateChanged(self.engine.clock.now_ns(), what, subject, state, reason, by)
        self.records.append(record)
        self.engine.journal.append(record)
        self.engine.bus.publish(record)
