"""Value tests for the money paths that mutation testing (``make mutation``, docs/mutation_testing.md)
found unpinned: a contract size dropped from a spot or binary leg, a posting's time or reference
lost, a settlement's PnL, a fractional position flipping through zero, the split of a payment
between holders, and the instrument's validation, rounding and order rules.

Every expected value is worked out by hand in the comment beside it (or with ``Fraction``, exact
rational arithmetic); none comes from calling the formula under test.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import pytest

from fills import fill
from fills import position as opened
from spreadhawk.domain.events import (
    BalancePosted,
    DepositCredited,
    OrderSide,
    PostingReason,
    SettlementPaid,
    WithdrawalSent,
)
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.ledger import (
    Ledger,
    postings_for_deposit,
    postings_for_fill,
    postings_for_settlement,
    postings_for_withdrawal,
)
from spreadhawk.domain.positions import Position
from spreadhawk.domain.shares import split

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
TRADE, FEE, SETTLEMENT = PostingReason.TRADE, PostingReason.FEE, PostingReason.SETTLEMENT

# one contract of this outcome is 10 tokens: every leg of a fill or a settlement is ten times the contracts
BINARY10 = Instrument(
    "SIM", "RAIN-YES", InstrumentKind.BINARY, "RAIN-YES", "USDC", D("0.01"), D(1), contract_size=D(10)
)
PERP = Instrument("SIM", "ETH-PERP", InstrumentKind.PERPETUAL, "ETH", "USDT", D("0.01"), D(1),
                  contract_size=D("0.1"), settlement="USD")  # fmt: skip
SPOT = Instrument("SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.001"))


# --- ledger postings: every field of every posting ---------------------------------------------


def test_a_binary_buy_with_a_contract_size_moves_ten_tokens_a_contract() -> None:
    # 3 contracts x 10 tokens = 30 tokens in; 3 x 0.40 x 10 = 12 USDC out; the fee 0.012 USDC out
    postings = postings_for_fill(fill(BINARY10, BUY, "3", "0.40", "t1", fee="0.012"), BINARY10, opened(BINARY10))
    assert postings == [
        BalancePosted(7, "SIM", "RAIN-YES", D(30), TRADE, "t1"),
        BalancePosted(7, "SIM", "USDC", D(-12), TRADE, "t1"),
        BalancePosted(7, "SIM", "USDC", D("-0.012"), FEE, "t1"),
    ]


def test_a_binary_sell_with_a_contract_size_delivers_tokens_and_receives_the_quote() -> None:
    # 2 contracts x 10 = 20 tokens out; 2 x 0.55 x 10 = 11 USDC in; no fee, no fee posting
    before = opened(BINARY10, fill(BINARY10, BUY, "5", "0.40", "t1"))
    postings = postings_for_fill(fill(BINARY10, SELL, "2", "0.55", "t2", ts_ns=9), BINARY10, before)
    assert postings == [
        BalancePosted(9, "SIM", "RAIN-YES", D(-20), TRADE, "t2"),
        BalancePosted(9, "SIM", "USDC", D(11), TRADE, "t2"),
    ]


def test_a_perpetual_close_posts_its_pnl_and_fee_at_the_fill_time_under_the_trade_id() -> None:
    # long 4 at 100, sell 1 at 130: (130 - 100) x 1 x 0.1 = 3 USD realised, fee 0.013 USD
    before = opened(PERP, fill(PERP, BUY, "4", "100", "t1"))
    postings = postings_for_fill(fill(PERP, SELL, "1", "130", "t2", fee="0.013", ts_ns=9), PERP, before)
    assert postings == [
        BalancePosted(9, "SIM", "USD", D(3), TRADE, "t2"),
        BalancePosted(9, "SIM", "USD", D("-0.013"), FEE, "t2"),
    ]


def test_a_settlement_takes_the_tokens_of_every_contract_and_pays_the_amount() -> None:
    # 3 contracts held = 30 tokens leave; the venue pays 30 USDC (3 x 1 x 10)
    event = SettlementPaid(
        ts_ns=50, instrument_id=BINARY10.id, quantity=D(3), price=D(1), amount=D(30), currency="USDC"
    )
    assert postings_for_settlement(event, BINARY10) == [
        BalancePosted(50, "SIM", "RAIN-YES", D(-30), SETTLEMENT, "settle:SIM:RAIN-YES"),
        BalancePosted(50, "SIM", "USDC", D(30), SETTLEMENT, "settle:SIM:RAIN-YES"),
    ]


def test_a_transfer_posts_amount_and_fee_at_the_source_and_the_amount_at_the_destination() -> None:
    sent = WithdrawalSent(11, "tr-1", "BTC", D("0.5"), D("0.0002"), "A", "B", arrives_ns=99)
    assert postings_for_withdrawal(sent) == [
        BalancePosted(11, "A", "BTC", D("-0.5"), PostingReason.TRANSFER_OUT, "tr-1"),
        BalancePosted(11, "A", "BTC", D("-0.0002"), PostingReason.WITHDRAWAL_FEE, "tr-1"),
    ]
    credited = DepositCredited(99, "tr-1", "BTC", D("0.5"), "B")
    assert postings_for_deposit(credited) == [
        BalancePosted(99, "B", "BTC", D("0.5"), PostingReason.TRANSFER_IN, "tr-1")
    ]


def test_the_ledger_refuses_a_float_and_names_its_type() -> None:
    ledger = Ledger()
    with pytest.raises(TypeError, match="must be Decimal, got float"):
        ledger.post(BalancePosted(1, "SIM", "USDT", 0.1, PostingReason.DEPOSIT, "d"))  # type: ignore[arg-type]
    assert ledger.postings == ()


def test_a_reason_with_no_posting_totals_a_decimal_zero() -> None:
    ledger = Ledger()
    ledger.post(BalancePosted(1, "SIM", "USDT", D(100), PostingReason.DEPOSIT, "d"))
    total = ledger.total_by_reason("USDT", FEE)
    assert (type(total), total) == (Decimal, D(0))
    assert ledger.total_by_reason("USDT", PostingReason.DEPOSIT) == D(100)


# --- positions ------------------------------------------------------------------------------------


def test_settling_a_long_realises_the_price_move_of_every_contract() -> None:
    # long 4 at 100, sold 1 at 120: realised (120 - 100) x 1 x 0.1 = 2; 3 left at 100.
    # Settled at 90: 2 + (90 - 100) x 3 x 0.1 = 2 - 3 = -1; flat, no entry price.
    pos = opened(PERP, fill(PERP, BUY, "4", "100", "a", fee="0.04"), fill(PERP, SELL, "1", "120", "b", fee="0.012"))
    assert pos.settle(D(90)) == Position(
        PERP.id,
        contract_size=D("0.1"),
        quantity=D(0),
        avg_price=D(0),
        realized_pnl=D(-1),
        fees=D("0.052"),
        trade_ids=frozenset({"a", "b"}),
    )


def test_settling_a_short_outcome_at_one_loses_the_distance_to_one() -> None:
    # short 2 contracts (20 tokens) at 0.30, the outcome happens (1): (1 - 0.30) x -2 x 10 = -14
    pos = opened(BINARY10, fill(BINARY10, SELL, "2", "0.30", "a"))
    settled = pos.settle(D(1))
    assert (settled.quantity, settled.avg_price, settled.realized_pnl) == (D(0), D(0), D(-14))


def test_a_fill_of_zero_quantity_is_refused() -> None:
    with pytest.raises(ValueError, match="quantity 0 must be positive"):
        opened(SPOT, fill(SPOT, BUY, "0", "100", "a"))


def test_a_fractional_long_sold_through_zero_reopens_short_at_the_fill_price() -> None:
    # long 0.5 at 100, sell 1.5 at 110: 0.5 closes, (110 - 100) x 0.5 = 5 realised; short 1 opened at 110
    pos = opened(SPOT, fill(SPOT, BUY, "0.5", "100", "a"), fill(SPOT, SELL, "1.5", "110", "b"))
    assert (pos.quantity, pos.avg_price, pos.realized_pnl) == (D(-1), D(110), D(5))


def test_a_fractional_short_bought_through_zero_reopens_long_at_the_fill_price() -> None:
    # short 0.5 at 100, buy 1.5 at 90: 0.5 closes, (90 - 100) x 0.5 x -1 = 5 realised; long 1 opened at 90
    pos = opened(SPOT, fill(SPOT, SELL, "0.5", "100", "a"), fill(SPOT, BUY, "1.5", "90", "b"))
    assert (pos.quantity, pos.avg_price, pos.realized_pnl) == (D(1), D(90), D(5))


# --- splitting a payment between holders ----------------------------------------------------------


def fraction_shares(amount: str, weights: list[str]) -> list[Fraction]:
    """The exact proportional shares, an independent check of what rounding moved."""
    total = sum((Fraction(w) for w in weights), Fraction(0))
    return [Fraction(amount) * Fraction(w) / total for w in weights]


def test_weights_that_cancel_out_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match=r"^weights must have a non-zero total$"):
        split(D(10), [D(1), D(-1)], D("0.01"))
    with pytest.raises(ValueError, match=r"^weights must have a non-zero total$"):
        split(D(10), [], D("0.01"))


def test_weights_summing_to_one_are_accepted() -> None:
    assert split(D(1), [D("0.5"), D("0.5")], D("0.01")) == [D("0.50"), D("0.50")]


def test_the_left_over_unit_goes_to_the_largest_remainder_not_the_largest_share() -> None:
    # exact shares 7.2, 1.8, 1.0: floors 7, 1, 1 leave one unit; remainders .2, .8, 0: the second holder
    assert fraction_shares("10", ["7.2", "1.8", "1.0"]) == [Fraction(36, 5), Fraction(9, 5), Fraction(1)]
    assert split(D(10), [D("7.2"), D("1.8"), D("1.0")], D(1)) == [D(7), D(2), D(1)]


def test_what_is_finer_than_the_unit_goes_to_the_largest_holder() -> None:
    # 10 whole units: 7.5 and 2.5, the tied remainder's unit to the earlier holder: 8, 2;
    # the 0.5 below one unit to the largest holder (weight 3): 8.5, 2
    assert split(D("10.5"), [D(3), D(1)], D(1)) == [D("8.5"), D(2)]
    # the largest holder by size, long or short: -5 and 15 whole units, the 0.5 to the short 3
    assert split(D("10.5"), [D(1), D(-3)], D(1)) == [D(-5), D("15.5")]


def test_equal_holders_tie_to_the_earlier_one_for_the_unit_and_the_rest() -> None:
    # one whole unit, shares 0.5 and 0.5: the unit to the first; the 0.5 below one unit to the first too
    assert split(D("1.5"), [D(2), D(2)], D(1)) == [D("1.5"), D(0)]


# --- instrument rules -----------------------------------------------------------------------------


def make(**overrides: Decimal) -> Instrument:
    """X/USDT with a tick of 0.01 and a lot of 0.001, and any of the other rules given."""
    rules = {"tick_size": D("0.01"), "lot_size": D("0.001"), "contract_size": D(1), "size_increment": D(0),
             "fee_precision": D("1e-8"), "min_notional": D(0)} | overrides  # fmt: skip
    return Instrument("SIM", "X/USDT", InstrumentKind.SPOT, "X", "USDT", rules["tick_size"], rules["lot_size"],
                      min_notional=rules["min_notional"], contract_size=rules["contract_size"],
                      size_increment=rules["size_increment"], fee_precision=rules["fee_precision"])  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tick_size": D(0)}, "X/USDT: tick_size and lot_size must be positive"),
        ({"lot_size": D(0)}, "X/USDT: tick_size and lot_size must be positive"),
        ({"contract_size": D(0)}, "X/USDT: contract_size must be positive"),
        ({"size_increment": D("-0.001")}, "X/USDT: size_increment must be positive"),
        ({"fee_precision": D(0)}, "X/USDT: fee_precision must be positive"),
    ],
)
def test_a_zero_step_or_contract_is_refused(overrides: dict[str, Decimal], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make(**overrides)


def test_a_float_price_is_read_as_it_is_written() -> None:
    # 0.15 / 0.1 = 1.5 ticks, half to even: 2 (the float's binary value, 0.1499..., would give 1)
    inst = make(tick_size=D("0.1"), lot_size=D("0.1"))
    assert inst.ticks(0.15) == 2
    assert inst.units(0.15) == 2
    assert inst.ticks(0.25) == 2  # 2.5 ticks, half to even
    assert inst.units(0.35) == 4  # 3.5 units, half to even


def test_rounding_is_half_to_even_whatever_the_decimal_context_says() -> None:
    # a library that sets the thread's decimal context must not change what a fee or a tick is
    inst = make(tick_size=D("0.1"), lot_size=D("0.1"), fee_precision=D("0.01"))
    for rounding in (ROUND_HALF_UP, ROUND_DOWN):
        with localcontext() as ctx:
            ctx.rounding = rounding
            assert inst.ticks("0.25") == 2  # 2.5 -> 2
            assert inst.ticks("0.35") == 4  # 3.5 -> 4
            assert inst.units("0.25") == 2
            assert inst.units("0.35") == 4
            # 1 x 25 x 1 x 0.001 = 0.025 -> 0.02; 1 x 35 x 0.001 = 0.035 -> 0.04
            assert inst.fee(D(1), D(25), D("0.001")) == D("0.02")
            assert inst.fee(D(1), D(35), D("0.001")) == D("0.04")


def test_notional_counts_the_contract_size() -> None:
    # 0.5 contracts x 200 x 0.1 = 10
    assert make(contract_size=D("0.1")).notional(D("0.5"), D(200)) == D(10)


def test_order_rules_at_their_edges() -> None:
    inst = make(min_notional=D(10))
    assert inst.check_order(D(0), None) == "quantity 0 must be positive"
    assert inst.check_order(D("0.5"), D(0)) == "price 0 must be positive"
    assert inst.check_order(D(20), D(1)) is None  # a price of 1 is a price: 20 x 1 = 20 notional
    assert inst.check_order(D(40), D("0.5")) is None  # and so is one below 1
    assert inst.check_order(D(10), D(1)) is None  # exactly the minimum notional is enough
    assert inst.check_order(D("9.999"), D(1)) == "notional 9.999 is below min notional 10"
