"""Walking two books together, level by level: the sizing step every two-legged arbitrage shares.

Cross-exchange (asks of one venue against bids of another) and YES/NO pairs (asks of both outcomes)
both take slices while the pair of prices still pays on its own, bounded by depth and by limits that
depend on how much has been taken (balances, budgets, a maximum size). The walk reports the slices
and, when it stopped on a limit, which one (the skip reason if nothing whole was left).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, Decimal

from spreadhawk.strategy.skips import Skip

ZERO = Decimal(0)
Levels = Sequence[tuple[Decimal, Decimal]]  # (price, size), best first
Slice = tuple[Decimal, Decimal, Decimal]  # (price on side a, price on side b, quantity)
# (price a, price b, quantity taken so far, spend so far) -> (room left, reason) per limit
Limits = Callable[[Decimal, Decimal, Decimal, Decimal], Sequence[tuple[Decimal, Skip]]]


def walk_pair(
    a: Levels,
    b: Levels,
    *,
    pays: Callable[[Decimal, Decimal], bool],
    limits: Limits,
    unit_spend: Callable[[Decimal, Decimal], Decimal],
    depth_reason: Skip,
) -> tuple[list[Slice], Skip]:
    """Slices taken while ``pays(price_a, price_b)``; the reason is the limit that stopped the walk,
    else ``depth_reason`` (the books or the margin ran out first)."""
    slices: list[Slice] = []
    i = j = 0
    left_a, left_b = (a[0][1], b[0][1]) if a and b else (ZERO, ZERO)
    qty = spend = ZERO
    while i < len(a) and j < len(b) and pays(a[i][0], b[j][0]):
        price_a, price_b = a[i][0], b[j][0]
        room, reason = min(limits(price_a, price_b, qty, spend), key=lambda limit: limit[0])  # first of equals
        take = max(min(left_a, left_b, room), ZERO)
        if take > 0:
            slices.append((price_a, price_b, take))
            qty, spend = qty + take, spend + unit_spend(price_a, price_b) * take
        if take >= room:
            return slices, reason
        left_a, left_b = left_a - take, left_b - take
        if left_a == 0 and (i := i + 1) < len(a):
            left_a = a[i][1]
        if left_b == 0 and (j := j + 1) < len(b):
            left_b = b[j][1]
    return slices, depth_reason


def round_down(quantity: Decimal, lot: Decimal) -> Decimal:
    return (quantity / lot).to_integral_value(rounding=ROUND_DOWN) * lot


def truncate(slices: Sequence[Slice], quantity: Decimal) -> list[Slice]:
    """The first slices adding up to ``quantity`` (the last one cut short)."""
    kept: list[Slice] = []
    left = quantity
    for price_a, price_b, q in slices:
        if left <= 0:
            break
        kept.append((price_a, price_b, min(q, left)))
        left -= q
    return kept
