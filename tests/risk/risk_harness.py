"""An engine + simulated venue + risk engine + scripted strategy, driven by a hand-built feed.

The feed is a list of book snapshots on X:BTC/USDT (tick 0.5, lot 0.1, no fees unless asked) at
chosen mids; actions run right after the snapshot at their time (or as timers). The venue records
every command that reaches it, so a test can show that a denied order never left the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from spreadhawk.domain import events as ev
from spreadhawk.domain import market as md
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.risk.config import NS_PER_S, RiskLimits
from spreadhawk.risk.kill_switch import KillSwitchStore
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
S = NS_PER_S
T0 = 1_704_153_600 * S  # 2024-01-02 00:00 UTC, a Tuesday
VENUE = "X"
FREE_SPOT = Instrument(VENUE, "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", tick_size=D("0.5"), lot_size=D("0.1"))
PERP = Instrument(
    VENUE,
    "BTC-PERP",
    InstrumentKind.PERPETUAL,
    "BTC",
    "USDT",
    tick_size=D("0.5"),
    lot_size=D(1),
    contract_size=D("0.1"),
)
INSTRUMENTS = (FREE_SPOT, PERP)
Action = Callable[[StrategyContext], None]


class Script(Strategy):
    """Runs ``actions[ts]`` once, right after the first market-data record at ``ts``; records order events."""

    def __init__(self) -> None:
        super().__init__(StrategyConfig(), "script")
        self.actions: dict[int, Action] = {}
        self.events: list[ev.OrderEvent] = []

    def on_book_snapshot(self, data: md.BookSnapshot) -> None:
        action = self.actions.pop(data.ts_ns, None)
        if action is not None:
            action(self.ctx)

    def on_order_denied(self, event: ev.OrderDenied) -> None:
        self.events.append(event)

    def on_order_filled(self, event: ev.OrderFilled) -> None:
        self.events.append(event)


def no_limits(**only: Any) -> RiskLimits:
    """Every limit and breaker off, except those given: each test isolates the one it drives."""
    off: dict[str, Any] = {}
    for f in fields(RiskLimits):
        if f.name in only:
            off[f.name] = only[f.name]
        elif f.type in ("Decimal | None", "int | None", "float | None"):
            off[f.name] = None
    return RiskLimits(**off)


def book_at(ts: int, bid: str, *, depth: str = "1000") -> md.BookSnapshot:
    """A one-level book: ``bid``, ask one tick (0.5) above, so the mark (mid) is bid + 0.25."""
    inst = FREE_SPOT
    low, size = inst.ticks(D(bid)), inst.units(D(depth))
    return md.BookSnapshot(inst.id, ts, 1, ((low, size),), ((low + 1, size),))


class RecordingVenue(SimulatedVenue):
    """A simulated venue that remembers every command that reached it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[ev.SubmitOrder] = []

    def submit(self, command: ev.SubmitOrder) -> None:
        self.received.append(command)
        super().submit(command)


@dataclass
class RiskRun:
    engine: Engine
    venue: RecordingVenue
    risk: RiskEngine
    script: Script
    ids: list[ClientOrderId] = field(default_factory=list)  # every order the actions submitted, in order

    def order(self, n: int) -> Order:
        """The ``n``-th order the actions submitted (0-based)."""
        return self.engine.orders[self.ids[n]]

    def status(self, n: int) -> OrderStatus:
        return self.order(n).status

    def denied(self, n: int) -> bool:
        return self.status(n) is OrderStatus.DENIED

    def reason(self, n: int) -> str:
        return self.order(n).reason


def build(
    limits: RiskLimits,
    deposits: Mapping[str, str] | None = None,
    *,
    store: KillSwitchStore | None = None,
    latency_ns: int = 0,
    ack_latency_ns: int = 0,
    instruments: Iterable[Instrument] = INSTRUMENTS,
) -> RiskRun:
    engine = Engine(instruments, valuation_currency="USDT", equity_interval_ns=60 * S)
    venue = RecordingVenue(VENUE, latency_ns=latency_ns, ack_latency_ns=ack_latency_ns, leverage=D(10))
    connect_simulated(engine, venue)
    for asset, amount in (deposits if deposits is not None else {"USDT": "10000"}).items():
        venue.deposit(asset, D(amount))
    risk = RiskEngine(limits, store)
    risk.attach(engine)
    engine.use_risk(risk)
    script = Script()
    attach_strategy(engine, script)
    return RiskRun(engine, venue, risk, script)


def play(
    run: RiskRun,
    feed: Sequence[md.MarketData],
    actions: Mapping[int, Action] | None = None,
    timers: Mapping[int, Action] | None = None,
) -> RiskRun:
    run.script.actions.update(actions or {})
    for ts, action in (timers or {}).items():
        run.engine.schedule(ts, _bound(action, run.script))
    run_replay(run.engine, feed)
    return run


def order(
    run: RiskRun, side: ev.OrderSide, qty: str, price: str | None = None, *, inst: Instrument = FREE_SPOT, **kw: Any
) -> Action:
    """An action submitting one order and remembering its id in ``run.ids``."""

    def act(ctx: StrategyContext) -> None:
        placed = ctx.submit(inst.id, side, D(qty), price=None if price is None else D(price), **kw)
        run.ids.append(placed.client_order_id)

    return act


def chain(*actions: Action) -> Action:
    def act(ctx: StrategyContext) -> None:
        for action in actions:
            action(ctx)

    return act


def _bound(action: Action, script: Script) -> Callable[[], None]:
    return lambda: action(script.ctx)


BUY, SELL = ev.OrderSide.BUY, ev.OrderSide.SELL
