"""The engine as a venue sees it (``VenueHub``): the clock, the scheduler, the books and instruments,
and the two ways a report comes back in (``emit`` during the engine's step, ``post`` from anywhere else).

Separate from ``engine`` so that the narrow port a venue is handed (``Engine.add_venue`` binds it)
reads on its own, apart from the engine's loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.ports import VenueEvent

if TYPE_CHECKING:
    from spreadhawk.engine.engine import Engine

__all__ = ["EngineHub"]


class EngineHub:
    """The engine as a venue sees it (``VenueHub``)."""

    __slots__ = ("_emit", "_engine")

    def __init__(self, engine: Engine, emit: Callable[[VenueEvent], None]) -> None:
        self._engine = engine
        self._emit = emit  # the engine's reports of this step

    def now_ns(self) -> int:
        return self._engine.clock.now_ns()

    def schedule(self, ts_ns: int, callback: Callable[[], None]) -> None:
        self._engine.schedule(ts_ns, callback)

    def book(self, instrument_id: InstrumentId) -> OrderBook | None:
        return self._engine.books.get(instrument_id)

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self._engine.instruments[instrument_id]

    def emit(self, event: VenueEvent) -> None:
        """Report from the engine's own thread (a simulated venue's step): handled after the current
        step, never inside it."""
        self._emit(event)

    def post(self, event: VenueEvent) -> None:
        """Report from any other task or thread (a live venue's stream): through the inbox."""
        self._engine.inbox.post(event)
