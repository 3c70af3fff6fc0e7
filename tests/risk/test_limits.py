"""Pre-trade limits: each one driven to its threshold on the simulated venue.

The book is bid 100 / ask 100.5, so the mark is 100.25; the account holds 10,000 USDT (equity
10,000). Each test turns on only the limit it drives, submits one order just under (or at) the
threshold, which leaves for the venue, and one just over, which is denied with the limit's code and
never reaches the venue.
"""

from __future__ import annotations

from decimal import Decimal

from risk_harness import (
    BUY,
    FREE_SPOT,
    PERP,
    SELL,
    T0,
    RiskRun,
    S,
    book_at,
    build,
    chain,
    no_limits,
    order,
    play,
)

from spreadhawk.domain.events import OrderStatusUnknown
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.risk.config import RiskLimits

D = Decimal


def _sent(run: RiskRun, n: int) -> bool:
    """The n-th order reached the venue (and was not denied)."""
    coid = run.ids[n]
    return not run.denied(n) and any(c.client_order_id == coid for c in run.venue.received)


def test_max_order_notional_at_the_limit_passes_above_is_denied() -> None:
    run = build(no_limits(max_order_notional=D(1000)))
    play(run, [book_at(T0, "100")], {T0: chain(order(run, BUY, "10.0", "100"), order(run, BUY, "10.1", "100"))})
    assert _sent(run, 0)  # 10.0 x 100 = 1000: at the limit
    assert run.denied(1)
    assert run.reason(1).startswith("order_notional: 1010")
    assert len(run.venue.received) == 1
    assert run.risk.denials == {"order_notional": 1}


def test_asset_concentration_counts_orders_in_flight() -> None:
    run = build(no_limits(max_asset_fraction=D("0.10")))
    actions = chain(
        order(run, BUY, "10.0", "100"),  # 10 x 100.25 = 1002.5 > 1000
        order(run, BUY, "9.9", "100"),  # 992.475: passes and rests at the bid (990 in flight)
        order(run, BUY, "0.1", "100"),  # 10.025 + 990 in flight > 1000
    )
    play(run, [book_at(T0, "100")], {T0: actions})
    assert run.denied(0)
    assert run.reason(0).startswith("asset_concentration: BTC")
    assert _sent(run, 1)
    assert run.status(1) is OrderStatus.ACCEPTED  # resting: in flight, not yet a position
    assert run.denied(2)
    assert run.reason(2).startswith("asset_concentration")


def test_asset_concentration_lets_risk_reducing_orders_through() -> None:
    # 20 BTC held: 2005 of 12005 equity, above 10 %; adding is refused, selling is not
    run = build(no_limits(max_asset_fraction=D("0.10")), {"USDT": "10000", "BTC": "20"})
    play(run, [book_at(T0, "100")], {T0: chain(order(run, BUY, "0.1", "100"), order(run, SELL, "1", "100.5"))})
    assert run.denied(0)
    assert _sent(run, 1)


def test_unknown_status_orders_count_as_exposure() -> None:
    run = build(no_limits(max_asset_fraction=D("0.10")), latency_ns=5 * S)

    def lost_answer(ctx: StrategyContext) -> None:
        run.engine.on_venue_event(OrderStatusUnknown(ctx.now_ns(), run.ids[0], "timeout"))

    actions = chain(order(run, BUY, "9.9", "100"), lost_answer, order(run, BUY, "0.1", "100"))
    play(run, [book_at(T0, "100")], {T0: actions})
    assert run.denied(1)  # the unknown order's 990 still counts
    assert run.reason(1).startswith("asset_concentration")
    assert run.order(0).status is OrderStatus.ACCEPTED  # the venue answered later: UNKNOWN -> ACCEPTED


def test_strategy_exposure_counts_its_filled_position() -> None:
    run = build(no_limits(max_strategy_fraction=D("0.15")))
    first = chain(order(run, BUY, "15.0"), order(run, BUY, "14.9"))  # market: 15 x 100.25 > 1500; 1493.7 fills
    later = chain(order(run, BUY, "0.2", "100"), order(run, SELL, "1", "100"))
    play(run, [book_at(T0, "100"), book_at(T0 + S, "100")], {T0: first, T0 + S: later})
    assert run.denied(0)
    assert run.reason(0).startswith("strategy_exposure: script")
    assert run.order(1).status is OrderStatus.FILLED
    assert run.denied(2)  # 14.9 held + 0.2 more, at the mark: 1513.8 > 1500
    assert _sent(run, 3)  # selling part of it reduces the exposure


