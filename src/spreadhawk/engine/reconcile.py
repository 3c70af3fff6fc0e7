"""Comparing what a venue says with what the engine believes.

Pure functions over the venue's reports (``AccountSnapshot``, ``OrderReport``) and the engine's
read models. Each difference is one line a person can act on; an empty list means the two agree.
The node refuses to trade while a difference it cannot explain remains (see ``runtime/restart``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from spreadhawk.domain.accounts import AccountSnapshot, OrderReport
from spreadhawk.domain.identifiers import ClientOrderId, venue_of
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.orders import Order
from spreadhawk.engine.portfolio import Portfolio

ZERO = Decimal(0)


def account_differences(snapshot: AccountSnapshot, portfolio: Portfolio) -> list[str]:
    """Balances and perpetual positions of ``snapshot.venue`` that disagree with the portfolio."""
    venue = snapshot.venue
    differences = []
    reported = {held.asset: held.total for held in snapshot.balances if held.total}
    booked = {asset: amount for asset, amount in portfolio.ledger.venue_balances(venue).items() if amount}
    for asset in sorted(set(reported) | set(booked)):
        theirs, ours = reported.get(asset, ZERO), booked.get(asset, ZERO)
        if theirs != ours:
            differences.append(f"{venue} {asset}: venue holds {theirs}, engine booked {ours}")
    positions = {p.instrument_id: p.quantity for p in snapshot.positions if p.quantity}
    for iid, inst in sorted(portfolio.instruments.items()):
        if inst.venue != venue or inst.kind is not InstrumentKind.PERPETUAL:
            continue
        theirs, ours = positions.get(iid, ZERO), portfolio.position(iid).quantity
        if theirs != ours:
            differences.append(f"{iid} position: venue holds {theirs}, engine booked {ours}")
    return differences


def order_differences(venue: str, reports: Iterable[OrderReport], orders: Mapping[ClientOrderId, Order]) -> list[str]:
    """Open orders at ``venue`` the engine does not know as open, and the reverse."""
    differences = []
    open_at_venue = {r.client_order_id: r for r in reports if r.is_open}
    ours = {coid: order for coid, order in orders.items() if order.is_open and venue_of(order.instrument_id) == venue}
    for coid in sorted(set(open_at_venue) - set(ours)):
        report = open_at_venue[coid]
        known = orders.get(coid)
        state = f"engine has it {known.status}" if known is not None else "engine never sent it"
        differences.append(f"{venue} order {coid} is open at the venue ({report.side} {report.quantity}), {state}")
    for coid in sorted(set(ours) - set(open_at_venue)):
        differences.append(f"{venue} order {coid} is {ours[coid].status} in the engine but not open at the venue")
    for coid in sorted(set(ours) & set(open_at_venue)):
        theirs, mine = open_at_venue[coid].filled_quantity, ours[coid].filled_quantity
        if theirs != mine:
            differences.append(f"{venue} order {coid}: venue filled {theirs}, engine booked {mine}")
    return differences
