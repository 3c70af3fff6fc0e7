"""Protective orders outlive their position only by accident: this cancels the orphans.

A protective order is a reduce-only stop-loss or take-profit (``Order.is_protective``). It is an
orphan when it can no longer reduce its position: the position is flat, or now on the other side.
Left on the exchange, an orphaned stop fires later against whatever position the account then
holds (freqtrade#11608, #12528, PR#2799; RELIABILITY.md scenario 24). Two defences:

* the exchange's reduce-only flag, so a stop that fires without a position to reduce expires
  instead of opening one;
* this guard: when a fill closes a position, the orphaned orders on that instrument are cancelled;
  and a restarted node calls ``cancel_orphans`` after reconciliation, for a position closed in the
  crash window (``after_close_before_protective_cancel``) or while the node was down.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spreadhawk.domain.events import CancelOrder, PositionChanged
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, venue_of
from spreadhawk.domain.orders import Order
from spreadhawk.engine.crashpoints import crashpoint

if TYPE_CHECKING:
    from spreadhawk.engine.engine import Engine

__all__ = ["ProtectiveOrders"]

log = logging.getLogger(__name__)


class ProtectiveOrders:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The protective orders not yet seen terminal: every order enters the engine through ``track``
        # (submitted, or restored from the journal), so a position change looks at these, not at every
        # order of the run (that scan, on every fill, made a backtest's cost grow with the square of
        # its orders).
        self._tracked: dict[ClientOrderId, None] = {}
        engine.bus.subscribe(PositionChanged, self._on_position)

    def track(self, order: Order) -> None:
        """An order entering the engine (``Engine.submit``, ``restore``): kept if it is protective."""
        if order.is_protective:
            self._tracked[order.client_order_id] = None

    def orphans(self, instrument_id: InstrumentId | None = None) -> list[Order]:
        """Open protective orders that cannot reduce their instrument's position any more."""
        engine = self._engine
        found = []
        for client_order_id in list(self._tracked):
            order = engine.orders[client_order_id]
            if order.is_terminal:
                del self._tracked[client_order_id]
                continue
            if instrument_id is not None and order.instrument_id != instrument_id:
                continue
            held = engine.portfolio.position(order.instrument_id).quantity
            if held * order.side.sign >= 0:  # flat, or the order would add to the position
                found.append(order)
        return sorted(found, key=lambda o: o.client_order_id)

    def cancel_orphans(self, instrument_id: InstrumentId | None = None) -> list[Order]:
        """Cancel every orphan (a cancel is safe to repeat); returns them. Orphans on a venue that is
        not connected (a journal being restored) wait for the node's reconciliation."""
        found = [o for o in self.orphans(instrument_id) if venue_of(o.instrument_id) in self._engine.venues]
        if found:
            # the close is on disk (the scenario: known closed, its stop not yet cancelled)
            crashpoint("after_close_before_protective_cancel", before=self._engine.journal.sync)
        for order in found:
            held = self._engine.portfolio.position(order.instrument_id).quantity
            log.warning(
                "cancelling protective order %s (%s %s %s): the position it protected is now %s",
                order.client_order_id, order.order_type, order.side, order.quantity, held,
            )  # fmt: skip
            now = self._engine.clock.now_ns()
            self._engine.cancel(CancelOrder(now, order.client_order_id, order.instrument_id, order.strategy_id))
        return found

    def _on_position(self, changed: PositionChanged) -> None:
        self.cancel_orphans(changed.instrument_id)
