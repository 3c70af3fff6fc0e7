"""Faults of the user-data stream (RELIABILITY.md §4.1 R1, §4.2 scenarios 5, 6, 8, 9; S13).

Armed like the order faults (``POST /emulator/stream_fault`` with JSON, or ``UserStreams.arm``).
The first group changes what happens to the next ``count`` ``executionReport`` events; the second
acts at once on the user-stream connections open now (a connection opened later is healthy).

==================  ===================================================================================
``duplicate``       each report is sent twice (a replay after a reconnect looks the same)
``reorder``         the reports are held back and sent right after the next report (a trade before its
                    NEW ack, a cancel ack before the fill that preceded it)
``delay``           the connection sends nothing for ``ms`` before each report (late, nothing lost)
``unknown_fields``  each report carries fields Binance may add one day; they must be ignored
``terminate``       ``eventStreamTerminated`` on every WebSocket-API subscription, which then ends:
                    the socket stays open, no more events follow
``expire``          ``listenKeyExpired`` on every listenKey stream (its key is forgotten) and on every
                    WebSocket-API subscription (which ends); the sockets stay open
``stall``           the connections open now send nothing more (no event, no answer), sockets open
``malformed_json``  a frame that is not JSON
``missing_fields``  an ``executionReport`` without its order, trade and quantity fields
``wrong_types``     an ``executionReport`` whose ids and quantities are of the wrong JSON types
``unknown_symbol``  a well-formed TRADE ``executionReport`` of a symbol this exchange does not list
==================  ===================================================================================

The bad messages belong to no order of the exchange: a client that books one corrupts its ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from spreadhawk.venues.emulator.faults import FaultError, fault_kind

__all__ = ["StreamFault", "StreamFaultKind", "bad_message"]


class StreamFaultKind(StrEnum):
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    DELAY = "delay"
    UNKNOWN_FIELDS = "unknown_fields"
    TERMINATE = "terminate"
    EXPIRE = "expire"
    STALL = "stall"
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELDS = "missing_fields"
    WRONG_TYPES = "wrong_types"
    UNKNOWN_SYMBOL = "unknown_symbol"

    @property
    def per_report(self) -> bool:
        """Whether it changes the next reports (rather than acting at once)."""
        return self in _PER_REPORT


_PER_REPORT = {
    StreamFaultKind.DUPLICATE,
    StreamFaultKind.REORDER,
    StreamFaultKind.DELAY,
    StreamFaultKind.UNKNOWN_FIELDS,
}
BAD_MESSAGES = {
    StreamFaultKind.MALFORMED_JSON,
    StreamFaultKind.MISSING_FIELDS,
    StreamFaultKind.WRONG_TYPES,
    StreamFaultKind.UNKNOWN_SYMBOL,
}


@dataclass(frozen=True, slots=True)
class StreamFault:
    kind: StreamFaultKind
    count: int = 1  # reports it applies to (per-report kinds)
    ms: int = 0  # delay

    def __post_init__(self) -> None:
        if self.count < 1 or self.ms < 0:
            raise FaultError(f"{self.kind}: count must be >= 1 and ms >= 0")
        if self.kind is StreamFaultKind.DELAY and self.ms <= 0:
            raise FaultError(f"{self.kind}: ms must be a positive number of milliseconds")

    @classmethod
    def from_mapping(cls, raw: Any) -> StreamFault:
        """A stream fault from JSON (``{"kind": "duplicate", "count": 3}``)."""
        kind = fault_kind(raw, StreamFaultKind, {"count", "ms"}, "a stream fault")
        values = {}
        for name, default in (("count", 1), ("ms", 0)):
            value = raw.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FaultError(f"{name} must be an integer, got {value!r}")
            values[name] = value
        return cls(kind, **values)


def bad_message(kind: StreamFaultKind, symbol: str, event_ms: int) -> dict[str, Any] | str:
    """The bad event of ``kind`` (a text for malformed JSON). Ids are ones the exchange never issued."""
    if kind is StreamFaultKind.MALFORMED_JSON:
        return '{"e":"executionReport","s":"' + symbol + '","x":"TRADE","l":"0.5'  # cut off mid-frame
    base: dict[str, Any] = {"e": "executionReport", "E": event_ms, "s": symbol, "x": "TRADE", "X": "FILLED"}
    if kind is StreamFaultKind.MISSING_FIELDS:
        return base  # no i, c, t, S, q, l, L, z, n
    report = {
        **base,
        "c": "emulator-bad-1",
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "q": "1.00000000",
        "p": "1.00000000",
        "i": 990000001,
        "l": "1.00000000",
        "z": "1.00000000",
        "L": "1.00000000",
        "n": "0",
        "N": None,
        "T": event_ms,
        "t": 990000001,
        "w": False,
        "m": False,
        "O": event_ms,
        "Z": "1.00000000",
        "Y": "1.00000000",
        "Q": "0",
    }
    if kind is StreamFaultKind.WRONG_TYPES:
        return {**report, "i": "not-an-id", "t": {"id": 1}, "l": "one", "L": [1], "z": True, "q": None}
    if kind is StreamFaultKind.UNKNOWN_SYMBOL:
        return {**report, "s": "NOSUCHUSDT"}
    raise FaultError(f"{kind} is not a bad message")
