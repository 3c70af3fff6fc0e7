"""Binance spot request weights per REST endpoint, as data (rest-api.md, "Weight" of each endpoint).

The limiter charges a request its weight *before* it is sent; the exchange's own count
(``X-MBX-USED-WEIGHT-*``) corrects ours afterwards, so a weight that is wrong here costs at most a
window's drift, never a ban. An endpoint missing from the table is charged ``UNKNOWN_WEIGHT`` (on
the high side, so a forgotten endpoint throttles early rather than late).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["UNKNOWN_WEIGHT", "Cost", "cost_of"]

UNKNOWN_WEIGHT = 20

# (method, path) -> weight; a callable entry depends on the parameters.
_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("POST", "/api/v3/order"): 1,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
}
# depth: weight by the ``limit`` asked for (upper bound of the range, weight); Binance's default is 100.
_DEPTH = ((100, 5), (500, 25), (1000, 50), (5000, 250))
# Endpoints that place an order: each also counts against the ORDERS limits.
_PLACES_ORDER = {("POST", "/api/v3/order")}


class Cost(NamedTuple):
    """What one request counts against the limits: its request weight and the orders it places."""

    weight: int
    orders: int = 0


def cost_of(method: str, path: str, params: Mapping[str, str]) -> Cost:
    """What a request to ``path`` with query/body ``params`` costs against the exchange's limits."""
    key = (method.upper(), path.rstrip("/"))
    orders = 1 if key in _PLACES_ORDER else 0
    if key == ("GET", "/api/v3/depth"):
        limit = int(params.get("limit") or 100)
        return Cost(next((w for top, w in _DEPTH if limit <= top), _DEPTH[-1][1]))
    if key == ("GET", "/api/v3/openOrders"):
        return Cost(6 if params.get("symbol") else 80)
    if key == ("GET", "/api/v3/myTrades"):
        return Cost(5 if params.get("orderId") else 20)
    return Cost(_FIXED.get(key, UNKNOWN_WEIGHT), orders)
