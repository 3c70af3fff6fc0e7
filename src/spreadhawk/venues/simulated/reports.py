"""How a simulated venue reports: one step at a time, every report of a step after the whole step.

Everything one arrival or one market-data record causes (every fill of a sweep, every resting order
a trade reaches) is settled inside the venue before any report goes out, so a strategy reacting to
the first fill sees the venue as it is after the whole step. Reports travel back ``ack_latency_ns``
after the step (through the engine's scheduler), in the order the venue produced them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial

from spreadhawk.engine.ports import VenueEvent, VenueHub


class ReportOutbox:
    __slots__ = ("_delivering", "_outbox", "ack_latency_ns")

    def __init__(self, ack_latency_ns: int) -> None:
        self.ack_latency_ns = ack_latency_ns
        self._outbox: deque[VenueEvent] = deque()
        self._delivering = False

    def emit(self, event: VenueEvent) -> None:
        """Queue a report of the current step."""
        self._outbox.append(event)

    def emit_first(self, event: VenueEvent) -> None:
        """Queue a report ahead of the current step's others (the free balances after the step)."""
        self._outbox.appendleft(event)

    def step(self, hub: VenueHub, action: Callable[[], None]) -> None:
        """Run one venue step, then send its reports in order.

        A strategy reacting to a report may start a nested step (an order or cancel with no
        latency); its reports queue behind the outer step's, so the engine learns everything in the
        order the venue did it.
        """
        action()
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._outbox:
                event = self._outbox.popleft()
                if self.ack_latency_ns <= 0:
                    hub.emit(event)
                else:
                    hub.schedule(hub.now_ns() + self.ack_latency_ns, partial(hub.emit, event))
        finally:
            self._delivering = False

    @staticmethod
    def after(hub: VenueHub, delay_ns: int, action: Callable[[], None]) -> None:
        """Run ``action`` now, or ``delay_ns`` later on the engine's clock."""
        if delay_ns <= 0:
            action()
        else:
            hub.schedule(hub.now_ns() + delay_ns, action)
