"""Skip reasons: compared as members, reported under the strings the stats always had."""

from __future__ import annotations

from spreadhawk.strategy.binary_guards import near_expiry, stale_books
from spreadhawk.strategy.skips import Skip, counted


def test_stats_report_plain_strings_in_order() -> None:
    report = counted({Skip.LEG_IN_FLIGHT: 2, Skip.BELOW_LOT_SIZE: 1})
    assert report == {"below_lot_size": 1, "leg_in_flight": 2}
    assert all(type(key) is str for key in report)  # nothing enum-shaped reaches stored results


def test_the_guards_answer_with_members() -> None:
    assert stale_books(10, (0,), 5) is Skip.STALE_BOOK
    assert near_expiry(10, 12, 5) is Skip.NEAR_EXPIRY
    assert stale_books(10, (8,), 5) is None


def test_the_values_are_the_stats_keys_stored_runs_hold() -> None:
    assert {str(s) for s in Skip} >= {
        "book_invalid",
        "leg_in_flight",
        "cooldown",
        "insufficient_balance_buy_venue",
        "insufficient_balance_sell_venue",
        "below_lot_size",
        "below_min_notional",
        "stale_book",
        "near_expiry",
        "neg_risk_market",
        "market_budget_spent",
        "insufficient_balance",
        "position_limit",
    }
