"""PairedExecutor on a real Engine with two SimulatedVenues (A and B) and a tiny strategy owning it.

Every scenario checks the money against the ledger: the quote a unit moved equals its decision
value (the planned edge when complete or hedged, 0 when unwound) minus slippage, legging loss and
fees, and the base ends balanced (hedged: across venues; unwound: on each venue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest

from spreadhawk.domain import events as ev
from spreadhawk.domain.events import OrderSide, TimeInForce
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, MarketData
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.execution.paired import (
    HedgeMode,
    Leg,
    PairedExecutor,
    PairedExecutorConfig,
    UnitRecord,
    UnitStatus,
)
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
MS = 1_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL
FEE = D("0.001")


def _inst(venue: str) -> Instrument:
    return Instrument(
        venue, "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.5"), D("0.1"), maker_fee=FEE, taker_fee=FEE
    )


A, B = _inst("A"), _inst("B")
START = {"USDT": D(10_000), "BTC": D(10)}


def _snap(inst: Instrument, ts: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> BookSnapshot:
    def levels(side: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
        return tuple((inst.ticks(D(p)), inst.units(D(s))) for p, s in side)

    return BookSnapshot(inst.id, ts, ts + 1, levels(bids), levels(asks))


class Pair(Strategy):
    """Submits ``plan[ts]`` as one unit after the first book at ``ts``; records its order events."""

    def __init__(self, config: PairedExecutorConfig, plan: Mapping[int, list[Leg]], stray: bool = False) -> None:
        super().__init__(StrategyConfig(), "pair")
        self.exec_config = config
        self.plan = dict(plan)
        self.stray = stray  # also send one order by hand, which the executor must ignore
        self.executor: PairedExecutor | None = None
        self.seen: list[ev.OrderEvent] = []

    def attach(self, ctx: StrategyContext) -> None:
        super().attach(ctx)
        self.executor = PairedExecutor(ctx, self.exec_config)

    def on_book_snapshot(self, snap: BookSnapshot) -> None:
        legs = self.plan.pop(snap.ts_ns, None)
        if legs is not None:
            assert self.executor is not None
            if self.stray:
                self.ctx.submit(A.id, BUY, D("0.1"), price=D(50))  # rests far below the market
            self.executor.submit(legs, tag="arb")

    def _seen(self, event: ev.OrderEvent) -> None:
        self.seen.append(event)  # the executor hears of its orders itself: nothing to forward

    on_order_accepted = on_order_rejected = on_order_denied = on_order_filled = _seen
    on_order_canceled = on_order_expired = on_order_cancel_rejected = on_order_submitted = _seen


@dataclass
class Run:
    engine: Engine
    strategy: Pair

    @property
    def unit(self) -> UnitRecord:
        assert self.strategy.executor is not None
        (unit,) = self.strategy.executor.units.values()
        return unit

    def delta(self, venue: str, asset: str) -> Decimal:
        return self.engine.portfolio.ledger.balance(venue, asset) - START[asset]

    def quote_moved(self) -> Decimal:
        return self.delta("A", "USDT") + self.delta("B", "USDT")

    def check_money(self, decision_value: Decimal) -> None:
        unit = self.unit
        fees = unit.fees.get("USDT", D(0))
        assert self.quote_moved() == decision_value - unit.slippage - unit.legging_loss - fees


def _run(
    records: Iterable[MarketData],
    legs: list[Leg],
    *,
    config: PairedExecutorConfig | None = None,
    latency_b: int = 0,
    ack_latency_b: int = 0,
    balances: Mapping[str, Mapping[str, Decimal]] | None = None,
    stray: bool = False,
) -> Run:
    engine = Engine([A, B])
    venues = {
        "A": SimulatedVenue("A"),
        "B": SimulatedVenue("B", latency_ns=latency_b, ack_latency_ns=ack_latency_b),
    }
    for name, venue in venues.items():
        connect_simulated(engine, venue)
        for asset, amount in (balances or {}).get(name, START).items():
            venue.deposit(asset, amount)
    strategy = Pair(config or PairedExecutorConfig(max_legging_loss=D(5)), {0: legs}, stray=stray)
    attach_strategy(engine, strategy)
    run_replay(engine, sorted(records, key=lambda r: (r.ts_ns, r.instrument_id)))
    for name, venue in venues.items():  # the venue and the engine saw the same money
        assert {k: v for k, v in venue.balances().items() if v} == {
            k: v for k, v in engine.portfolio.ledger.venue_balances(name).items() if v
        }
    return Run(engine, strategy)


def _books(a_bids: str = "99", a_asks: str = "100", b_bids: str = "101", b_asks: str = "102") -> list[MarketData]:
    return [_snap(A, 0, [(a_bids, "5")], [(a_asks, "5")]), _snap(B, 0, [(b_bids, "5")], [(b_asks, "5")])]


BUY_A = Leg(A.id, BUY, D(1), D(100), D(100))
SELL_B = Leg(B.id, SELL, D(1), D(101), D(101))
EDGE = D(1)  # 101 - 100 on one unit


# =========================================================================== (a) both legs fill
def test_both_legs_fill_complete_with_slippage_against_the_decision_price() -> None:
    records = [
        _snap(A, 0, [("99", "5")], [("100", "0.5"), ("100.5", "5")]),
        _snap(B, 0, [("101", "5")], [("102", "5")]),
    ]
    buy = Leg(A.id, BUY, D(1), D("100.5"), D(100))  # limit one level deeper than the decision
    run = _run(records, [buy, SELL_B], stray=True)
    unit = run.unit
    assert unit.status is UnitStatus.COMPLETE
    assert (unit.filled(0), unit.filled(1)) == (D(1), D(1))
    assert (unit.avg_price(0), unit.avg_price(1)) == (D("100.25"), D(101))
    assert unit.slippage == D("0.25")  # 0.5 @ 100 + 0.5 @ 100.5 against 100
    assert unit.hedges == []
    assert unit.legging_loss == 0
    assert unit.fees == {"USDT": FEE * (D("100.25") + D(101))}
    assert unit.tag == "arb"
    assert unit.closed_ns == 0
    run.check_money(EDGE)
    assert run.delta("A", "BTC") + run.delta("B", "BTC") == 0
    # the stray order is the strategy's, not the executor's: still resting, not part of the unit
    assert run.engine.orders["pair-1"].status is OrderStatus.ACCEPTED  # type: ignore[index]
    assert [o.client_order_id for o in unit.leg_orders] == ["pair-2", "pair-3"]
    assert run.strategy.executor is not None
    stats = run.strategy.executor.stats()
    assert (stats["units"], stats["complete"], stats["total_slippage"]) == (1, 1, D("0.25"))
    assert not run.strategy.executor.is_busy


# =========================================================================== (b) a leg arrives too late
def test_leg_that_arrives_after_the_book_moved_is_completed_at_market() -> None:
    # B's bid falls from 101 to 100.5 while the sell travels (5 ms): the IOC finds nothing.
    records = [*_books(), _snap(B, 1 * MS, [("100.5", "5")], [("101.5", "5")])]
    run = _run(records, [BUY_A, SELL_B], latency_b=5 * MS)
    unit = run.unit
    assert unit.status is UnitStatus.HEDGED
    assert [o.status for o in unit.leg_orders] == [OrderStatus.FILLED, OrderStatus.CANCELED]
    (hedge,) = unit.hedges
    assert (hedge.leg, hedge.mode, hedge.order.side, hedge.order.filled) == (1, HedgeMode.COMPLETE, SELL, D(1))
    assert hedge.order.avg_price == D("100.5")
    assert unit.estimated_completion_cost == D("0.5") == unit.legging_loss
    assert unit.closed_ns == 10 * MS  # judged when the leg's cancel arrived (5 ms), hedge filled 5 ms later
    run.check_money(EDGE)  # hedged: the planned edge, less 0.5 legging loss and fees
    assert run.delta("A", "BTC") + run.delta("B", "BTC") == 0


def test_completion_dearer_than_the_loss_bound_is_unwound_instead() -> None:
    records = [*_books(), _snap(B, 1 * MS, [("90", "5")], [("91", "5")])]
    run = _run(records, [BUY_A, SELL_B], latency_b=5 * MS)
    unit = run.unit
    assert unit.status is UnitStatus.UNWOUND
    assert unit.estimated_completion_cost == D(11)  # 101 - 90 > max_legging_loss 5
    assert "unwound" in unit.note
    (hedge,) = unit.hedges
    assert (hedge.leg, hedge.mode, hedge.order.instrument_id, hedge.order.side) == (0, HedgeMode.UNWIND, A.id, SELL)
    assert unit.legging_loss == D(1)  # bought at 100, sold back at A's bid 99
    run.check_money(D(0))  # unwound: worth nothing at decision prices
    assert run.delta("A", "BTC") == 0
    assert run.delta("B", "BTC") == 0


def test_deadline_cancels_a_leg_whose_report_is_late_and_hedges_only_after_it_resolves() -> None:
    # B's reports take 50 ms to come back, longer than hedge_after_ms: the leg is not assumed dead.
    records = [*_books(), _snap(B, 1 * MS, [("100.5", "5")], [("101.5", "5")])]
    config = PairedExecutorConfig(max_legging_loss=D(5), hedge_after_ms=20)
    run = _run(records, [BUY_A, SELL_B], config=config, latency_b=5 * MS, ack_latency_b=50 * MS)
    unit = run.unit
    # the cancel sent at the deadline (20 ms) reaches B at 25 ms, after the IOC had ended there
    refused = [e for e in run.strategy.seen if isinstance(e, ev.OrderCancelRejected)]
    assert [(e.ts_ns, e.client_order_id) for e in refused] == [(25 * MS, unit.leg_orders[1].client_order_id)]
    assert unit.status is UnitStatus.HEDGED
    (hedge,) = unit.hedges
    hedge_order = run.engine.orders[hedge.order.client_order_id]
    assert hedge_order.ts_init == 55 * MS  # sent when the leg's cancel report arrived, not at the deadline
    assert unit.note.startswith("deadline: canceled 1 leg")
    run.check_money(EDGE)


# =========================================================================== (c) a leg is rejected
def test_rejected_leg_is_unwound_even_in_complete_mode() -> None:
    balances = {"A": START, "B": {"USDT": D(10_000)}}  # B holds no BTC to sell
    run = _run(_books(), [BUY_A, SELL_B], balances=balances)
    unit = run.unit
    assert [o.status for o in unit.leg_orders] == [OrderStatus.FILLED, OrderStatus.REJECTED]
    assert unit.status is UnitStatus.UNWOUND
    assert unit.estimated_completion_cost is None
    assert "refused" in unit.note
    assert unit.legging_loss == D(1)
    assert len(run.engine.orders) == 3
    run.check_money(D(0))
    assert run.delta("A", "BTC") == 0


# =========================================================================== (d) the hedge is rejected
def test_rejected_hedge_fails_the_unit_with_its_exposure_and_is_not_retried() -> None:
    # A sells 1 BTC at 101 (A holds no USDT); B cannot buy (no USDT) -> unwind = buy back 1 on A at
    # 102, which the 101 USDT received cannot pay for. Later books must not trigger anything.
    balances = {"A": {"BTC": D(10)}, "B": {"BTC": D(10)}}
    legs = [Leg(A.id, SELL, D(1), D(101), D(101)), Leg(B.id, BUY, D(1), D(100), D(100))]
    records = [
        _snap(A, 0, [("101", "5")], [("102", "5")]),
        _snap(B, 0, [("99", "5")], [("100", "5")]),
        *(_snap(A, t * MS, [("101", "5")], [("102", "5")]) for t in (10, 2_000, 5_000)),
    ]
    run = _run(records, legs, balances=balances)
    unit = run.unit
    assert unit.status is UnitStatus.FAILED
    (hedge,) = unit.hedges
    assert hedge.order.status is OrderStatus.REJECTED
    assert hedge.order.side is BUY
    assert unit.unhedged == {A.id: D(1)}  # still needs buying back on A
    assert "rejected" in unit.note
    assert len(run.engine.orders) == 3  # two legs, one hedge: no retry
    assert run.strategy.executor is not None
    assert not run.strategy.executor.is_busy
    assert run.strategy.executor.stats()["failed"] == 1


# =========================================================================== (e) partial fill
@pytest.mark.parametrize("mode", [HedgeMode.COMPLETE, HedgeMode.UNWIND])
def test_partial_fill_hedges_only_the_difference(mode: HedgeMode) -> None:
    records = [
        _snap(A, 0, [("99", "5")], [("100", "0.6"), ("100.5", "5")]),
        _snap(B, 0, [("101", "5")], [("102", "5")]),
    ]
    config = PairedExecutorConfig(max_legging_loss=D(5), hedge_mode=mode)
    run = _run(records, [BUY_A, SELL_B], config=config)
    unit = run.unit
    assert (unit.filled(0), unit.filled(1)) == (D("0.6"), D(1))
    (hedge,) = unit.hedges
    assert hedge.order.quantity == hedge.order.filled == D("0.4")
    if mode is HedgeMode.COMPLETE:
        # buy the missing 0.4 on A: 100 is gone (we took it), so it pays 100.5
        assert unit.status is UnitStatus.HEDGED
        assert (hedge.leg, hedge.order.side, hedge.order.avg_price) == (0, BUY, D("100.5"))
        assert unit.legging_loss == D("0.2")
        assert unit.estimated_completion_cost == D(0)  # the engine's book still showed 100: optimistic
        run.check_money(EDGE)
        assert run.delta("A", "BTC") + run.delta("B", "BTC") == 0
    else:
        # buy back the excess 0.4 on B at its ask 102
        assert unit.status is UnitStatus.UNWOUND
        assert (hedge.leg, hedge.order.side, hedge.order.avg_price) == (1, BUY, D(102))
        assert unit.legging_loss == D("0.4")
        run.check_money(EDGE * D("0.6"))  # 0.6 of the pair stays on, worth its share of the edge
        assert run.delta("A", "BTC") == D("0.6") == -run.delta("B", "BTC")


# =========================================================================== edges
def test_nothing_filled_is_missed_and_needs_no_hedge() -> None:
    run = _run(_books(a_asks="100.5", b_bids="100.5"), [BUY_A, SELL_B])
    assert run.unit.status is UnitStatus.MISSED
    assert run.unit.hedges == []
    assert run.quote_moved() == 0


def test_config_and_legs_are_validated() -> None:
    with pytest.raises(ValueError, match="hedge_after_ms"):
        PairedExecutorConfig(max_legging_loss=D(1), hedge_after_ms=-1)
    with pytest.raises(ValueError, match="max_legging_loss"):
        PairedExecutorConfig(max_legging_loss=D(-1))
    with pytest.raises(ValueError, match="positive"):
        Leg(A.id, BUY, D(0), None, D(100))
    config = PairedExecutorConfig(max_legging_loss=D(1), hedge_mode="unwind", time_in_force="gtc")  # type: ignore[arg-type]
    assert (config.hedge_mode, config.time_in_force) == (HedgeMode.UNWIND, TimeInForce.GTC)


def test_legs_of_unequal_size_unwind_exactly_the_excess_fraction() -> None:
    # A buys 0.3 but only 0.1 is offered (1/3 filled); B sells 0.9 in full. Unwind keeps 1/3 of B's
    # leg (0.3) and buys back exactly 0.6: no 0.5999... from decimal division.
    records = [
        _snap(A, 0, [("99", "5")], [("100", "0.1"), ("105", "5")]),
        _snap(B, 0, [("101", "5")], [("102", "5")]),
    ]
    legs = [Leg(A.id, BUY, D("0.3"), D(100), D(100)), Leg(B.id, SELL, D("0.9"), D(101), D(101))]
    config = PairedExecutorConfig(max_legging_loss=D(5), hedge_mode=HedgeMode.UNWIND)
    run = _run(records, legs, config=config)
    unit = run.unit
    assert unit.status is UnitStatus.UNWOUND
    (hedge,) = unit.hedges
    assert (hedge.leg, hedge.order.side, hedge.order.quantity) == (1, BUY, D("0.6"))
    assert unit.unhedged == {}
    assert unit.legging_loss == D("0.6")  # bought back at 102 against 101
