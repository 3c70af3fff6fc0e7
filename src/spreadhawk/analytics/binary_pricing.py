"""Pricing and false-arbitrage guards for binary (YES/NO) prediction-market tokens. Pure functions.

* ``fair_probability_up``: the probability that a lognormal spot ends at or above the strike,
  ``N(d2)`` with ``d2 = (ln(S/K) - sigma^2 tau / 2) / (sigma sqrt(tau))``. The rate is taken as zero:
  over a 15-minute market ``r tau`` is ~1e-6, far below a tick, and the payout is not discounted
  either (it is paid at expiry in a stablecoin that earns nothing on the venue).
* ``pair_sum_check``: what one YES + one NO of the *same* market cost with each side's fee, and how
  many pairs the two ask books give while a pair costs less than its certain payout of 1.
* ``is_complementary_pair`` / ``is_neg_risk_basket``: the rule for when "buy every outcome" is an
  arbitrage. Only the two tokens of one market (one condition id) pay exactly 1 together whatever
  happens. Tokens of different markets are not a pair even when they belong to one negative-risk
  (multi-outcome) event: buying the NO of each of n outcomes pays n - 1 when exactly one listed
  outcome wins, but n when none does (the event resolves to an unlisted "other", or outcomes are
  added later to an augmented event), and the YES of every outcome pays 1 only if one of them
  wins. A sum of asks across such a basket is not a locked profit, so it is refused as a pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "YEAR_S",
    "OutcomeToken",
    "PairSum",
    "fair_probability_up",
    "is_complementary_pair",
    "is_neg_risk_basket",
    "pair_sum_check",
]

YEAR_S = 365 * 86_400  # volatility is annualised over calendar seconds: crypto trades around the clock
ZERO = Decimal(0)
ONE = Decimal(1)
Asks = Sequence[tuple[Decimal, Decimal]]  # (price, size), best (lowest) first


def fair_probability_up(spot: float, strike: float, seconds_to_expiry: float, annual_vol: float) -> float:
    """P(spot at expiry >= strike) under a driftless-rate lognormal model (see the module docstring).

    At or past expiry, or with zero volatility, the outcome is known: 1.0 when ``spot >= strike``
    (ties resolve up, as Polymarket's up/down markets do), else 0.0.
    """
    if spot <= 0 or strike <= 0:
        raise ValueError(f"spot and strike must be positive, got {spot} and {strike}")
    if annual_vol < 0:
        raise ValueError(f"annual_vol must be non-negative, got {annual_vol}")
    scale = annual_vol * math.sqrt(max(seconds_to_expiry, 0.0) / YEAR_S)
    if scale == 0:
        return 1.0 if spot >= strike else 0.0
    d2 = (math.log(spot / strike) - scale * scale / 2) / scale
    return 0.5 * math.erfc(-d2 / math.sqrt(2))  # N(d2); erfc keeps precision in the far tail


class PairSum(NamedTuple):
    cost_per_pair: Decimal  # best YES ask + best NO ask, each with its taker fee on its own price
    executable_pairs: Decimal  # pairs the books give while every slice costs less than 1


def pair_sum_check(yes_asks: Asks, no_asks: Asks, fees: tuple[Decimal, Decimal] = (ZERO, ZERO)) -> PairSum:
    """Cost of one YES+NO pair at the touch and the depth of the pair arbitrage, if any.

    ``fees`` are (YES, NO) taker fees as a fraction of each side's price. The books are walked
    together, best first, taking ``min`` of the two remaining sizes per slice while that slice's
    cost with fees is below 1; ``executable_pairs`` is 0 when the touch costs 1 or more.
    """
    if not yes_asks or not no_asks:
        raise ValueError("both ask books must have at least one level")
    yes_fee, no_fee = fees

    def cost(yes: Decimal, no: Decimal) -> Decimal:
        return yes * (1 + yes_fee) + no * (1 + no_fee)

    pairs, i, j = ZERO, 0, 0
    yes_left, no_left = yes_asks[0][1], no_asks[0][1]
    while i < len(yes_asks) and j < len(no_asks) and cost(yes_asks[i][0], no_asks[j][0]) < ONE:
        take = min(yes_left, no_left)
        pairs += take
        yes_left -= take
        no_left -= take
        if yes_left == 0 and (i := i + 1) < len(yes_asks):
            yes_left = yes_asks[i][1]
        if no_left == 0 and (j := j + 1) < len(no_asks):
            no_left = no_asks[j][1]
    return PairSum(cost(yes_asks[0][0], no_asks[0][0]), pairs)


@dataclass(frozen=True, slots=True)
class OutcomeToken:
    condition_id: str  # the market: its tokens are exclusive and exhaustive
    token_id: str
    neg_risk_event: str = ""  # the negative-risk event the market belongs to, "" when standalone


def is_complementary_pair(a: OutcomeToken, b: OutcomeToken) -> bool:
    """True only for two different tokens of the same market: together they pay exactly 1."""
    return a.condition_id == b.condition_id and a.token_id != b.token_id


def is_neg_risk_basket(tokens: Sequence[OutcomeToken]) -> bool:
    """True when ``tokens`` span several markets of one negative-risk event (not a pair arbitrage)."""
    events = {t.neg_risk_event for t in tokens}
    markets = {t.condition_id for t in tokens}
    return len(markets) > 1 and len(events) == 1 and "" not in events
