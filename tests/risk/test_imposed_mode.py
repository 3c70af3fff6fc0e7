"""An adapter imposes a degradation mode on its venue: the ccxt client's circuit breaker and IP bans.

The breaker runs on its own injected clock; its transitions feed ``RiskEngine.impose_venue_mode``
exactly as ``GuardedBinance`` wires them, and the risk engine refuses orders while it is open.
"""

from __future__ import annotations

from risk_harness import BUY, SELL, T0, S, book_at, build, chain, no_limits, order, play

from spreadhawk.engine.context import StrategyContext
from spreadhawk.risk.breakers import Mode
from spreadhawk.venues.ccxt.breaker import CircuitBreaker, mode_for

HELD = {"USDT": "4987.5", "BTC": "50"}


def test_an_order_is_refused_while_the_venue_breaker_is_open_and_hedges_pass_while_half_open() -> None:
    run = build(no_limits(), HELD)
    now = [0.0]
    breaker = CircuitBreaker(
        "X REST",
        clock=lambda: now[0],
        on_change=lambda state, why: run.risk.impose_venue_mode("X", mode_for(state), why),
    )

    def fail_five(ctx: StrategyContext) -> None:
        for _ in range(5):
            breaker.on_failure("RequestTimeout")

    def thirty_s_later(ctx: StrategyContext) -> None:
        now[0] += 30
        breaker.before_request()  # a trial request goes: HALF_OPEN

    def three_answers(ctx: StrategyContext) -> None:
        for _ in range(3):
            breaker.on_success()

    actions = {
        T0: chain(fail_five, order(run, BUY, "0.1", "50"), order(run, SELL, "0.1", "101")),
        T0 + S: chain(thirty_s_later, order(run, BUY, "0.1", "50"), order(run, SELL, "0.1", "101")),
        T0 + 2 * S: chain(three_answers, order(run, BUY, "0.1", "50")),
    }
    play(run, [book_at(T0 + n * S, "100") for n in range(3)], actions)
    assert [run.denied(n) for n in range(5)] == [True, True, True, False, False]
    assert run.reason(0).startswith("halted: X REST: 5 failed request(s) in a row, last: RequestTimeout")
    assert run.reason(2).startswith("hedge_only: X REST: 30 s open: trial requests")
    assert run.risk.mode("X") == (Mode.FULL, "")


def test_an_imposed_mode_never_softens_a_measured_one() -> None:
    run = build(no_limits(), HELD)

    def impose(ctx: StrategyContext) -> None:
        run.risk.set_venue_connected("X", False)  # HEDGE_ONLY by the health checks
        run.risk.impose_venue_mode("X", Mode.REDUCED, "not stricter")
        assert run.risk.mode("X") == (Mode.HEDGE_ONLY, "X disconnected")
        run.risk.impose_venue_mode("X", Mode.HALTED, "X: IP banned (418)")
        assert run.risk.mode("X") == (Mode.HALTED, "X: IP banned (418)")
        run.risk.impose_venue_mode("X", Mode.FULL, "ban over")
        assert run.risk.mode("X") == (Mode.HEDGE_ONLY, "X disconnected")

    play(run, [book_at(T0, "100")], {T0: impose})


def test_one_source_lifting_its_verdict_leaves_another_sources_in_force() -> None:
    # the node puts the venue HEDGE_ONLY for activity it did not make; the adapter's breaker closing
    # (FULL: its verdict lifted) must not lift the node's
    run = build(no_limits(), HELD)

    def impose(ctx: StrategyContext) -> None:
        run.risk.impose_venue_mode("X", Mode.HEDGE_ONLY, "external activity", source="external activity")
        run.risk.impose_venue_mode("X", Mode.HALTED, "circuit open")
        assert run.risk.mode("X") == (Mode.HALTED, "circuit open")
        run.risk.impose_venue_mode("X", Mode.FULL, "circuit closed")
        assert run.risk.mode("X") == (Mode.HEDGE_ONLY, "external activity")
        run.risk.impose_venue_mode("X", Mode.FULL, "acknowledged", source="external activity")
        assert run.risk.mode("X") == (Mode.FULL, "")

    play(run, [book_at(T0, "100")], {T0: impose})
