"""A real ``Engine`` + ``SimulatedVenue`` + a scripted test strategy, for venue tests.

``Script`` is a ``Strategy`` whose actions are plain functions of the context, keyed by the time of
the market-data record after which they run (or run as timers). It records every order event it
receives, so tests read what the strategy saw, not the venue's internals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from spreadhawk.domain import events as ev
from spreadhawk.domain import market as md
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Level
from spreadhawk.domain.orders import Order
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
VENUE = "X"
SPOT = Instrument(
    VENUE,
    "BTC/USDT",
    InstrumentKind.SPOT,
    "BTC",
    "USDT",
    tick_size=D("0.5"),
    lot_size=D("0.1"),
    maker_fee=D("0.0002"),
    taker_fee=D("0.001"),
)
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
BARS = Instrument(
    VENUE, "ETH/USDT", InstrumentKind.SPOT, "ETH", "USDT", tick_size=D("0.5"), lot_size=D("0.1"), taker_fee=D("0.001")
)
INSTRUMENTS = (SPOT, PERP, BARS)

Action = Callable[[StrategyContext], None]


def ticks(price: str, inst: Instrument = SPOT) -> int:
    return inst.ticks(D(price))


def units(size: str, inst: Instrument = SPOT) -> int:
    return inst.units(D(size))


def levels(*pairs: tuple[str, str], inst: Instrument = SPOT) -> tuple[Level, ...]:
    """Book levels from human prices and sizes: ``levels(("100", "1.0"), ("99.5", "2"))``."""
    return tuple((ticks(p, inst), units(s, inst)) for p, s in pairs)


def snapshot(
    ts: int,
    bids: Iterable[tuple[str, str]],
    asks: Iterable[tuple[str, str]],
    *,
    seq: int = 1,
    inst: Instrument = SPOT,
) -> md.BookSnapshot:
    return md.BookSnapshot(inst.id, ts, seq, levels(*bids, inst=inst), levels(*asks, inst=inst))


def deltas(
    ts: int,
    seq: int,
    bids: Iterable[tuple[str, str]] = (),
    asks: Iterable[tuple[str, str]] = (),
    *,
    prev: int | None = None,
    inst: Instrument = SPOT,
) -> md.BookDeltas:
    return md.BookDeltas(
        inst.id, ts, seq, seq, seq - 1 if prev is None else prev, levels(*bids, inst=inst), levels(*asks, inst=inst)
    )


def trade(ts: int, price: str, size: str, aggressor: md.Aggressor, *, inst: Instrument = SPOT) -> md.TradeTick:
    return md.TradeTick(inst.id, ts, ticks(price, inst), units(size, inst), aggressor, f"pub-{ts}")


class Script(Strategy):
    """Runs ``actions[ts]`` once, right after the first market-data record at ``ts``; records order events."""

    def __init__(self, actions: Mapping[int, Action] | None = None) -> None:
        super().__init__(StrategyConfig(), "script")
        self.actions: dict[int, Action] = dict(actions or {})
        self.events: list[ev.OrderEvent] = []
        self.market: list[md.MarketData] = []
        # called with every order event after it is recorded: lets a test react the way a strategy would
        self.on_event: Callable[[StrategyContext, ev.OrderEvent], None] | None = None

    def _data(self, data: md.MarketData) -> None:
        self.market.append(data)
        action = self.actions.pop(data.ts_ns, None)
        if action is not None:
            action(self.ctx)

    def _order(self, event: ev.OrderEvent) -> None:
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(self.ctx, event)

    # market data
    def on_book_snapshot(self, data: md.BookSnapshot) -> None:
        self._data(data)

    def on_book_deltas(self, data: md.BookDeltas) -> None:
        self._data(data)

    def on_quote_tick(self, data: md.QuoteTick) -> None:
        self._data(data)

    def on_trade_tick(self, data: md.TradeTick) -> None:
        self._data(data)

    def on_bar(self, data: md.Bar) -> None:
        self._data(data)

    def on_funding_rate(self, data: md.FundingRate) -> None:
        self._data(data)

    def on_mark_price(self, data: md.MarkPrice) -> None:
        self._data(data)

    # order events
    def on_order_denied(self, event: ev.OrderDenied) -> None:
        self._order(event)

    def on_order_submitted(self, event: ev.OrderSubmitted) -> None:
        self._order(event)

    def on_order_accepted(self, event: ev.OrderAccepted) -> None:
        self._order(event)

    def on_order_rejected(self, event: ev.OrderRejected) -> None:
        self._order(event)

    def on_order_filled(self, event: ev.OrderFilled) -> None:
        self._order(event)

    def on_order_canceled(self, event: ev.OrderCanceled) -> None:
        self._order(event)

    def on_order_cancel_rejected(self, event: ev.OrderCancelRejected) -> None:
        self._order(event)


@dataclass
class Harness:
    engine: Engine
    venue: SimulatedVenue
    script: Script

    # --- what happened ------------------------------------------------------------------
    def order(self, coid: str) -> Order:
        return self.engine.orders[ClientOrderId(coid)]

    def fills(self, coid: str | None = None) -> list[ev.OrderFilled]:
        return [f for f in self.engine.fills if coid is None or f.client_order_id == coid]

    def events_of(self, coid: str) -> list[ev.OrderEvent]:
        return [e for e in self.script.events if e.client_order_id == coid]

    def kinds(self, coid: str) -> list[str]:
        return [type(e).__name__ for e in self.events_of(coid)]

    def balance(self, asset: str) -> Decimal:
        return self.engine.portfolio.ledger.balance(VENUE, asset)

    def reserved(self, asset: str) -> Decimal:
        return self.venue.account.reserved.get(asset, D(0))

    def funding_postings(self) -> list[ev.BalancePosted]:
        return [p for p in self.engine.portfolio.ledger.postings if p.reason is ev.PostingReason.FUNDING]

    def position(self, iid: InstrumentId) -> Decimal:
        return self.engine.portfolio.position(iid).quantity

    def assert_books_agree(self) -> None:
        """The venue's own account and the engine's portfolio saw the same money and positions."""
        assert self.venue.balances() == self.engine.portfolio.ledger.venue_balances(VENUE)
        # posting by posting, not only in total: same amounts, reasons and references
        assert self.venue.account.ledger.postings == self.engine.portfolio.ledger.postings
        for iid, pos in self.engine.portfolio.positions.items():
            assert self.venue.account.positions[iid].quantity == pos.quantity


def run(
    feed: Iterable[md.MarketData],
    actions: Mapping[int, Action] | None = None,
    *,
    deposits: Mapping[str, Decimal | str] | None = None,
    latency_ns: int = 0,
    ack_latency_ns: int = 0,
    timers: Mapping[int, Action] | None = None,
    instruments: Iterable[Instrument] = INSTRUMENTS,
    on_event: Callable[[StrategyContext, ev.OrderEvent], None] | None = None,
    max_book_age_ns: int | None = None,
) -> Harness:
    """Replay ``feed`` through a fresh engine and venue ``X`` holding ``deposits``."""
    engine = Engine(instruments)
    if max_book_age_ns is not None:
        engine.limit_book_ages(lambda _venue: max_book_age_ns)
    venue = SimulatedVenue(VENUE, latency_ns=latency_ns, ack_latency_ns=ack_latency_ns)
    connect_simulated(engine, venue)
    for asset, amount in (deposits if deposits is not None else {"USDT": "10000"}).items():
        venue.deposit(asset, D(amount))
    script = Script(actions)
    script.on_event = on_event
    attach_strategy(engine, script)
    for ts, action in (timers or {}).items():
        engine.schedule(ts, _bind(action, script))
    run_replay(engine, feed)
    return Harness(engine, venue, script)


def _bind(action: Action, script: Script) -> Callable[[], None]:
    return lambda: action(script.ctx)


def submit(side: ev.OrderSide, qty: str, price: str | None = None, *, inst: Instrument = SPOT, **kwargs: Any) -> Action:
    """An action submitting one order (limit when ``price`` is given)."""

    def act(ctx: StrategyContext) -> None:
        ctx.submit(inst.id, side, D(qty), price=None if price is None else D(price), **kwargs)

    return act


def cancel(coid: str) -> Action:
    def act(ctx: StrategyContext) -> None:
        ctx.cancel(ClientOrderId(coid))

    return act


def chain(*actions: Action) -> Action:
    def act(ctx: StrategyContext) -> None:
        for action in actions:
            action(ctx)

    return act


def totals_by_order(fills: Iterable[ev.OrderFilled]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for f in fills:
        totals[f.client_order_id] += f.quantity
    return dict(totals)
