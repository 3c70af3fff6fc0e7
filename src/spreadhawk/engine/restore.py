"""Rebuilding an engine's state from its journal (a restarted paper or live node).

The journal holds every command the node sent and every report its venues made, in the order the
engine handled them. Re-applying them to a fresh engine, through the same code that applied them
the first time, rebuilds orders, positions, balances, transfers and the client-order-id counters.
Derived records (postings, position changes, external-order notes) are not re-applied: the engine
derives them again from the reports. Nothing is sent anywhere: restore happens before venues are
connected and before strategies are attached (a strategy's own memory — indicators, pending
decisions — is not in the journal and starts afresh; its positions and open orders are back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from spreadhawk.domain.accounts import AccountSnapshot, BalanceAdjusted, FreeBalances
from spreadhawk.domain.events import (
    BalancePosted,
    CancelOrder,
    DepositCredited,
    FundingPaid,
    OrderSubmitted,
    PositionChanged,
    RequestTransfer,
    SettlementPaid,
    SubmitOrder,
    TransferFailed,
    WithdrawalSent,
)
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.domain.transfers import Transfer
from spreadhawk.engine.context import ORDER_EVENTS
from spreadhawk.engine.engine import MARKET_DATA, Engine
from spreadhawk.engine.journal import Journal
from spreadhawk.engine.records import EngineError, ExternalOrderReported

_VENUE_REPORTS: tuple[type, ...] = (
    FundingPaid,
    SettlementPaid,
    WithdrawalSent,
    DepositCredited,
    TransferFailed,
    AccountSnapshot,
    BalanceAdjusted,
    FreeBalances,
)
_DERIVED: tuple[type, ...] = (BalancePosted, PositionChanged, ExternalOrderReported)


@dataclass
class RestoreSummary:
    records: int = 0
    commands: int = 0
    reports: int = 0
    last_ts_ns: int = 0
    unsettled_intents: int = 0  # intents journaled without their submission: now SUBMITTED, to look up
    skipped: dict[str, int] = field(default_factory=dict)  # record types not part of the state, by name


def restore(engine: Engine, records: Iterable[object]) -> RestoreSummary:
    """Re-apply ``records`` (read back from a journal) to ``engine``, which must be fresh: no venue
    connected, no strategy attached. The engine's own journal is muted meanwhile."""
    if engine.venues or engine.orders:
        raise EngineError("restore needs a fresh engine: no venue connected and no order yet")
    summary = RestoreSummary()
    kept = engine.journal
    engine.journal = Journal()  # re-applying must not write the history a second time
    try:
        for record in records:
            summary.records += 1
            summary.last_ts_ns = max(summary.last_ts_ns, getattr(record, "ts_ns", 0))
            _apply(engine, record, summary)
        # An intent on disk whose submission record is not (reports are journaled without an fsync):
        # the request may have left before the stop. It is in flight, for the node to look up.
        for order in list(engine.orders.values()):
            if order.status is OrderStatus.INITIALIZED:
                engine.on_venue_event(OrderSubmitted(summary.last_ts_ns, order.client_order_id))
                summary.unsettled_intents += 1
    finally:
        engine.journal = kept
    engine.clock.advance_to(summary.last_ts_ns)
    return summary


def _apply(engine: Engine, record: object, summary: RestoreSummary) -> None:
    if isinstance(record, SubmitOrder):
        engine.orders[record.client_order_id] = order = Order.from_command(record)
        engine.protective.track(order)
        engine.order_ids.observe(record.strategy_id, record.client_order_id)
        summary.commands += 1
    elif isinstance(record, RequestTransfer):
        engine.transfers[record.transfer_id] = Transfer.from_command(record)
        engine.order_ids.observe(record.strategy_id, record.transfer_id)
        summary.commands += 1
    elif isinstance(record, CancelOrder):
        summary.commands += 1  # what it did arrives as the venue's report
    elif isinstance(record, ORDER_EVENTS + _VENUE_REPORTS):  # denials and submissions too: the engine's own
        engine.on_venue_event(record)  # type: ignore[arg-type]
        engine.drain()
        summary.reports += 1
    elif isinstance(record, _DERIVED + MARKET_DATA):
        pass  # derived again from the reports; market data is not journaled
    else:
        name = type(record).__name__
        summary.skipped[name] = summary.skipped.get(name, 0) + 1
