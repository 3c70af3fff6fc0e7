"""What the engine knows of each venue's account, learnt only from the venue's own reports.

The first ``AccountSnapshot`` of a venue opens its ledger (one ``opening`` posting per asset held,
positions the venue already holds adopted); a later snapshot is compared with the ledger and every
difference recorded, never silently booked. ``BalanceAdjusted`` (a deposit or withdrawal no order
of ours caused) is booked as it says. ``FreeBalances`` keeps what each venue holds free for new
orders, which ``Engine.available`` starts from.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from spreadhawk.domain.accounts import AccountSnapshot, BalanceAdjusted, FreeBalances
from spreadhawk.domain.events import BalancePosted, PostingReason
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.portfolio import Portfolio
from spreadhawk.engine.reconcile import account_differences

Write = Callable[[object], None]  # the engine's journal append (the journal may be swapped: restore)


class VenueAccounts:
    __slots__ = ("_bus", "_free", "_portfolio", "_write", "differences", "opened")

    def __init__(self, portfolio: Portfolio, bus: MessageBus, write: Write) -> None:
        self._portfolio = portfolio
        self._bus = bus
        self._write = write
        self._free: dict[tuple[str, str], Decimal] = {}  # (venue, asset) -> free, as the venue last said
        self.opened: dict[str, AccountSnapshot] = {}  # by venue: the snapshot that opened its ledger
        self.differences: list[str] = []  # later snapshots that disagree with the ledger

    def free(self, venue: str, asset: str) -> Decimal | None:
        """What ``venue`` last said it holds free of ``asset`` (``None``: it never said)."""
        return self._free.get((venue, asset))

    def apply(self, event: AccountSnapshot | BalanceAdjusted | FreeBalances) -> None:
        if isinstance(event, FreeBalances):
            for asset, free in event.free:
                self._free[event.venue, asset] = free
        elif isinstance(event, BalanceAdjusted):
            self._post(BalancePosted(event.ts_ns, event.venue, event.asset, event.amount, PostingReason.DEPOSIT,
                                     event.reference))  # fmt: skip
        elif event.venue not in self.opened:
            self._open(event)
        else:
            for held in event.balances:
                self._free[event.venue, held.asset] = held.free
            self.differences.extend(account_differences(event, self._portfolio))
            self._bus.publish(event)

    def _open(self, snapshot: AccountSnapshot) -> None:
        self.opened[snapshot.venue] = snapshot
        for held in snapshot.balances:
            self._free[snapshot.venue, held.asset] = held.free
            if held.total:
                self._post(
                    BalancePosted(
                        snapshot.ts_ns, snapshot.venue, held.asset, held.total, PostingReason.DEPOSIT, "opening"
                    )
                )
        for reported in snapshot.positions:
            if reported.quantity and reported.instrument_id in self._portfolio.instruments:
                self._portfolio.adopt_position(reported.instrument_id, reported.quantity, reported.avg_price)
        self._bus.publish(snapshot)

    def _post(self, posting: BalancePosted) -> None:
        self._portfolio.ledger.post(posting)
        self._write(posting)
        self._bus.publish(posting)
