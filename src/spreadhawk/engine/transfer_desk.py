"""Transfers between venues, for the engine: the request checked and routed to the source venue,
each report applied once (a repeat is journaled by the engine and ignored here), its postings
journaled and published, and the destination told what is on its way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from spreadhawk.domain.events import DepositCredited, RequestTransfer, TransferEvent, TransferFailed, WithdrawalSent
from spreadhawk.domain.transfers import Transfer
from spreadhawk.engine.records import EngineError

if TYPE_CHECKING:
    from spreadhawk.engine.engine import Engine


class TransferDesk:
    """``engine.transfers`` kept up to date; ``report`` hands the engine a report of this step."""

    __slots__ = ("_engine", "_report")

    def __init__(self, engine: Engine, report: Callable[[TransferFailed], None]) -> None:
        self._engine = engine
        self._report = report

    def request(self, command: RequestTransfer) -> Transfer:
        engine = self._engine
        if command.transfer_id in engine.transfers:
            raise EngineError(f"duplicate transfer id {command.transfer_id}")
        engine.journal.append(command, sync=True)
        engine.transfers[command.transfer_id] = Transfer.from_command(command)
        source = engine.withdrawal_ports.get(command.from_venue)
        reason = self._refusal(command)
        if reason is not None or source is None:
            self._report(TransferFailed(engine.clock.now_ns(), command.transfer_id, reason or ""))
        else:
            source.transfer(command)
        return engine.transfers[command.transfer_id]

    def _refusal(self, command: RequestTransfer) -> str | None:
        venues = self._engine.venues
        if command.from_venue not in venues or command.to_venue not in venues:
            missing = command.to_venue if command.from_venue in venues else command.from_venue
            return f"no venue connected named {missing!r}"
        if command.from_venue not in self._engine.withdrawal_ports:
            return f"withdrawals are not enabled on {command.from_venue}"
        if command.from_venue == command.to_venue:
            return f"source and destination are the same venue ({command.from_venue})"
        if command.amount <= 0:
            return f"transfer amount must be positive, got {command.amount}"
        return None

    def apply(self, event: TransferEvent) -> None:
        """Apply a transfer report once, then tell its strategy."""
        engine = self._engine
        transfer = engine.transfers.get(event.transfer_id)
        if transfer is None:
            raise EngineError(f"venue reported {type(event).__name__} for unknown transfer {event.transfer_id}")
        if transfer.is_repeat(event):
            return
        engine.transfers[event.transfer_id] = transfer.apply(event)
        postings = []
        if isinstance(event, WithdrawalSent):
            postings = engine.portfolio.apply_withdrawal(event)
        elif isinstance(event, DepositCredited):
            postings = engine.portfolio.apply_deposit(event)
        for posting in postings:
            engine.journal.append(posting)
            engine.bus.publish(posting)
        engine.bus.publish(event, key=transfer.strategy_id)
        if isinstance(event, WithdrawalSent):
            destination = engine.withdrawal_ports.get(event.to_venue)
            if destination is not None:  # the destination learns what is on its way (a real one sees the chain)
                destination.transfer(event)
