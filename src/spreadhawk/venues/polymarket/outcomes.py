"""How a ``PolymarketVenue``'s orders end up, reported to the engine in order.

Every order is reported accepted, then its fills, then its end. Fills come from the user channel's
``trade`` events, from the REST catch-up (``/data/trades``) after a (re)connect and after a submit
that matched; each is applied once, by its trade id. A fill that arrives before the submit's answer
(the channel can be faster than REST) waits until the order is reported accepted. A submit whose
answer is lost is reported ``OrderStatusUnknown`` and looked up by its ``orderID`` (known before the
send, see ``ids``), never re-sent. A cancel asked for before the submit's outcome waits for it.

Trades are booked when first seen (``MATCHED``): Polymarket settles them on chain afterwards
(``MINED``, ``CONFIRMED``); a ``FAILED`` trade is logged as an error for the operator (the CLOB retries
it; the emulator never fails one).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from spreadhawk.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    RejectCode,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.engine.ports import VenueEvent
from spreadhawk.venues.polymarket.ids import IdJournal
from spreadhawk.venues.polymarket.orders import OrderMappingError, TradeFill, trade_fills

__all__ = ["Reports", "Tracked", "reject_code"]

log = logging.getLogger(__name__)


@dataclass
class Tracked:
    """One of our orders: what the engine asked for, and how far its reports have gone."""

    instrument: Instrument
    side: OrderSide
    quantity: Decimal
    order_type: str  # GTC / FOK / FAK
    accepted: bool = False
    ended: bool = False
    filled: Decimal = Decimal(0)
    held: list[TradeFill] = field(default_factory=list)  # fills seen before the acceptance
    expire_at: Decimal | None = None  # a FOK/FAK answered: it ends once this much has been reported filled


def reject_code(message: str) -> RejectCode:
    return RejectCode.INSUFFICIENT_BALANCE if "not enough balance" in message else RejectCode.OTHER


class Reports:
    """The reports of our orders (see the module docstring)."""

    def __init__(
        self,
        name: str,
        ids: IdJournal,
        instrument_of: Callable[[str], Instrument | None],  # by token id
        post: Callable[[VenueEvent], None],
        now_ns: Callable[[], int],
    ) -> None:
        self.name = name
        self.ids = ids
        self._instrument_of = instrument_of
        self._post = post
        self._now_ns = now_ns
        self.orders: dict[ClientOrderId, Tracked] = {}
        self.seen: set[str] = set()  # fill ids applied (or held)
        self.last_match_s: dict[str, int] = {}  # by token: the newest match time seen (catch-ups start there)
        self.cancel_after: set[ClientOrderId] = set()

    def _mine(self, order_id: str) -> bool:
        """Ours: its id is in the id journal (sent by this run or an earlier one)."""
        return order_id in self.ids.client_of

    def adopt(self, cid: ClientOrderId, instrument: Instrument, side: OrderSide, quantity: Decimal) -> Tracked:
        """An order of an earlier run (the id journal knows it, this run did not send it): working at
        the venue, so accepted; its fills and its end are reported like any other's."""
        tracked = self.orders.get(cid)
        if tracked is None:
            tracked = self.orders[cid] = Tracked(instrument, side, quantity, "GTC", accepted=True)
        return tracked

    # --------------------------------------------------------------------------- user channel
    def on_event(self, event: dict[str, Any]) -> None:
        """One user-channel event; ``ValueError`` (nothing applied) when it cannot be read."""
        kind = event.get("event_type")
        if kind == "trade":
            self.on_trade(event)
        elif kind == "order":
            order_id = event.get("id")
            if not isinstance(order_id, str) or event.get("type") not in ("PLACEMENT", "UPDATE", "CANCELLATION"):
                raise ValueError("order event without a string id or a known type")
            if event["type"] == "CANCELLATION" and self._mine(order_id) and self.ids.client_of[order_id] in self.orders:
                self.end_canceled(self.ids.client_of[order_id], "canceled at the venue")
        else:
            raise ValueError(f"unknown user-channel event_type {kind!r}")

    def on_trade(self, trade: Any) -> None:
        try:
            fills = trade_fills(trade, self._mine)  # every fill read before any is applied
            match_s = int(str(trade.get("match_time") or trade.get("matchtime") or 0))
        except (OrderMappingError, ValueError) as exc:
            raise ValueError(f"unreadable trade: {exc}") from None
        token = str(trade.get("asset_id"))
        if fills and match_s > self.last_match_s.get(token, 0):
            self.last_match_s[token] = match_s
        for fill in fills:
            if fill.status == "FAILED":
                log.error("venue %s: trade %s of order %s FAILED on chain", self.name, fill.fill_id, fill.order_id)
                continue
            if fill.fill_id in self.seen:
                continue
            self.seen.add(fill.fill_id)
            cid = self.ids.client_of[fill.order_id]
            tracked = self.orders.get(cid)
            if tracked is None:  # sent by an earlier run: its fills were made while we were down
                instrument = self._instrument_of(fill.asset_id)
                if instrument is None:
                    log.error("venue %s: fill %s of token %s, not traded here", self.name, fill.fill_id, fill.asset_id)
                    continue
                side = OrderSide.BUY if fill.side == "BUY" else OrderSide.SELL
                tracked = self.adopt(cid, instrument, side, Decimal("Infinity"))  # its size: the engine's
            if tracked.accepted:
                self._post_fill(cid, tracked, fill)
            else:
                tracked.held.append(fill)

    def _post_fill(self, cid: ClientOrderId, tracked: Tracked, fill: TradeFill) -> None:
        tracked.filled += fill.size
        inst = tracked.instrument
        self._post(
            OrderFilled(
                self._now_ns(),
                cid,
                fill.order_id,
                fill.fill_id,
                inst.id,
                tracked.side,
                fill.size,
                fill.price,
                fill.fee,
                inst.settlement,
                fill.liquidity,
            )
        )
        if tracked.filled >= tracked.quantity:
            tracked.ended = True
        elif tracked.expire_at is not None and tracked.filled >= tracked.expire_at:
            self.end_unfilled_rest(cid)

    # --------------------------------------------------------------------------- outcomes
    def accept(self, cid: ClientOrderId, order_id: str) -> None:
        tracked = self.orders[cid]
        if tracked.accepted:
            return
        tracked.accepted = True
        self._post(OrderAccepted(self._now_ns(), cid, order_id))
        held, tracked.held = tracked.held, []
        for fill in held:
            self._post_fill(cid, tracked, fill)

    def reject(self, cid: ClientOrderId, reason: str, code: RejectCode = RejectCode.OTHER) -> None:
        tracked = self.orders.get(cid)
        if tracked is not None:
            tracked.ended = True
        self.cancel_after.discard(cid)
        self._post(OrderRejected(self._now_ns(), cid, reason, code))

    def expire_when_filled(self, cid: ClientOrderId, filled: Decimal) -> None:
        """A FOK/FAK's answer is final: once its ``filled`` shares are reported (the trades may reach us
        after the answer), what did not fill is gone."""
        tracked = self.orders[cid]
        if tracked.filled >= filled:
            self.end_unfilled_rest(cid)
        else:
            tracked.expire_at = filled

    def end_unfilled_rest(self, cid: ClientOrderId) -> None:
        """What did not fill is gone (expired, as an IOC's rest)."""
        tracked = self.orders[cid]
        if not tracked.ended:
            tracked.ended = True
            self._post(OrderExpired(self._now_ns(), cid))

    def end_canceled(self, cid: ClientOrderId, reason: str) -> None:
        tracked = self.orders[cid]
        if tracked.accepted and not tracked.ended:
            tracked.ended = True
            self._post(OrderCanceled(self._now_ns(), cid, reason))

    def cancel_refused(self, cid: ClientOrderId, reason: str) -> None:
        self._post(OrderCancelRejected(self._now_ns(), cid, reason))
