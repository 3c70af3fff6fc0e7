"""Seeded fault plans (``venues/emulator/fault_plan.py``): the order-side and user-stream scenarios of
RELIABILITY.md §4.2 (3, 4, 5, 6, 8, 9, 12, 13, 14, 21 and bad messages) drawn at random, several to a
session, so they also meet each other: a lost answer while reports are reordered, a 429 while the
stream is down, a cancel sent into a partition. REST and the user stream go through the R2 fault
proxy. Each seed is one session on a fresh emulator
account; after every step the R4 invariants are checked against ``/emulator/truth`` (and each
order's state must be the exchange's), and at the end every resting order is cancelled and checked
again. CI runs ``SEEDS`` seeds; ``make soak`` more (``SPREADHAWK_SOAK_SEEDS``). A failure names its
seed and plan: ``draw_plan(seed, STEPS)`` replays it.
"""

from __future__ import annotations

import asyncio
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_stream_faults import FAST_WATCHDOG, SHORT_BREAKER, _cancel, assert_invariants, stream_fault
from test_venue import Live, live

from spreadhawk.domain.events import OrderSide, OrderType, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.venues.emulator.fault_plan import PlannedOrder, Step, draw_plan
from spreadhawk.venues.emulator.fault_proxy import ProxyMode
from spreadhawk.venues.emulator.order_faults import OrderFault
from spreadhawk.venues.emulator.stream_faults import StreamFault

pytestmark = pytest.mark.real_data

SEEDS = range(int(os.environ.get("SPREADHAWK_SOAK_SEEDS", "8")))
STEPS = 5
TRADE_POLL_S = 0.5  # the periodic REST catch-up books a report the stream lost (production: 10 s)
UNSETTLED = (OrderStatus.INITIALIZED, OrderStatus.SUBMITTED, OrderStatus.UNKNOWN, OrderStatus.PENDING_CANCEL)
RESTING = (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)


def _order_json(fault: OrderFault) -> dict[str, Any]:
    return {"kind": str(fault.kind), "count": fault.count, "retry_after": fault.retry_after, "ms": fault.ms}


def _stream_json(fault: StreamFault) -> dict[str, Any]:
    return {"kind": str(fault.kind), "count": fault.count, "ms": fault.ms}


async def _settle(lv: Live, what: str) -> None:
    """Wait until nothing is in flight, the stream is live, every exchange trade is booked and no
    order's outcome is still open to doubt."""
    exchange = lv.emulator.exchange
    assert exchange is not None

    def settled() -> bool:
        return (
            not lv.venue.busy
            and lv.venue.stream_live
            and lv.venue.trades_booked == len(exchange.trades)
            and not any(o.status in UNSETTLED for o in lv.engine.orders.values())
        )

    def state() -> str:
        doubtful = {cid: o.status.name for cid, o in lv.engine.orders.items() if o.status in UNSETTLED}
        return (
            f"{what} to settle (in flight: {lv.venue.busy}, stream: {lv.venue.stream_state}, trades booked"
            f" {lv.venue.trades_booked} of {len(exchange.trades)}, in doubt: {doubtful})"
        )

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10.0
    while not settled():
        assert loop.time() < deadline, f"timed out waiting for {state()}"
        await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time


async def _step(lv: Live, n: int, step: Step) -> None:
    if step.order_fault is not None:
        await lv.fault(**_order_json(step.order_fault))
    if step.stream_fault is not None:
        await stream_fault(lv, **_stream_json(step.stream_fault))
    bid, ask = await lv.book()
    if step.network is not None:
        proxy = lv.proxy
        assert proxy is not None
        proxy.set(step.network.mode, ms=step.network.ms, nbytes=step.network.nbytes)
        asyncio.get_running_loop().call_later(step.network_s, proxy.set, ProxyMode.PASS)
    side = OrderSide(step.side.lower())
    qty = str(step.quantity)
    resting = [cid for cid, o in lv.engine.orders.items() if o.status in RESTING]
    if step.order is PlannedOrder.MARKET:
        lv.submit(f"s{n}", side, OrderType.MARKET, qty)
    elif step.order is PlannedOrder.TAKE:
        lv.submit(
            f"s{n}", side, OrderType.LIMIT, qty, ask if side is OrderSide.BUY else bid, time_in_force=TimeInForce.IOC
        )
    elif step.order is PlannedOrder.CANCEL and resting:
        _cancel(lv, resting[0])
    else:
        cid = lv.submit(f"s{n}", OrderSide.BUY, OrderType.LIMIT, qty, bid - Decimal(n + 1))
        await _settle(lv, f"step {n} ({step.describe()})")
        if lv.status(cid) in RESTING and step.fill_share:
            exchange = lv.emulator.exchange
            assert exchange is not None
            exchange.counterparty_fill("BTCUSDT", cid, step.quantity * step.fill_share)
    await _settle(lv, f"step {n} ({step.describe()})")


async def _checked(lv: Live, after: str) -> dict[str, Any]:
    """R4 after ``after``; a violation says what the exchange and the engine each saw."""
    try:
        return await assert_invariants(lv)
    except AssertionError as exc:
        truth = await lv.get("/emulator/truth")
        seen = {c: [f"{type(e).__name__} {getattr(e, 'reason', '')}" for e in lv.events(c)] for c in lv.engine.orders}
        raise AssertionError(f"after {after}: {exc}; exchange: {truth['orders']}; engine saw: {seen}") from None


@pytest.mark.parametrize("seed", SEEDS)
def test_a_seeded_fault_plan_leaves_every_invariant_holding(shared_data: Path, seed: int) -> None:
    plan = draw_plan(seed, STEPS)
    context = f"seed {seed}: " + "; ".join(s.describe() for s in plan)

    async def scenario() -> None:
        options = {"guards": SHORT_BREAKER, "trade_poll_s": TRADE_POLL_S, **FAST_WATCHDOG}
        async with live(shared_data, proxy="all", **options) as lv:
            for n, step in enumerate(plan):
                await _step(lv, n, step)
                await _checked(lv, f"step {n}")
            for cid, order in lv.engine.orders.items():
                if order.status in RESTING:
                    _cancel(lv, cid)
            await _settle(lv, "the final cancels")
            truth = await _checked(lv, "the final cancels")
            assert not [o for o in truth["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]
            assert all(ClientOrderId(o["clientOrderId"]) in lv.engine.orders for o in truth["orders"])

    try:
        asyncio.run(asyncio.wait_for(scenario(), 90))
    except BaseException as exc:
        raise AssertionError(f"{context}: {exc!r}") from exc
