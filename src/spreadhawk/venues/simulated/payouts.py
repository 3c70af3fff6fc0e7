"""What a simulated venue pays on positions: perpetual funding, and binary settlement payouts.

* **Funding.** At each funding time every perpetual position pays or receives
  ``position × contract size × mark × rate``; the mark is the venue's last mark price, else its book
  mid. Each funding time is paid once, and a rate published before its funding time (an estimate)
  pays nothing.
* **Settlement.** A settled spot-like instrument (a binary outcome token) is exchanged for
  ``units held × settlement price × contract size`` in its settlement currency.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from spreadhawk.domain.events import BalancePosted, FundingPaid, PostingReason, SettlementPaid
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import FundingRate
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.simulated.account import SimAccount

ZERO = Decimal(0)


class FundingDesk:
    """Marks seen and funding times paid, per perpetual."""

    __slots__ = ("_marks", "_paid")

    def __init__(self) -> None:
        self._marks: dict[InstrumentId, Decimal] = {}
        self._paid: dict[InstrumentId, int] = {}

    def on_mark(self, instrument_id: InstrumentId, mark: Decimal) -> None:
        self._marks[instrument_id] = mark

    def pay(
        self, funding: FundingRate, inst: Instrument, book: OrderBook | None, account: SimAccount, now_ns: int
    ) -> FundingPaid | None:
        """Book the funding of ``funding``'s time on the account; the report, or None when nothing is due."""
        iid = funding.instrument_id
        last_paid = self._paid.get(iid)
        if funding.ts_ns < funding.funding_ts_ns or (last_paid is not None and funding.funding_ts_ns <= last_paid):
            return None  # an estimate, or this funding time (or a later one) was already paid
        if inst.kind is not InstrumentKind.PERPETUAL:
            return None
        self._paid[iid] = funding.funding_ts_ns
        position = account.position(inst)
        mark = self._marks.get(iid)
        if mark is None and book is not None:
            mark = book.mark(inst.tick_size)  # the book's mid, exactly: integer ticks, no float
        if not position.quantity or mark is None:
            return None
        # rounded as the venue books it (Binance: 8 decimals, half to even), like a fee
        amount = (-position.quantity * inst.contract_size * mark * funding.rate).quantize(
            inst.fee_precision, rounding=ROUND_HALF_EVEN
        )
        reference = str(funding.funding_ts_ns)
        account.post(BalancePosted(now_ns, account.venue, inst.settlement, amount, PostingReason.FUNDING, reference))
        return FundingPaid(
            now_ns, iid, position.quantity, mark, funding.rate, amount, inst.settlement, funding.funding_ts_ns
        )


def settle_holdings(inst: Instrument, price: Decimal, account: SimAccount, now_ns: int) -> SettlementPaid | None:
    """Pay out the units of a settled spot-like instrument the account holds (None: nothing held)."""
    held = account.ledger.balance(account.venue, inst.base) if inst.kind is not InstrumentKind.PERPETUAL else ZERO
    if not held:
        return None
    # the ledger holds tokens; a position counts contracts of contract_size tokens (found by mutation
    # testing: a binary of 10 tokens a contract was paid 10x and left with minus 9x its tokens)
    contracts = held / inst.contract_size
    event = SettlementPaid(now_ns, inst.id, contracts, price, contracts * price * inst.contract_size, inst.settlement)
    account.settle(event, inst)
    return event
