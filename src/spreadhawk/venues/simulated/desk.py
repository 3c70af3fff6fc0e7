"""What every part of the simulated venue acts through: the engine it is bound to, its account, its
ids, its fills, and its reports, sent one venue step at a time (see ``reports``).

Separate from ``venue`` so that the parts that handle one kind of order (resting limits in
``working``, orders on bar-only instruments in ``bars``) share these primitives with the venue
itself, each given the desk explicitly rather than a reference back to the venue. Rejections stay
the venue's (``SimulatedVenue._reject``, handed to ``bars`` as a callback) so that a subclass that
rewords them still sees every one.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from spreadhawk.domain.events import Liquidity, OrderFilled, SubmitOrder
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.ports import VenueEvent, VenueHub
from spreadhawk.venues.simulated.account import SimAccount
from spreadhawk.venues.simulated.reports import ReportOutbox

__all__ = ["Desk"]


class Desk:
    """A simulated venue's binding, account, ids and report outbox."""

    __slots__ = ("_hub", "_id_prefix", "_ids", "_reports", "account", "name")

    def __init__(self, name: str, account: SimAccount, ack_latency_ns: int, id_prefix: str) -> None:
        self.name = name
        self.account = account
        self._id_prefix = id_prefix  # paper: the run's prefix, so trade ids never repeat across restarts
        self._hub: VenueHub | None = None
        self._reports = ReportOutbox(ack_latency_ns)
        self._ids = 0

    def bind(self, hub: VenueHub) -> None:
        self._hub = hub

    @property
    def hub(self) -> VenueHub:
        if self._hub is None:
            raise RuntimeError(f"venue {self.name} is not bound to an engine")
        return self._hub

    @property
    def ack_latency_ns(self) -> int:
        return self._reports.ack_latency_ns

    def after(self, delay_ns: int, action: Callable[[], None]) -> None:
        self._reports.after(self.hub, delay_ns, action)

    def step(self, action: Callable[[], None]) -> None:
        def step() -> None:
            action()
            free = self.account.take_free_report(self.hub.now_ns())
            if free is not None:
                self._reports.emit_first(free)

        self._reports.step(self.hub, step)

    def emit(self, event: VenueEvent) -> None:
        self._reports.emit(event)

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{self.name}-{self._id_prefix}{prefix}{self._ids}"

    def fill(
        self,
        cmd: SubmitOrder,
        venue_order_id: str,
        inst: Instrument,
        price: Decimal,
        qty: Decimal,
        liquidity: Liquidity,
        leaves: Decimal | None,
        ts_ns: int | None = None,
    ) -> None:
        fee_rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
        fill = OrderFilled(
            ts_ns=self.hub.now_ns() if ts_ns is None else ts_ns,
            client_order_id=cmd.client_order_id,
            venue_order_id=venue_order_id,
            trade_id=self.next_id("t"),
            instrument_id=inst.id,
            side=cmd.side,
            quantity=qty,
            price=price,
            fee=inst.fee(qty, price, fee_rate),
            fee_currency=inst.settlement,
            liquidity=liquidity,
            leaves_quantity=leaves,
        )
        self.account.apply_fill(fill, inst)
        self.emit(fill)

    def reduce_only_refusal(self, cmd: SubmitOrder, inst: Instrument) -> str | None:
        """Why a reduce-only order on a perpetual would not only reduce the position (None: it would)."""
        if not cmd.reduce_only or inst.kind is not InstrumentKind.PERPETUAL:
            return None
        held = self.account.position(inst).quantity
        if held * cmd.side.sign >= 0 or cmd.quantity > abs(held):
            return f"reduce-only {cmd.side} {cmd.quantity} would not reduce the position of {held}"
        return None
