"""Faults of the order endpoints (RELIABILITY.md §4.1): the unknown outcomes a client must resolve.

Armed like the feed faults (``POST /emulator/order_fault`` with JSON, or ``OrdersApi.arm``); each fires
on the next ``count`` requests it applies to, then is spent.

===========================  =======================================================================
``commit_then_drop_response`` POST order: the order is committed, the connection is closed with no answer
``commit_then_503_unknown``   POST order: committed, then HTTP 503 "Service Unavailable" (status unknown)
``-1007``                     POST order: committed, then HTTP 408 ``{"code":-1007,...}`` (Binance's
                              "Send status unknown; execution status unknown")
``429`` / ``418``             any signed request: refused before anything happens, with ``Retry-After``
                              (seconds) and Binance's -1003 answer; nothing is committed
``-1021``                     any signed request: refused with Binance's -1021 "Timestamp for this
                              request is outside of the recvWindow." (nothing happens)
``drop_request``              any signed request: the connection is closed before anything happens
                              (an unknown outcome for the client, though nothing was committed)
``order_invisible_for_ms``    POST order: committed and answered normally, but ``GET order`` and
                              ``openOrders`` do not see it for ``ms`` milliseconds (eventual consistency)
===========================  =======================================================================

``ms`` on any committing fault also hides the order for that long, so a lost answer can meet an
order the API does not show yet (``{"kind": "commit_then_drop_response", "ms": 500}``). ``path``
limits a fault to one endpoint (``{"kind": "-1007", "path": "/fapi/v1/algoOrder"}``: a stop-loss
whose placement has an unknown outcome, while market orders go through).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from spreadhawk.venues.emulator.faults import FaultError, fault_kind

__all__ = ["OrderFault", "OrderFaultKind"]


class OrderFaultKind(StrEnum):
    COMMIT_THEN_DROP_RESPONSE = "commit_then_drop_response"
    COMMIT_THEN_503_UNKNOWN = "commit_then_503_unknown"
    COMMIT_THEN_1007 = "-1007"
    TOO_MANY_REQUESTS = "429"
    IP_BANNED = "418"
    TIMESTAMP_OUTSIDE_WINDOW = "-1021"
    DROP_REQUEST = "drop_request"
    ORDER_INVISIBLE = "order_invisible_for_ms"

    @property
    def commits(self) -> bool:
        """Whether the order is placed before the fault answers."""
        return self not in (
            OrderFaultKind.TOO_MANY_REQUESTS,
            OrderFaultKind.IP_BANNED,
            OrderFaultKind.TIMESTAMP_OUTSIDE_WINDOW,
            OrderFaultKind.DROP_REQUEST,
        )


@dataclass(frozen=True, slots=True)
class OrderFault:
    kind: OrderFaultKind
    count: int = 1  # requests it applies to
    retry_after: int = 1  # 429/418: the Retry-After header, seconds
    ms: int = 0  # order_invisible_for_ms (or any committing fault: hidden that long too)
    path: str = ""  # only requests to this path (e.g. "/fapi/v1/algoOrder"); empty: any

    def __post_init__(self) -> None:
        if self.count < 1 or self.retry_after < 0 or self.ms < 0:
            raise FaultError(f"{self.kind}: count must be >= 1, retry_after and ms >= 0")
        if self.kind is OrderFaultKind.ORDER_INVISIBLE and self.ms <= 0:
            raise FaultError(f"{self.kind}: ms must be a positive number of milliseconds")

    @classmethod
    def from_mapping(cls, raw: Any) -> OrderFault:
        """An order fault from JSON (``{"kind": "429", "retry_after": 2}``)."""
        kind = fault_kind(raw, OrderFaultKind, {"count", "retry_after", "ms", "path"}, "an order fault")
        values = {}
        for name, default in (("count", 1), ("retry_after", 1), ("ms", 0)):
            value = raw.get(name, default)
            if isinstance(value, bool) or not isinstance(value, int):
                raise FaultError(f"{name} must be an integer, got {value!r}")
            values[name] = value
        path = raw.get("path", "")
        if not isinstance(path, str) or (path and not path.startswith("/")):
            raise FaultError(f"path must be a URL path such as '/fapi/v1/algoOrder', got {path!r}")
        return cls(kind, **values, path=path)
