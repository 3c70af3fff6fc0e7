"""Which guarded ccxt client a ``CcxtVenue`` uses for an exchange id (the guards: ``client.py``).

ccxt's ``binanceusdm`` is a ``binance`` with futures defaults, so the guards of ``GuardedBinance``
(host limiter fed by Binance's weight headers, breaker, time sync) apply to it unchanged through a
subclass. Exchanges without a guarded client get ccxt's own throttle: nothing here knows their
headers yet (see the quirks table's ``exchange_info``).
"""

from __future__ import annotations

import logging
from typing import Any

import ccxt.pro as ccxtpro

from spreadhawk.venues.ccxt.client import GuardConfig, GuardedBinance

__all__ = ["guarded_client"]

log = logging.getLogger(__name__)


class GuardedBinanceUsdm(GuardedBinance, ccxtpro.binanceusdm):  # type: ignore[misc]  # ccxt is untyped
    """``ccxt.pro.binanceusdm`` with ``GuardedBinance``'s guards over its REST."""


_GUARDED: dict[str, type[GuardedBinance]] = {"binance": GuardedBinance, "binanceusdm": GuardedBinanceUsdm}


def guarded_client(ccxt_id: str, settings: dict[str, Any], guards: GuardConfig, venue: str) -> Any:
    guarded = _GUARDED.get(ccxt_id)
    if guarded is not None:
        return guarded(settings, guards, venue)
    log.warning("venue %s: no guarded client for %s; ccxt's own rate limiting only", venue, ccxt_id)
    return getattr(ccxtpro, ccxt_id)({**settings, "enableRateLimit": True})
