"""RELIABILITY.md §4.2 scenario 18 (the journal's part): when the journal cannot be written, no
order leaves and the node stops sending anything new.

The journal is the node's database of intents. Its ``fsync`` port here fails with ENOSPC the way a
full disk fails the real call (the flush before it succeeds: the bytes sit in the page cache, not on
disk). The order must be denied, the venue must never see it, and every later order must be denied
too — even once the disk has room again — until a restart reconciles what the journal holds.
"""

from __future__ import annotations

import asyncio
import errno
from decimal import Decimal
from pathlib import Path

from spreadhawk.domain.events import OrderSide, OrderType, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Durability, Journal, read_journal
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

START = 1_700_000_000_000_000_000
SPOT = Instrument("X", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", tick_size=Decimal(1), lot_size=Decimal("0.1"))


class Disk:
    """An fsync that fails while the disk is full."""

    def __init__(self) -> None:
        self.full = False
        self.calls = 0

    def fsync(self, fd: int) -> None:
        self.calls += 1
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")


def _order(n: int) -> SubmitOrder:
    return SubmitOrder(START + n, ClientOrderId(f"s-{n}"), "s", SPOT.id, OrderSide.BUY, OrderType.LIMIT,
                       Decimal("0.1"), Decimal("100"))  # fmt: skip


def test_an_intent_that_cannot_be_journaled_never_leaves_and_halts_new_orders(tmp_path: Path) -> None:
    disk = Disk()
    path = tmp_path / "node.journal"
    engine = Engine([SPOT], clock=SimClock(START), journal=Journal(path, durability=Durability.SYNC_INTENTS,
                                                                 fsync=disk.fsync))  # fmt: skip
    venue = SimulatedVenue(SPOT.venue, balances={"USDT": Decimal(100_000)})
    connect_simulated(engine, venue)
    engine.process(BookSnapshot(SPOT.id, START, 1, ((99, 50),), ((101, 50),)))

    engine.submit(_order(1))
    engine.drain()
    assert engine.orders[ClientOrderId("s-1")].status is OrderStatus.ACCEPTED  # the disk works: sent, resting
    disk.full = True
    refused = engine.submit(_order(2))
    assert refused.status is OrderStatus.DENIED
    assert "journal cannot be written" in (engine.halt_reason or "")
    disk.full = False  # room again: still nothing new until a restart has reconciled
    assert engine.submit(_order(3)).status is OrderStatus.DENIED
    engine.drain()

    working = {report.client_order_id for report in asyncio.run(venue.open_orders())}
    assert working == {ClientOrderId("s-1")}  # the venue never saw s-2 or s-3
    engine.journal.close()
    journaled = {r.client_order_id for r in read_journal(path) if isinstance(r, SubmitOrder)}
    assert ClientOrderId("s-1") in journaled
