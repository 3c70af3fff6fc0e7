"""Identifiers.

An ``InstrumentId`` is a plain string ``"VENUE:SYMBOL"`` (for example ``"BINANCE:LINK/USDT"``).
A string rather than a dataclass because it is hashed on every market-data event: ``str`` caches
its hash, a frozen dataclass recomputes it each time.
"""

from __future__ import annotations

from typing import NewType

InstrumentId = NewType("InstrumentId", str)
ClientOrderId = NewType("ClientOrderId", str)


def instrument_id(venue: str, symbol: str) -> InstrumentId:
    if not venue or ":" in venue:
        raise ValueError(f"invalid venue name {venue!r}: must be non-empty and contain no ':'")
    if not symbol:
        raise ValueError("instrument symbol must be non-empty")
    return InstrumentId(f"{venue}:{symbol}")


def venue_of(iid: InstrumentId) -> str:
    return iid.split(":", 1)[0]


def symbol_of(iid: InstrumentId) -> str:
    return iid.split(":", 1)[1]
