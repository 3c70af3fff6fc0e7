"""Portfolio: positions and balances per venue as the engine learns them from venue events.

Balances live in a domain ``Ledger`` (exact Decimals, one posting per change). Equity is valued in
one currency: an asset held is priced by the most recent price of any instrument that quotes it in
that currency (book mid while the book is valid, else the last trade or bar close); a perpetual
adds its unrealised PnL at the same price. An asset in transit between two venues (withdrawn, not
yet credited) is still owned: it counts in equity at the same price, so a transfer costs equity
only its withdrawal fee.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

from spreadhawk.domain.events import (
    BalancePosted,
    DepositCredited,
    FundingPaid,
    OrderFilled,
    PostingReason,
    SettlementPaid,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.ledger import (
    Ledger,
    postings_for_deposit,
    postings_for_fill,
    postings_for_settlement,
    postings_for_withdrawal,
)
from spreadhawk.domain.positions import Position

ZERO = Decimal(0)
PriceOf = Callable[[InstrumentId], Decimal | None]


class Portfolio:
    def __init__(self, instruments: Iterable[Instrument], valuation_currency: str) -> None:
        self.instruments = {i.id: i for i in instruments}
        self.valuation_currency = valuation_currency
        self.ledger = Ledger()
        self.positions: dict[InstrumentId, Position] = {}
        self.fees_paid: dict[str, Decimal] = {}
        self.traded_notional: dict[str, Decimal] = {}
        self.withdrawal_fees: dict[str, Decimal] = {}  # by asset
        self.in_transit: dict[str, WithdrawalSent] = {}  # transfer id -> the withdrawal not yet credited
        self._withdrawn: set[str] = set()  # every transfer id whose withdrawal was booked
        self._funded: set[tuple[InstrumentId, int]] = set()  # (instrument, funding time) paid
        self._pricing: dict[str, list[InstrumentId]] = {}
        # Assets instruments settle or quote in (cash), as opposed to traded assets and outcome tokens.
        self.currencies = frozenset(i.settlement for i in self.instruments.values()) | {valuation_currency}
        for inst in self.instruments.values():
            if inst.quote == valuation_currency and inst.kind is not InstrumentKind.PERPETUAL:
                self._pricing.setdefault(inst.base, []).append(inst.id)
        # Only a perpetual's position is worth more than its balances (its unrealised PnL).
        self._has_perpetuals = any(i.kind is InstrumentKind.PERPETUAL for i in self.instruments.values())

    def position(self, instrument_id: InstrumentId) -> Position:
        pos = self.positions.get(instrument_id)
        if pos is None:
            inst = self.instruments[instrument_id]
            pos = Position(instrument_id, contract_size=inst.contract_size)
        return pos

    def adopt_position(self, instrument_id: InstrumentId, quantity: Decimal, avg_price: Decimal) -> None:
        """Take over a position the venue already held when the account was opened (no fill of ours
        made it, so none of its history is known: the venue's entry price stands)."""
        self.positions[instrument_id] = replace(self.position(instrument_id), quantity=quantity, avg_price=avg_price)

    def apply_fill(self, fill: OrderFilled) -> tuple[Position, list[BalancePosted]]:
        inst = self.instruments[fill.instrument_id]
        before = self.position(fill.instrument_id)
        if fill.trade_id in before.trade_ids:
            return before, []  # reported twice: applied once
        postings = postings_for_fill(fill, inst, before)
        self.ledger.post_all(postings)
        after = before.apply_fill(fill)
        self.positions[fill.instrument_id] = after
        self.fees_paid[fill.fee_currency] = self.fees_paid.get(fill.fee_currency, ZERO) + fill.fee
        notional = fill.quantity * fill.price * inst.contract_size
        self.traded_notional[inst.quote] = self.traded_notional.get(inst.quote, ZERO) + notional
        return after, postings

    def apply_funding(self, event: FundingPaid) -> BalancePosted | None:
        """Book a funding payment once per (instrument, funding time): a venue reporting the same
        payment twice (a poll and a stream, a restated record) must not pay it twice. None: booked already."""
        key = (event.instrument_id, event.funding_ts_ns)
        if key in self._funded:
            return None
        self._funded.add(key)
        inst = self.instruments[event.instrument_id]
        posting = BalancePosted(
            event.ts_ns, inst.venue, event.currency, event.amount, PostingReason.FUNDING, str(event.funding_ts_ns)
        )
        self.ledger.post(posting)
        return posting

    def apply_settlement(self, event: SettlementPaid) -> list[BalancePosted]:
        inst = self.instruments[event.instrument_id]
        postings = postings_for_settlement(event, inst)
        self.ledger.post_all(postings)
        self.positions[inst.id] = self.position(inst.id).settle(event.price)
        return postings

    def apply_withdrawal(self, event: WithdrawalSent) -> list[BalancePosted]:
        """Book a transfer leaving its source venue (once per transfer id); it is in transit until credited."""
        if event.transfer_id in self._withdrawn:
            return []
        self._withdrawn.add(event.transfer_id)
        postings = postings_for_withdrawal(event)
        self.ledger.post_all(postings)
        self.in_transit[event.transfer_id] = event
        self.withdrawal_fees[event.asset] = self.withdrawal_fees.get(event.asset, ZERO) + event.fee
        return postings

    def apply_deposit(self, event: DepositCredited) -> list[BalancePosted]:
        """Book a transfer arriving; only a transfer in transit can arrive, and only once."""
        if self.in_transit.pop(event.transfer_id, None) is None:
            return []
        postings = postings_for_deposit(event)
        self.ledger.post_all(postings)
        return postings

    def transit_amounts(self) -> dict[str, Decimal]:
        """Amounts in transit by asset."""
        amounts: dict[str, Decimal] = {}
        for sent in self.in_transit.values():
            amounts[sent.asset] = amounts.get(sent.asset, ZERO) + sent.amount
        return amounts

    def asset_price(self, asset: str, price_of: PriceOf) -> Decimal | None:
        if asset == self.valuation_currency:
            return Decimal(1)
        for iid in self._pricing.get(asset, ()):
            price = price_of(iid)
            if price is not None:
                return price
        return None

    def equity(self, price_of: PriceOf) -> Decimal:
        """Total value in the valuation currency; assets with no price yet are left out."""
        total = ZERO
        for (_, asset), amount in self.ledger.balance_items():
            if amount:
                price = self.asset_price(asset, price_of)
                if price is not None:
                    total += amount * price
        if self.in_transit:  # rarely: a withdrawal on its way
            for asset, amount in self.transit_amounts().items():
                price = self.asset_price(asset, price_of)
                if price is not None:
                    total += amount * price
        if not self._has_perpetuals:  # spot and binaries: the balances hold all the value
            return total
        for iid, pos in self.positions.items():
            inst = self.instruments[iid]
            if inst.kind is InstrumentKind.PERPETUAL and pos.quantity:
                price = price_of(iid)
                settle_price = self.asset_price(inst.settlement, price_of)
                if price is not None and settle_price is not None:
                    total += pos.unrealized_pnl(price) * settle_price
        return total

    def has_exposure(self) -> bool:
        return any(not p.is_flat for p in self.positions.values())
