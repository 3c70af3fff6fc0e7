"""RELIABILITY.md §4.2 scenario 17: two strategies racing for the last room under an exposure cap.

Two strategies buy BTC in random sizes at random instants on a venue with random order latency, so
orders of one are in flight (sent, not yet acknowledged or filled) when the other decides. Whatever
the interleaving (Hypothesis explores them: at least 25 per CI run, derandomized), the BTC exposure
the account could reach — the position plus every buy still in flight, valued at the mark — never
exceeds the cap (``max_asset_fraction`` of equity): in-flight orders count as exposure.
The exposure is recomputed here from the engine's orders and position, not from the risk engine's
own book.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from risk_harness import BUY, FREE_SPOT, T0, Action, Script, book_at, build, no_limits

from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import ORDER_EVENTS, StrategyContext
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy

D = Decimal
MS = 1_000_000
PRICE = "100"  # one-level book 100 / 100.5: mark 100.25; no price moves, so the cap is exact
EQUITY = D(10_000)
CAP_FRACTION = D("0.10")
LIVE = (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL,
        OrderStatus.UNKNOWN)  # fmt: skip  # at most 1,000 USDT of BTC: about 10 BTC


class Racer(Script):
    """The harness's scripted strategy under another id."""

    def __init__(self, strategy_id: str) -> None:
        super().__init__()
        self.id = strategy_id


decisions = st.lists(
    st.tuples(st.integers(0, 1), st.integers(1, 60), st.sampled_from(["0.5", "1", "2", "3.5"])),
    min_size=4,
    max_size=14,
)


@settings(max_examples=25, deadline=None)
@given(plan=decisions, latency_ms=st.integers(1, 40))
def test_exposure_never_exceeds_the_cap_whatever_the_interleaving(
    plan: list[tuple[int, int, str]], latency_ms: int
) -> None:
    run = build(no_limits(max_asset_fraction=CAP_FRACTION), latency_ns=latency_ms * MS, ack_latency_ns=latency_ms * MS)
    racers = [run.script, Racer("racer")]
    attach_strategy(run.engine, racers[1])
    worst: list[Decimal] = []

    def check(_event: object) -> None:
        engine = run.engine
        mark = D(PRICE) + D("0.25")
        held = engine.portfolio.position(FREE_SPOT.id).quantity
        in_flight = sum(
            (o.quantity - o.filled_quantity for o in engine.orders.values() if o.status in LIVE and o.side is BUY), D(0)
        )
        worst.append((held + in_flight) * mark)

    for event_type in ORDER_EVENTS:
        run.engine.bus.subscribe(event_type, check)
    feed = []
    at = T0
    for who, gap_ms, qty in plan:
        at += gap_ms * MS
        racer = racers[who]
        feed.append(book_at(at, PRICE))
        racer.actions[at] = _buy(qty)
    feed.append(book_at(at + 500 * MS, PRICE))
    run_replay(run.engine, [book_at(T0, PRICE), *feed])

    cap = CAP_FRACTION * EQUITY
    assert worst, "no order event: nothing was tested"
    assert max(worst) <= cap, f"exposure reached {max(worst)} > cap {cap}"
    assert run.engine.portfolio.position(FREE_SPOT.id).quantity > 0  # orders did fill: the race was run


def _buy(quantity: str) -> Action:
    def act(ctx: StrategyContext) -> None:
        ctx.submit(FREE_SPOT.id, BUY, D(quantity))

    return act