def test_capital_deployed_at_seventy_percent() -> None:
    run = build(no_limits(max_deployed_fraction=D("0.70")))
    play(run, [book_at(T0, "100")], {T0: chain(order(run, BUY, "70.1", "100"), order(run, BUY, "70", "100"))})
    assert run.denied(0)
    assert run.reason(0).startswith("capital_deployed: 7010")
    assert _sent(run, 1)  # 7000 of 10000: at the limit


def test_leverage_three_to_one_on_a_perpetual() -> None:
    run = build(no_limits(max_leverage=D(3)))
    # 3000 contracts x 0.1 x 100 = 30,000 = 3 x equity; one more contract is over
    play(
        run,
        [book_at(T0, "100")],
        {T0: chain(order(run, BUY, "3001", "100", inst=PERP), order(run, BUY, "3000", "100", inst=PERP))},
    )
    assert run.denied(0)
    assert run.reason(0).startswith("leverage: 3.00")
    assert _sent(run, 1)


def test_order_rate_per_strategy_per_second() -> None:
    run = build(no_limits(max_strategy_orders_per_second=3))
    burst = chain(*(order(run, BUY, "0.1", "99") for _ in range(4)))
    play(run, [book_at(T0, "100"), book_at(T0 + S, "100")], {T0: burst, T0 + S: order(run, BUY, "0.1", "99")})
    assert [run.denied(n) for n in range(5)] == [False, False, False, True, False]
    assert run.reason(3) == "order_rate: 3 orders per second for strategy script"


def test_order_rate_for_the_account_per_minute() -> None:
    run = build(no_limits(max_orders_per_minute=5))
    times = [T0 + k * 10 * S for k in range(6)] + [T0 + 61 * S]
    play(run, [book_at(t, "100") for t in times], {t: order(run, BUY, "0.1", "99") for t in times})
    assert [run.denied(n) for n in range(7)] == [False] * 5 + [True, False]
    assert run.reason(5) == "order_rate: 5 orders per minute for the account"


def test_price_band_five_percent_beyond_the_touch() -> None:
    run = build(no_limits(price_band=D("0.05")), {"USDT": "10000", "BTC": "5"})
    # bid 100, ask 100.5: buys up to 100.5 x 1.05 = 105.525, sells down to 100 x 0.95 = 95
    prices = [("105.5", BUY), ("106", BUY), ("95", SELL), ("94.5", SELL)]
    play(run, [book_at(T0, "100")], {T0: chain(*(order(run, side, "0.1", p) for p, side in prices))})
    assert [run.denied(n) for n in range(4)] == [False, True, False, True]
    assert run.reason(1).startswith("price_band: 106 is above 105.525")


def test_price_band_never_blocks_taking_the_best_price_of_a_wide_book() -> None:
    run = build(no_limits(price_band=D("0.05")))
    wide = BookSnapshot(FREE_SPOT.id, T0, 1, ((FREE_SPOT.ticks(D(100)), 10_000),), ((FREE_SPOT.ticks(D(112)), 10_000),))
    # the mid is 106: the ask is 5.7 % above it, yet buying at the ask is no fat finger; 117.6 is the top
    play(
        run,
        [wide],
        {T0: chain(order(run, BUY, "0.1", "112"), order(run, BUY, "0.1", "117.5"), order(run, BUY, "0.1", "118"))},
    )
    assert [run.denied(n) for n in range(3)] == [False, False, True]


def test_market_order_with_no_mark_is_denied() -> None:
    run = build(no_limits(max_order_notional=D(10**9)))
    play(run, [book_at(T0, "100")], {T0: order(run, BUY, "1", inst=PERP)})  # the perp has no book
    assert run.denied(0)
    assert run.reason(0).startswith("no_mark")


def test_every_limit_on_lets_a_modest_order_through() -> None:
    run = build(no_limits(**{f: getattr(_defaults(), f) for f in _LIMITS}))
    play(run, [book_at(T0, "100")], {T0: order(run, BUY, "1", "100")})
    assert _sent(run, 0)
    assert FREE_SPOT.id in {c.instrument_id for c in run.venue.received}


_LIMITS = (
    "max_order_notional",
    "max_asset_fraction",
    "max_strategy_fraction",
    "max_deployed_fraction",
    "max_leverage",
    "price_band",
    "max_orders_per_second",
    "max_strategy_orders_per_second",
)


def _defaults() -> RiskLimits:
    return RiskLimits()
