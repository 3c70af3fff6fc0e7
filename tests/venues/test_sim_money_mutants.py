"""Value tests for the simulated venue's money code that mutation testing (``make mutation``,
docs/mutation_testing.md) found unpinned: what an order must have free (margin at a leverage above
1, contract sizes), funds locked and released, the account snapshot, a position adopted at start,
the quantity a quote budget buys, the levels a budget sweeps, funding paid from the book's mid, and
a binary outcome settled at 0 or at a fraction.

Every expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

from fills import fill
from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance, FreeBalances, PositionReport
from spreadhawk.domain.events import (
    BalancePosted,
    FundingPaid,
    OrderFilled,
    OrderSide,
    OrderType,
    PostingReason,
    SettlementPaid,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, FundingRate
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.domain.positions import Position
from spreadhawk.venues.simulated.account import SimAccount, quantity_for_budget
from spreadhawk.venues.simulated.matching import sweep_budget
from spreadhawk.venues.simulated.payouts import FundingDesk, settle_holdings

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
# a contract is 0.01 BTC
PERP = Instrument("SIM", "BTC-PERP", InstrumentKind.PERPETUAL, "BTC", "USDT", D("0.5"), D(1), contract_size=D("0.01"))
# a contract is 0.1 ETH
ETH_PERP = Instrument("SIM", "ETH-PERP", InstrumentKind.PERPETUAL, "ETH", "USDT", D("0.01"), D(1),
                      contract_size=D("0.1"))  # fmt: skip
LINEAR = Instrument("SIM", "LINK-PERP", InstrumentKind.PERPETUAL, "LINK", "USDT", D("0.001"), D("0.1"))
# a contract is 10 outcome tokens
BINARY10 = Instrument("SIM", "RAIN-YES", InstrumentKind.BINARY, "RAIN-YES", "USDC", D("0.01"), D(1),
                      contract_size=D(10), taker_fee=D("0.001"))  # fmt: skip
BINARY = Instrument("SIM", "SUN-YES", InstrumentKind.BINARY, "SUN-YES", "USDC", D("0.01"), D(1))


def account(leverage: str = "5") -> SimAccount:
    return SimAccount("SIM", D(leverage))


def buy(inst: Instrument, qty: str, price: str, trade_id: str) -> OrderFilled:
    return fill(inst, BUY, qty, price, trade_id, ts_ns=5)


# --- what an order needs free -------------------------------------------------------------------


def test_a_perpetual_order_needs_its_notional_over_the_leverage_plus_the_fee() -> None:
    # 2 contracts x 50000 x 0.01 = 1000 USDT notional: 1000 / 5 = 200 margin + 1000 x 0.05 % = 0.5 fee
    assert account().requirement(PERP, BUY, D(2), D(50000), D("0.0005")) == ("USDT", D("200.5"))


def test_adding_to_a_fractional_long_needs_margin_and_reducing_it_does_not() -> None:
    acct = account()
    acct.adopt_position(LINEAR, D("0.5"), D(100))
    # buying 0.5 more opens all of it: 0.5 x 100 = 50 / 5 = 10
    assert acct.requirement(LINEAR, BUY, D("0.5"), D(100), D(0)) == ("USDT", D(10))
    # selling 0.8 closes the 0.5 held and opens 0.3 short: 80 x 0.3 / 0.8 = 30 / 5 = 6
    assert acct.requirement(LINEAR, SELL, D("0.8"), D(100), D(0)) == ("USDT", D(6))


def test_a_binary_order_needs_every_token_of_its_contracts() -> None:
    acct = account()
    # buying 2 contracts at 0.55: 2 x 0.55 x 10 = 11 USDC + 0.1 % fee 0.011
    assert acct.requirement(BINARY10, BUY, D(2), D("0.55"), D("0.001")) == ("USDC", D("11.011"))
    # selling 2 contracts delivers 20 tokens
    assert acct.requirement(BINARY10, SELL, D(2), D("0.55"), D("0.001")) == ("RAIN-YES", D(20))


def test_a_limit_order_needs_its_swept_part_at_the_taker_fee_and_its_resting_part_at_the_maker_fee() -> None:
    spot = Instrument("SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.001"),
                      maker_fee=D("0.0005"), taker_fee=D("0.001"))  # fmt: skip
    cmd = SubmitOrder(1, ClientOrderId("s-1"), "s", spot.id, BUY, OrderType.LIMIT, D(2), price=D(100))
    swept = [(9990, 500), (10000, 700)]  # 0.5 BTC at 99.90 and 0.7 BTC at 100.00
    # taken: 49.95 + 70 = 119.95 + 0.1 % = 0.11995; resting: 0.8 x 100 = 80 + 0.05 % = 0.04
    assert account().order_requirement(spot, cmd, swept, D("0.8")) == ("USDT", D("119.95") + D("0.11995") + D("80.04"))


def test_margin_held_adds_up_over_the_perpetuals_settling_in_the_asset() -> None:
    acct = account()
    acct.adopt_position(PERP, D(3), D(50000))  # 3 x 50000 x 0.01 = 1500 / 5 = 300
    acct.adopt_position(ETH_PERP, D(-2), D(3000))  # 2 x 3000 x 0.1 = 600 / 5 = 120
    acct.adopt_position(BINARY, D(4), D("0.5"))  # a binary holds no margin
    assert acct.margin_used("USDT") == D(420)
    assert acct.margin_used("USDC") == D(0)


def test_funds_locked_add_up_and_a_release_never_leaves_a_negative_lock() -> None:
    acct = account()
    acct.reserve("USDT", D(100))
    acct.reserve("USDT", D(50))
    assert acct.reserved == {"USDT": D(150)}
    acct.release("USDT", D(30))
    assert acct.reserved == {"USDT": D(120)}
    acct.release("USDT", D("119.5"))
    assert acct.reserved == {"USDT": D("0.5")}
    acct.release("USDT", D(2))  # more than is locked: nothing stays locked, and nothing is freed twice
    assert acct.reserved == {"USDT": D(0)}
    acct.release("BTC", D(1))  # nothing was locked
    assert acct.reserved == {"USDT": D(0), "BTC": D(0)}


def test_the_snapshot_reports_totals_free_balances_and_open_positions() -> None:
    acct = account()
    acct.deposit(1, "USDT", D(1000), "seed")
    acct.deposit(1, "BTC", D(2), "seed")
    acct.reserve("USDT", D(100))
    acct.adopt_position(PERP, D(3), D(50000))  # 300 USDT of margin at 5x
    acct.adopt_position(ETH_PERP, D(0), D(0))  # flat: not reported
    assert acct.positions[PERP.id] == Position(PERP.id, contract_size=D("0.01"), quantity=D(3), avg_price=D(50000))
    assert acct.snapshot(9) == AccountSnapshot(
        9,
        "SIM",
        # USDT free: 1000 - 100 locked - 300 margin = 600
        (AssetBalance("BTC", D(2), D(2)), AssetBalance("USDT", D(1000), D(600))),
        (PositionReport(PERP.id, D(3), D(50000)),),
    )


def test_a_posting_marks_its_asset_for_the_next_free_balance_report() -> None:
    acct = account()
    acct.post(BalancePosted(1, "SIM", "ETH", D(5), PostingReason.DEPOSIT, "seed"))
    assert acct.take_free_report(2) == FreeBalances(2, "SIM", (("ETH", D(5)),))
    assert acct.take_free_report(3) is None


# --- a quote budget ------------------------------------------------------------------------------


def test_a_quote_budget_buys_whole_contracts_with_the_fee_on_top() -> None:
    # 100 USDC at 0.40 a token, 10 tokens a contract, 0.1 % taker fee: 25 contracts cost 100 + 0.1 fee,
    # too much; 24 cost 96 + 0.096
    levels = [(40, 100)]  # 0.40 in ticks of 0.01, 100 contracts
    assert quantity_for_budget(BINARY10, D(100), levels, {}) == D(24)


def test_a_budget_sweeps_whole_levels_then_what_it_can_afford() -> None:
    # 1000 tick-units: 3 x 100 = 300, then 700 // 101 = 6 of the 5 there: all 5
    assert sweep_budget([(100, 3), (101, 5)], 1000, consumed={}) == [(100, 3), (101, 5)]
    # a level our earlier orders took is skipped, the next one still bought: 1000 // 101 = 9 > 5
    assert sweep_budget([(100, 3), (101, 5)], 1000, consumed={100: 3}) == [(101, 5)]
    # a level of one unit is bought like any other: 100, then 900 // 101 = 8 > 5
    assert sweep_budget([(100, 1), (101, 5)], 1000, consumed={}) == [(100, 1), (101, 5)]
    # a budget that cannot buy one unit buys nothing, and reports no empty fill
    assert sweep_budget([(100, 3), (101, 5)], 99, consumed={}) == []


# --- funding and settlement ----------------------------------------------------------------------


def valid_book(bids: tuple[tuple[int, int], ...], asks: tuple[tuple[int, int], ...]) -> OrderBook:
    book = OrderBook(PERP.id)
    book.apply_snapshot(BookSnapshot(PERP.id, 1, 1, bids, asks))
    return book


def test_funding_without_a_mark_is_paid_on_the_book_mid() -> None:
    acct = account()
    acct.adopt_position(PERP, D(3), D(50000))
    desk = FundingDesk()
    book = valid_book(((1000, 5),), ((1002, 5),))  # mid 1001 ticks of 0.5 = 500.5
    paid = desk.pay(FundingRate(PERP.id, 100, D("0.0001"), 100), PERP, book, acct, 105)
    # a long pays: -3 x 0.01 x 500.5 x 0.0001 = -0.0015015
    assert paid == FundingPaid(105, PERP.id, D(3), D("500.5"), D("0.0001"), D("-0.0015015"), "USDT", 100)
    assert acct.ledger.postings == (BalancePosted(105, "SIM", "USDT", D("-0.0015015"), PostingReason.FUNDING, "100"),)


def test_funding_is_rounded_half_to_even_whatever_the_decimal_context_says() -> None:
    acct = account()
    acct.adopt_position(LINEAR, D("0.5"), D(1))
    desk = FundingDesk()
    desk.on_mark(LINEAR.id, D(1))
    with localcontext() as ctx:
        ctx.rounding = ROUND_HALF_UP
        paid = desk.pay(FundingRate(LINEAR.id, 100, D("0.00000005"), 100), LINEAR, None, acct, 105)
    # -0.5 x 1 x 1 x 0.00000005 = -0.000000025: 2.5 units of 1e-8, half to even -> -0.00000002
    assert paid is not None
    assert paid.amount == D("-0.00000002")


def test_funding_without_a_mark_or_a_priced_book_pays_nothing() -> None:
    acct = account()
    acct.adopt_position(PERP, D(3), D(50000))
    desk = FundingDesk()
    assert desk.pay(FundingRate(PERP.id, 100, D("0.0001"), 100), PERP, None, acct, 105) is None
    # a book with no snapshot yet is not valid: it prices nothing
    assert desk.pay(FundingRate(PERP.id, 200, D("0.0001"), 200), PERP, OrderBook(PERP.id), acct, 205) is None
    # a valid book with no asks has no mid
    one_sided = valid_book(((1000, 5),), ())
    assert desk.pay(FundingRate(PERP.id, 300, D("0.0001"), 300), PERP, one_sided, acct, 305) is None
    assert acct.ledger.postings == ()


def test_a_binary_settled_at_zero_or_at_a_fraction_pays_the_tokens_times_the_price() -> None:
    lost, half = account(), account()
    for acct in (lost, half):
        acct.apply_fill(buy(BINARY, "10", "0.40", "t1"), BINARY)  # 10 tokens for 4 USDC
    # the outcome did not happen: 10 x 0 = nothing paid, the tokens are gone
    assert settle_holdings(BINARY, D(0), lost, 50) == SettlementPaid(50, BINARY.id, D(10), D(0), D(0), "USDC")
    assert lost.ledger.venue_balances("SIM") == {"SUN-YES": D(0), "USDC": D(-4)}
    # a market voided at 0.5: 10 x 0.5 = 5 USDC
    assert settle_holdings(BINARY, D("0.5"), half, 50) == SettlementPaid(50, BINARY.id, D(10), D("0.5"), D(5), "USDC")
    assert half.ledger.venue_balances("SIM") == {"SUN-YES": D(0), "USDC": D(1)}


def test_a_perpetual_holds_no_tokens_to_settle() -> None:
    acct = account()
    acct.deposit(1, "BTC", D(2), "seed")  # BTC held on the venue is not a BTC-PERP position
    assert settle_holdings(PERP, D(50000), acct, 50) is None
    assert acct.ledger.venue_balances("SIM") == {"BTC": D(2)}


def test_a_binary_with_a_contract_size_settles_its_contracts_not_its_tokens_times_the_size() -> None:
    acct = account()
    acct.deposit(0, "USDC", D(100), "seed")
    acct.apply_fill(buy(BINARY10, "3", "0.40", "t1"), BINARY10)  # 3 contracts = 30 tokens for 12 USDC
    # the outcome happens: 3 contracts x 10 tokens x 1 = 30 USDC, and the 30 tokens are gone
    assert settle_holdings(BINARY10, D(1), acct, 50) == SettlementPaid(50, BINARY10.id, D(3), D(1), D(30), "USDC")
    assert acct.ledger.venue_balances("SIM") == {"USDC": D(118), "RAIN-YES": D(0)}
