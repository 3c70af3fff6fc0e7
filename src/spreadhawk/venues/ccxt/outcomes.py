"""How the orders a ``CcxtVenue`` sends end up, reported to the engine in order.

A submit's answer is reported as accepted, then the order's fills so far (then those the stream
held back, see ``fills``), then its end; a refusal ends it at once. An answer that is lost is
reported as ``OrderStatusUnknown`` and the order is looked up by its client id, never re-sent. A
cancel asked for before the submit's outcome was reported waits for it. The REST calls and their
reliability rules are in ``order_requests``; the venue's reliability rules are in its docstring.

Separate from ``venue``, which is the port (its commands, look-ups and lifecycle): this is the work
one order's submit or cancel does after the port has spawned it, and the reports of its outcome.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ccxt.base.errors import BaseError as CcxtError
from ccxt.base.errors import ExchangeError

from spreadhawk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderRejected,
    OrderStatusUnknown,
    RejectCode,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.engine.crashpoints import crashpoint
from spreadhawk.engine.ports import VenueEvent
from spreadhawk.venues.ccxt.conditional import ConditionalOrders
from spreadhawk.venues.ccxt.fills import Fills
from spreadhawk.venues.ccxt.order_requests import UNKNOWN_OUTCOME, Found, NeverArrived, OrderGone, OrderRequests
from spreadhawk.venues.ccxt.orders import (
    OrderMappingError,
    answer_trades,
    create_request,
    decimal,
    is_terminal_without_fill,
    reject_code,
)
from spreadhawk.venues.ccxt.quirks import Quirks

__all__ = ["OrderOutcomes"]

log = logging.getLogger(__name__)

_UNKNOWN_OUTCOME = UNKNOWN_OUTCOME  # see order_requests (the user stream's error handling uses it too)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]


class OrderOutcomes:
    """Submits, look-ups and cancels of one venue's orders, and the reports of how they ended."""

    def __init__(
        self,
        name: str,
        exchange: Callable[[], Any],
        quirks: Quirks,
        requests: OrderRequests,
        conditional: ConditionalOrders,
        fills: Fills,
        *,
        visibility_window_s: float,
        post: Callable[[VenueEvent], None],
        now_ns: Callable[[], int],
        spawn: Spawn,
    ) -> None:
        self.name = name
        self._exchange = exchange
        self._quirks = quirks
        self._requests = requests
        self._conditional = conditional
        self._fills = fills
        self.visibility_window_s = visibility_window_s
        self._post = post
        self._now_ns = now_ns
        self._spawn = spawn
        # Cancels asked for before the submit's outcome was reported: sent once it is (the engine
        # cannot take a refused cancel for an order the venue has not acknowledged yet).
        self.cancel_after: set[ClientOrderId] = set()

    # --------------------------------------------------------------------------- submit
    async def submit(self, command: SubmitOrder, instrument: Instrument) -> None:
        cid = command.client_order_id
        try:
            request = create_request(command, instrument, self._quirks)
        except OrderMappingError as exc:  # nothing was sent
            self._refused(OrderRejected(self._now_ns(), cid, str(exc), RejectCode.OTHER))
            return
        try:
            order = await self._exchange().create_order(
                request.symbol, request.order_type, request.side, request.amount, request.price, request.params
            )
        except ExchangeError as exc:  # a definite answer: the order was refused
            self._refused(OrderRejected(self._now_ns(), cid, str(exc), reject_code(exc, self._quirks)))
            return
        except Exception as exc:  # sent, its answer lost or unreadable: the outcome is unknown
            if not isinstance(exc, (*_UNKNOWN_OUTCOME, CcxtError)):
                log.exception("venue %s: unexpected error submitting %s; looking it up", self.name, cid)
            self._post(OrderStatusUnknown(self._now_ns(), cid, f"{type(exc).__name__}: {exc}"))
            # The visibility window runs from now, not from the call: the request may have waited in
            # our own rate limiter before it left, and the exchange's window starts when it arrived
            # (found by the seeded fault plans: a 429's Retry-After, then a lost answer).
            await self.look_up(cid, instrument, asyncio.get_running_loop().time())
            return
        crashpoint("after_send_before_ack")
        trades = order.get("trades") or []
        if not trades and decimal(order.get("filled") or 0) and not self._quirks.trades_in_order_answer:
            # The answer says it filled but not how (USD-M): the fills must be reported before its end.
            trades = await self._requests.order_trades(instrument.symbol, str(order["id"]))
        self._report_order(cid, instrument, order, trades)

    async def look_up(self, cid: ClientOrderId, instrument: Instrument, sent_at: float) -> None:
        """Find an order whose submit answer was lost (``OrderRequests.look_up``), then report it."""
        outcome = await self._requests.look_up(instrument.symbol, cid, sent_at, self.visibility_window_s)
        if isinstance(outcome, NeverArrived):
            reason = f"not found at the venue {outcome.hidden_for_s:.2f} s after it was sent: it never arrived"
            self._refused(OrderRejected(self._now_ns(), cid, reason, RejectCode.OTHER))
        else:
            self._report_order(cid, instrument, outcome.order, outcome.trades)

    def _report_order(
        self, cid: ClientOrderId, instrument: Instrument, order: dict[str, Any], trades: list[dict[str, Any]]
    ) -> None:
        """Accepted, then the order's fills so far (then those the stream held back), then its end."""
        venue_order_id = str(order["id"])
        self._fills.client_of[venue_order_id] = cid
        self._post(OrderAccepted(self._now_ns(), cid, venue_order_id))
        for trade, leaves in answer_trades(order, trades):
            self._fills.post_fill(trade, cid, instrument, leaves, "answer")
        for trade, leaves, source in self._fills.held.pop(cid, []):
            self._fills.post_fill(trade, cid, instrument, leaves, source)
        if is_terminal_without_fill(order):
            self.cancel_after.discard(cid)
            self._conditional.forget(cid)
            if order.get("status") == "canceled":
                self._post(OrderCanceled(self._now_ns(), cid, "canceled at the venue"))
            else:  # an IOC/FOK remainder, or a market order the book could not fill
                self._post(OrderExpired(self._now_ns(), cid))
        elif cid in self.cancel_after:
            self.cancel_after.discard(cid)
            self._spawn(self.cancel(cid, instrument), f"cancel-{cid}")

    def _refused(self, event: OrderRejected) -> None:
        """The order does not exist at the venue: a cancel waiting for it has nothing to do."""
        self._fills.held.pop(event.client_order_id, None)
        self.cancel_after.discard(event.client_order_id)
        self._conditional.forget(event.client_order_id)
        self._post(event)

    # --------------------------------------------------------------------------- cancel
    async def cancel(self, cid: ClientOrderId, instrument: Instrument) -> None:
        try:
            refused = await self._requests.cancel(instrument.symbol, cid)
        finally:
            self._conditional.cancelling.discard(cid)
        if refused is None:
            self._conditional.forget(cid)
            self._post(OrderCanceled(self._now_ns(), cid))
            return
        if isinstance(refused, OrderGone):
            # Not open any more. Cancelled by an earlier attempt whose answer was lost (the seeded
            # fault plans found the engine left believing it working), or filled: ask which.
            outcome = await self._requests.look_up(instrument.symbol, cid, asyncio.get_running_loop().time(), 0.0)
            status = outcome.order.get("status") if isinstance(outcome, Found) else "canceled"  # gone, no trace
            if status in ("canceled", "expired", "rejected"):
                self._conditional.forget(cid)
                self._post(OrderCanceled(self._now_ns(), cid, f"{status} at the venue"))
                return
            refused = refused.reason
        self._post(OrderCancelRejected(self._now_ns(), cid, refused))
