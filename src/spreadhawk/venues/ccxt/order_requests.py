"""The order REST calls of ``CcxtVenue`` with their reliability rules, returning outcomes (no events).

Split out of the venue so the rules sit together and outcomes.py turns outcomes into reports:

* a look-up by client id retries until the exchange answers for the order; only ``OrderNotFound``
  repeated past the visibility window means the order never arrived, and a network error is never
  taken as "not found" (RELIABILITY.md §4.2 scenarios 3-5);
* re-sending a cancel by client id is safe (it cannot create anything), unlike a submit;
* an order answer without its fills (Binance USD-M) is completed from the trade history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ccxt.base.errors import BaseError as CcxtError
from ccxt.base.errors import ExchangeError, OperationFailed, OrderNotFound

from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.venues.ccxt.breaker import CircuitOpenError
from spreadhawk.venues.ccxt.conditional import child_trades
from spreadhawk.venues.ccxt.limiter import RateLimitRefusedError
from spreadhawk.venues.ccxt.quirks import Quirks

__all__ = ["UNKNOWN_OUTCOME", "Found", "NeverArrived", "OrderGone", "OrderRequests"]

log = logging.getLogger(__name__)
_CANCEL_WARN_EVERY = 5  # unanswered cancel attempts between warnings
# Requests our own guards refused to send (ExchangeErrors, so a submit is rejected at once).
NOT_SENT = (CircuitOpenError, RateLimitRefusedError)

# Errors after which a request's outcome is unknown: the request may or may not have taken effect.
# ccxt's NetworkError family (timeouts, 5xx, -1007, 429) is OperationFailed; OSError and
# TimeoutError are what aiohttp may let through.
UNKNOWN_OUTCOME = (OperationFailed, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Found:
    order: dict[str, Any]
    trades: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class NeverArrived:
    hidden_for_s: float


@dataclass(frozen=True, slots=True)
class OrderGone:
    """A cancel's refusal that says the order is not open: it filled, or was cancelled already (by
    an earlier attempt whose answer was lost, say). Only a look-up tells which."""

    reason: str


class OrderRequests:
    """Look-ups, cancels and trade reads on ``exchange()`` for the exchange ``quirks`` describe."""

    def __init__(
        self,
        exchange: Callable[[], Any],
        quirks: Quirks,
        delay: Callable[[int], float],
        name: str,
        extra: Callable[[ClientOrderId], dict[str, Any]] = lambda cid: {},
    ) -> None:
        self._exchange, self.quirks, self._delay, self.name = exchange, quirks, delay, name
        self._extra = extra  # params an order needs beyond its client id (a conditional one's endpoint)

    def by_client(self, cid: ClientOrderId) -> dict[str, Any]:
        """The params naming an order by our client id in fetch_order / cancel_order."""
        if self.quirks.client_id_lookup is None:
            raise NotImplementedError(f"{self.quirks.ccxt_id} cannot look an order up by client id")
        return {self.quirks.client_id_lookup: cid, **self._extra(cid)}

    async def order_trades(self, symbol: str, order_id: str, attempts: int = 5) -> list[dict[str, Any]]:
        """The trades of one order; empty when the exchange does not answer (the stream brings them)."""
        for attempt in range(attempts):
            try:
                trades: list[dict[str, Any]] = await self._exchange().fetch_my_trades(
                    symbol, None, None, {"orderId": order_id}
                )
            except (*UNKNOWN_OUTCOME, CcxtError) as exc:
                log.warning("venue %s: trades of order %s not read (%s); retrying", self.name, order_id, exc)
                await asyncio.sleep(self._delay(attempt))
                continue
            return trades
        return []

    async def look_up(self, symbol: str, cid: ClientOrderId, sent_at: float, window_s: float) -> Found | NeverArrived:
        """Find an order whose submit answer was lost, by client id, until the exchange answers for it."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                order = await self._exchange().fetch_order(None, symbol, self.by_client(cid))
                if self._extra(cid):  # a conditional order trades through the market order it placed
                    trades = await child_trades(self._exchange(), symbol, order)
                else:
                    trades = await self._exchange().fetch_my_trades(symbol, None, None, {"orderId": order["id"]})
            except OrderNotFound:
                hidden_for = loop.time() - sent_at
                if hidden_for >= window_s:
                    return NeverArrived(hidden_for)
            except (*UNKNOWN_OUTCOME, CcxtError) as exc:  # no answer is not "not found": keep asking
                log.warning("venue %s: look-up of %s failed (%s); retrying", self.name, cid, exc)
            else:
                return Found(order, trades)
            await asyncio.sleep(self._delay(attempt))
            attempt += 1

    async def cancel(self, symbol: str, cid: ClientOrderId) -> str | OrderGone | None:
        """None once canceled; otherwise the exchange's refusal (``OrderGone``: it says the order is not open).

        Re-sending a cancel by client id is safe (it cannot create anything), unlike a submit; so an
        unknown outcome, or a request our own breaker or limiter kept back, is asked again with
        backoff until the exchange answers: giving up would have to guess canceled or working, and
        either guess can be wrong (RELIABILITY.md scenario 21). The order stays PENDING_CANCEL."""
        attempt = 0
        while True:
            try:
                await self._exchange().cancel_order(None, symbol, self.by_client(cid))
            except OrderNotFound as exc:  # Binance -2011: not open (any more): why is the caller's question
                return OrderGone(f"unknown order: {exc}")
            except NOT_SENT as exc:  # kept here by our guards: not the exchange's answer about the order
                self._unanswered(cid, attempt, exc)
            except ExchangeError as exc:
                return str(exc)
            except (*UNKNOWN_OUTCOME, CcxtError) as exc:
                self._unanswered(cid, attempt, exc)
            else:
                return None
            await asyncio.sleep(self._delay(attempt))
            attempt += 1

    def _unanswered(self, cid: ClientOrderId, attempt: int, exc: Exception) -> None:
        if attempt % _CANCEL_WARN_EVERY == _CANCEL_WARN_EVERY - 1:
            log.warning("venue %s: cancel of %s unanswered %d times (%s: %s); still asking",
                        self.name, cid, attempt + 1, type(exc).__name__, exc)  # fmt: skip
