"""A short backtest-like session that makes every kind of engine-side alert: an engine, a simulated
venue, the risk engine and a strategy that trades on every book while the price slides 40 %. Its
fills trip the daily loss limit, then the drawdown breaker halves sizes; a feed drops and comes back,
the venue is put in REDUCED mode, and the operator engages the kill switch (which closes the
position at market)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from spreadhawk.alerts import AlertSink, attach_alerts
from spreadhawk.alerts.router import AlertRouter
from spreadhawk.domain import market as md
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.risk.breakers import Mode
from spreadhawk.risk.config import RiskLimits
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
S = 1_000_000_000
T0 = 1_723_075_200 * S  # 2024-08-08 00:00 UTC
SPOT = Instrument("X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", tick_size=D("0.5"), lot_size=D("0.001"))
STEPS = 400


class Churn(Strategy):
    """Buys 1 then sells 0.5 on alternate books: a fill on nearly every record, a growing long."""

    def __init__(self) -> None:
        super().__init__(StrategyConfig(), "churn")
        self.books = 0

    def on_book_snapshot(self, data: md.BookSnapshot) -> None:
        self.books += 1
        buy = self.books % 2 == 1
        side = OrderSide.BUY if buy else OrderSide.SELL
        self.ctx.submit(SPOT.id, side, D(1) if buy else D("0.5"))


def _limits() -> RiskLimits:
    """Only the loss limits and the drawdown breakers on."""
    keep = {"daily_loss": D("0.02"), "drawdown_halve": D("0.03"), "drawdown_flatten": D("0.05")}
    values: dict[str, Any] = {}
    for f in fields(RiskLimits):
        if f.name in keep:
            values[f.name] = keep[f.name]
        elif f.type in ("Decimal | None", "int | None", "float | None"):
            values[f.name] = None
    return RiskLimits(**values)


def feed() -> list[md.MarketData]:
    records: list[md.MarketData] = []
    for step in range(STEPS):
        ts = T0 + step * S
        if step == 100:
            records.append(md.FeedStatus(SPOT.id, ts, md.FeedState.DISCONNECTED, "socket closed by the exchange"))
        if step == 102:
            records.append(md.FeedStatus(SPOT.id, ts, md.FeedState.LIVE, "resynced from a snapshot"))
        mid = D(100) - D(40) * step / STEPS  # from 100 down to 60
        low = SPOT.ticks(mid.quantize(D("0.5")))
        size = SPOT.units(D(1000))
        records.append(md.BookSnapshot(SPOT.id, ts + 1, step + 1, ((low, size),), ((low + 1, size),)))
    return records


@dataclass
class Session:
    engine: Engine
    risk: RiskEngine
    router: AlertRouter | None


def run_session(alerts: AlertSink | None = None) -> Session:
    engine = Engine([SPOT], valuation_currency="USDT", equity_interval_ns=S)
    venue = SimulatedVenue("X", balances={"USDT": D(10_000)})
    connect_simulated(engine, venue)
    risk = RiskEngine(_limits())
    risk.attach(engine)
    engine.use_risk(risk)
    attach_strategy(engine, Churn())
    router = attach_alerts(engine, alerts, risk=risk) if alerts is not None else None
    engine.schedule(T0 + 250 * S, lambda: risk.impose_venue_mode("X", Mode.REDUCED, "slow acknowledgements"))

    def kill() -> None:
        risk.engage_kill_switch("operator:test", "scenario 20", flatten=True)

    engine.schedule(T0 + 300 * S, kill)
    run_replay(engine, feed())
    return Session(engine, risk, router)


def outcome(session: Session) -> tuple[object, ...]:
    """Everything the session decided: fills, final orders, positions, balances, risk records."""
    engine = session.engine
    return (
        list(engine.fills),
        sorted((cid, o.status, o.filled_quantity) for cid, o in engine.orders.items()),
        sorted((iid, p.quantity, p.avg_price, p.realized_pnl) for iid, p in engine.portfolio.positions.items()),
        sorted(engine.portfolio.ledger.venue_balances("X").items()),
        list(session.risk.records),
        list(engine.equity_curve),
    )
