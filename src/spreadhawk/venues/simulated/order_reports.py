"""The orders working at a simulated venue, as the ``OrderReport``s its look-ups answer with
(``query_order``, ``open_orders``): resting limits, armed stops, and bar orders waiting for the
next open. Separate from ``venue``: this translates the venue's state, it decides nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from spreadhawk.domain.accounts import OrderReport
from spreadhawk.domain.events import SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.engine.ports import VenueHub
from spreadhawk.venues.simulated.resting import WorkingOrder
from spreadhawk.venues.simulated.stops import ArmedStop

__all__ = ["working_order_reports"]

ZERO = Decimal(0)


def working_order_reports(
    hub: VenueHub,
    working: Mapping[InstrumentId, Mapping[ClientOrderId, WorkingOrder]],
    stops: Iterable[ArmedStop],
    pending_bar_orders: Mapping[InstrumentId, Mapping[ClientOrderId, tuple[SubmitOrder, str]]],
) -> dict[ClientOrderId, OrderReport]:
    """Orders working at this venue (resting, or waiting for the next bar), as order reports."""
    now = hub.now_ns()
    reports: dict[ClientOrderId, OrderReport] = {}
    for iid, working_orders in working.items():
        inst = hub.instrument(iid)
        for coid, resting in working_orders.items():
            cmd = resting.cmd
            reports[coid] = OrderReport(
                now,
                coid,
                resting.venue_order_id,
                iid,
                cmd.side,
                cmd.order_type,
                cmd.quantity,
                inst.price(resting.price_ticks),
                cmd.time_in_force,
                cmd.quantity - resting.leaves,
                True,
            )
    for stop in stops:
        cmd = stop.cmd
        reports[cmd.client_order_id] = OrderReport(
            now, cmd.client_order_id, stop.venue_order_id, cmd.instrument_id, cmd.side, cmd.order_type,
            cmd.quantity, None, cmd.time_in_force, ZERO, True,
        )  # fmt: skip
    for pending in pending_bar_orders.values():
        for coid, (cmd, voi) in pending.items():
            reports[coid] = OrderReport(
                now,
                coid,
                voi,
                cmd.instrument_id,
                cmd.side,
                cmd.order_type,
                cmd.quantity,
                cmd.price,
                cmd.time_in_force,
                ZERO,
                True,
            )
    return reports
