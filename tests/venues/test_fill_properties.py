"""Properties of simulated fills over random books, trades and orders (market/limit/IOC/FOK/post-only/quote).

Checked after every run: no order fills beyond its size (or its quote budget), every fill respects the
order's limit, a FOK fills all or nothing, a post-only never takes, the venue's own account and the
engine's portfolio agree, and no spot balance is ever negative (checked posting by posting).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from hypothesis import event, given, settings
from hypothesis import strategies as st
from sim_harness import SPOT, VENUE, Action, Harness, run

from spreadhawk.domain.events import Liquidity, OrderEvent, OrderFilled, OrderSide, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, BookSnapshot, MarketData, TradeTick
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.engine.context import StrategyContext

D = Decimal
# a perpetual settled in its own currency, so the spot balances stay a pure spot matter
PERP = Instrument(
    VENUE,
    "ETH-PERP",
    InstrumentKind.PERPETUAL,
    "ETH",
    "USD",
    tick_size=D("0.5"),
    lot_size=D(1),
    maker_fee=D("0.0002"),
    taker_fee=D("0.0005"),
    contract_size=D("0.1"),
)
INSTRUMENTS = (SPOT, PERP)
SPOT_ASSETS = (SPOT.base, SPOT.quote)
KINDS = ("market", "limit", "limit", "limit", "ioc", "fok", "post", "post", "quote")  # resting ones weighted up
STEP = 1_000


@dataclass(frozen=True)
class OrderSpec:
    inst: int
    side: OrderSide
    kind: str
    lots: int
    price_ticks: int

    def submit(self, ctx: StrategyContext) -> None:
        inst = INSTRUMENTS[self.inst]
        qty = self.lots * inst.lot_size
        price = inst.price(self.price_ticks)
        if self.kind == "market":
            ctx.submit(inst.id, self.side, qty)
        elif self.kind == "quote":
            ctx.submit(inst.id, OrderSide.BUY, D(0), quote_quantity=qty * price)
        elif self.kind == "limit":
            ctx.submit(inst.id, self.side, qty, price=price)
        elif self.kind == "post":
            ctx.submit(inst.id, self.side, qty, price=price, post_only=True)
        else:
            tif = TimeInForce.IOC if self.kind == "ioc" else TimeInForce.FOK
            ctx.submit(inst.id, self.side, qty, price=price, time_in_force=tif)


@dataclass(frozen=True)
class Step:
    record: MarketData
    orders: tuple[OrderSpec, ...]
    cancel: int | None  # index into the strategy's open orders


@dataclass(frozen=True)
class Scenario:
    steps: list[Step]
    latency: int
    ack_latency: int
    deposits: dict[str, str]
    reactions: tuple[OrderSpec, ...]  # sent one by one from on_order_filled, while reports are delivered


@st.composite
def books(draw: st.DrawFn, inst_index: int, ts: int) -> BookSnapshot:
    mid = draw(st.integers(190, 210))
    best_bid = mid - draw(st.integers(0, 2))
    best_ask = mid + 1 + draw(st.integers(0, 2))

    def side(best: int, direction: int) -> tuple[tuple[int, int], ...]:
        gaps = draw(st.lists(st.integers(1, 3), min_size=0, max_size=5))
        sizes = draw(st.lists(st.integers(1, 30), min_size=len(gaps) + 1, max_size=len(gaps) + 1))
        prices = [best]
        for gap in gaps:
            prices.append(prices[-1] + direction * gap)
        return tuple(zip(prices, sizes, strict=True))

    return BookSnapshot(INSTRUMENTS[inst_index].id, ts, ts, side(best_bid, -1), side(best_ask, 1))


@st.composite
def trades(draw: st.DrawFn, inst_index: int, ts: int) -> TradeTick:
    return TradeTick(
        INSTRUMENTS[inst_index].id,
        ts,
        draw(st.integers(185, 215)),
        draw(st.integers(1, 40)),
        draw(st.sampled_from(Aggressor)),
        f"pub-{ts}",
    )


order_specs = st.builds(
    OrderSpec,
    inst=st.integers(0, 1),
    side=st.sampled_from(OrderSide),
    kind=st.sampled_from(KINDS),
    lots=st.integers(1, 60),
    price_ticks=st.integers(185, 215),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    latency = draw(st.sampled_from((0, 0, 700)))
    ack_latency = draw(st.sampled_from((0, 300))) if latency else 0
    steps: list[Step] = []
    for index in range(draw(st.integers(2, 20))):
        ts = (index + 1) * STEP
        inst_index = draw(st.integers(0, 1))
        # both books exist from the start; later steps mix new snapshots and public trades
        if index < 2:
            record: MarketData = draw(books(index, ts))
        else:
            record = draw(st.one_of(books(inst_index, ts), trades(inst_index, ts)))
        orders = tuple(draw(st.lists(order_specs, max_size=3))) if index >= 1 else ()
        cancel = draw(st.none() | st.integers(0, 5))
        steps.append(Step(record, orders, cancel))
    deposits = {
        "USDT": str(draw(st.integers(0, 5_000))),
        "BTC": str(draw(st.integers(0, 40)) * D("0.1")),
        "USD": str(draw(st.integers(0, 3_000))),
    }
    # Orders sent from a fill report, with or without latency (a nested venue step at zero latency
    # must still report after the outer one: test_engine_learns_fills_in_the_order_the_venue_made_them)
    reactions = tuple(draw(st.lists(order_specs, max_size=4)))
    return Scenario(steps, latency, ack_latency, deposits, reactions)


def step_action(step: Step) -> Action:
    def act(ctx: StrategyContext) -> None:
        for spec in step.orders:
            spec.submit(ctx)
        open_orders = ctx.open_orders()
        if step.cancel is not None and open_orders:
            ctx.cancel(open_orders[step.cancel % len(open_orders)].client_order_id)

    return act


def react(reactions: tuple[OrderSpec, ...]) -> Callable[[StrategyContext, OrderEvent], None]:
    """A strategy that answers its first fills with new orders, from inside the fill report."""
    pending = list(reactions)

    def on_event(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and pending:
            pending.pop(0).submit(ctx)

    return on_event


def check_fills_of(order: Order, fills: list[OrderFilled]) -> None:
    inst = SPOT if order.instrument_id == SPOT.id else PERP
    total = sum((f.quantity for f in fills), D(0))
    assert all(f.quantity > 0 and f.quantity % inst.lot_size == 0 for f in fills)
    assert order.filled_quantity == total
    if order.quote_quantity is None:
        assert total <= order.quantity
    else:
        cost = sum((f.quantity * f.price * inst.contract_size for f in fills), D(0))
        assert cost * (1 + inst.taker_fee) <= order.quote_quantity
    if order.price is not None:
        limit = order.price
        assert all(f.price <= limit if order.side is OrderSide.BUY else f.price >= limit for f in fills)
    if order.time_in_force is TimeInForce.FOK and fills:
        assert total == order.quantity  # all or nothing
    if order.post_only:
        assert all(f.liquidity is Liquidity.MAKER for f in fills)
    if order.time_in_force is not TimeInForce.GTC or order.price is None:
        assert all(f.liquidity is Liquidity.TAKER for f in fills)  # only GTC limits rest
        assert order.is_terminal  # and nothing else is left working once the run has drained


def check_spot_balances(h: Harness) -> None:
    """No spot balance is ever negative, posting by posting, and reservations never exceed balances."""
    running: dict[str, Decimal] = defaultdict(Decimal)
    for posting in h.venue.account.ledger.postings:
        running[posting.asset] += posting.amount
        if posting.asset in SPOT_ASSETS:
            assert running[posting.asset] >= 0, posting
    for asset, amount in h.venue.account.reserved.items():
        assert amount >= 0
        if asset in SPOT_ASSETS:
            assert h.venue.account.free(asset) >= 0


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_fills_respect_orders_and_both_ledgers_agree(scenario: Scenario) -> None:
    actions = {step.record.ts_ns: step_action(step) for step in scenario.steps}
    h = run(
        [s.record for s in scenario.steps],
        actions,
        deposits=scenario.deposits,
        latency_ns=scenario.latency,
        ack_latency_ns=scenario.ack_latency,
        instruments=INSTRUMENTS,
        on_event=react(scenario.reactions),
    )
    fills = h.fills()
    event(f"fills: {'some' if fills else 'none'}")
    event(f"maker fills: {any(f.liquidity is Liquidity.MAKER for f in fills)}")
    event(f"rejected: {any(o.status is OrderStatus.REJECTED for o in h.engine.orders.values())}")
    by_order: dict[ClientOrderId, list[OrderFilled]] = defaultdict(list)
    for f in fills:
        by_order[f.client_order_id].append(f)
    for order in h.engine.orders.values():
        check_fills_of(order, by_order.get(order.client_order_id, []))
    h.assert_books_agree()  # the venue's account and the engine's portfolio saw the same postings
    check_spot_balances(h)
    check_against_the_fills(h, scenario.deposits)


def check_against_the_fills(h: Harness, deposits: dict[str, str]) -> None:
    """The money, recomputed from the fills alone in exact fractions (not from the ledger that
    booked them): each fee is quantity x price x contract size x the maker or taker rate, rounded
    half to even to 1e-8; the spot balances are the deposits plus what each fill moved."""
    balance = {asset: Fraction(deposits.get(asset, "0")) for asset in SPOT_ASSETS}
    for f in h.fills():
        inst = SPOT if f.instrument_id == SPOT.id else PERP
        rate = inst.maker_fee if f.liquidity is Liquidity.MAKER else inst.taker_fee
        exact = Fraction(f.quantity) * Fraction(f.price) * Fraction(inst.contract_size) * Fraction(rate)
        assert Fraction(f.fee) == round(exact, 8), f  # round() of a Fraction: half to even
        if inst is SPOT:
            signed = Fraction(f.quantity) if f.side is OrderSide.BUY else -Fraction(f.quantity)
            balance[SPOT.base] += signed
            balance[SPOT.quote] -= signed * Fraction(f.price) + Fraction(f.fee)
    booked = h.venue.account.ledger.venue_balances(VENUE)
    assert {a: Fraction(booked.get(a, D(0))) for a in SPOT_ASSETS} == balance
