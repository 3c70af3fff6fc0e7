"""A test strategy for a recorded up/down session: on the first valid book of ``instrument_id`` it
buys ``quantity`` at market and holds it to settlement."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from pydantic import Field

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.strategy.base import Strategy, StrategyConfig


class UpDownProbeConfig(StrategyConfig):
    instrument_id: str
    quantity: Decimal = Field(default=Decimal(10), gt=0)


class UpDownProbe(Strategy):
    config_class = UpDownProbeConfig

    def __init__(self, config: UpDownProbeConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.instrument_id = InstrumentId(config.instrument_id)
        self.bought = False

    def subscriptions(self) -> Iterable[InstrumentId]:
        return [self.instrument_id]

    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        if not self.bought and self.ctx.book(self.instrument_id).is_valid:
            self.bought = True
            self.ctx.submit(self.instrument_id, OrderSide.BUY, self.cfg.quantity)
