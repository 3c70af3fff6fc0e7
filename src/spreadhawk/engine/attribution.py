"""Per-strategy PnL when several strategies share the venues' balances.

Each strategy gets a shadow ``Portfolio`` with no deposits: its own fills are booked into it, so its
ledger holds exactly what its trading moved (assets bought and sold, fees). Funding and settlement
are paid per venue position, not per strategy; they are shared out in proportion to each
strategy's own position in the instrument at that moment. A transfer between venues is booked to
the strategy that asked for it: the asset moves between its venues (in transit meanwhile, still
counted) and the withdrawal fee is charged to it. A strategy's PnL is then the value of its
shadow ledger (plus unrealised PnL of its perpetuals) at current prices, and the strategies' PnLs
add up to the account's PnL net of the starting inventory's revaluation.

The engine owns the one attribution (``engine.attribution``) and subscribes it before anything else,
so a strategy's own position has already moved when its ``on_order_filled`` runs. A strategy is
registered when its context is made (``StrategyContext``): its shadow portfolio is what
``ctx.position`` reads, and fills of ids never registered (the risk engine's flattening orders,
external orders) belong to no strategy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from spreadhawk.domain.events import BalancePosted as Posting
from spreadhawk.domain.events import (
    DepositCredited,
    FundingPaid,
    OrderFilled,
    PostingReason,
    SettlementPaid,
    WithdrawalSent,
)
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.shares import split
from spreadhawk.engine.messages import EquitySampled
from spreadhawk.engine.portfolio import Portfolio

if TYPE_CHECKING:  # the engine builds the attribution: a runtime import would be circular
    from spreadhawk.engine.engine import Engine

ZERO = Decimal(0)
_Share = tuple[Portfolio, Decimal, Decimal]  # a strategy's portfolio, what it holds, its part of the money


class StrategyAttribution:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.portfolios: dict[str, Portfolio] = {}
        self.fills: dict[str, int] = {}
        self.curves: dict[str, list[tuple[int, Decimal]]] = {}
        bus = engine.bus
        bus.subscribe(OrderFilled, self._on_fill)
        bus.subscribe(FundingPaid, self._on_funding)
        bus.subscribe(SettlementPaid, self._on_settlement)
        bus.subscribe(EquitySampled, self._on_sample)
        bus.subscribe(WithdrawalSent, self._on_withdrawal)
        bus.subscribe(DepositCredited, self._on_deposit)

    def register(self, strategy_id: str) -> Portfolio:
        """The shadow portfolio of ``strategy_id``, made empty the first time (a strategy's fills
        before it registered are not its own: register before it trades)."""
        portfolio = self.portfolios.get(strategy_id)
        if portfolio is None:
            engine = self._engine
            portfolio = Portfolio(engine.instruments.values(), engine.portfolio.valuation_currency)
            self.portfolios[strategy_id] = portfolio
            self.fills[strategy_id] = 0
            self.curves[strategy_id] = []
        return portfolio

    def pnl(self, strategy_id: str) -> Decimal:
        return self.portfolios[strategy_id].equity(self._engine.price)

    def fees(self, strategy_id: str) -> Decimal:
        portfolio = self.portfolios[strategy_id]
        total = ZERO
        for asset, amount in portfolio.fees_paid.items():
            price = portfolio.asset_price(asset, self._engine.price)
            total += amount * price if price is not None else ZERO
        return total

    def withdrawal_fees(self, strategy_id: str) -> Decimal:
        """Withdrawal fees the strategy's transfers paid, valued in the valuation currency."""
        portfolio = self.portfolios[strategy_id]
        total = ZERO
        for asset, amount in portfolio.withdrawal_fees.items():
            price = portfolio.asset_price(asset, self._engine.price)
            total += amount * price if price is not None else ZERO
        return total

    def _owner(self, transfer_id: str) -> Portfolio | None:
        transfer = self._engine.transfers.get(transfer_id)
        return self.portfolios.get(transfer.strategy_id) if transfer is not None else None

    def _on_withdrawal(self, event: WithdrawalSent) -> None:
        portfolio = self._owner(event.transfer_id)
        if portfolio is not None:
            portfolio.apply_withdrawal(event)

    def _on_deposit(self, event: DepositCredited) -> None:
        portfolio = self._owner(event.transfer_id)
        if portfolio is not None:
            portfolio.apply_deposit(event)

    def _on_fill(self, fill: OrderFilled) -> None:
        order = self._engine.orders.get(fill.client_order_id)
        portfolio = self.portfolios.get(order.strategy_id) if order is not None else None
        if portfolio is not None and order is not None:
            portfolio.apply_fill(fill)
            self.fills[order.strategy_id] += 1

    def _shares(
        self, instrument: Instrument, total: Decimal, amount: Decimal
    ) -> list[tuple[Portfolio, Decimal, Decimal]]:
        """Each strategy's holding of ``instrument`` (positions, or tokens for spot-like) and its part of
        ``amount``, paid on ``total`` units held by the account: in proportion, exactly, at the
        currency's precision (``domain.shares.split``). Units no strategy holds (an external trade, the
        risk engine's flattening) keep their part of the money: it is the account's, nobody's PnL."""
        if not total:
            return []
        holders: list[tuple[Portfolio, Decimal]] = []
        for portfolio in self.portfolios.values():
            if instrument.kind is InstrumentKind.PERPETUAL:
                held = portfolio.position(instrument.id).quantity
            else:
                held = portfolio.ledger.balance(instrument.venue, instrument.base)
            if held:
                holders.append((portfolio, held))
        if not holders:
            return []
        weights = [held for _, held in holders]
        unattributed = total - sum(weights, ZERO)
        parts = split(amount, [*weights, unattributed] if unattributed else weights, instrument.fee_precision)
        return [(portfolio, held, part) for (portfolio, held), part in zip(holders, parts, strict=False)]

    def _on_funding(self, event: FundingPaid) -> None:
        inst = self._engine.instruments[event.instrument_id]
        for portfolio, _, part in self._shares(inst, event.position, event.amount):
            portfolio.ledger.post(
                Posting(event.ts_ns, inst.venue, event.currency, part, PostingReason.FUNDING, str(event.funding_ts_ns))
            )

    def _on_settlement(self, event: SettlementPaid) -> None:
        inst = self._engine.instruments[event.instrument_id]
        for portfolio, held, part in self._shares(inst, event.quantity, event.amount):
            portfolio.apply_settlement(SettlementPaid(event.ts_ns, inst.id, held, event.price, part, event.currency))

    def _on_sample(self, sample: EquitySampled) -> None:
        for sid, curve in self.curves.items():
            pnl = self.pnl(sid)
            if curve and curve[-1][0] == sample.ts_ns:
                curve[-1] = (sample.ts_ns, pnl)
            else:
                curve.append((sample.ts_ns, pnl))
