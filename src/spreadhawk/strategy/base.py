"""The strategy plugin API (version 2).

A strategy is a small class with a typed, frozen config and handlers named after the messages it
wants: ``on_bar(bar)``, ``on_book_deltas(deltas)``, ``on_book_snapshot(snapshot)``,
``on_quote_tick``, ``on_trade_tick``, ``on_funding_rate``, ``on_mark_price`` for market data and
``on_order_filled``, ``on_order_rejected``, ``on_order_canceled``, ... for its own orders, and
``on_funding_paid`` / ``on_settlement_paid`` for venue positions, ``on_withdrawal_sent``,
``on_deposit_credited`` and ``on_transfer_failed`` for its own transfers between venues. The
handler name is derived from the message class name, so there is no long base class to override;
define only what you use. Handlers are synchronous and return quickly. Everything a strategy may
do goes through ``self.ctx`` (a ``StrategyContext``): read books, its own positions, the account's
balances and time; submit and cancel orders; move assets between venues (``ctx.transfer``).

A strategy names the instruments it trades in ``subscriptions()``; its market-data handlers (and
``on_funding_paid`` / ``on_settlement_paid``) then receive only those instruments' messages, so a
handler need not check ``instrument_id`` itself. A strategy that names none (the default) receives
every instrument's, as one that discovers its markets while running must.

Version 2: ``ctx.position`` is the strategy's own position (its fills only); version 1 returned the
account's, now ``ctx.account_position``, and ``ctx.balance`` is now ``ctx.account_balance``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from spreadhawk.domain import events as ev
from spreadhawk.domain import market as md
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine

STRATEGY_API_VERSION = 2

MARKET_DATA_TYPES: tuple[type, ...] = (
    md.BookSnapshot,
    md.BookDeltas,
    md.QuoteTick,
    md.TradeTick,
    md.Bar,
    md.FundingRate,
    md.MarkPrice,
    md.InstrumentSettled,
)
ORDER_EVENT_TYPES: tuple[type, ...] = (
    ev.OrderDenied,
    ev.OrderSubmitted,
    ev.OrderAccepted,
    ev.OrderRejected,
    ev.OrderFilled,
    ev.OrderPendingCancel,
    ev.OrderCanceled,
    ev.OrderCancelRejected,
    ev.OrderExpired,
    ev.OrderStatusUnknown,
)


# Account events concern a venue position, not one strategy's orders: every strategy that defines a
# handler gets them (``on_funding_paid``, ``on_settlement_paid``) for the instruments it subscribed to.
ACCOUNT_EVENT_TYPES: tuple[type, ...] = (ev.FundingPaid, ev.SettlementPaid)


# A strategy's own transfers between venues (``ctx.transfer``): sent, credited at the destination, or refused.
TRANSFER_EVENT_TYPES: tuple[type, ...] = (ev.WithdrawalSent, ev.DepositCredited, ev.TransferFailed)


def handler_name(message_type: type) -> str:
    """``BookDeltas`` -> ``on_book_deltas``."""
    return "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", message_type.__name__).lower()


class StrategyConfig(BaseModel):
    """Base of every strategy's config: frozen, and unknown keys are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Strategy:
    config_class: ClassVar[type[StrategyConfig]] = StrategyConfig
    api_version: ClassVar[int] = STRATEGY_API_VERSION

    def __init__(self, config: StrategyConfig, strategy_id: str | None = None) -> None:
        self.config = config
        self.id = strategy_id or type(self).__name__
        self._ctx: StrategyContext | None = None

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.id} is not attached to an engine yet")
        return self._ctx

    def attach(self, ctx: StrategyContext) -> None:
        self._ctx = ctx

    def handlers(self, message_types: tuple[type, ...]) -> dict[type, Any]:
        """The bound handlers this strategy defines for ``message_types``."""
        found = {}
        for message_type in message_types:
            method = getattr(self, handler_name(message_type), None)
            if method is not None:
                found[message_type] = method
        return found

    def subscriptions(self) -> Iterable[InstrumentId] | None:
        """The instruments whose market data (and funding and settlements) this strategy receives;
        ``None``, the default: every instrument's. Asked once, when attached (``self.ctx`` is set)."""
        return None

    def on_start(self) -> None:
        """Called once before the first event."""

    def on_stop(self) -> None:
        """Called once after the last event."""

    def stats(self) -> dict[str, Any]:
        """Strategy-specific counters reported with the run (opportunities seen/taken, ...)."""
        return {}


def attach_strategy(engine: Engine, strategy: Strategy) -> None:
    """Wire a strategy's handlers into the engine and give it its context."""
    strategy.attach(StrategyContext(engine, strategy.id))
    wanted = strategy.subscriptions()
    keys: list[str | None] = [None] if wanted is None else list(dict.fromkeys(wanted))  # each once, in order
    unknown = [key for key in keys if key is not None and key not in engine.instruments]
    if unknown:  # a typo would otherwise be a strategy that silently never hears a thing
        raise ValueError(f"strategy {strategy.id} subscribes to {unknown[0]}, which is not a declared instrument")
    for message_type, handler in strategy.handlers(MARKET_DATA_TYPES + ACCOUNT_EVENT_TYPES).items():
        for key in keys:
            engine.bus.subscribe(message_type, handler, key=key)  # keyed by instrument id
    for message_type, handler in strategy.handlers(ORDER_EVENT_TYPES + TRANSFER_EVENT_TYPES).items():
        engine.bus.subscribe(message_type, handler, key=strategy.id)  # only its own orders and transfers
