"""Conditional orders of the simulated venue: stop-loss and take-profit market orders.

They follow Binance USD-M's conditional orders (``workingType=CONTRACT_PRICE``, the default):

* an accepted conditional order rests **off the book**: it reserves no funds, has no queue position
  and is invisible to other traders;
* it fires when a public trade prints at or through its trigger price (``OrderType.triggered``), or,
  for instruments known only by bars, when a bar's range reaches it;
* fired, it goes in as a market order against the book at that moment, under the same client id;
* reduce-only is checked when it fires, not when it is placed: a stop whose position is gone, or
  smaller than the stop, would open or grow one, and expires instead (Binance: ``-2022
  ReduceOnly Order is rejected``, the conditional order ends REJECTED/EXPIRED). A protective
  order can therefore never open a position, whatever happened to the one it protected.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.domain.events import SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import Bar

__all__ = ["ArmedStop", "StopBook", "bar_trigger_price"]


@dataclass(frozen=True, slots=True)
class ArmedStop:
    cmd: SubmitOrder
    venue_order_id: str

    @property
    def trigger(self) -> Decimal:
        assert self.cmd.trigger_price is not None  # the engine refuses a conditional order without one
        return self.cmd.trigger_price

    def fires_at(self, last: Decimal) -> bool:
        return self.cmd.order_type.triggered(self.cmd.side.sign > 0, last, self.trigger)


class StopBook:
    """The conditional orders waiting for their trigger, per instrument, in arrival order."""

    def __init__(self) -> None:
        self._armed: dict[InstrumentId, dict[ClientOrderId, ArmedStop]] = {}

    def arm(self, cmd: SubmitOrder, venue_order_id: str) -> None:
        self._armed.setdefault(cmd.instrument_id, {})[cmd.client_order_id] = ArmedStop(cmd, venue_order_id)

    def disarm(self, instrument_id: InstrumentId, client_order_id: ClientOrderId) -> ArmedStop | None:
        return self._armed.get(instrument_id, {}).pop(client_order_id, None)

    def has(self, instrument_id: InstrumentId) -> bool:
        return bool(self._armed.get(instrument_id))

    def armed(self) -> list[ArmedStop]:
        return [stop for stops in self._armed.values() for stop in stops.values()]

    def take_all(self, instrument_id: InstrumentId) -> list[ArmedStop]:
        return list(self._armed.pop(instrument_id, {}).values())

    def fire(self, instrument_id: InstrumentId, last: Decimal) -> list[ArmedStop]:
        """Remove and return the stops a trade at ``last`` fires, in the order they were placed."""
        stops = self._armed.get(instrument_id)
        if not stops:
            return []
        fired = [stop for stop in stops.values() if stop.fires_at(last)]
        for stop in fired:
            del stops[stop.cmd.client_order_id]
        return fired

    def fire_on_bar(self, instrument_id: InstrumentId, bar: Bar) -> list[tuple[ArmedStop, Decimal]]:
        """The stops a bar's range reaches, each with the price it fills at (see ``bar_trigger_price``)."""
        stops = self._armed.get(instrument_id)
        if not stops:
            return []
        fired = []
        for stop in list(stops.values()):
            price = bar_trigger_price(stop, bar)
            if price is not None:
                del stops[stop.cmd.client_order_id]
                fired.append((stop, price))
        return fired


def bar_trigger_price(stop: ArmedStop, bar: Bar) -> Decimal | None:
    """Where a stop fires within a bar: at its trigger if the bar traded through it, at the open
    if the bar opened already past it (a gap fills at the first price there was); None if the bar
    never reached it."""
    if stop.fires_at(bar.open):
        return bar.open
    if stop.fires_at(bar.low) or stop.fires_at(bar.high):
        return stop.trigger
    return None
