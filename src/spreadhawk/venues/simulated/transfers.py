"""Withdrawals out of, and deposits into, one simulated venue.

A withdrawal is refused (``TransferFailed``, nothing moves) when the venue has no route for the
asset or its free balance (not locked by resting orders or margin) cannot cover the amount plus
the withdrawal fee; otherwise the venue debits both at once and reports ``WithdrawalSent`` with
the time the destination will credit it (now + the route's delay). The destination venue,
told by the engine what is on its way, credits it at that time, once: it remembers every transfer
id it has credited or is waiting for, so a repeated notice cannot credit twice.

Default routes (assumptions, to be replaced per venue in the config under
``[venues.NAME.withdrawals]``): fees are Binance's published flat network fees as of 2025-2026
(they move with network congestion), delays the usual time to enough confirmations plus processing.

| asset | fee         | delay  | basis                                               |
|-------|-------------|--------|-----------------------------------------------------|
| BTC   | 0.0002 BTC  | 30 min | Bitcoin network; published 0.0001-0.0005 BTC        |
| ETH   | 0.0016 ETH  | 10 min | ERC-20; published ~0.0012-0.005 ETH                 |
| USDT  | 1 USDT      | 5 min  | TRC-20 (ERC-20 costs 3-25 USDT)                     |
| USDC  | 1 USDC      | 5 min  | as USDT on a cheap network                          |
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from spreadhawk.domain.events import DepositCredited, RequestTransfer, TransferFailed, WithdrawalSent
from spreadhawk.domain.ledger import postings_for_deposit, postings_for_withdrawal
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.venues.simulated.account import SimAccount

MINUTE_NS = 60_000_000_000

DEFAULT_WITHDRAWALS: Mapping[str, WithdrawalTerms] = {
    "BTC": WithdrawalTerms(Decimal("0.0002"), 30 * MINUTE_NS),
    "ETH": WithdrawalTerms(Decimal("0.0016"), 10 * MINUTE_NS),
    "USDT": WithdrawalTerms(Decimal("1"), 5 * MINUTE_NS),
    "USDC": WithdrawalTerms(Decimal("1"), 5 * MINUTE_NS),
}


class SimTransfers:
    """The transfer desk of one simulated venue: sends withdrawals, credits deposits."""

    def __init__(self, account: SimAccount, withdrawals: Mapping[str, WithdrawalTerms]) -> None:
        self.account = account
        self.withdrawals = dict(withdrawals)
        self._incoming: set[str] = set()  # transfer ids expected or already credited here

    def withdraw(self, command: RequestTransfer, now_ns: int) -> WithdrawalSent | TransferFailed:
        venue = self.account.venue
        terms = self.withdrawals.get(command.asset)
        if terms is None:
            return TransferFailed(now_ns, command.transfer_id, f"{venue} has no withdrawal route for {command.asset}")
        need = command.amount + terms.fee
        free = self.account.free(command.asset)
        if need > free:
            reason = (
                f"insufficient balance: needs {need} {command.asset} (amount + withdrawal fee {terms.fee}), "
                f"{free} free on {venue}"
            )
            return TransferFailed(now_ns, command.transfer_id, reason)
        sent = WithdrawalSent(
            now_ns,
            command.transfer_id,
            command.asset,
            command.amount,
            terms.fee,
            venue,
            command.to_venue,
            now_ns + terms.delay_ns,
        )
        self.account.post_all(postings_for_withdrawal(sent))
        return sent

    def expect(self, sent: WithdrawalSent) -> bool:
        """Note a withdrawal on its way here; False when it was already noted (do not credit it again)."""
        if sent.to_venue != self.account.venue or sent.transfer_id in self._incoming:
            return False
        self._incoming.add(sent.transfer_id)
        return True

    def credit(self, sent: WithdrawalSent, now_ns: int) -> DepositCredited:
        credited = DepositCredited(now_ns, sent.transfer_id, sent.asset, sent.amount, self.account.venue)
        self.account.post_all(postings_for_deposit(credited))
        return credited
