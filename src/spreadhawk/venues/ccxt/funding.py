"""Funding payments of the perpetuals a ``CcxtVenue`` trades, read from the exchange's income history.

Why poll REST rather than listen: the user stream's funding event (Binance ``ACCOUNT_UPDATE`` with
reason ``FUNDING_FEE``) carries the new wallet balance but not the payment, the rate or the mark, and
it is lost like any stream message while the stream is down. The income history holds every payment,
and the funding-rate history the rate and mark of each funding time, so polling both reports each
payment exactly once, whenever it is read (a payment read late keeps its own funding time).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from ccxt.base.errors import BaseError as CcxtError

from spreadhawk.domain.events import FundingPaid
from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.ccxt.account import funding_paid

__all__ = ["FundingPoller"]

log = logging.getLogger(__name__)


class FundingPoller:
    """Reports each funding payment of ``instruments`` once, through ``post``."""

    def __init__(self, instruments: Sequence[Instrument]) -> None:
        self.instruments = list(instruments)
        self._since: dict[str, int | None] = dict.fromkeys(i.symbol for i in instruments)
        self._seen: set[str] = set()

    async def prime(self, exchange: Any) -> None:
        """At start: the payments already in the history are reconciliation's business, not news. Marked
        by the exchange's own ids and times, never by our clock (the emulator's income is stamped with
        the recorded funding times; a real exchange's with its own clock)."""
        for instrument in self.instruments:
            for payment in await exchange.fetch_funding_history(instrument.symbol):
                self._seen.add(_key(payment))
                stamp = int(payment.get("timestamp") or 0)
                self._since[instrument.symbol] = max(self._since[instrument.symbol] or 0, stamp)

    async def poll(self, exchange: Any, now_ns: Callable[[], int], post: Callable[[FundingPaid], None]) -> None:
        """One pass: every payment since the last one seen, per instrument."""
        for instrument in self.instruments:
            payments = await exchange.fetch_funding_history(instrument.symbol, self._since[instrument.symbol])
            for payment in sorted(payments, key=lambda p: int(p.get("timestamp") or 0)):
                key = _key(payment)
                if key in self._seen:
                    continue
                stamp = int(payment["timestamp"])
                rates = await exchange.fetch_funding_rate_history(instrument.symbol, stamp, 1)
                rate = next((r for r in rates if r.get("timestamp") == stamp), None)
                if rate is None:  # the rate is not published yet: take the payment on the next pass
                    break
                self._seen.add(key)
                self._since[instrument.symbol] = stamp
                post(funding_paid(payment, rate, instrument, now_ns()))

    async def run(
        self,
        exchange: Callable[[], Any],
        now_ns: Callable[[], int],
        post: Callable[[FundingPaid], None],
        every_s: float,
    ) -> None:
        while True:
            try:
                await self.poll(exchange(), now_ns, post)
            except (CcxtError, OSError, TimeoutError) as exc:  # the next pass asks again
                log.warning("funding history not read (%s); retrying in %.1f s", exc, every_s)
            await asyncio.sleep(every_s)


def _key(payment: dict[str, Any]) -> str:
    """The exchange's id of a payment (Binance ``tranId``), as ccxt exposes it."""
    return str(payment.get("id") or (payment.get("info") or {}).get("tranId"))
