"""The invariant checker (RELIABILITY.md §4.1 R4): a node's books against the emulator's ground truth.

Run after every fault scenario. ``violations`` returns one line per broken invariant (empty: all
hold). The truth is the emulator's ``/emulator/truth`` answer (orders, trades, balances); the
node's side is its engine (orders, fills, ledger) and, for the state-machine rule, its journal.

1. no two exchange orders share a client order id (one intent, at most one order);
2. every exchange order with this node's id prefix is known to the engine;
3. every order the engine holds open is open at the exchange (a conditional one: its algo order is
   NEW), or UNKNOWN with a look-up pending;
4. per order, Σ fills ≤ quantity, on both sides, and the engine's filled quantity is the exchange's;
5. every exchange trade is booked exactly once (by trade id), and nothing else is booked;
6. balances: the engine's ledger equals the exchange's (free + locked), to the last unit;
7. terminal order states are absorbing, except CANCELED -> FILLED (a late fill), in the journal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from spreadhawk.domain.events import OrderCanceled, OrderEvent, OrderExpired, OrderFilled, OrderRejected
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.engine import Engine

__all__ = ["violations"]

ZERO = Decimal(0)
_OPEN_AT_EXCHANGE = ("NEW", "PARTIALLY_FILLED")
_TERMINAL_EVENTS = (OrderCanceled, OrderExpired, OrderRejected)


def violations(
    truth: Mapping[str, Any],
    engine: Engine,
    venue: str,
    prefixes: Iterable[str],
    journal: Iterable[object] = (),
) -> list[str]:
    """Every invariant ``engine`` (trading ``venue``) breaks against ``truth``; ``prefixes``: the id
    prefixes this node ever used (one per session)."""
    found: list[str] = []
    orders = list(truth.get("orders", []))
    ids = Counter(str(o["clientOrderId"]) for o in orders)
    found += [f"client order id {cid} is on {n} exchange orders" for cid, n in sorted(ids.items()) if n > 1]
    ours = tuple(prefixes)
    for order in orders:
        cid = str(order["clientOrderId"])
        known = engine.orders.get(cid)  # type: ignore[call-overload]
        if known is None:
            if cid.startswith(ours):
                found.append(f"exchange order {cid} ({order['status']}) is unknown to the engine")
            continue
        executed, quantity = Decimal(order["executedQty"]), Decimal(order["origQty"])
        if executed > quantity:
            found.append(f"exchange order {cid}: executed {executed} > quantity {quantity}")
        if known.filled_quantity != executed:
            found.append(f"order {cid}: engine filled {known.filled_quantity}, exchange executed {executed}")
        if known.filled_quantity > known.quantity:
            found.append(f"order {cid}: engine filled {known.filled_quantity} > quantity {known.quantity}")
    open_there = {str(o["clientOrderId"]) for o in orders if o["status"] in _OPEN_AT_EXCHANGE}
    open_there |= {str(o["clientAlgoId"]) for o in truth.get("algoOrders", []) if o["algoStatus"] == "NEW"}
    for cid, order in sorted(engine.orders.items()):
        if order.is_open and cid not in open_there and order.status is not OrderStatus.UNKNOWN:
            found.append(f"order {cid} is {order.status} in the engine but not open at the exchange")
    found += _trades(truth, engine)
    found += _balances(truth, engine, venue)
    found += _absorbing(journal)
    return found


def _trades(truth: Mapping[str, Any], engine: Engine) -> list[str]:
    booked = Counter(fill.trade_id for fill in engine.fills)
    found = [f"trade {tid} booked {n} times" for tid, n in sorted(booked.items()) if n > 1]
    exchange = {str(t["id"]) for t in truth.get("trades", [])}
    found += [f"exchange trade {tid} is not booked" for tid in sorted(exchange - set(booked))]
    found += [f"booked trade {tid} is not at the exchange" for tid in sorted(set(booked) - exchange)]
    return found


def _balances(truth: Mapping[str, Any], engine: Engine, venue: str) -> list[str]:
    held = {asset: Decimal(b["free"]) + Decimal(b["locked"]) for asset, b in dict(truth.get("balances", {})).items()}
    ledger = engine.portfolio.ledger.venue_balances(venue)
    found = []
    for asset in sorted(set(held) | set(ledger)):
        theirs, mine = held.get(asset, ZERO), ledger.get(asset, ZERO)
        if theirs != mine:
            found.append(f"{venue} {asset}: exchange holds {theirs}, engine booked {mine}")
    return found


def _absorbing(journal: Iterable[object]) -> list[str]:
    """Terminal states are absorbing except CANCELED -> FILLED (a fill that crossed the cancel)."""
    ended: dict[str, str] = {}
    found = []
    for record in journal:
        if not isinstance(record, OrderEvent):
            continue
        cid = str(record.client_order_id)
        if cid in ended:
            late_fill = isinstance(record, OrderFilled) and ended[cid] == "OrderCanceled"
            if not late_fill and not isinstance(record, OrderFilled | _TERMINAL_EVENTS):
                found.append(f"order {cid}: {type(record).__name__} after {ended[cid]}")
            elif isinstance(record, OrderFilled) and not late_fill:
                found.append(f"order {cid}: a fill after {ended[cid]}")
        if isinstance(record, _TERMINAL_EVENTS):
            ended.setdefault(cid, type(record).__name__)
    return found
