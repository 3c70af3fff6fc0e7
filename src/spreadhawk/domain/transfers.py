"""Transfers between venues: the terms of a withdrawal route and the life of one transfer.

A transfer is requested, then either refused (``TransferFailed``: nothing moved) or sent
(``WithdrawalSent``: the source venue debited amount + fee), and a sent transfer is later credited
at its destination (``DepositCredited``). The states change only through ``Transfer.apply``, which
follows an explicit table, so a transfer is credited at most once however often a venue reports it
(a repeated report is recognised and ignored) and a report that makes no sense (credited before it
was sent, sent after it failed) is an error, not a silent change of balances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from spreadhawk.domain.events import DepositCredited, RequestTransfer, TransferEvent, TransferFailed, WithdrawalSent


@dataclass(frozen=True, slots=True)
class WithdrawalTerms:
    """What a venue charges to send one asset away, and how long the route takes to credit it."""

    fee: Decimal  # fixed, in the asset withdrawn (exchanges charge a flat network fee, not a percentage)
    delay_ns: int

    def __post_init__(self) -> None:
        if self.fee < 0:
            raise ValueError(f"a withdrawal fee must not be negative, got {self.fee}")
        if self.delay_ns < 0:
            raise ValueError(f"a transfer delay must not be negative, got {self.delay_ns} ns")


class TransferStatus(StrEnum):
    REQUESTED = "requested"
    IN_TRANSIT = "in_transit"
    CREDITED = "credited"
    FAILED = "failed"


_TRANSITIONS: dict[tuple[TransferStatus, type], TransferStatus] = {
    (TransferStatus.REQUESTED, WithdrawalSent): TransferStatus.IN_TRANSIT,
    (TransferStatus.REQUESTED, TransferFailed): TransferStatus.FAILED,
    (TransferStatus.IN_TRANSIT, DepositCredited): TransferStatus.CREDITED,
}
# Reports that repeat what the transfer already went through: applied once, ignored after.
_REPEATS: frozenset[tuple[TransferStatus, type]] = frozenset(
    {
        (TransferStatus.IN_TRANSIT, WithdrawalSent),
        (TransferStatus.CREDITED, WithdrawalSent),
        (TransferStatus.CREDITED, DepositCredited),
        (TransferStatus.FAILED, TransferFailed),
    }
)


class TransferStateError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    strategy_id: str
    asset: str
    amount: Decimal
    from_venue: str
    to_venue: str
    requested_ns: int
    status: TransferStatus = TransferStatus.REQUESTED
    fee: Decimal = Decimal(0)
    sent_ns: int | None = None
    credited_ns: int | None = None
    reason: str = ""

    @classmethod
    def from_command(cls, command: RequestTransfer) -> Transfer:
        return cls(
            command.transfer_id,
            command.strategy_id,
            command.asset,
            command.amount,
            command.from_venue,
            command.to_venue,
            command.ts_ns,
        )

    @property
    def in_transit(self) -> bool:
        return self.status is TransferStatus.IN_TRANSIT

    def is_repeat(self, event: TransferEvent) -> bool:
        """True when ``event`` reports a step this transfer has already taken."""
        return (self.status, type(event)) in _REPEATS

    def apply(self, event: TransferEvent) -> Transfer:
        """The transfer after ``event``; the same object for a repeated report; an error if illegal."""
        if event.transfer_id != self.transfer_id:
            raise TransferStateError(f"event for {event.transfer_id} applied to transfer {self.transfer_id}")
        if self.is_repeat(event):
            return self
        status = _TRANSITIONS.get((self.status, type(event)))
        if status is None:
            name = type(event).__name__
            raise TransferStateError(f"transfer {self.transfer_id} is {self.status}: cannot apply {name}")
        if isinstance(event, WithdrawalSent):
            if (event.asset, event.amount) != (self.asset, self.amount):
                raise TransferStateError(f"transfer {self.transfer_id}: venue sent {event.amount} {event.asset}")
            return replace(self, status=status, fee=event.fee, sent_ns=event.ts_ns)
        if isinstance(event, DepositCredited):
            return replace(self, status=status, credited_ns=event.ts_ns)
        return replace(self, status=status, reason=event.reason)
