"""The router: engine messages in, alerts out, on the trading path, in microseconds.

``attach_alerts(engine, dispatcher)`` subscribes the router to the engine's bus: fills
(``OrderFilled``), the risk engine's breakers, pauses and venue modes (``RiskStateChanged``), the
kill switch (``KillSwitchChanged``), feed states (``FeedStatus``: a disconnect, a stale or broken
stream, and the recovery), and activity on the account this node did not make
(``ExternalOrderReported``). The node reports the differences its reconciliation found at start
(``reconciliation``). Each handler builds one ``Alert`` and hands it to the sink with ``put_nowait``:
no I/O, no lock, no wait. A handler never raises into the engine: an alert that cannot be made is
counted (``errors``) and skipped; trading goes on.

The engine knows nothing of this package: the runtime attaches it to paper and live nodes only
(a backtest has no one to tell).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from spreadhawk.alerts.model import DEFAULT_KINDS, Alert, AlertKind, Severity
from spreadhawk.alerts.ports import AlertSink
from spreadhawk.domain.events import OrderFilled
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.market import FeedState, FeedStatus
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.records import ExternalOrderReported
from spreadhawk.risk.kill_switch import KillSwitchChanged
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.risk.records import RiskStateChanged

INFO, WARNING, CRITICAL = Severity.INFO, Severity.WARNING, Severity.CRITICAL
MAX_LISTED = 20  # reconciliation differences quoted in one alert


class AlertRouter:
    def __init__(self, engine: Engine, sink: AlertSink, kinds: frozenset[AlertKind] = DEFAULT_KINDS) -> None:
        self.sink = sink
        self.kinds = kinds
        self._put = sink.put_nowait
        self._orders = engine.orders
        self._feeds: dict[InstrumentId, FeedState] = {}
        self.errors = 0  # alerts that could not be made (a bug: never raised into the engine)

    def subscribe(self, bus: MessageBus) -> None:
        kinds = self.kinds
        if AlertKind.FILL in kinds:
            bus.subscribe(OrderFilled, self.on_fill)
        bus.subscribe(RiskStateChanged, self.on_risk)
        if AlertKind.KILL_SWITCH in kinds:
            bus.subscribe(KillSwitchChanged, self.on_kill_switch)
        if AlertKind.DISCONNECT in kinds:
            bus.subscribe(FeedStatus, self.on_feed)
        if AlertKind.EXTERNAL_ORDER in kinds:
            bus.subscribe(ExternalOrderReported, self.on_external)

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the sink (the node's shutdown)."""
        self.sink.close(timeout)

    # ------------------------------------------------------------------ handlers (the trading path)
    def on_fill(self, event: OrderFilled) -> None:
        try:
            order = self._orders.get(event.client_order_id)
            strategy = order.strategy_id if order is not None else "?"
            iid = event.instrument_id
            body = (
                f"{event.side.name} {_num(event.quantity)} at {_num(event.price)}, "
                f"fee {_num(event.fee)} {event.fee_currency} ({strategy}, order {event.client_order_id})"
            )
            self._put(Alert(event.ts_ns, AlertKind.FILL, INFO, f"fill {iid}", body, f"fill:{iid}", iid))
        except Exception:  # an alert must never break trading
            self.errors += 1

    def on_risk(self, record: RiskStateChanged) -> None:
        try:
            kind, severity, title = _risk_alert(record)
            if kind in self.kinds:
                body = f"{record.reason} (by {record.by})"
                key = f"risk:{record.what}:{record.subject}"
                self._put(Alert(record.ts_ns, kind, severity, title, body, key, record.subject))
        except Exception:
            self.errors += 1

    def on_kill_switch(self, change: KillSwitchChanged) -> None:
        try:
            if change.engaged:
                then = "positions flattened at market" if change.flatten else "open orders cancelled"
                title = f"KILL SWITCH ENGAGED by {change.by}"
                body = f"{change.reason}; every new order denied, {then}"
            else:
                title = f"kill switch resumed by {change.by}"
                body = f"{change.reason}; trading may start again"
            self._put(Alert(change.ts_ns, AlertKind.KILL_SWITCH, CRITICAL, title, body, "kill_switch"))
        except Exception:
            self.errors += 1

    def on_feed(self, status: FeedStatus) -> None:
        try:
            iid, state = status.instrument_id, status.state
            if state is FeedState.ENDED:
                return  # a replayed recording ran out: nothing to tell
            before = self._feeds.get(iid, FeedState.LIVE)
            if state is before:
                return
            self._feeds[iid] = state
            venue = venue_of(iid)
            if state is FeedState.LIVE:
                severity = WARNING if before is FeedState.DISCONNECTED else INFO
                title = f"feed back: {iid}"
            else:
                severity = WARNING if state is FeedState.DISCONNECTED else INFO
                title = f"feed {state.name.lower()}: {iid}"
            alert = Alert(status.ts_ns, AlertKind.DISCONNECT, severity, title, status.reason, f"feed:{venue}", venue)
            self._put(alert)
        except Exception:
            self.errors += 1

    def on_external(self, report: ExternalOrderReported) -> None:
        try:
            title = f"external {report.event_type}: {report.client_order_id}"
            body = f"{report.detail}; not sent by this node (booked to the account)".lstrip("; ")
            self._put(Alert(report.ts_ns, AlertKind.EXTERNAL_ORDER, WARNING, title, body, "external"))
        except Exception:
            self.errors += 1

    # ------------------------------------------------------------------ from the node
    def reconciliation(self, differences: Sequence[str], ts_ns: int) -> None:
        """The differences a node found at start between its journal and its venues (it refuses to
        trade while any remains)."""
        if not differences or AlertKind.RECONCILIATION not in self.kinds:
            return
        listed = [f"- {line}" for line in differences[:MAX_LISTED]]
        if len(differences) > MAX_LISTED:
            listed.append(f"... and {len(differences) - MAX_LISTED} more")
        title = f"reconciliation: {len(differences)} difference(s); not trading"
        self._put(Alert(ts_ns, AlertKind.RECONCILIATION, CRITICAL, title, "\n".join(listed), "reconciliation"))

    def kill_switch_at_start(self, risk: RiskEngine) -> None:
        """A node started with the kill switch still on (it survives restarts)."""
        state = risk.kill_switch.state
        if state is None or not state.engaged or AlertKind.KILL_SWITCH not in self.kinds:
            return
        title = f"kill switch still ENGAGED at start (by {state.by})"
        body = f"{state.reason}; every new order denied until resumed"
        self._put(Alert(risk.engine.clock.now_ns(), AlertKind.KILL_SWITCH, CRITICAL, title, body, "kill_switch"))


