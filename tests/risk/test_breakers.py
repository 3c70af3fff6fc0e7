"""Loss limits, drawdown, losing streaks and degradation modes, each driven to its threshold.

Unless a test says otherwise the account holds 4,987.5 USDT and 50 BTC: at the first book (bid 100,
mark 100.25) equity is exactly 10,000, and every 0.5 the mark falls costs 25 (0.25 %).

Breakers act on equity as the risk engine last re-marked it (after each fill and equity sample, and
one event after ``mark_interval_s`` at the latest; never on the order's path, see ``limits.py``), so
the orders probing a price move come one millisecond after the book that moved it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from risk_harness import BUY, SELL, T0, Action, RiskRun, S, book_at, build, chain, no_limits, order, play

from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.risk.breakers import Mode, window_bounds
from spreadhawk.risk.records import RiskStateChanged

D = Decimal
DAY = 86_400 * S
MS = 1_000_000


def _moves(*points: tuple[int, str]) -> list[BookSnapshot]:
    """Each book, then the same book 1 ms later (when the probing orders run)."""
    return [book for t, bid in points for book in (book_at(t, bid), book_at(t + MS, bid))]


HELD = {"USDT": "4987.5", "BTC": "50"}


def _records(run: RiskRun, what: str) -> list[str]:
    return [f"{r.subject}:{r.state}" for r in run.risk.records if isinstance(r, RiskStateChanged) and r.what == what]


@pytest.mark.parametrize(
    ("field", "limit", "still_on_at", "reset_at"),
    [
        ("daily_loss", "0.05", T0 + DAY - S, T0 + DAY),  # until midnight UTC
        ("weekly_loss", "0.10", T0 + 5 * DAY, T0 + 6 * DAY),  # T0 is a Tuesday: until Monday
        ("monthly_loss", "0.15", T0 + 29 * DAY, T0 + 30 * DAY),  # until February 1st
    ],
)
def test_loss_limit_trips_at_the_threshold_until_the_window_ends(
    field: str, limit: str, still_on_at: int, reset_at: int
) -> None:
    run = build(no_limits(**{field: D(limit)}), HELD)
    at = D(100) - D(200) * D(limit)  # the bid at which the loss is exactly the limit
    under, hit = str(at + D("0.5")), str(at)
    small_buy = order(run, BUY, "0.1", "20")
    feed = _moves((T0, "100"), (T0 + 60 * S, under), (T0 + 120 * S, hit), (still_on_at, hit), (reset_at, hit))
    actions = {
        T0 + 60 * S + MS: small_buy,  # 0: loss just under the limit
        T0 + 120 * S + MS: chain(order(run, BUY, "0.1", "20"), order(run, SELL, "0.1", "200")),  # 1, 2
        still_on_at + MS: order(run, BUY, "0.1", "20"),  # 3
        reset_at + MS: order(run, BUY, "0.1", "20"),  # 4: a new window, measured from here
    }
    play(run, feed, actions)
    assert not run.denied(0)
    assert run.denied(1)
    assert run.reason(1).startswith("loss_limit: ")
    assert not run.denied(2)  # selling reduces risk
    assert run.denied(3)
    assert not run.denied(4)
    assert len(_records(run, "loss_limit")) == 1


def test_calendar_windows_are_utc_days_iso_weeks_and_months() -> None:
    assert window_bounds("day", T0 + 5 * S) == (T0, T0 + DAY)
    assert window_bounds("week", T0) == (T0 - DAY, T0 + 6 * DAY)  # Monday 2024-01-01
    assert window_bounds("month", T0 + 40 * DAY) == (T0 + 30 * DAY, T0 + 59 * DAY)  # February 2024 (leap)
    assert window_bounds("month", 1_733_011_200 * S) == (1_733_011_200 * S, 1_735_689_600 * S)  # December 2024


def test_drawdown_at_eight_percent_halves_sizes_and_recovery_restores_them() -> None:
    run = build(no_limits(drawdown_halve=D("0.08"), max_order_notional=D(1000)), HELD)
    times = [T0 + k * 60 * S for k in range(4)]
    feed = _moves((times[0], "100"), (times[1], "84.5"), (times[2], "84"), (times[3], "100"))
    actions = {
        times[1] + MS: order(run, BUY, "9", "84"),  # 0: drawdown 7.75 %: 756 <= 1000 (rests below the bid)
        times[2] + MS: chain(order(run, BUY, "9", "83.5"), order(run, BUY, "5.9", "83.5")),  # 1: 751.5 > 500; 2
        times[3] + MS: order(run, BUY, "9", "99.5"),  # 3: back at the peak: 895.5 passes again
    }
    play(run, feed, actions)
    assert not run.denied(0)
    assert run.denied(1)
    assert run.reason(1) == "order_notional: 751.50 > 500.00"
    assert not run.denied(2)
    assert not run.denied(3)
    assert _records(run, "drawdown") == ["account:halved", "account:cleared"]


def test_drawdown_at_ten_percent_flattens_and_halts() -> None:
    run = build(no_limits(drawdown_flatten=D("0.10")), HELD)
    times = [T0 + k * 60 * S for k in range(4)]
    feed = _moves((times[0], "100"), (times[1], "83.5"), (times[2], "83"), (times[3], "100"))
    actions = {
        # 0: 10 BTC bought at 100.5 (a position to flatten); 1: a bid resting far below
        times[0]: chain(order(run, BUY, "10"), order(run, BUY, "0.1", "50")),
        times[1] + MS: order(run, BUY, "0.1", "50"),  # 2: equity 9007.5, drawdown 9.9 %: nothing happens
        times[2] + MS: order(run, BUY, "0.1", "50"),  # 3: equity 8977.5, drawdown 10.2 %: halted
        times[3] + MS: order(run, BUY, "0.1", "50"),  # 4: still halted after the price came back
    }
    play(run, feed, actions)
    engine = run.engine
    assert run.status(0) is OrderStatus.FILLED
    assert not run.denied(2)
    assert run.denied(3)
    assert run.reason(3).startswith("kill_switch: on since")
    assert "breaker:drawdown" in run.reason(3)
    assert run.denied(4)
    assert run.status(1) is OrderStatus.CANCELED
    assert run.status(2) is OrderStatus.CANCELED
    flatten = [o for o in engine.orders.values() if o.strategy_id == "risk"]
    assert [(o.side.value, o.quantity, o.status) for o in flatten] == [("sell", D(10), OrderStatus.FILLED)]
    assert engine.portfolio.position(flatten[0].instrument_id).is_flat
    assert run.risk.kill_switch.engaged


def _losing_trip(run: RiskRun) -> Action:
    return chain(order(run, BUY, "1"), order(run, SELL, "1"))  # buy at the ask, sell at the bid: -0.5


def test_three_losing_round_trips_pause_the_strategy_for_an_hour() -> None:
    run = build(no_limits(losing_streak_pause=3, pause_seconds=3600.0), HELD)
    trips = [T0, T0 + 10 * S, T0 + 20 * S]
    probes = [T0 + 15 * S, T0 + 25 * S, T0 + 20 * S + 3600 * S - 1, T0 + 20 * S + 3600 * S]
    feed = [book_at(t, "100") for t in sorted(trips + probes)]
    actions = {t: _losing_trip(run) for t in trips}
    actions[probes[0]] = order(run, BUY, "0.1", "50")  # ids 4: after two losses
    actions[probes[1]] = chain(order(run, BUY, "0.1", "50"), order(run, SELL, "0.1", "100.5"))  # 7, 8
    actions[probes[2]] = order(run, BUY, "0.1", "50")  # 9: a nanosecond before the hour ends
    actions[probes[3]] = order(run, BUY, "0.1", "50")  # 10
    play(run, feed, actions)
    assert not run.denied(4)
    assert run.denied(7)
    assert run.reason(7).startswith("strategy_paused: script paused until")
    assert not run.denied(8)  # selling reduces risk
    assert run.denied(9)
    assert not run.denied(10)
    assert run.risk.streaks.streak["script"] == 3


def test_ten_losing_round_trips_pause_until_resumed_by_hand() -> None:
    run = build(no_limits(losing_streak_pause=3, losing_streak_review=10, pause_seconds=1.0), HELD)
    trips = [T0 + 2 * k * S for k in range(10)]
    before_tenth = trips[9] - S // 2  # the 1 s pause after the 9th is over
    after = trips[9] + 3600 * S
    feed = [book_at(t, "100") for t in sorted([*trips, before_tenth, after])]
    actions = {t: _losing_trip(run) for t in trips}
    actions[before_tenth] = order(run, BUY, "0.1", "50")  # id 18

    def resume_then_buy(ctx: StrategyContext) -> None:
        order(run, BUY, "0.1", "50")(ctx)  # 21: still paused an hour later
        run.risk.resume_strategy("script", "operator:test", "reviewed")
        order(run, BUY, "0.1", "50")(ctx)  # 22

    actions[after] = resume_then_buy
    play(run, feed, actions)
    assert not run.denied(18)
    assert run.denied(21)
    assert "pending review (10 losses in a row)" in run.reason(21)
    assert not run.denied(22)
    assert _records(run, "strategy_pause")[-2:] == ["script:review", "script:resumed"]


def test_stale_data_reduces_then_allows_only_hedges() -> None:
    run = build(no_limits(stale_reduced_s=5.0, stale_hedge_only_s=30.0, max_order_notional=D(1000)), HELD)
    timers = {
        T0 + 4_900_000_000: order(run, BUY, "9", "100"),  # 0: 4.9 s old: FULL, 900 <= 1000
        T0 + 5 * S: chain(order(run, BUY, "9", "100"), order(run, BUY, "4.9", "100")),  # 1 denied (> 500), 2
        T0 + 30 * S: chain(order(run, BUY, "0.1", "100"), order(run, SELL, "0.1", "100.5")),  # 3 denied, 4
    }
    play(run, [book_at(T0, "100")], timers=timers)
    assert [run.denied(n) for n in range(5)] == [False, True, False, True, False]
    assert run.reason(3) == "hedge_only: X: no book update for 30.0 s; only risk-reducing orders pass"
    assert run.risk.mode("X", run.order(0).instrument_id)[0] is Mode.HEDGE_ONLY


def test_venue_rejections_reduce_sizes_at_three() -> None:
    run = build(no_limits(rejections_reduced=3, rejections_hedge_only=10, max_order_notional=D(1000)))
    reject = order(run, SELL, "1", "100")  # no BTC on the venue: rejected there
    times = [T0 + k * S for k in range(5)]
    actions = {
        times[0]: chain(reject, reject),  # 0, 1
        times[1]: order(run, BUY, "9", "100"),  # 2: two rejections: FULL
        times[2]: reject,  # 3
        times[3]: chain(order(run, BUY, "9", "100"), order(run, BUY, "4.9", "100")),  # 4 denied, 5
    }
    play(run, [book_at(t, "100") for t in times], actions)
    assert [run.status(n) for n in (0, 1, 3)] == [OrderStatus.REJECTED] * 3
    assert not run.denied(2)
    assert run.denied(4)
    assert run.reason(4).startswith("order_notional: 900")
    assert not run.denied(5)


@pytest.mark.parametrize(("ack_ms", "reduced"), [(400, False), (500, True)])
def test_slow_acknowledgements_reduce_sizes(ack_ms: int, reduced: bool) -> None:
    limits = no_limits(latency_reduced_ms=500.0, latency_hedge_only_ms=2000.0, max_order_notional=D(1000))
    run = build(limits, ack_latency_ns=ack_ms * 1_000_000)
    times = [T0, T0 + S]
    actions = {times[0]: order(run, BUY, "0.1", "50"), times[1]: order(run, BUY, "9", "100")}
    play(run, [book_at(t, "100") for t in times], actions)
    assert run.denied(1) is reduced


def test_a_disconnected_venue_takes_only_hedges() -> None:
    run = build(no_limits(), HELD)

    def disconnect(ctx: StrategyContext) -> None:
        run.risk.set_venue_connected("X", False)

    def reconnect(ctx: StrategyContext) -> None:
        run.risk.set_venue_connected("X", True)

    actions = {
        T0: chain(disconnect, order(run, BUY, "0.1", "50"), order(run, SELL, "0.1", "101")),
        T0 + S: chain(reconnect, order(run, BUY, "0.1", "50")),
    }
    play(run, [book_at(T0, "100"), book_at(T0 + S, "100")], actions)
    assert [run.denied(n) for n in range(3)] == [True, False, False]
    assert run.reason(0) == "hedge_only: X disconnected; only risk-reducing orders pass"
