"""Client order ids: unchanged in backtests, unique across restarts, within exchange limits."""

from __future__ import annotations

import re

import pytest

from spreadhawk.engine.order_ids import MAX_LENGTH, ClientOrderIds, run_prefix

BINANCE_RULE = re.compile(r"^[A-Za-z0-9._:-]{1,36}$")


def test_a_backtest_keeps_the_plain_strategy_counter_ids() -> None:
    ids = ClientOrderIds()
    assert [ids.next("sma"), ids.next("sma"), ids.next("xarb")] == ["sma-1", "sma-2", "xarb-1"]
    assert ids.next_transfer("xarb") == "xarb-tr1"


@pytest.mark.parametrize(
    "strategy_id",
    ["sma", "cross_exchange_arb_btc_usdt_spot_vs_perp", "a strategy/with spaces+symbols!", "é" * 50],
)
def test_every_id_fits_binance_whatever_the_strategy_id(strategy_id: str) -> None:
    ids = ClientOrderIds(run_prefix(1_765_000_000_123_456_789))
    for _ in range(3):
        coid = ids.next(strategy_id)
        assert BINANCE_RULE.match(coid), coid
    # the counter still fits at ten digits
    ids._counters[strategy_id] = 9_999_999_998
    assert len(ids.next(strategy_id)) <= MAX_LENGTH
    assert BINANCE_RULE.match(ids.next_transfer(strategy_id))


def test_two_long_strategy_ids_with_the_same_start_get_different_tags() -> None:
    ids = ClientOrderIds(run_prefix(1_765_000_000_000_000_000))
    a = ids.next("cross_exchange_arb_btc_usdt_spot_vs_perp_a")
    b = ids.next("cross_exchange_arb_btc_usdt_spot_vs_perp_b")
    assert a != b


def test_a_restarted_node_continues_the_counter_under_a_new_prefix() -> None:
    first = ClientOrderIds(run_prefix(1_765_000_000_000_000_000))
    issued = [first.next("xarb") for _ in range(41)] + [first.next_transfer("xarb")]
    second = ClientOrderIds(run_prefix(1_765_000_100_000_000_000))
    assert second.prefix != first.prefix
    for coid in issued:
        second.observe("xarb", coid)
    assert second.next("xarb").endswith("xarb-42")
    assert second.next_transfer("xarb").endswith("xarb-tr2")
    assert not set(issued) & {second.next("xarb") for _ in range(100)}


def test_ids_of_another_strategy_or_shape_do_not_move_the_counter() -> None:
    ids = ClientOrderIds("p.")
    ids.observe("xarb", "p.sma-900")
    ids.observe("xarb", "manual order")
    assert ids.next("xarb") == "p.xarb-1"


def test_a_prefix_outside_the_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="prefix"):
        ClientOrderIds("run 1/")


def test_a_node_restarted_a_tenth_of_a_second_later_gets_another_prefix() -> None:
    # a supervisor restarts a killed node within ~100 ms: with its journal lost, the same prefix
    # would issue the ids of the run it replaces
    crashed = run_prefix(1_765_000_000_950_000_000)
    restarted = run_prefix(1_765_000_001_050_000_000)
    assert crashed != restarted
    assert run_prefix(1_765_000_001_050_000_000) != run_prefix(1_765_000_001_051_000_000)
