"""Denial codes: the strings reports and stored runs count by, made in one place and read back exactly."""

from __future__ import annotations

from spreadhawk.risk.denials import Denial, DenialCode


def test_the_codes_are_the_strings_stored_runs_already_count_by() -> None:
    assert {str(code) for code in DenialCode} == {
        "kill_switch",
        "halted",
        "hedge_only",
        "loss_limit",
        "strategy_paused",
        "order_rate",
        "no_mark",
        "order_notional",
        "price_band",
        "asset_concentration",
        "strategy_exposure",
        "capital_deployed",
        "leverage",
        "var_limit",
        "order_rules",
    }


def test_a_denial_reads_code_colon_detail() -> None:
    assert str(Denial(DenialCode.KILL_SWITCH, "on since 5 by ops: maintenance")) == (
        "kill_switch: on since 5 by ops: maintenance"
    )


def test_a_journaled_reason_reads_back_to_its_code_and_nothing_else_guesses() -> None:
    for code in DenialCode:
        assert DenialCode.of(str(Denial(code, "anything: at all"))) is code
    assert DenialCode.of("quantity 0 must be positive") is DenialCode.ORDER_RULES  # the exchange's rules
    assert DenialCode.of("no venue connected for A:BTC/USDT") is DenialCode.ORDER_RULES
    assert DenialCode.of("leverage_ish: not a code") is DenialCode.ORDER_RULES
