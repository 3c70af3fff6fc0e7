"""Stop-loss and take-profit orders on the simulated venue, and the engine's orphan guard
(RELIABILITY.md scenario 24: no protective order outlives its position, none ever opens one).

Perpetual ``X:BTC-PERP``: tick 0.5, 1 contract = 0.1 BTC, no fees. Every expected fill below is
worked out by hand from the book written next to it.
"""

from __future__ import annotations

from decimal import Decimal

from sim_harness import BARS, PERP, Action, chain, deltas, run, snapshot, submit, trade

from spreadhawk.domain.events import OrderSide, OrderType, RejectCode
from spreadhawk.domain.market import Aggressor, Bar, MarketData
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
S = OrderStatus
MINUTE = 60_000_000_000
# bids 100 x 50 | asks 100.5 x 50
BOOK = snapshot(1000, bids=[("100", "50")], asks=[("100.5", "50")], inst=PERP)
# the bid side falls away: bids 98.5 x 5 | 98 x 20
FALLEN = deltas(2000, 2, bids=[("100", "0"), ("98.5", "5"), ("98", "20")], inst=PERP)


def protect(side: OrderSide, qty: str, trigger: str, *, take_profit: bool = False, inst: object = PERP) -> Action:
    def act(ctx: StrategyContext) -> None:
        ctx.protect(PERP.id if inst is PERP else BARS.id, side, D(qty), D(trigger), take_profit=take_profit)

    return act


def print_at(ts: int, price: str) -> MarketData:
    return trade(ts, price, "1", Aggressor.SELLER, inst=PERP)


def test_a_stop_loss_waits_off_the_book_then_sells_into_the_book_when_a_trade_reaches_it() -> None:
    feed: list[MarketData] = [BOOK, FALLEN, print_at(3000, "99.5"), print_at(4000, "99")]
    h = run(feed, {1000: chain(submit(BUY, "10", inst=PERP), protect(SELL, "10", "99"))})
    stop = h.order("script-2")
    assert (stop.order_type, stop.reduce_only, stop.trigger_price) == (OrderType.STOP_MARKET, True, D(99))
    # 99.5 is above the trigger: nothing; 99 reaches it: a market sell of 10 into bids 98.5 x 5 | 98 x 20
    assert [(f.ts_ns, f.quantity, f.price) for f in h.fills("script-2")] == [
        (4000, D(5), D("98.5")),
        (4000, D(5), D(98)),
    ]
    assert stop.status is S.FILLED
    assert h.position(PERP.id) == 0
    # bought 10 x 0.1 at 100.5, sold 5 x 0.1 at 98.5 and 5 x 0.1 at 98: -0.5*2 - 0.5*2.5 = -2.25 USDT
    assert h.balance("USDT") == D(10000) - D("2.25")
    h.assert_books_agree()


def test_a_take_profit_fires_on_the_way_up() -> None:
    risen = deltas(2000, 2, asks=[("100.5", "0"), ("103", "50")], bids=[("100", "0"), ("102.5", "30")], inst=PERP)
    feed = [BOOK, print_at(1500, "97"), risen, print_at(3000, "102.5")]
    h = run(feed, {1000: chain(submit(BUY, "4", inst=PERP), protect(SELL, "4", "102", take_profit=True))})
    # the print at 97 would fire a stop-loss, not a take-profit; 102.5 >= 102 fires it: 4 at the bid 102.5
    assert [(f.ts_ns, f.quantity, f.price) for f in h.fills("script-2")] == [(3000, D(4), D("102.5"))]
    assert h.position(PERP.id) == 0
    assert h.balance("USDT") == D(10000) + 4 * D("0.1") * D(2)


def test_a_stop_bigger_than_what_is_left_of_the_position_expires_instead_of_opening_a_short() -> None:
    feed: list[MarketData] = [BOOK, FALLEN, print_at(4000, "98.5")]
    actions = {1000: chain(submit(BUY, "10", inst=PERP), protect(SELL, "10", "99"), submit(SELL, "4", inst=PERP))}
    h = run(feed, actions)
    # 6 contracts are left; the stop for 10 fires, would take the position to -4, and expires
    assert h.order("script-2").status is S.EXPIRED
    assert h.fills("script-2") == []
    assert h.position(PERP.id) == 6
    h.assert_books_agree()


def test_closing_the_position_cancels_its_stop_so_a_later_print_through_the_trigger_does_nothing() -> None:
    feed = [BOOK, print_at(1500, "100"), FALLEN, print_at(4000, "98")]
    h = run(
        feed,
        {1000: chain(submit(BUY, "10", inst=PERP), protect(SELL, "10", "99")), 1500: submit(SELL, "10", inst=PERP)},
    )
    assert h.kinds("script-2") == ["OrderSubmitted", "OrderAccepted", "OrderCanceled"]
    assert h.order("script-2").status is S.CANCELED
    assert h.position(PERP.id) == 0
    assert h.engine.protective.orphans() == []


def test_a_reversal_cancels_the_stop_that_protected_the_old_side() -> None:
    feed = [BOOK, print_at(1500, "100"), print_at(3000, "99")]
    actions = {
        1000: chain(submit(BUY, "10", inst=PERP), protect(SELL, "10", "99")),
        1500: submit(SELL, "15", inst=PERP),
    }
    h = run(feed, actions)
    # now short 5: a sell stop would add to the short, so it is cancelled before the print at 99
    assert h.order("script-2").status is S.CANCELED
    assert h.position(PERP.id) == -5


def test_a_reduce_only_market_order_that_would_reverse_the_position_is_rejected() -> None:
    h = run([BOOK], {1000: chain(submit(BUY, "3", inst=PERP), submit(SELL, "5", inst=PERP, reduce_only=True))})
    refused = h.order("script-2")
    assert (refused.status, refused.reject_code) == (S.REJECTED, RejectCode.REDUCE_ONLY)
    assert h.position(PERP.id) == 3


def test_a_stop_without_a_trigger_price_is_denied_before_it_leaves() -> None:
    def bad(ctx: StrategyContext) -> None:
        ctx.protect(PERP.id, SELL, D(1), D(0))

    h = run([BOOK], {1000: bad})
    assert h.order("script-1").status is S.DENIED


def _bar(n: int, open_: str, low: str, high: str = "101") -> Bar:
    return Bar(BARS.id, n * MINUTE, MINUTE, D(open_), D(high), D(low), D(open_), D(10))


def test_on_bars_a_stop_fills_at_its_trigger_or_at_a_gapped_open() -> None:
    # bought 1 ETH at bar 2's open (100); the stop at 95: bar 3 trades down to 94 -> sold at 95
    feed = [_bar(1, "100", "99"), _bar(2, "100", "99"), _bar(3, "98", "94")]
    h = run(feed, {MINUTE: submit(BUY, "1", inst=BARS), 2 * MINUTE: protect(SELL, "1", "95", inst=BARS)})
    assert [(f.quantity, f.price) for f in h.fills("script-2")] == [(D(1), D(95))]
    # the same stop when bar 3 opens at 90, already below it: sold at 90, the first price there was
    gapped = [_bar(1, "100", "99"), _bar(2, "100", "99"), _bar(3, "90", "88")]
    h = run(gapped, {MINUTE: submit(BUY, "1", inst=BARS), 2 * MINUTE: protect(SELL, "1", "95", inst=BARS)})
    assert [(f.quantity, f.price) for f in h.fills("script-2")] == [(D(1), D(90))]
    h.assert_books_agree()
