"""Positions (average cost, realised PnL), ``postings_for_fill`` and the ``Ledger``: worked examples."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from fills import fill, position
from spreadhawk.domain.events import BalancePosted, OrderSide, PostingReason
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.ledger import Ledger, postings_for_fill
from spreadhawk.domain.positions import Position

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SPOT = Instrument("SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.001"))
PERP = Instrument(
    "SIM",
    "ETH-PERP",
    InstrumentKind.PERPETUAL,
    "ETH",
    "USDT",
    D("0.01"),
    D(1),
    contract_size=D("0.1"),
    settlement="USD",
)
BINARY = Instrument("SIM", "RAIN-YES", InstrumentKind.BINARY, "RAIN-YES", "USDC", D("0.01"), D(1))


def amounts(postings: list[BalancePosted]) -> list[tuple[str, Decimal, PostingReason]]:
    return [(p.asset, p.amount, p.reason) for p in postings]


# --- Position ---------------------------------------------------------------------------------


def test_adding_averages_the_entry_price() -> None:
    pos = position(PERP, fill(PERP, BUY, "2", "100", "a"), fill(PERP, BUY, "6", "120", "b"))
    assert pos.quantity == 8
    assert pos.avg_price == D(115)  # (2*100 + 6*120) / 8
    assert pos.realized_pnl == 0


def test_partial_close_realises_pnl_and_keeps_the_entry() -> None:
    pos = position(PERP, fill(PERP, BUY, "4", "100", "a"), fill(PERP, SELL, "1", "130", "b"))
    assert pos.quantity == 3
    assert pos.avg_price == D(100)
    assert pos.realized_pnl == D(3)  # (130 - 100) * 1 * 0.1


def test_short_gains_when_price_falls() -> None:
    pos = position(PERP, fill(PERP, SELL, "5", "200", "a"), fill(PERP, BUY, "5", "150", "b"))
    assert pos.is_flat
    assert pos.avg_price == 0
    assert pos.realized_pnl == D(25)  # (200 - 150) * 5 * 0.1


def test_flip_through_zero_opens_the_remainder_at_the_fill_price() -> None:
    pos = position(PERP, fill(PERP, BUY, "2", "100", "a"), fill(PERP, SELL, "5", "90", "b"))
    assert pos.quantity == -3
    assert pos.avg_price == D(90)
    assert pos.realized_pnl == D("-2")  # (90 - 100) * 2 * 0.1
    pos = pos.apply_fill(fill(PERP, BUY, "3", "80", "c"))
    assert pos.is_flat
    assert pos.realized_pnl == D("-2") + D(3)  # short 3 from 90 covered at 80


def test_unrealized_pnl_uses_contract_size_and_sign() -> None:
    long = position(PERP, fill(PERP, BUY, "2", "100"))
    short = position(PERP, fill(PERP, SELL, "2", "100"))
    assert long.unrealized_pnl(D(110)) == D(2)
    assert short.unrealized_pnl(D(110)) == D(-2)


def test_position_ignores_a_fill_applied_twice_and_sums_fees() -> None:
    f = fill(PERP, BUY, "2", "100", "a", fee="0.3")
    pos = position(PERP, f, f, fill(PERP, BUY, "1", "100", "b", fee="0.2"))
    assert pos.quantity == 3
    assert pos.fees == D("0.5")
    assert pos.trade_ids == frozenset({"a", "b"})


def test_fill_of_another_instrument_raises() -> None:
    with pytest.raises(ValueError, match="applied to position"):
        Position(PERP.id).apply_fill(fill(SPOT, BUY, "1", "100"))


# --- postings_for_fill ------------------------------------------------------------------------


def test_spot_buy_receives_base_and_pays_quote_and_fee() -> None:
    postings = postings_for_fill(fill(SPOT, BUY, "0.5", "20000", fee="10"), SPOT, Position(SPOT.id))
    assert amounts(postings) == [
        ("BTC", D("0.5"), PostingReason.TRADE),
        ("USDT", D("-10000"), PostingReason.TRADE),
        ("USDT", D("-10"), PostingReason.FEE),
    ]
    assert all(p.venue == "SIM" and p.reference == "t1" and p.ts_ns == 7 for p in postings)


def test_spot_sell_delivers_base_and_receives_quote_without_a_zero_fee_posting() -> None:
    postings = postings_for_fill(fill(SPOT, SELL, "0.25", "20000"), SPOT, Position(SPOT.id))
    assert amounts(postings) == [("BTC", D("-0.25"), PostingReason.TRADE), ("USDT", D(5000), PostingReason.TRADE)]


def test_binary_exchanges_outcome_tokens_for_quote() -> None:
    postings = postings_for_fill(fill(BINARY, BUY, "10", "0.37"), BINARY, Position(BINARY.id))
    assert amounts(postings) == [("RAIN-YES", D(10), PostingReason.TRADE), ("USDC", D("-3.70"), PostingReason.TRADE)]


def test_perpetual_open_posts_only_the_fee_in_settlement_currency() -> None:
    postings = postings_for_fill(fill(PERP, BUY, "3", "100", fee="0.03"), PERP, Position(PERP.id))
    assert amounts(postings) == [("USD", D("-0.03"), PostingReason.FEE)]


def test_perpetual_close_posts_realised_pnl() -> None:
    before = position(PERP, fill(PERP, BUY, "3", "100", "a"))
    postings = postings_for_fill(fill(PERP, SELL, "2", "90", "b"), PERP, before)
    assert amounts(postings) == [("USD", D(-2), PostingReason.TRADE)]  # (90 - 100) * 2 * 0.1


def test_fee_is_posted_in_the_fee_currency_of_the_fill() -> None:
    postings = postings_for_fill(fill(SPOT, BUY, "1", "100", fee="0.001", fee_ccy="BTC"), SPOT, Position(SPOT.id))
    assert ("BTC", D("-0.001"), PostingReason.FEE) in amounts(postings)


# --- Ledger -----------------------------------------------------------------------------------


def posting(asset: str, amount: Any, reason: PostingReason = PostingReason.DEPOSIT, venue: str = "A") -> BalancePosted:
    return BalancePosted(1, venue, asset, amount, reason, "r")


def test_ledger_balance_is_the_sum_of_its_postings() -> None:
    ledger = Ledger()
    ledger.post_all(
        [
            posting("USDT", D(100)),
            posting("USDT", D("-2.5"), PostingReason.FEE),
            posting("USDT", D("0.75"), PostingReason.FUNDING),
            posting("USDT", D(7), venue="B"),
        ]
    )
    assert ledger.balance("A", "USDT") == D("98.25")
    assert ledger.balance("B", "USDT") == D(7)
    assert ledger.balance("A", "BTC") == 0
    assert ledger.venue_balances("A") == {"USDT": D("98.25")}
    assert ledger.balances() == {("A", "USDT"): D("98.25"), ("B", "USDT"): D(7)}
    assert ledger.total_by_reason("USDT", PostingReason.FEE) == D("-2.5")
    assert ledger.total_by_reason("USDT", PostingReason.DEPOSIT) == D(107)
    assert len(ledger.postings) == 4


def test_ledger_views_are_copies() -> None:
    ledger = Ledger()
    ledger.post(posting("USDT", D(1)))
    view = ledger.balances()
    assert isinstance(view, dict)
    view[("A", "USDT")] = D(1000)
    assert ledger.balance("A", "USDT") == D(1)


@pytest.mark.parametrize("amount", [1.5, 1, "1"])
def test_ledger_rejects_non_decimal_amounts(amount: object) -> None:
    ledger = Ledger()
    with pytest.raises(TypeError, match="Decimal"):
        ledger.post(posting("USDT", amount))
    assert ledger.postings == ()
    assert ledger.balances() == {}
