"""Exposure kept incrementally, so a pre-trade check never walks every order or position.

* **In flight**: every order that passed the check and has not ended (submitted, accepted,
  partly filled, pending cancel, *unknown status*) counts at its remaining notional, valued when it
  was checked (limit price, or the mark for a market order). An order whose status is unknown may
  exist, so it keeps counting until a venue report or reconciliation ends it.
* **Strategy nets**: each strategy's net position per asset, from its own fills (spot in base
  units, perpetuals in contracts times contract size), so one strategy's exposure can be measured
  while several share the venues' balances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.domain.identifiers import ClientOrderId

ZERO = Decimal(0)


@dataclass(slots=True)
class InFlight:
    strategy_id: str
    asset: str
    side_sign: int
    unit_notional: Decimal  # valuation currency per unit of order quantity
    deployed_weight: Decimal  # 1 for spot, 1 / max leverage for a margined perpetual
    notional: Decimal  # remaining
    filled: Decimal = ZERO  # filled quantity already booked into the strategy nets
    fixed: bool = False  # a quote-sized order: its base quantity is unknown until it ends


class ExposureBook:
    __slots__ = ("by_asset", "by_strategy", "deployed", "gross", "in_flight", "strategy_net")

    def __init__(self) -> None:
        self.in_flight: dict[ClientOrderId, InFlight] = {}
        self.gross = ZERO  # sum of remaining notional of every order in flight
        self.deployed = ZERO  # the same, each weighted by the capital it ties up
        self.by_asset: dict[str, Decimal] = {}
        self.by_strategy: dict[str, Decimal] = {}
        self.strategy_net: dict[str, dict[str, Decimal]] = {}

    def add(self, coid: ClientOrderId, entry: InFlight) -> None:
        self.in_flight[coid] = entry
        self._shift(entry, entry.notional)

    def update(self, coid: ClientOrderId, filled: Decimal, leaves: Decimal, done: bool, base_per_unit: Decimal) -> None:
        """The order now has ``filled`` (cumulative) and ``leaves``; ``done`` when it has ended.

        New fills move from in flight into the strategy's net position in the asset.
        """
        entry = self.in_flight.get(coid)
        if entry is None:
            return
        if filled != entry.filled:
            nets = self.strategy_net.setdefault(entry.strategy_id, {})
            change = (filled - entry.filled) * base_per_unit * entry.side_sign
            nets[entry.asset] = nets.get(entry.asset, ZERO) + change
            entry.filled = filled
        if done:
            self._shift(entry, -entry.notional)
            del self.in_flight[coid]
            return
        if not entry.fixed:
            remaining = leaves * entry.unit_notional
            self._shift(entry, remaining - entry.notional)
            entry.notional = remaining

    def net(self, strategy_id: str, asset: str) -> Decimal:
        nets = self.strategy_net.get(strategy_id)
        return nets.get(asset, ZERO) if nets else ZERO

    def _shift(self, entry: InFlight, amount: Decimal) -> None:
        if not amount:
            return
        self.gross += amount
        self.deployed += amount * entry.deployed_weight
        self.by_asset[entry.asset] = self.by_asset.get(entry.asset, ZERO) + amount
        self.by_strategy[entry.strategy_id] = self.by_strategy.get(entry.strategy_id, ZERO) + amount
