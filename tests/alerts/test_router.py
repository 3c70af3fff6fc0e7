"""The router on the trading path: what each engine message becomes, that it never raises into the
engine, that it changes nothing the engine decides, and that the engine does not know it exists."""

from __future__ import annotations

from pathlib import Path

from trading_loop import SPOT, T0, outcome, run_session

from spreadhawk.alerts import Alert, AlertKind, AlertRouter, Severity, attach_alerts
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.kill_switch import InMemoryKillSwitchStore, KillSwitchChanged
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.risk.records import RiskStateChanged

SRC = Path(__file__).resolve().parents[2] / "src" / "spreadhawk"


class ListSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self.closed = 0

    def put_nowait(self, alert: Alert) -> bool:
        self.alerts.append(alert)
        return True

    def close(self, timeout: float | None = None) -> None:
        self.closed += 1


class BrokenSink(ListSink):
    def put_nowait(self, alert: Alert) -> bool:
        raise RuntimeError("the sink is broken")


def test_a_session_raises_every_kind_of_engine_alert_and_trades_exactly_as_without_alerts() -> None:
    sink = ListSink()
    with_alerts = run_session(sink)
    assert outcome(with_alerts) == outcome(run_session())
    by_kind = {kind: [a for a in sink.alerts if a.kind is kind] for kind in AlertKind}
    assert len(by_kind[AlertKind.FILL]) == len(with_alerts.engine.fills)
    fill = by_kind[AlertKind.FILL][0]
    assert fill.severity is Severity.INFO
    assert fill.key == "fill:X:BTC/USDT"
    assert fill.body == "BUY 1 at 100.5, fee 0 USDT (churn, order churn-1)"
    (loss,) = by_kind[AlertKind.LOSS_LIMIT]
    assert (loss.severity, loss.title) == (Severity.CRITICAL, "day loss limit tripped")
    (drawdown,) = by_kind[AlertKind.BREAKER]
    assert (drawdown.severity, drawdown.title) == (Severity.CRITICAL, "drawdown breaker halved: sizes halved")
    (mode,) = by_kind[AlertKind.VENUE_MODE]
    assert (mode.severity, mode.title) == (Severity.WARNING, "X mode REDUCED")
    (kill,) = by_kind[AlertKind.KILL_SWITCH]
    assert kill.severity is Severity.CRITICAL
    assert kill.title == "KILL SWITCH ENGAGED by operator:test"
    down, back = by_kind[AlertKind.DISCONNECT]
    assert (down.severity, down.title, down.key) == (Severity.WARNING, "feed disconnected: X:BTC/USDT", "feed:X")
    assert (back.severity, back.title) == (Severity.WARNING, "feed back: X:BTC/USDT")
    assert with_alerts.router is not None
    assert with_alerts.router.errors == 0


def test_an_alert_that_cannot_be_made_never_reaches_the_engine() -> None:
    broken = run_session(BrokenSink())
    assert outcome(broken) == outcome(run_session())
    assert broken.router is not None
    assert broken.router.errors > 180  # every fill, breaker, feed change: counted, not raised


def test_kinds_left_out_are_not_subscribed() -> None:
    sink = ListSink()
    engine = Engine([SPOT])
    attach_alerts(engine, sink, kinds=frozenset({AlertKind.KILL_SWITCH}))
    engine.bus.publish(RiskStateChanged(T0, "loss_limit", "day", "tripped", "loss 3%"))
    engine.bus.publish(KillSwitchChanged(T0, False, "operator:bob", "all clear"))
    assert [a.title for a in sink.alerts] == ["kill switch resumed by operator:bob"]


def test_risk_changes_are_graded() -> None:
    sink = ListSink()
    router = AlertRouter(Engine([SPOT]), sink)
    for what, subject, state in [
        ("strategy_pause", "arb", "paused"),
        ("strategy_pause", "arb", "resumed"),
        ("drawdown", "account", "cleared"),
        ("mode", "X", "FULL"),
        ("limit", "max_order_notional", "5000"),
        ("something_new", "x", "on"),
    ]:
        router.on_risk(RiskStateChanged(T0, what, subject, state, "why"))
    assert [(a.kind, a.severity, a.title) for a in sink.alerts] == [
        (AlertKind.STRATEGY_PAUSED, Severity.WARNING, "strategy arb paused"),
        (AlertKind.STRATEGY_PAUSED, Severity.INFO, "strategy arb resumed"),
        (AlertKind.BREAKER, Severity.INFO, "drawdown breaker cleared: sizes back to normal"),
        (AlertKind.VENUE_MODE, Severity.INFO, "X mode FULL"),
        (AlertKind.LIMITS, Severity.WARNING, "risk limit max_order_notional set to 5000"),
        (AlertKind.BREAKER, Severity.WARNING, "something_new x: on"),
    ]


def test_reconciliation_differences_and_a_kill_switch_left_on_are_critical_alerts_at_start() -> None:
    store = InMemoryKillSwitchStore()
    store.append(KillSwitchChanged(T0, True, "operator:alice", "exchange incident"))
    engine = Engine([SPOT])
    risk = RiskEngine(kill_switch_store=store)
    risk.attach(engine)
    sink = ListSink()
    router = attach_alerts(engine, sink, risk=risk)
    differences = [f"BINANCE order a.x-{n} is accepted in the engine but not open at the venue" for n in range(25)]
    router.reconciliation(differences, T0)
    router.reconciliation([], T0)  # nothing to say
    start, reconciliation = sink.alerts
    assert (start.kind, start.severity) == (AlertKind.KILL_SWITCH, Severity.CRITICAL)
    assert start.title == "kill switch still ENGAGED at start (by operator:alice)"
    assert reconciliation.severity is Severity.CRITICAL
    assert reconciliation.title == "reconciliation: 25 difference(s); not trading"
    assert reconciliation.body.count("\n- ") == 19
    assert reconciliation.body.endswith("... and 5 more")
    router.close()
    assert sink.closed == 1


def test_the_engine_and_everything_below_the_runtime_never_import_alerts() -> None:
    """The engine publishes; whoever listens is wired in by the runtime (paper and live only)."""
    for package in ("domain", "engine", "risk", "strategy", "execution", "venues", "analytics", "data"):
        for path in (SRC / package).rglob("*.py"):
            assert "spreadhawk.alerts" not in path.read_text(), path
