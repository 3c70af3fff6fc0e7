"""A test strategy for RELIABILITY.md scenario 24 (orphaned protective orders) on a perpetual.

On the first valid book it buys ``quantity`` at market; once filled it protects the position with a
reduce-only stop-loss ``stop_bps`` under the fill price; once the exchange has accepted the stop it
closes the position at market, **without** cancelling the stop: the engine's orphan guard must (or,
after a crash between the two, the restarted node's reconciliation). ``enter=false``: it only
watches (a restarted node must not open a new position to test).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from pydantic import Field

from spreadhawk.domain.events import OrderAccepted, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import BookDeltas
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.strategy.base import Strategy, StrategyConfig


class ProtectProbeConfig(StrategyConfig):
    instrument_id: str
    quantity: Decimal = Field(default=Decimal("0.01"), gt=0)
    stop_bps: Decimal = Field(default=Decimal(50), gt=0)
    enter: bool = True


class ProtectProbe(Strategy):
    config_class = ProtectProbeConfig

    def __init__(self, config: ProtectProbeConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.instrument_id = InstrumentId(config.instrument_id)
        self.entry: ClientOrderId | None = None
        self.stop: ClientOrderId | None = None
        self.exit: ClientOrderId | None = None

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        if not self.cfg.enter or self.entry is not None or deltas.instrument_id != self.instrument_id:
            return
        if self.ctx.book(self.instrument_id).is_valid:
            self.entry = self.ctx.submit(self.instrument_id, OrderSide.BUY, self.cfg.quantity).client_order_id

    def on_order_filled(self, fill: OrderFilled) -> None:
        if fill.client_order_id != self.entry or self.stop is not None:
            return
        if self.ctx.order(fill.client_order_id).status is not OrderStatus.FILLED:
            return
        inst = self.ctx.instrument(self.instrument_id)
        trigger = (fill.price * (1 - self.cfg.stop_bps / 10_000) / inst.tick_size).to_integral_value(ROUND_DOWN)
        self.stop = self.ctx.protect(
            self.instrument_id, OrderSide.SELL, self.cfg.quantity, trigger * inst.tick_size
        ).client_order_id

    def on_order_accepted(self, accepted: OrderAccepted) -> None:
        if accepted.client_order_id == self.stop and self.exit is None:
            self.exit = self.ctx.submit(self.instrument_id, OrderSide.SELL, self.cfg.quantity).client_order_id
