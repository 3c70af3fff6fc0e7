"""Pure matching arithmetic: an aggressive order against L2 depth, level by level.

Prices are integer ticks and sizes integer size units (see ``Instrument``); the caller converts the
result to exact Decimals. Liquidity our own earlier orders already took is subtracted through
``consumed`` (price -> units), because a replayed book does not know about our trades until the
next update of that level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

Level = tuple[int, int]
Fill = tuple[int, int]  # (price ticks, size units)


def sweep(
    levels: Iterable[Level],
    quantity: int,
    *,
    limit: int | None,
    is_buy: bool,
    consumed: Mapping[int, int],
) -> list[Fill]:
    """Fills taking up to ``quantity`` units from ``levels`` (best first), not beyond ``limit``."""
    fills: list[Fill] = []
    remaining = quantity
    for price, size in levels:
        if remaining <= 0:
            break
        if limit is not None and (price > limit if is_buy else price < limit):
            break
        available = size - consumed.get(price, 0)
        if available <= 0:
            continue
        take = available if available < remaining else remaining
        fills.append((price, take))
        remaining -= take
    return fills


def sweep_budget(
    levels: Iterable[Level],
    budget_tick_units: int,
    *,
    consumed: Mapping[int, int],
) -> list[Fill]:
    """Buy fills spending at most ``budget_tick_units`` (price ticks × size units) over the levels."""
    fills: list[Fill] = []
    remaining = budget_tick_units
    for price, size in levels:
        available = size - consumed.get(price, 0)
        if available <= 0:
            continue
        affordable = remaining // price
        take = available if available < affordable else affordable
        if take <= 0:
            break
        fills.append((price, take))
        remaining -= take * price
    return fills
