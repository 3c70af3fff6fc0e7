"""Splitting one amount of money between holders, exactly (issue #11).

A funding payment or a settlement is paid on the account's position; the strategies that hold it
share it in proportion to what each holds. ``amount * held / total`` is not exact in Decimal (a
third of 1 USDT), so strategy PnLs summed to the account's only within 1e-9 and read like
-18.3842211500000000000000014. ``split`` gives each holder a multiple of the currency's ``unit``
(largest-remainder, Hamilton's method) and the parts add up to exactly ``amount``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

__all__ = ["split"]


def split(amount: Decimal, weights: Sequence[Decimal], unit: Decimal) -> list[Decimal]:
    """``amount`` shared in proportion to ``weights`` (signed holdings, summing to a non-zero total).

    Each part is ``floor(amount * w / total)`` in ``unit``s, and the units left over go one each to
    the largest remainders (ties: the earlier holder). Any part of ``amount`` finer than ``unit``
    goes to the largest holder, so the parts always sum to ``amount`` exactly."""
    total = sum(weights, Decimal(0))
    if not weights or total == 0:
        raise ValueError("weights must have a non-zero total")
    whole_units = math.floor(amount / unit)  # what can be shared in units
    below_unit = amount - whole_units * unit
    raw = [Decimal(whole_units) * w / total for w in weights]  # each holder's share, in units (inexact)
    floors = [math.floor(r) for r in raw]
    left = whole_units - sum(floors)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in by_remainder[: max(left, 0)]:
        floors[i] += 1
    parts = [unit * f for f in floors]
    largest = max(range(len(weights)), key=lambda i: (abs(weights[i]), -i))
    parts[largest] += below_unit + unit * min(left, 0)
    return parts
