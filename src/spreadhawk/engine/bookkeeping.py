"""What venue reports book into the engine's portfolio: fills (ours, and those of orders this node
never sent), and funding and settlement payments. Each posting and position change is journaled and
published; a payment also goes to the strategies subscribed to its instrument.

Separate from ``engine``, like ``venue_accounts`` and ``transfer_desk``: the engine routes a report
(and decides whether an order's report applies at all); this books what it did to the account. The
engine hands it the portfolio, the bus, its journal's append (a lambda: restore swaps the journal)
and the instruments explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from spreadhawk.domain.events import FundingPaid, OrderEvent, OrderFilled, PositionChanged, SettlementPaid
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.crashpoints import crashpoint
from spreadhawk.engine.portfolio import Portfolio
from spreadhawk.engine.records import ExternalOrderReported

__all__ = ["Bookkeeping"]

log = logging.getLogger(__name__)

Write = Callable[[object], None]  # the engine's journal append (the journal may be swapped: restore)


class Bookkeeping:
    """``fills`` and ``external_reports`` are the engine's (``Engine.fills``, ``Engine.external_reports``)."""

    __slots__ = ("_bus", "_external_trades", "_instruments", "_portfolio", "_write", "external_reports", "fills")

    def __init__(
        self, portfolio: Portfolio, bus: MessageBus, write: Write, instruments: Mapping[InstrumentId, Instrument]
    ) -> None:
        self._portfolio = portfolio
        self._bus = bus
        self._write = write
        self._instruments = instruments
        self.fills: list[OrderFilled] = []
        self.external_reports: list[ExternalOrderReported] = []
        self._external_trades: set[str] = set()  # trade ids of external fills already booked

    def book_fill(self, event: OrderFilled) -> None:
        self.fills.append(event)
        crashpoint("between_fill_insert_and_position_update")
        position, postings = self._portfolio.apply_fill(event)
        changed = PositionChanged(
            event.ts_ns, position.instrument_id, position.quantity, position.avg_price, position.realized_pnl
        )
        for posting in postings:
            self._write(posting)
            self._bus.publish(posting)
        self._write(changed)
        self._bus.publish(changed)

    def book_payment(self, event: FundingPaid | SettlementPaid) -> None:
        if isinstance(event, FundingPaid):
            posting = self._portfolio.apply_funding(event)
            if posting is None:
                log.warning(
                    "funding for %s at %s reported again: booked once", event.instrument_id, event.funding_ts_ns
                )
                return  # not to strategies either: their funding shares would count it twice
            postings = [posting]
        else:
            postings = self._portfolio.apply_settlement(event)
        self._bus.publish(event, key=event.instrument_id)  # to strategies subscribed to the instrument
        for posting in postings:
            self._write(posting)
            self._bus.publish(posting)

    def book_external(self, event: OrderEvent) -> None:
        """A report about an order this node never sent (paper and live): book what it did to the
        account (a fill moves balances whoever placed the order), record it, and tell whoever listens
        (console, database, alerts). It belongs to no strategy."""
        name = type(event).__name__
        detail = ""
        if isinstance(event, OrderFilled):
            detail = f"{event.side} {event.quantity} {event.instrument_id} at {event.price}"
            if event.trade_id not in self._external_trades and event.instrument_id in self._instruments:
                self._external_trades.add(event.trade_id)
                self.book_fill(event)
            elif event.instrument_id not in self._instruments:
                detail += " (instrument not traded by this node: not booked)"
        report = ExternalOrderReported(event.ts_ns, event.client_order_id, name, detail)
        self.external_reports.append(report)
        self._write(report)
        self._bus.publish(report)
