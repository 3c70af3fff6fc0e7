"""The service layer of a running node: what the API, the dashboard and the metrics read, and the
operator's commands.

Everything here runs on the node's event loop thread (the API's handlers are ``async``), between two
engine steps: a read sees one consistent state and a command takes effect as one step, exactly as a
strategy's would. Commands go through the same risk engine and kill switch as the strategies
(RELIABILITY.md §5, S11); each is written to the audit trail before it runs (S20). A command that
would repeat one already in effect (engage an engaged kill switch, pause a paused strategy) is
refused as a conflict, so two operators clicking at once give one effect (scenario 22).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol

from spreadhawk.analytics.regime_table import Regime
from spreadhawk.api.audit import AuditLog, AuditRecord
from spreadhawk.domain.events import Liquidity, OrderSide, OrderType, SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.engine.attribution import StrategyAttribution
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.allocation import CapitalAllocator
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.runtime.results import held_value, jsonable
from spreadhawk.runtime.scanner import Scanner
from spreadhawk.strategy.base import Strategy

__all__ = [
    "ADJUSTABLE_LIMITS",
    "OPERATOR_STRATEGY_ID",
    "CommandRefusedError",
    "ControlledNode",
    "NodeControl",
    "NotAvailableError",
]

ZERO = Decimal(0)
OPERATOR_STRATEGY_ID = "operator"  # the operator's own orders (a position closed from the API)
# Pre-trade limits read afresh on every order (risk.checks): changing them takes effect at the next
# order. The others are built into the risk engine's parts when it starts (windows, rates, marks).
ADJUSTABLE_LIMITS = (
    "max_order_notional",
    "max_asset_fraction",
    "max_strategy_fraction",
    "max_deployed_fraction",
    "price_band",
)


class NotAvailableError(LookupError):
    """What was asked for does not exist in this node (no risk engine, unknown strategy): HTTP 404/409."""


class CommandRefusedError(RuntimeError):
    """A command that would change nothing or conflicts with the state (HTTP 409)."""


class ControlledNode(Protocol):
    """What a paper or live node exposes to its operator."""

    engine: Engine
    strategies: list[Strategy]
    attribution: StrategyAttribution
    risk: RiskEngine | None
    allocator: CapitalAllocator | None
    explained: list[str]
    differences: list[str]
    started: bool


class NodeControl:
    def __init__(self, node: ControlledNode, mode: str, audit: AuditLog, scanner: Scanner | None = None) -> None:
        self.node = node
        self.mode = mode
        self.audit = audit
        self.scanner = scanner

    @property
    def engine(self) -> Engine:
        return self.node.engine

    def now_ns(self) -> int:
        return self.engine.clock.now_ns()

    # ------------------------------------------------------------------ reads
    def status(self) -> dict[str, Any]:
        engine, risk = self.engine, self.node.risk
        venues = sorted({venue_of(iid) for iid in engine.instruments})
        return {
            "mode": self.mode,
            "trading": self.node.started and not (risk is not None and risk.kill_switch.engaged),
            "started": self.node.started,
            "now_ns": self.now_ns(),
            "valuation_currency": engine.portfolio.valuation_currency,
            "risk_engine": risk is not None,
            "allocation": self.node.allocator is not None,
            "scanner": self.scanner is not None,
            "kill_switch": self.kill_switch(),
            "venues": [self._venue_state(name) for name in venues],
            "strategies": [self.strategy_state(s.id) for s in self.node.strategies],
            "orders": len(engine.orders),
            "fills": len(engine.fills),
            "reconciliation": {"explained": list(self.node.explained), "differences": list(self.node.differences)},
        }

    def _venue_state(self, name: str) -> dict[str, Any]:
        risk = self.node.risk
        if risk is None:
            return {"name": name, "mode": "FULL", "reason": "no risk engine"}
        mode, reason = risk.mode(name)
        return {"name": name, "mode": mode.name, "reason": reason}

    def strategy_state(self, strategy_id: str) -> dict[str, Any]:
        risk = self.node.risk
        why = risk.pause_reason(strategy_id, self.now_ns()) if risk is not None else None
        return {"id": strategy_id, "enabled": why is None, "paused": why}

    def kill_switch(self) -> dict[str, Any]:
        risk = self.node.risk
        state = risk.kill_switch.state if risk is not None else None
        if state is None:
            return {"engaged": False, "by": None, "reason": None, "ts_ns": None}
        return {"engaged": state.engaged, "by": state.by, "reason": state.reason, "ts_ns": state.ts_ns}

    def equity(self) -> Decimal:
        return self.engine.portfolio.equity(self.engine.price)

    def profits(self) -> dict[str, Any]:
        engine = self.engine
        curve = engine.equity_curve
        equity = self.equity()
        initial = curve[0][1] if curve else equity
        fills_of: Counter[str] = Counter()
        for fill in engine.fills:
            order = engine.orders.get(fill.client_order_id)
            fills_of[order.strategy_id if order is not None else "?"] += 1
        attribution = self.node.attribution
        return {
            "valuation_currency": engine.portfolio.valuation_currency,
            "equity": str(equity),
            "initial_equity": str(initial),
            "pnl": str(equity - initial),  # at market prices: the starting inventory's move included
            "pnl_vs_holding": str(equity - held_value(engine)),  # what trading added (the strategies' sum)
            "strategies": [
                {
                    "id": s.id,
                    "pnl": str(attribution.pnl(s.id)),
                    "fees": str(attribution.fees(s.id)),
                    "fills": fills_of[s.id],
                }
                for s in self.node.strategies
            ],
        }

    def fills(self, limit: int = 100) -> list[dict[str, Any]]:
        """The last ``limit`` fills, newest first."""
        engine = self.engine
        rows = []
        for fill in engine.fills[-limit:][::-1]:
            order = engine.orders.get(fill.client_order_id)
            rows.append(
                {
                    "ts_ns": fill.ts_ns,
                    "instrument": str(fill.instrument_id),
                    "side": fill.side.value,
                    "quantity": str(fill.quantity),
                    "price": str(fill.price),
                    "fee": str(fill.fee),
                    "fee_currency": fill.fee_currency,
                    "liquidity": fill.liquidity.value,
                    "strategy": order.strategy_id if order is not None else None,
                    "client_order_id": str(fill.client_order_id),
                }
            )
        return rows

    def equity_curve(self, points: int = 500) -> list[dict[str, Any]]:
        """The last ``points`` equity samples (time, exact amount)."""
        return [{"ts_ns": ts, "equity": str(value)} for ts, value in self.engine.equity_curve[-points:]]

    def positions(self) -> dict[str, Any]:
        engine = self.engine
        rows = []
        for iid, position in sorted(engine.portfolio.positions.items()):
            if not position.quantity:
                continue
            inst = engine.instruments[iid]
            mark = engine.price(iid)
            unrealised = None if mark is None else (mark - position.avg_price) * position.quantity * inst.contract_size
            rows.append(
                {
                    "instrument": str(iid),
                    "venue": inst.venue,
                    "quantity": str(position.quantity),
                    "avg_price": str(position.avg_price),
                    "mark": None if mark is None else str(mark),
                    "unrealised_pnl": None if unrealised is None else str(unrealised),
                }
            )
        ledger = engine.portfolio.ledger
        balances = {
            venue: {asset: str(amount) for asset, amount in sorted(ledger.venue_balances(venue).items()) if amount}
            for venue in sorted({venue_of(iid) for iid in engine.instruments})
        }
        return {"positions": rows, "balances": balances}

    def opportunities(self, limit: int = 50) -> dict[str, Any]:
        if self.scanner is None:
            raise NotAvailableError("this node runs no opportunity scanner")
        now = self.now_ns()
        live = [record_json(o) | {"age_ns": o.age_ns(now)} for o in self.scanner.top(limit)]
        closed = [record_json(o) for o in self.scanner.history[-limit:][::-1]]
        return {"live": live, "closed": closed}

    def regime(self) -> dict[str, Any]:
        allocator = self._allocator()
        since = allocator.regimes[-1][0] if allocator.regimes else None
        return {"regime": allocator.regime.value, "since_ns": since, "override": allocator.override_by}

    def regime_history(self, limit: int = 1000) -> list[dict[str, Any]]:
        return [{"ts_ns": ts, "regime": regime} for ts, regime in self._allocator().regimes[-limit:]]

    def risk_portfolio(self) -> dict[str, Any]:
        engine = self.engine
        equity = self.equity()
        peak = max((value for _, value in engine.equity_curve), default=equity)
        peak = max(peak, equity)
        net: defaultdict[str, Decimal] = defaultdict(Decimal)
        gross = ZERO
        for iid, position in engine.portfolio.positions.items():
            mark = engine.price(iid)
            if not position.quantity or mark is None:
                continue
            inst = engine.instruments[iid]
            notional = position.quantity * mark * inst.contract_size
            net[inst.base] += notional
            gross += abs(notional)
        risk = self.node.risk
        var = risk.var_limit.var if risk is not None and risk.var_limit is not None else None
        return {
            "valuation_currency": engine.portfolio.valuation_currency,
            "equity": str(equity),
            "peak_equity": str(peak),
            "drawdown": str((peak - equity) / peak) if peak > 0 else "0",
            "gross_exposure": str(gross),
            "net_exposure": {asset: str(amount) for asset, amount in sorted(net.items())},
            "leverage": str(gross / equity) if equity > 0 else None,
            "var_1d": var,
            "halving": risk.halving if risk is not None else False,
        }

    def risk_limits(self) -> dict[str, Any]:
        risk = self._risk()
        limits = record_json(risk.limits)
        now = self.now_ns()
        return {
            "limits": limits,
            "adjustable": list(ADJUSTABLE_LIMITS),
            "denials": {str(code): count for code, count in sorted(risk.denials.items())},
            "paused_strategies": [s.id for s in self.node.strategies if risk.pause_reason(s.id, now) is not None],
            "changes": [record_json(r) | {"type": type(r).__name__} for r in risk.records[-100:]],
        }

    def execution_costs(self) -> dict[str, Any]:
        engine = self.engine
        fees: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
        notional: defaultdict[str, Decimal] = defaultdict(Decimal)
        counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for fill in engine.fills:
            venue = venue_of(fill.instrument_id)
            inst = engine.instruments[fill.instrument_id]
            fees[(venue, fill.fee_currency)] += fill.fee
            notional[venue] += fill.quantity * fill.price * inst.contract_size
            counts[venue]["maker" if fill.liquidity is Liquidity.MAKER else "taker"] += 1
        venues = sorted(set(notional))
        return {
            "venues": [
                {
                    "venue": venue,
                    "fills": sum(counts[venue].values()),
                    "maker_fills": counts[venue]["maker"],
                    "taker_fills": counts[venue]["taker"],
                    "notional": str(notional[venue]),
                    "fees": {ccy: str(amount) for (v, ccy), amount in sorted(fees.items()) if v == venue},
                }
                for venue in venues
            ],
            "strategies": [{"id": s.id, "fees": str(self.node.attribution.fees(s.id))} for s in self.node.strategies],
        }

    # ------------------------------------------------------------------ commands
    def engage_kill_switch(self, who: str, reason: str, flatten: bool | None) -> dict[str, Any]:
        risk = self._risk()
        self._audit(who, "kill_switch.engage", {"reason": reason, "flatten": flatten})
        if not risk.engage_kill_switch(who, reason, flatten=flatten):
            raise CommandRefusedError("the kill switch is already on")
        return self.kill_switch()

    def resume(self, who: str, reason: str) -> dict[str, Any]:
        risk = self._risk()
        self._audit(who, "kill_switch.resume", {"reason": reason})
        if not risk.resume(who, reason):
            raise CommandRefusedError("the kill switch is already off")
        return self.kill_switch()

    def toggle_strategy(self, who: str, strategy_id: str, enabled: bool, reason: str) -> dict[str, Any]:
        risk = self._risk()
        if strategy_id not in {s.id for s in self.node.strategies}:
            raise NotAvailableError(f"no strategy {strategy_id!r} in this node")
        self._audit(who, "strategy.toggle", {"strategy": strategy_id, "enabled": enabled, "reason": reason})
        if self.strategy_state(strategy_id)["enabled"] == enabled:
            raise CommandRefusedError(f"strategy {strategy_id} is already {'enabled' if enabled else 'paused'}")
        if enabled:
            risk.resume_strategy(strategy_id, who, reason)
        else:
            risk.pause_strategy(strategy_id, who, reason)
        return self.strategy_state(strategy_id)

    def override_regime(self, who: str, regime: str | None, reason: str) -> dict[str, Any]:
        allocator = self._allocator()
        chosen = None if regime is None else Regime(regime)
        self._audit(who, "regime.override", {"regime": regime, "reason": reason})
        allocator.override_regime(chosen, self.now_ns(), who)
        return self.regime()

    def exit_position(self, who: str, instrument: str, reason: str) -> dict[str, Any]:
        """Close ``instrument``'s position at market (an operator's order, checked by the risk engine
        like any other). Refused while any order that reduces the position is in flight -- another
        exit, the operator's or a strategy's -- so two clicks and a strategy's own exit in the same
        instant give one exit order, never a double sell (RELIABILITY.md scenario 22)."""
        engine = self.engine
        iid = InstrumentId(instrument)
        inst = engine.instruments.get(iid)
        if inst is None:
            raise NotAvailableError(f"no instrument {instrument!r} in this node")
        held = engine.portfolio.position(iid).quantity
        if not held:
            raise CommandRefusedError(f"no position in {instrument}")
        for order in engine.orders.values():
            if order.instrument_id == iid and not order.is_terminal and order.side.sign * held < 0:
                raise CommandRefusedError(f"already exiting: order {order.client_order_id} reduces the position")
        self._audit(who, "position.exit", {"instrument": instrument, "quantity": str(held), "reason": reason})
        command = SubmitOrder(
            self.now_ns(),
            engine.order_ids.next(OPERATOR_STRATEGY_ID),
            OPERATOR_STRATEGY_ID,
            iid,
            OrderSide.SELL if held > 0 else OrderSide.BUY,
            OrderType.MARKET,
            abs(held),
            reduce_only=inst.kind is InstrumentKind.PERPETUAL,
        )
        order = engine.submit(command)
        engine.settle()  # a simulated venue answers inside submit: its reports are handled now, not at the next message
        current = engine.orders[order.client_order_id]
        return {"client_order_id": str(current.client_order_id), "status": current.status.value, "quantity": str(held)}

    def set_limits(self, who: str, changes: Mapping[str, Decimal | None], reason: str) -> dict[str, Any]:
        risk = self._risk()
        if not changes:
            raise CommandRefusedError("no limit given: nothing to change")
        unknown = sorted(set(changes) - set(ADJUSTABLE_LIMITS))
        if unknown:
            raise NotAvailableError(f"not adjustable while running: {', '.join(unknown)}")
        self._audit(who, "risk.limits", {**jsonable(dict(changes)), "reason": reason})
        risk.adjust_limits(dict(changes), who, reason)
        return self.risk_limits()

    # ------------------------------------------------------------------ helpers
    def _audit(self, who: str, command: str, arguments: Mapping[str, Any]) -> None:
        self.audit.append(AuditRecord(self.now_ns(), who, "api", command, arguments, "requested"))
        self._wake()

    def _wake(self) -> None:
        """A command schedules work for now (cancel every order, re-mark): the live driver sleeps until
        its next message or timer, so it is woken to do it at once."""
        wake = self.engine.inbox.wake
        if wake is not None:
            wake()

    def _risk(self) -> RiskEngine:
        if self.node.risk is None:
            raise NotAvailableError("this node runs without a risk engine ([risk] enabled = false)")
        return self.node.risk

    def _allocator(self) -> CapitalAllocator:
        if self.node.allocator is None:
            raise NotAvailableError("this node runs without capital allocation ([risk.allocation])")
        return self.node.allocator


def record_json(record: object) -> dict[str, Any]:
    """A dataclass record's fields as JSON values (decimals as exact strings)."""
    fields: dict[str, Any] = jsonable(dataclasses.asdict(record))  # type: ignore[call-overload]
    return fields
