"""Records the engine itself writes to the journal, and its policies for reports it did not expect."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.engine.journal import register_record


class EngineError(Exception):
    pass


class UnknownOrders(StrEnum):
    """What the engine does with a venue report about an order it never sent.

    FAIL in replay (the data or the code is wrong: stop at once); ADOPT in paper and live (an order
    placed on the exchange's web page, or a late report from a previous run: the account changed,
    so book it, and tell the operator).
    """

    FAIL = "fail"
    ADOPT = "adopt"


EXTERNAL = "external"  # the strategy id of activity no strategy of this node caused


@register_record  # read back by a restarted node
@dataclass(frozen=True, slots=True)
class ExternalOrderReported:
    """A venue reported an order this node never sent (journaled, published; its fill is booked)."""

    ts_ns: int
    client_order_id: ClientOrderId
    event_type: str
    detail: str


@register_record
@dataclass(frozen=True, slots=True)
class TimerSet:
    """A strategy asked to be called back at ``due_ns`` (journaled: the journal says why the strategy
    acted then; the callback itself is code, and a restarted strategy sets its timers again)."""

    ts_ns: int
    strategy_id: str
    due_ns: int
