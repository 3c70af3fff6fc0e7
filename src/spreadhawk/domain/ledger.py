"""The ledger: exact balances per (venue, asset), changed only by postings.

Every change is a ``BalancePosted`` with a reason (deposit, trade, fee, funding, settlement,
transfer out/in, withdrawal fee), so the balance of any asset equals the sum of its postings, and a report can say where
each unit of money came from. ``postings_for_fill`` is the one place that says how a fill moves
money:

* spot and binary outcomes exchange assets: the base (or outcome token) is received or delivered
  and the quote paid or received at the fill price;
* perpetuals hold no base asset: closing realises PnL into the settlement currency (average-cost,
  as ``Position`` computes it);
* the fee is always paid in the fill's ``fee_currency`` (the simulator charges the settlement
  currency; a venue that charges in the received asset says so in the fill).

A transfer between venues posts twice: when it is sent (the amount out of the source, and the
withdrawal fee) and when it is credited (the amount into the destination). In between the amount
is in transit, in no venue's balance; the portfolio counts it in equity (see ``Portfolio``).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Mapping
from decimal import Decimal

from spreadhawk.domain.events import (
    BalancePosted,
    DepositCredited,
    OrderFilled,
    PostingReason,
    SettlementPaid,
    WithdrawalSent,
)
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.positions import Position

ZERO = Decimal(0)


def postings_for_fill(fill: OrderFilled, instrument: Instrument, position_before: Position) -> list[BalancePosted]:
    if fill.trade_id in position_before.trade_ids:
        return []  # this fill was already booked: a fill moves money once
    venue, ts, ref = instrument.venue, fill.ts_ns, fill.trade_id
    postings: list[BalancePosted] = []
    if instrument.kind is InstrumentKind.PERPETUAL:
        after = position_before.apply_fill(fill)
        pnl = after.realized_pnl - position_before.realized_pnl
        if pnl:
            postings.append(BalancePosted(ts, venue, instrument.settlement, pnl, PostingReason.TRADE, ref))
    else:
        sign = fill.side.sign
        base_amount = fill.quantity * instrument.contract_size * sign
        quote_amount = -fill.quantity * fill.price * instrument.contract_size * sign
        postings.append(BalancePosted(ts, venue, instrument.base, base_amount, PostingReason.TRADE, ref))
        postings.append(BalancePosted(ts, venue, instrument.quote, quote_amount, PostingReason.TRADE, ref))
    if fill.fee:
        postings.append(BalancePosted(ts, venue, fill.fee_currency, -fill.fee, PostingReason.FEE, ref))
    return postings


def postings_for_settlement(event: SettlementPaid, instrument: Instrument) -> list[BalancePosted]:
    """A settled spot-like instrument (a binary outcome token) is exchanged for its payout."""
    venue, ts, ref = instrument.venue, event.ts_ns, f"settle:{instrument.id}"
    return [
        BalancePosted(
            ts, venue, instrument.base, -event.quantity * instrument.contract_size, PostingReason.SETTLEMENT, ref
        ),
        BalancePosted(ts, venue, event.currency, event.amount, PostingReason.SETTLEMENT, ref),
    ]


def postings_for_withdrawal(event: WithdrawalSent) -> list[BalancePosted]:
    """The source venue's side of a transfer: the amount leaves, and the fee is paid on top."""
    venue, ts, ref = event.from_venue, event.ts_ns, event.transfer_id
    postings = [BalancePosted(ts, venue, event.asset, -event.amount, PostingReason.TRANSFER_OUT, ref)]
    if event.fee:
        postings.append(BalancePosted(ts, venue, event.asset, -event.fee, PostingReason.WITHDRAWAL_FEE, ref))
    return postings


def postings_for_deposit(event: DepositCredited) -> list[BalancePosted]:
    """The destination venue's side: the amount arrives."""
    return [
        BalancePosted(
            event.ts_ns, event.to_venue, event.asset, event.amount, PostingReason.TRANSFER_IN, event.transfer_id
        )
    ]


class Ledger:
    """Balances per (venue, asset). Mutable aggregate; every mutation is a recorded posting."""

    __slots__ = ("_balances", "_postings")

    def __init__(self) -> None:
        self._balances: dict[tuple[str, str], Decimal] = {}
        self._postings: list[BalancePosted] = []

    def post(self, posting: BalancePosted) -> None:
        if not isinstance(posting.amount, Decimal):
            raise TypeError(f"ledger amounts must be Decimal, got {type(posting.amount).__name__}")
        key = (posting.venue, posting.asset)
        self._balances[key] = self._balances.get(key, ZERO) + posting.amount
        self._postings.append(posting)

    def post_all(self, postings: Iterable[BalancePosted]) -> None:
        for posting in postings:
            self.post(posting)

    def balance(self, venue: str, asset: str) -> Decimal:
        return self._balances.get((venue, asset), ZERO)

    def balances(self) -> Mapping[tuple[str, str], Decimal]:
        return dict(self._balances)

    def balance_items(self) -> ItemsView[tuple[str, str], Decimal]:
        """The balances as a live view, not a copy (equity is valued from them at every sample)."""
        return self._balances.items()

    def venue_balances(self, venue: str) -> dict[str, Decimal]:
        return {asset: amount for (v, asset), amount in self._balances.items() if v == venue}

    @property
    def postings(self) -> tuple[BalancePosted, ...]:
        return tuple(self._postings)

    def total_by_reason(self, asset: str, reason: PostingReason) -> Decimal:
        return sum((p.amount for p in self._postings if p.asset == asset and p.reason is reason), ZERO)
