"""``domain.shares.split``: money shared in proportion to holdings, each part a multiple of the
currency's unit, the parts adding up to the amount exactly (#11). Expected parts worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spreadhawk.domain.shares import split

D = Decimal
CENT = D("0.01")


@pytest.mark.parametrize(
    ("amount", "weights", "parts"),
    [
        # a third each of 1.00: 0.33 each, the cent left goes to the first of the tied remainders
        ("1.00", ["1", "1", "1"], ["0.34", "0.33", "0.33"]),
        # 10.00 on 1:2: 3.333.. and 6.666..: floors 3.33 and 6.66, the cent to the larger remainder
        ("10.00", ["1", "2"], ["3.33", "6.67"]),
        # paid funding (negative) on a long and a short of the same perp, net 6 held
        ("-0.60", ["10", "-4"], ["-1.00", "0.40"]),
        # finer than the unit: 0.005 more than whole cents goes to the largest holder
        ("1.005", ["1", "3"], ["0.25", "0.755"]),
    ],
)
def test_split_by_hand(amount: str, weights: list[str], parts: list[str]) -> None:
    assert split(D(amount), [D(w) for w in weights], CENT) == [D(p) for p in parts]


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(-(10**6), 10**6).filter(bool), min_size=1, max_size=6).filter(lambda w: sum(w) != 0),
)
def test_parts_add_up_exactly_and_are_whole_units(cents: int, weights: list[int]) -> None:
    amount = D(cents) * D("0.00000001")
    parts = split(amount, [D(w) for w in weights], D("0.00000001"))
    assert sum(parts, D(0)) == amount
    assert all(p % D("0.00000001") == 0 for p in parts)
    total = sum(weights)
    for part, weight in zip(parts, weights, strict=True):  # within one unit of the exact share
        assert abs(part - amount * weight / total) <= D("0.00000001")
