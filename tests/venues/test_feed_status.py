"""A live feed's word that a stream broke (gap, stale, disconnected) makes the book invalid at once:
nothing is priced from it, an order sent meanwhile is refused by the venue, and the next snapshot
(the feed's resync) makes it valid again."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_harness import SPOT, deltas, snapshot, submit
from sim_harness import run as run_harness

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.market import FeedState, FeedStatus, MarketData
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext


@pytest.mark.parametrize("state", [FeedState.GAP, FeedState.STALE, FeedState.DISCONNECTED])
def test_a_broken_stream_invalidates_the_book_until_the_resync_snapshot(state: FeedState) -> None:
    seen: list[tuple[int, bool]] = []

    def look(ctx: StrategyContext) -> None:
        seen.append((ctx.now_ns(), ctx.book(SPOT.id).is_valid))

    def look_and_buy(ctx: StrategyContext) -> None:
        look(ctx)
        submit(OrderSide.BUY, "0.1")(ctx)

    feed: list[MarketData] = [
        snapshot(1, bids=[("99", "5")], asks=[("101", "5")]),
        FeedStatus(SPOT.id, 2, state, "test"),
        deltas(3, 2, asks=[("101", "4")]),  # diffs after the break do not revive the book
        snapshot(4, bids=[("99", "5")], asks=[("100.5", "5")], seq=9),  # the resync
    ]
    h = run_harness(feed, {1: look, 3: look_and_buy, 4: look_and_buy})
    assert seen == [(1, True), (3, False), (4, True)]
    refused, filled = h.order("script-1"), h.order("script-2")
    assert refused.status is OrderStatus.REJECTED
    assert "book unavailable" in refused.reason
    assert f"feed {state.name.lower()}" in refused.reason
    assert filled.status is OrderStatus.FILLED
    assert h.fills("script-2")[0].price == Decimal("100.5")


def test_a_live_status_leaves_a_valid_book_alone() -> None:
    seen: list[bool] = []
    feed: list[MarketData] = [
        snapshot(1, bids=[("99", "5")], asks=[("101", "5")]),
        FeedStatus(SPOT.id, 2, FeedState.LIVE, "resynced"),
    ]
    run_harness(feed, {1: lambda ctx: None}, timers={2: lambda ctx: seen.append(ctx.book(SPOT.id).is_valid)})
    assert seen == [True]
