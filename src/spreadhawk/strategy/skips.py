"""Why a strategy let an opportunity it saw go: the keys its ``skipped`` stats are counted under.

Shared by the detectors (``paired_walk``, ``detectors``), the binary guards and the strategies that
use them, so a reason is named once and compared as a member, never as text. The values are the
strings the stats always had: stored runs and reports read the same.
"""

from __future__ import annotations

from enum import StrEnum


class Skip(StrEnum):
    BOOK_INVALID = "book_invalid"  # no decision possible: a book is missing or invalid
    LEG_IN_FLIGHT = "leg_in_flight"  # an earlier unit (legs or hedges) is still open
    ORDER_IN_FLIGHT = "order_in_flight"
    COOLDOWN = "cooldown"
    STALE_BOOK = "stale_book"
    NEAR_EXPIRY = "near_expiry"
    NEG_RISK_MARKET = "neg_risk_market"
    NEG_RISK_BASKET = "neg_risk_basket"
    NOT_A_PAIR = "not_a_pair"
    POSITION_LIMIT = "position_limit"
    MARKET_BUDGET_SPENT = "market_budget_spent"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    INSUFFICIENT_BALANCE_BUY_VENUE = "insufficient_balance_buy_venue"
    INSUFFICIENT_BALANCE_SELL_VENUE = "insufficient_balance_sell_venue"
    BELOW_LOT_SIZE = "below_lot_size"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    DEPTH = "depth"  # a scanner's walk, bounded by the books alone


def counted(skipped: dict[Skip, int]) -> dict[str, int]:
    """Skip counts as stats report them: plain string keys, in order."""
    return {str(reason): count for reason, count in sorted(skipped.items())}
