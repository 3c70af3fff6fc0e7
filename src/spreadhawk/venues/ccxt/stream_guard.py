"""The user stream's guard: every frame the exchange sends is looked at before ccxt parses it.

Why a guard in front of ccxt (RELIABILITY.md §3 user data stream, §4.2 scenario 9, S13):

* ccxt handles a websocket frame inside a done-callback of its receive task; if parsing or handling
  raises (a frame that is not JSON, a report with a list where a number goes), the exception lands
  in the loop's exception handler and the receive loop is never re-armed: the stream goes silent
  with the socket open. So a frame that fails here is logged **with its raw text** and skipped;
* ccxt answers ``eventStreamTerminated`` by rejecting a future nobody waits on, and ignores
  ``listenKeyExpired``: the venue would wait forever. The guard sets ``ended`` instead;
* silence on a user stream is normal (no trading, no events), so liveness is checked by asking:
  ``session.subscriptions`` on the WebSocket API must answer, and list a subscription.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["StreamGuard", "unusable_report"]

log = logging.getLogger(__name__)

_ENDS = {"eventStreamTerminated", "listenKeyExpired"}
_INTS = ("i", "t")  # order id, trade id
_TEXTS = ("c", "x", "X", "S")  # client order id, execution type, order status, side
_DECIMALS = ("q", "l", "L", "z", "n")  # quantity, last quantity and price, cumulative, commission


def unusable_report(event: Mapping[str, Any], market_ids: Collection[str]) -> str | None:
    """Why an ``executionReport`` cannot be used (None: it can). Only its TRADE fields matter to a
    ledger, but a report whose ids or quantities are wrong says nothing reliable about anything."""
    symbol = event.get("s")
    if symbol not in market_ids:
        return f"symbol {symbol!r} is not traded by this venue"
    for name in _INTS:
        value = event.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"field {name!r} is {value!r}, not an integer"
    for name in _TEXTS:
        if not isinstance(event.get(name), str):
            return f"field {name!r} is {event.get(name)!r}, not a string"
    for name in _DECIMALS:
        value = event.get(name)
        try:
            ok = isinstance(value, str) and Decimal(value).is_finite()
        except InvalidOperation:
            ok = False
        if not ok:
            return f"field {name!r} is {value!r}, not a decimal string"
    return None


class StreamGuard:
    """Watches one websocket client of the user stream (one session: a reconnect makes a new guard)."""

    _ids = itertools.count(1)

    def __init__(self, venue: str, market_ids: Collection[str]) -> None:
        self.venue = venue
        self.market_ids = set(market_ids)
        self.ended = asyncio.Event()  # the exchange ended the stream, or a keep-alive check failed
        self.reason = ""
        self.skipped = 0  # frames logged and dropped
        self._probes: dict[str, asyncio.Future[Any]] = {}

    def install(self, client: Any) -> None:
        """Route ``client``'s frames through ``_screen``."""
        # ccxt's own handler, kept on the client so a second guard never wraps the first one
        inner = getattr(client, "_spreadhawk_inner", client.handle_text_or_binary_message)
        client._spreadhawk_inner = inner

        def guarded(data: Any) -> None:
            try:
                if self._screen(data):
                    inner(data)
            except Exception:  # never let a frame kill ccxt's receive loop
                self.skipped += 1
                log.exception("venue %s: user-stream message skipped, ccxt could not handle it: %r", self.venue, data)

        client.handle_text_or_binary_message = guarded

    def end(self, reason: str) -> None:
        if not self.ended.is_set():
            self.reason = reason
            self.ended.set()

    async def probe(self, client: Any, timeout_s: float) -> bool:
        """Ask the exchange for this session's subscriptions: True if one is alive. TimeoutError when
        no answer comes (a stalled connection); a closed connection raises from ``send``."""
        request_id = f"keepalive-{next(self._ids)}"
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._probes[request_id] = answer
        try:
            await client.send({"id": request_id, "method": "session.subscriptions"})
            message = await asyncio.wait_for(answer, timeout_s)
        finally:
            self._probes.pop(request_id, None)
        result = message.get("result") if isinstance(message, dict) else None
        return isinstance(result, list) and len(result) > 0

    def _screen(self, data: Any) -> bool:
        """Whether ccxt should see ``data``; what it should not see is logged (raw) or answered here."""
        try:
            message = json.loads(data) if isinstance(data, str | bytes) else data
        except ValueError:
            return self._skip("not JSON", data)
        if not isinstance(message, dict):
            return True
        probe = self._probes.get(str(message.get("id")))
        if probe is not None:
            if not probe.done():
                probe.set_result(message)
            return False
        inner = message.get("event")
        event = inner if isinstance(inner, dict) else message
        kind = event.get("e")
        if kind in _ENDS:
            log.warning("venue %s: the exchange ended the user stream: %s", self.venue, data)
            self.end(f"the exchange sent {kind}")
            return False
        if kind == "executionReport":
            why = unusable_report(event, self.market_ids)
            if why is not None:
                return self._skip(why, data)
        return True

    def _skip(self, why: str, data: Any) -> bool:
        self.skipped += 1
        log.warning("venue %s: user-stream message skipped (%s): %s", self.venue, why, data)
        return False