def _num(value: Decimal) -> str:
    """``1``, ``100.5``, ``0.0004``: no trailing zeros, no exponent."""
    return f"{value.normalize():f}"


def _risk_alert(record: RiskStateChanged) -> tuple[AlertKind, Severity, str]:
    """What a change of the risk state is, how grave, and its title."""
    what, state, subject = record.what, record.state, record.subject
    if what == "loss_limit":
        return AlertKind.LOSS_LIMIT, CRITICAL, f"{subject} loss limit {state}"
    if what == "drawdown":
        cleared = state == "cleared"
        then = "sizes back to normal" if cleared else "sizes halved"
        return AlertKind.BREAKER, INFO if cleared else CRITICAL, f"drawdown breaker {state}: {then}"
    if what == "strategy_pause":
        severity = INFO if state == "resumed" else WARNING
        return AlertKind.STRATEGY_PAUSED, severity, f"strategy {subject} {state}"
    if what == "mode":
        severity = INFO if state == "FULL" else WARNING
        return AlertKind.VENUE_MODE, severity, f"{subject} mode {state}"
    if what == "limit":
        return AlertKind.LIMITS, WARNING, f"risk limit {subject} set to {state}"
    return AlertKind.BREAKER, WARNING, f"{what} {subject}: {state}"


def attach_alerts(
    engine: Engine,
    dispatcher: AlertSink,
    *,
    risk: RiskEngine | None = None,
    kinds: frozenset[AlertKind] = DEFAULT_KINDS,
) -> AlertRouter:
    """Send ``engine``'s alerts through ``dispatcher`` (started here if it has a ``start``). Attach
    after the journal is restored (its replayed fills are not news) and before trading starts."""
    router = AlertRouter(engine, dispatcher, kinds)
    router.subscribe(engine.bus)
    start = getattr(dispatcher, "start", None)
    if callable(start):
        start()
    if risk is not None:
        router.kill_switch_at_start(risk)
    return router
