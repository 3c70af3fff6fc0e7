"""A seeded fault plan (RELIABILITY.md §4.1): which orders a client sends and what goes wrong around
each, drawn from a seed, so that a run that breaks an invariant can be replayed exactly.

A plan is a list of steps. Each step is one order (a market order, an IOC limit that takes, a GTC
bid resting under the book that someone else then partly fills, or the cancel of the oldest bid
still resting), sent while the faults the step drew are armed: at most one fault of the order
endpoints (a lost answer after the commit, 503 or -1007 with the status unknown, 429/418 with
Retry-After, a request dropped before it arrived, an order invisible for a while) and at most one of
the user stream (duplicated, reordered, delayed or changed reports, a malformed message, a stream
that is terminated, expires or stalls), and sometimes a network fault of the R2 proxy for a moment
after the order is sent (delay, a partition that heals, connections reset, or closed mid-message) —
RELIABILITY.md scenarios 8 and 21 among the rest. The waits the faults impose are kept short
(Retry-After 1 s, invisibility <= 600 ms, partitions <= 800 ms) so that many seeds fit in a test run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from spreadhawk.venues.emulator.fault_proxy import ProxyMode, ProxySetting
from spreadhawk.venues.emulator.order_faults import OrderFault, OrderFaultKind
from spreadhawk.venues.emulator.stream_faults import StreamFault, StreamFaultKind

__all__ = ["PlannedOrder", "Step", "draw_plan"]


class PlannedOrder(StrEnum):
    MARKET = "market"  # a market order (alternating sides)
    TAKE = "take"  # a LIMIT IOC at the far side's best price
    REST = "rest"  # a GTC bid under the best bid, then partly filled by a counterparty
    CANCEL = "cancel"  # cancel the oldest bid still resting (or rest one when there is none)


@dataclass(frozen=True, slots=True)
class Step:
    order: PlannedOrder
    side: str  # BUY / SELL (a resting order is always a BUY)
    quantity: Decimal
    fill_share: Decimal  # REST: the share of the order a counterparty fills (0: none)
    order_fault: OrderFault | None
    stream_fault: StreamFault | None
    network: ProxySetting | None = None  # set on the proxy as the order is sent ...
    network_s: float = 0.0  # ... and back to pass this long after

    def describe(self) -> str:
        faults = [str(f.kind) for f in (self.order_fault, self.stream_fault) if f is not None]
        if self.network is not None:
            faults.append(f"network {self.network.mode} for {self.network_s} s")
        return f"{self.order} {self.side} {self.quantity}" + (f" [{', '.join(faults)}]" if faults else "")


_ORDERS = (PlannedOrder.MARKET, PlannedOrder.TAKE, PlannedOrder.REST, PlannedOrder.CANCEL)
_SIZES = ("0.001", "0.004", "0.01", "0.03")
_SHARES = ("0", "0.25", "0.5", "1")


def _order_fault(rng: random.Random) -> OrderFault | None:
    kind = rng.choice([None, None, *OrderFaultKind])
    if kind is None:
        return None
    if kind is OrderFaultKind.ORDER_INVISIBLE:
        return OrderFault(kind, ms=rng.choice([200, 400, 600]))
    if kind in (OrderFaultKind.TOO_MANY_REQUESTS, OrderFaultKind.IP_BANNED):
        return OrderFault(kind, retry_after=1)
    if kind.commits and rng.random() < 0.3:
        return OrderFault(kind, ms=300)  # the lost answer meets an order the API does not show yet
    return OrderFault(kind)


def _stream_fault(rng: random.Random) -> StreamFault | None:
    kind = rng.choice([None, None, None, *StreamFaultKind])
    if kind is None:
        return None
    if kind is StreamFaultKind.DELAY:
        return StreamFault(kind, count=rng.randint(1, 3), ms=rng.choice([100, 300]))
    if kind.per_report:
        return StreamFault(kind, count=rng.randint(1, 3))
    return StreamFault(kind)


def _network(rng: random.Random) -> tuple[ProxySetting | None, float]:
    mode = rng.choice([None, None, ProxyMode.DELAY, ProxyMode.BLACKHOLE, ProxyMode.RESET, ProxyMode.CLOSE_AFTER])
    if mode is None:
        return None, 0.0
    if mode is ProxyMode.DELAY:
        return ProxySetting(mode, ms=rng.choice([50, 150, 400])), rng.choice([0.5, 1.5])
    if mode is ProxyMode.CLOSE_AFTER:
        return ProxySetting(mode, nbytes=rng.choice([300, 1500])), 0.5
    return ProxySetting(mode), rng.choice([0.2, 0.3, 0.8])


def draw_plan(seed: int, steps: int, *, with_network: bool = True) -> list[Step]:
    """``steps`` steps drawn from ``seed`` (the same seed, the same plan); ``with_network=False`` for a
    client that does not talk through the fault proxy."""
    if steps < 1:
        raise ValueError(f"a fault plan needs at least one step, got {steps}")
    rng = random.Random(seed)
    plan = []
    for _ in range(steps):
        order = rng.choice(_ORDERS)
        side = "BUY" if order in (PlannedOrder.REST, PlannedOrder.CANCEL) else rng.choice(["BUY", "SELL"])
        share = Decimal(rng.choice(_SHARES)) if order is PlannedOrder.REST else Decimal(0)
        faults = _order_fault(rng), _stream_fault(rng)
        network, network_s = _network(rng) if with_network else (None, 0.0)
        plan.append(Step(order, side, Decimal(rng.choice(_SIZES)), share, *faults, network, network_s))
    return plan
