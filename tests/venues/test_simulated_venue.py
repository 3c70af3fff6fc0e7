"""The simulated venue driven end to end: Engine + SimulatedVenue + a scripted strategy via ``run_replay``.

Book of most tests (``BOOK``, spot ``X:BTC/USDT``, tick 0.5, lot 0.1, taker 0.1 %, maker 0.02 %)::

    bids 100.0 x 1.0 | 99.5 x 2.0 | 99.0 x 5.0        asks 100.5 x 1.0 | 101.0 x 2.0 | 102.0 x 5.0
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_harness import (
    BARS,
    PERP,
    SPOT,
    Action,
    Harness,
    cancel,
    chain,
    deltas,
    run,
    snapshot,
    submit,
    trade,
)

from spreadhawk.domain.events import Liquidity, OrderEvent, OrderFilled, OrderSide, RejectCode, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.market import Aggressor, Bar, FundingRate, MarketData, MarkPrice
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SELLER, BUYER = Aggressor.SELLER, Aggressor.BUYER
S = OrderStatus
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK
BOOK = snapshot(
    1000,
    bids=[("100", "1.0"), ("99.5", "2.0"), ("99", "5.0")],
    asks=[("100.5", "1.0"), ("101", "2.0"), ("102", "5.0")],
)
WITH_BTC = {"USDT": "10000", "BTC": "10"}


def fills_of(h: Harness, coid: str) -> list[tuple[Decimal, Decimal]]:
    return [(f.quantity, f.price) for f in h.fills(coid)]


# --- market orders sweep depth ----------------------------------------------------------------


def test_market_buy_sweeps_levels_at_their_prices() -> None:
    h = run([BOOK], {1000: submit(BUY, "2.5")})
    assert fills_of(h, "script-1") == [(D("1.0"), D("100.5")), (D("1.5"), D(101))]
    order = h.order("script-1")
    assert order.status is S.FILLED
    assert order.avg_price == D("100.8")  # (100.5 + 151.5) / 2.5
    assert all(f.liquidity is Liquidity.TAKER for f in h.fills())
    assert order.fees == D("0.252")  # 0.1 % of 252
    assert h.kinds("script-1") == ["OrderSubmitted", "OrderAccepted", "OrderFilled", "OrderFilled"]
    assert h.balance("USDT") == D(10000) - D(252) - D("0.252")
    assert h.balance("BTC") == D("2.5")
    h.assert_books_agree()


def test_market_order_larger_than_the_book_fills_the_depth_and_cancels_the_rest() -> None:
    h = run([BOOK], {1000: submit(BUY, "10")})
    assert fills_of(h, "script-1") == [(D(1), D("100.5")), (D(2), D(101)), (D(5), D(102))]
    order = h.order("script-1")
    assert order.status is S.CANCELED
    assert order.filled_quantity == D(8)
    assert h.kinds("script-1")[-1] == "OrderCanceled"
    h.assert_books_agree()


def test_market_sell_sweeps_bids() -> None:
    h = run([BOOK], {1000: submit(SELL, "3.5")}, deposits=WITH_BTC)
    assert fills_of(h, "script-1") == [(D(1), D(100)), (D(2), D("99.5")), (D("0.5"), D(99))]
    assert h.balance("BTC") == D("6.5")
    assert h.balance("USDT") == D(10000) + D("348.5") - D("0.3485")
    h.assert_books_agree()


def test_liquidity_taken_stays_taken_until_the_level_updates() -> None:
    refresh = deltas(2000, 2, asks=[("100.5", "1.0")])
    h = run([BOOK, refresh], {1000: chain(submit(BUY, "1"), submit(BUY, "1")), 2000: submit(BUY, "1")})
    assert fills_of(h, "script-1") == [(D(1), D("100.5"))]
    assert fills_of(h, "script-2") == [(D(1), D(101))]  # 100.5 already taken by our first order
    assert fills_of(h, "script-3") == [(D(1), D("100.5"))]  # the exchange restated the level


# --- IOC / FOK / post-only --------------------------------------------------------------------


def test_ioc_limit_fills_up_to_its_price_and_cancels_the_rest() -> None:
    h = run([BOOK], {1000: submit(BUY, "5", "101", time_in_force=IOC)})
    assert fills_of(h, "script-1") == [(D(1), D("100.5")), (D(2), D(101))]
    assert h.order("script-1").status is S.CANCELED
    assert h.engine.portfolio.ledger.balance("X", "BTC") == D(3)
    assert h.reserved("USDT") == 0  # an IOC never rests
    assert h.script.ctx.open_orders() == []


def test_ioc_sell_limit() -> None:
    h = run([BOOK], {1000: submit(SELL, "4", "99.5", time_in_force=IOC)}, deposits=WITH_BTC)
    assert fills_of(h, "script-1") == [(D(1), D(100)), (D(2), D("99.5"))]
    assert h.order("script-1").status is S.CANCELED


def test_ioc_limit_fully_fillable_is_filled() -> None:
    h = run([BOOK], {1000: submit(BUY, "3", "101", time_in_force=IOC)})
    assert h.order("script-1").status is S.FILLED
    assert h.order("script-1").filled_quantity == D(3)


def test_fok_fills_completely_or_not_at_all() -> None:
    h = run(
        [BOOK],
        {
            1000: chain(
                submit(BUY, "3.5", "101", time_in_force=FOK),  # only 3.0 up to 101: nothing
                submit(BUY, "9", time_in_force=FOK),  # market FOK beyond the depth: nothing
                submit(BUY, "3", "101", time_in_force=FOK),  # exactly fillable: all
            )
        },
    )
    for coid in ("script-1", "script-2"):
        assert h.fills(coid) == []
        assert h.order(coid).status is S.CANCELED
    assert fills_of(h, "script-3") == [(D(1), D("100.5")), (D(2), D(101))]
    assert h.order("script-3").status is S.FILLED
    assert h.balance("BTC") == D(3)
    h.assert_books_agree()


@pytest.mark.parametrize(
    ("side", "price"),
    [(BUY, "100.5"), (BUY, "101"), (SELL, "100"), (SELL, "99")],
    ids=["buy-at-ask", "buy-through", "sell-at-bid", "sell-through"],
)
def test_post_only_that_would_take_is_rejected(side: OrderSide, price: str) -> None:
    h = run([BOOK], {1000: submit(side, "0.5", price, post_only=True)}, deposits=WITH_BTC)
    assert h.order("script-1").status is S.REJECTED
    assert "post-only" in h.order("script-1").reason
    assert h.order("script-1").reject_code is RejectCode.POST_ONLY
    assert h.fills() == []
    assert h.reserved("USDT") == 0
    assert h.reserved("BTC") == 0


def test_post_only_that_rests_is_accepted_and_locks_funds() -> None:
    h = run([BOOK], {1000: submit(BUY, "1", "100", post_only=True)})
    order = h.order("script-1")
    assert order.status is S.ACCEPTED
    assert h.fills() == []
    assert h.reserved("USDT") == D("100.02")  # 100 + 0.02 % maker fee
    assert h.balance("USDT") == D(10000)


# --- resting orders: queue position -----------------------------------------------------------


def test_resting_limit_fills_only_after_the_volume_ahead_has_traded() -> None:
    feed: list[MarketData] = [
        BOOK,
        trade(2000, "100", "0.6", SELLER),  # 1.0 ahead of us -> 0.4 ahead
        trade(3000, "100", "5", BUYER),  # buyers lifting the offer do not reach our bid
        trade(4000, "100", "0.7", SELLER),  # 0.4 ahead traded, 0.3 fills us
        trade(5000, "100", "0.5", SELLER),  # fills the remaining 0.2
    ]
    h = run(feed, {1000: submit(BUY, "0.5", "100")})
    assert [(f.ts_ns, f.quantity, f.price, f.liquidity) for f in h.fills("script-1")] == [
        (4000, D("0.3"), D(100), Liquidity.MAKER),
        (5000, D("0.2"), D(100), Liquidity.MAKER),
    ]
    assert h.order("script-1").status is S.FILLED
    assert h.order("script-1").fees == D("0.01")  # 0.02 % of 50
    assert h.reserved("USDT") == 0
    h.assert_books_agree()


def test_queue_not_reached_means_no_fill() -> None:
    h = run([BOOK, trade(2000, "100", "1.0", SELLER)], {1000: submit(BUY, "0.5", "100")})
    assert h.fills() == []
    assert h.order("script-1").status is S.ACCEPTED


@pytest.mark.parametrize(
    ("side", "price", "through"),
    [(BUY, "100", trade(2000, "99.5", "0.3", SELLER)), (SELL, "100.5", trade(2000, "101", "0.3", BUYER))],
    ids=["buy", "sell"],
)
def test_trade_through_our_price_fills_at_our_price(side: OrderSide, price: str, through: MarketData) -> None:
    h = run([BOOK, through], {1000: submit(side, "0.5", price)}, deposits=WITH_BTC)
    assert [(f.quantity, f.price, f.liquidity) for f in h.fills("script-1")] == [(D("0.3"), D(price), Liquidity.MAKER)]
    assert h.order("script-1").status is S.PARTIALLY_FILLED


def test_shrinking_level_reduces_the_queue_ahead_and_growth_does_not_add_to_it() -> None:
    feed: list[MarketData] = [
        BOOK,
        deltas(2000, 2, bids=[("100", "0.2")]),  # cancels ahead of us: 0.2 ahead
        deltas(3000, 3, bids=[("100", "3.0")]),  # joins behind us: still 0.2 ahead
        trade(4000, "100", "0.5", SELLER),
    ]
    h = run(feed, {1000: submit(BUY, "0.5", "100")})
    assert fills_of(h, "script-1") == [(D("0.3"), D(100))]


def test_book_moving_through_a_resting_order_fills_it_at_its_price() -> None:
    start = snapshot(1000, bids=[("100", "1")], asks=[("101", "2"), ("102", "5"), ("103", "5")])
    moved = deltas(2000, 2, asks=[("101", "0"), ("100.5", "0.4")])
    h = run([start, moved], {1000: submit(BUY, "1", "100.5")})
    assert [(f.ts_ns, f.quantity, f.price, f.liquidity) for f in h.fills("script-1")] == [
        (2000, D("0.4"), D("100.5"), Liquidity.MAKER)
    ]
    h.assert_books_agree()


def test_limit_that_crosses_takes_then_rests_the_remainder() -> None:
    h = run([BOOK, trade(2000, "100.5", "1", SELLER)], {1000: submit(BUY, "1.5", "100.5")})
    assert [(f.quantity, f.price, f.liquidity) for f in h.fills("script-1")] == [
        (D(1), D("100.5"), Liquidity.TAKER),
        (D("0.5"), D("100.5"), Liquidity.MAKER),  # rested at 100.5 with nothing ahead
    ]
    assert h.order("script-1").status is S.FILLED


def test_one_trade_is_not_shared_out_twice_among_our_orders() -> None:
    start = snapshot(1000, bids=[("100", "1")], asks=[("101", "2"), ("102", "5"), ("103", "5")])
    h = run(
        [start, trade(2000, "100.5", "1.0", SELLER)],
        {1000: chain(submit(BUY, "1", "100.5"), submit(BUY, "1", "100.5"))},
    )
    assert sum((f.quantity for f in h.fills()), D(0)) == D("1.0")
    assert fills_of(h, "script-1") == [(D(1), D("100.5"))]  # time priority among equal prices
    assert h.fills("script-2") == []


def test_trade_volume_goes_to_the_best_price_first_then_the_queue() -> None:
    # script-1 bids 100.0 behind the displayed 1.0; script-2 bids 100.5 alone
    start = snapshot(1000, bids=[("100", "1")], asks=[("101", "2"), ("102", "5"), ("103", "5")])
    h = run(
        [start, trade(2000, "100", "2.0", SELLER)],
        {1000: chain(submit(BUY, "0.5", "100"), submit(BUY, "0.6", "100.5"))},
    )
    assert fills_of(h, "script-2") == [(D("0.6"), D("100.5"))]
    assert fills_of(h, "script-1") == [(D("0.4"), D(100))]  # 2.0 - 0.6 - 1.0 ahead
    h.assert_books_agree()


# --- a strategy reacting inside a venue report -----------------------------------------------


def test_order_sent_from_a_fill_handler_does_not_take_the_same_liquidity() -> None:
    def again(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id == "script-1" and event.price == D("100.5"):
            ctx.submit(SPOT.id, BUY, D(2))

    h = run([BOOK], {1000: submit(BUY, "2")}, on_event=again)
    assert fills_of(h, "script-1") == [(D(1), D("100.5")), (D(1), D(101))]
    taken_at_101 = sum((f.quantity for f in h.fills() if f.price == D(101)), D(0))
    assert taken_at_101 <= D(2)  # the book shows 2.0 at 101
    assert fills_of(h, "script-2") == [(D(1), D(101)), (D(1), D(102))]


def test_order_sent_from_a_fill_handler_cannot_overdraw() -> None:
    def again(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id == "script-1" and event.price == D("100.5"):
            ctx.submit(SPOT.id, BUY, D(2))

    # enough for the first order (201.7015) and 101.101 more: the second order can never be afforded
    h = run([BOOK], {1000: submit(BUY, "2")}, on_event=again, deposits={"USDT": "302.8025"})
    assert h.order("script-1").status is S.FILLED
    assert h.balance("USDT") >= 0
    assert h.order("script-2").status is S.REJECTED


def test_reports_of_one_step_go_out_after_the_whole_step() -> None:
    """Both bids are filled by the same book update: a cancel sent from the first fill's handler
    arrives after the step, is refused, and changes nothing (no crash, no fill after a cancel)."""

    def cancel_second(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id == "script-1":
            assert ctx.order(ClientOrderId("script-2")).status is S.ACCEPTED  # its fill is not reported yet
            ctx.cancel(ClientOrderId("script-2"))

    start = snapshot(1000, bids=[("100", "1")], asks=[("101", "2"), ("102", "5"), ("103", "5")])
    crossing = deltas(2000, 2, asks=[("100.5", "2")])  # the offer drops onto our two bids
    h = run(
        [start, crossing],
        {1000: chain(submit(BUY, "0.5", "100.5"), submit(BUY, "0.5", "100.5"))},
        on_event=cancel_second,
    )
    assert h.order("script-1").status is S.FILLED
    assert h.order("script-2").status is S.FILLED
    assert h.kinds("script-2")[-2:] == ["OrderFilled", "OrderCancelRejected"]
    assert h.reserved("USDT") == 0
    h.assert_books_agree()


def test_cancel_from_a_fill_handler_stops_an_order_the_step_did_not_fill() -> None:
    def cancel_second(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id == "script-1":
            ctx.cancel(ClientOrderId("script-2"))

    start = snapshot(1000, bids=[("100", "1")], asks=[("101", "2"), ("102", "5"), ("103", "5")])
    h = run(
        [start, trade(2000, "100.5", "0.5", SELLER), trade(3000, "100.5", "0.5", SELLER)],
        {1000: chain(submit(BUY, "0.5", "100.5"), submit(BUY, "0.5", "100.5"))},
        on_event=cancel_second,
    )
    assert fills_of(h, "script-1") == [(D("0.5"), D("100.5"))]
    assert h.fills("script-2") == []  # the second trade came after the cancel
    assert h.order("script-2").status is S.CANCELED
    assert h.reserved("USDT") == 0
    h.assert_books_agree()


def test_engine_learns_fills_in_the_order_the_venue_made_them() -> None:
    book = snapshot(1000, bids=[("100", "50")], asks=[("100.5", "1"), ("101", "1"), ("103", "1")], inst=PERP)

    def hedge(ctx: StrategyContext, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled) and event.client_order_id == "script-1" and event.price == D("100.5"):
            ctx.submit(PERP.id, SELL, D(1))

    h = run([book], {1000: submit(BUY, "3", inst=PERP)}, on_event=hedge)
    # the venue bought 3 (avg 101.5) before it sold 1 at 100: realised (100 - 101.5) x 1 x 0.1
    assert [f.price for f in h.fills()] == [D("100.5"), D(101), D(103), D(100)]
    assert h.engine.portfolio.position(PERP.id).realized_pnl == D("-0.15")
    h.assert_books_agree()


# --- latency ----------------------------------------------------------------------------------


LATENCY_FEED: list[MarketData] = [
    snapshot(1000, bids=[("100", "1")], asks=[("100.5", "1"), ("102", "2"), ("104", "5")]),
    deltas(1500, 2, asks=[("100.5", "0"), ("101.5", "2")]),  # seen by an order sent at 1000 with 1 µs latency
    deltas(2500, 3, asks=[("101.5", "0.2")]),  # too late for it
    trade(2200, "1", "1", SELLER, inst=PERP),  # carriers for observations
    trade(2400, "1", "1", SELLER, inst=PERP),
]


def feed_in_time_order(records: list[MarketData]) -> list[MarketData]:
    return sorted(records, key=lambda r: r.ts_ns)


@pytest.mark.parametrize(("latency", "price", "ts"), [(0, "100.5", 1000), (1000, "101.5", 2000)])
def test_order_meets_the_book_as_it_is_latency_later(latency: int, price: str, ts: int) -> None:
    h = run(feed_in_time_order(LATENCY_FEED), {1000: submit(BUY, "1")}, latency_ns=latency)
    assert [(f.ts_ns, f.quantity, f.price) for f in h.fills("script-1")] == [(ts, D(1), D(price))]
    h.assert_books_agree()


def test_order_is_in_flight_until_it_arrives_and_reports_travel_back() -> None:
    seen: list[tuple[int, OrderStatus]] = []

    def look(ctx: StrategyContext) -> None:
        seen.append((ctx.now_ns(), ctx.order(ClientOrderId("script-1")).status))

    actions: dict[int, Action] = {1000: submit(BUY, "1"), 1500: look, 2200: look, 2400: look}
    h = run(feed_in_time_order(LATENCY_FEED), actions, latency_ns=1000, ack_latency_ns=300)
    # arrives at 2000 (fills there, at the book of 2000), reported at 2300
    assert seen == [(1500, S.SUBMITTED), (2200, S.SUBMITTED), (2400, S.FILLED)]
    assert [(f.ts_ns, f.price) for f in h.fills("script-1")] == [(2000, D("101.5"))]


# --- balances ---------------------------------------------------------------------------------


def test_spot_buy_beyond_the_quote_balance_is_rejected() -> None:
    h = run([BOOK], {1000: chain(submit(BUY, "1"), submit(BUY, "0.9"))}, deposits={"USDT": "100"})
    first = h.order("script-1")
    assert first.status is S.REJECTED
    assert first.reason.startswith("insufficient balance")
    assert first.reject_code is RejectCode.INSUFFICIENT_BALANCE
    assert h.order("script-2").status is S.FILLED  # 90.45 + fee fits
    assert h.balance("USDT") == D(100) - D("90.45") - D("0.09045")
    h.assert_books_agree()


def test_spot_sell_beyond_the_base_balance_is_rejected() -> None:
    h = run([BOOK], {1000: chain(submit(SELL, "0.6"), submit(SELL, "0.5"))}, deposits={"USDT": "0", "BTC": "0.5"})
    assert h.order("script-1").status is S.REJECTED
    assert "insufficient balance" in h.order("script-1").reason
    assert h.order("script-2").status is S.FILLED
    assert h.balance("BTC") == 0
    assert h.balance("USDT") == D(50) - D("0.05")
    h.assert_books_agree()


def test_resting_order_locks_its_funds_until_canceled() -> None:
    actions: dict[int, Action] = {
        1000: chain(
            submit(BUY, "2.5", "100"),  # needs 250.05: rejected
            submit(BUY, "2", "100"),  # locks 200.04
            submit(BUY, "0.5"),  # needs 50.30025, 49.96 free: rejected
            cancel("script-2"),
            submit(BUY, "0.5"),  # funds released: fills
        )
    }
    h = run([BOOK], actions, deposits={"USDT": "250"})
    statuses = [h.order(f"script-{n}").status for n in range(1, 5)]
    assert statuses == [S.REJECTED, S.CANCELED, S.REJECTED, S.FILLED]
    assert h.reserved("USDT") == 0
    assert h.balance("USDT") == D(250) - D("50.25") - D("0.05025")


def test_resting_sell_locks_the_base() -> None:
    h = run([BOOK], {1000: chain(submit(SELL, "1", "101"), submit(SELL, "0.1"))}, deposits=WITH_BTC | {"BTC": "1"})
    assert h.order("script-1").status is S.ACCEPTED
    assert h.reserved("BTC") == D(1)
    assert h.order("script-2").status is S.REJECTED


def test_cancel_of_a_resting_order_releases_its_reservation() -> None:
    h = run([BOOK, trade(2000, "1", "1", SELLER, inst=PERP)], {1000: submit(BUY, "1", "100"), 2000: cancel("script-1")})
    assert h.kinds("script-1") == ["OrderSubmitted", "OrderAccepted", "OrderCanceled"]
    assert h.order("script-1").status is S.CANCELED
    assert h.reserved("USDT") == 0
    assert h.venue.account.free("USDT") == D(10000)
    assert h.balance("USDT") == D(10000)


def test_partially_filled_resting_order_releases_the_rest_on_cancel() -> None:
    feed: list[MarketData] = [BOOK, trade(2000, "99.5", "0.4", SELLER), trade(3000, "1", "1", SELLER, inst=PERP)]
    h = run(feed, {1000: submit(BUY, "1", "100"), 3000: cancel("script-1")})
    assert fills_of(h, "script-1") == [(D("0.4"), D(100))]
    assert h.order("script-1").status is S.CANCELED
    assert h.reserved("USDT") == 0
    assert h.balance("USDT") == D(10000) - D(40) - D("0.008")
    h.assert_books_agree()


def test_cancel_racing_a_fill_does_not_crash_the_engine() -> None:
    feed: list[MarketData] = [
        BOOK,
        trade(2500, "1", "1", SELLER, inst=PERP),  # strategy cancels here; it reaches the venue at 3500
        trade(3000, "99.5", "1", SELLER),  # trades through the order, which has rested since 2000
    ]
    h = run(feed, {1000: submit(BUY, "0.5", "100"), 2500: cancel("script-1")}, latency_ns=1000)
    assert h.order("script-1").status is S.FILLED
    assert h.kinds("script-1")[-2:] == ["OrderFilled", "OrderCancelRejected"]
    assert h.reserved("USDT") == 0
    h.assert_books_agree()


# --- bars -------------------------------------------------------------------------------------

MINUTE = 60_000_000_000


def bar(n: int, open_: str, close: str = "100", high: str = "200", low: str = "50") -> Bar:
    return Bar(BARS.id, n * MINUTE, MINUTE, D(open_), D(high), D(low), D(close), D(10))


def test_bar_market_order_fills_at_the_next_bar_open() -> None:
    seen: list[tuple[int, OrderStatus]] = []

    def look(ctx: StrategyContext) -> None:
        seen.append((ctx.now_ns(), ctx.order(ClientOrderId("script-1")).status))

    feed = [bar(1, "100", close="101"), bar(2, "101.5", close="107"), bar(3, "103")]
    h = run(feed, {MINUTE: chain(submit(BUY, "1", inst=BARS), look), 2 * MINUTE: look})
    # decided on bar 1's close; filled at bar 2's open, stamped with its open time, known once bar 2 closed
    assert [(f.ts_ns, f.quantity, f.price) for f in h.fills("script-1")] == [(feed[1].open_ts_ns, D(1), D("101.5"))]
    assert seen == [(MINUTE, S.SUBMITTED), (2 * MINUTE, S.FILLED)]
    assert h.balance("ETH") == D(1)
    assert h.balance("USDT") == D(10000) - D("101.5") - D("0.1015")
    h.assert_books_agree()


def test_bar_quote_quantity_buy_spends_at_most_the_budget_at_the_open() -> None:
    feed = [bar(1, "100"), bar(2, "125")]
    h = run(feed, {MINUTE: submit(BUY, "0", inst=BARS, quote_quantity=D(1000))})
    # 1000 / (125 * 1.001) = 7.992 -> 7.9 lots of 0.1
    assert fills_of(h, "script-1") == [(D("7.9"), D(125))]
    assert h.order("script-1").status is S.FILLED
    spent = D(10000) - h.balance("USDT")
    assert spent == D("987.5") + D("0.9875")
    assert spent <= 1000 < (D("8.0") * 125 * D("1.001"))


def test_book_quote_quantity_buy_sweeps_within_budget() -> None:
    h = run([BOOK], {1000: submit(BUY, "0", quote_quantity=D(200))})
    # 1.0 @ 100.5 + 0.9 @ 101 = 191.4 (+0.1914 fee); a 1.0 @ 101 would cost 201.7
    assert fills_of(h, "script-1") == [(D(1), D("100.5")), (D("0.9"), D(101))]
    order = h.order("script-1")
    assert order.status is S.FILLED
    assert order.filled_quantity == D("1.9")
    assert D(10000) - h.balance("USDT") == D("191.4") + D("0.1914")
    h.assert_books_agree()


@pytest.mark.parametrize("tif", [IOC, FOK])
def test_bar_ioc_or_fok_limit_meets_the_next_open_and_never_rests(tif: TimeInForce) -> None:
    feed = [bar(1, "100"), bar(2, "100", low="95"), bar(3, "100", low="85"), bar(4, "100")]
    h = run(
        feed,
        {
            MINUTE: chain(
                submit(BUY, "1", "90", inst=BARS, time_in_force=tif),
                submit(BUY, "1", "100.5", inst=BARS, time_in_force=tif),
            )
        },
    )
    assert h.fills("script-1") == []  # 90 is not reached at the open (bar 3's low is not the open)
    assert h.order("script-1").status is S.CANCELED
    assert [(f.price, f.liquidity) for f in h.fills("script-2")] == [(D(100), Liquidity.TAKER)]
    assert h.reserved("USDT") == 0


def test_bar_market_order_can_be_canceled_before_the_next_bar() -> None:
    feed: list[MarketData] = [bar(1, "100"), trade(MINUTE + 5, "1", "1", SELLER, inst=PERP), bar(2, "100")]
    h = run(feed, {MINUTE: submit(BUY, "1", inst=BARS), MINUTE + 5: cancel("script-1")})
    assert h.order("script-1").status is S.CANCELED
    assert h.fills() == []


# --- funding ----------------------------------------------------------------------------------

PERP_BOOK = snapshot(1000, bids=[("100", "50")], asks=[("100.5", "50")], inst=PERP)


def funding(ts: int, rate: str, funding_ts: int) -> FundingRate:
    return FundingRate(PERP.id, ts, D(rate), funding_ts)


@pytest.mark.parametrize(("side", "sign"), [(BUY, -1), (SELL, 1)], ids=["long", "short"])
def test_funding_is_paid_once_per_funding_time_with_the_right_sign(side: OrderSide, sign: int) -> None:
    feed: list[MarketData] = [
        PERP_BOOK,
        MarkPrice(PERP.id, 2000, D(100)),
        funding(3000, "0.0001", 8000),  # estimate: nothing paid
        funding(8000, "0.0001", 8000),  # realised
        funding(8000, "0.0001", 8000),  # the same record again
        funding(9000, "0.0001", 8000),  # a late restatement of the same funding time
        funding(16000, "-0.0002", 16000),
    ]
    h = run(feed, {1000: submit(side, "10", inst=PERP)})
    assert h.position(PERP.id) == 10 * side.sign
    # 10 contracts x 0.1 x mark 100 = notional 100: 0.01 at 1 bp; long pays positive rates
    paid = [(p.ts_ns, p.amount, p.asset) for p in h.funding_postings()]
    assert paid == [(8000, sign * D("0.01"), "USDT"), (16000, -sign * D("0.02"), "USDT")]
    assert h.balance("USDT") == D(10000) + sign * D("0.01") - sign * D("0.02")
    h.assert_books_agree()


def test_late_funding_record_is_booked_alike_by_venue_and_engine() -> None:
    h = run([PERP_BOOK, funding(8500, "0.0001", 8000)], {1000: submit(BUY, "10", inst=PERP)})
    assert [p.reference for p in h.funding_postings()] == ["8000"]
    h.assert_books_agree()


def test_restated_older_funding_time_is_not_paid_again() -> None:
    feed: list[MarketData] = [
        PERP_BOOK,
        MarkPrice(PERP.id, 2000, D(100)),
        funding(8000, "0.0001", 8000),
        funding(16000, "0.0001", 16000),
        funding(16500, "0.0001", 8000),  # the first funding time again, republished late
    ]
    h = run(feed, {1000: submit(BUY, "10", inst=PERP)})
    assert [p.reference for p in h.funding_postings()] == ["8000", "16000"]


def test_funding_without_a_mark_uses_the_book_mid() -> None:
    h = run([PERP_BOOK, funding(8000, "0.0001", 8000)], {1000: submit(BUY, "10", inst=PERP)})
    assert [p.amount for p in h.funding_postings()] == [D("-0.010025")]  # mid 100.25


def test_no_position_no_funding() -> None:
    h = run([PERP_BOOK, MarkPrice(PERP.id, 2000, D(100)), funding(8000, "0.0001", 8000)])
    assert h.funding_postings() == []


def test_perpetual_margin_of_an_open_position_is_not_available_again() -> None:
    # leverage 1: 10 contracts at 100.5 hold 100.5 of the 150 deposited as margin
    opens_twice = chain(submit(BUY, "10", inst=PERP), submit(BUY, "10", inst=PERP))
    h = run([PERP_BOOK], {1000: opens_twice}, deposits={"USDT": "150"})
    assert h.order("script-1").status is S.FILLED
    assert h.order("script-2").status is S.REJECTED
    assert h.order("script-2").reject_code is RejectCode.INSUFFICIENT_BALANCE
    # closing frees the margin: the same position can be opened again
    cycle = chain(submit(BUY, "10", inst=PERP), submit(SELL, "10", inst=PERP), submit(BUY, "10", inst=PERP))
    h = run([PERP_BOOK], {1000: cycle}, deposits={"USDT": "150"})
    assert [h.order(f"script-{n}").status for n in (1, 2, 3)] == [S.FILLED, S.FILLED, S.FILLED]
    assert h.position(PERP.id) == 10
    h.assert_books_agree()


# --- book unavailable -------------------------------------------------------------------------


def test_orders_are_rejected_while_the_book_has_a_gap() -> None:
    feed: list[MarketData] = [
        snapshot(1000, bids=[("100", "1")], asks=[("100.5", "1"), ("101", "1"), ("102", "1")], seq=10),
        deltas(2000, 11, bids=[("99.5", "1")]),
        deltas(3000, 15, bids=[("99", "1")], prev=14),  # gap: 12..14 missing
        snapshot(4000, bids=[("100", "1")], asks=[("100.5", "1")], seq=20),
    ]
    h = run(feed, {2000: submit(BUY, "0.1"), 3000: submit(BUY, "0.1"), 4000: submit(BUY, "0.1")})
    assert h.order("script-1").status is S.FILLED
    rejected = h.order("script-2")
    assert rejected.status is S.REJECTED
    assert "book unavailable" in rejected.reason
    assert "gap" in rejected.reason
    assert rejected.reject_code is RejectCode.BOOK_UNAVAILABLE
    assert h.order("script-3").status is S.FILLED  # resynced by the snapshot
    assert [f.client_order_id for f in h.fills()] == ["script-1", "script-3"]


def test_orders_are_rejected_before_the_first_snapshot() -> None:
    h = run([trade(500, "100", "1", SELLER), BOOK], {500: submit(BUY, "0.1")})
    assert h.order("script-1").status is S.REJECTED
    assert "no snapshot" in h.order("script-1").reason
    assert h.order("script-1").reject_code is RejectCode.BOOK_UNAVAILABLE


def test_denied_orders_never_reach_the_venue() -> None:
    h = run([BOOK], {1000: chain(submit(BUY, "0.15"), submit(BUY, "1", "100.25"))})
    assert h.kinds("script-1") == ["OrderDenied"]
    assert h.kinds("script-2") == ["OrderDenied"]
    assert h.venue.account.ledger.postings == h.engine.portfolio.ledger.postings  # deposits only
