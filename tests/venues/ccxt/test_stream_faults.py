"""``CcxtVenue`` under user-stream and network faults (RELIABILITY.md §4.2 scenarios 5, 6, 8, 9, 21
and S13), with a real ``Engine`` and the real ccxt client against the emulator, through the R2 fault
proxy where a scenario needs the network to fail. After every scenario the R4 invariants are checked
against ``/emulator/truth``."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_venue import INSTRUMENT, VENUE, Live, live, run

from spreadhawk.domain.events import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderType,
    RejectCode,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.venues.ccxt.client import GuardConfig
from spreadhawk.venues.emulator.fault_proxy import FaultProxy, ProxyMode
from spreadhawk.venues.emulator.invariants import violations

pytestmark = pytest.mark.real_data

# A keep-alive check every 0.2 s answered within 0.4 s: a dead stream is found in well under a second.
FAST_WATCHDOG: dict[str, Any] = {"heartbeat_s": 0.2, "stall_timeout_s": 0.4}
# REST failures open the circuit breaker: for half a second here, not production's 30 s.
SHORT_BREAKER = GuardConfig(open_s=0.5)
_FINAL = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
}


async def stream_fault(lv: Live, **fault: Any) -> None:
    async with lv.http.post(f"{lv.emulator.http_url}/emulator/stream_fault", json=fault) as response:
        assert response.status == 200, await response.text()


async def truth_traded(lv: Live, n: int = 1) -> None:
    """Wait until the exchange holds ``n`` trades (whatever the venue has heard)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while len((await lv.get("/emulator/truth"))["trades"]) < n:
        assert loop.time() < deadline, "the exchange never traded"
        await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time


async def assert_invariants(lv: Live) -> dict[str, Any]:
    """R4 (the shared checker, with what the driver handled as the journal), and more: each order's
    final state is the exchange's, and nothing was booked as someone else's trade."""
    truth: dict[str, Any] = await lv.get("/emulator/truth")
    assert violations(truth, lv.engine, VENUE, ("",), lv.seen) == []  # "": every order here is ours
    for placed in truth["orders"]:
        order = lv.engine.orders[ClientOrderId(placed["clientOrderId"])]
        assert order.status is _FINAL[placed["status"]], (order.client_order_id, order.status, placed["status"])
    assert lv.engine.external_reports == []
    return truth


def _cancel(lv: Live, cid: str) -> None:
    lv.engine.cancel(CancelOrder(lv.engine.clock.now_ns(), ClientOrderId(cid), INSTRUMENT.id, "test"))


def _proxy(lv: Live) -> FaultProxy:
    assert lv.proxy is not None
    return lv.proxy


# --------------------------------------------------------------------------- scenario 5
def test_duplicated_reports_and_the_catch_up_count_each_trade_once(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            await stream_fault(lv, kind="duplicate", count=20)
            taker = lv.submit("dup-taker", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(taker) is OrderStatus.FILLED, "the market fill")
            bid, _ = await lv.book()
            maker = lv.submit("dup-maker", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(maker) is OrderStatus.ACCEPTED, "the resting order")
            lv.emulator.start_replay()
            await lv.until(lambda: lv.status(maker) is OrderStatus.FILLED, "the stream fill (sent twice)")
            # a reconnect: the REST catch-up fetches both trades again
            for client in list(lv.venue.exchange.clients.values()):
                await client.close()
            await lv.until(lambda: lv.venue.reconnects >= 1 and lv.venue.stream_live, "the catch-up")
            truth = await assert_invariants(lv)
            assert len(truth["trades"]) == len(lv.engine.fills) == 2
            assert lv.venue.fills_by_source["catch_up"] == 0  # both already seen: nothing new

    run(scenario)


# --------------------------------------------------------------------------- scenario 6
def test_reordered_reports_end_in_the_exchange_state(shared_data: Path) -> None:
    async def scenario() -> None:
        # Limit answers without their fills (RESULT): those fills come from the stream only.
        options = {"newOrderRespType": {"market": "FULL", "limit": "RESULT"}}
        async with live(shared_data, proxy="rest", options=options) as lv:
            depth = await lv.get("/api/v3/depth", symbol="BTCUSDT", limit="5")
            (_, size0), (ask1, size1) = [(Decimal(p), Decimal(q)) for p, q in depth["asks"][:2]]
            # The REST answer is slow: the stream's reports arrive first, in the order the fault makes.
            _proxy(lv).set(ProxyMode.DELAY, ms=300)

            # The trade before the NEW ack.
            await stream_fault(lv, kind="reorder")
            first = lv.submit("reo-ack", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(first) is OrderStatus.FILLED, "the fill")
            kinds = [type(e) for e in lv.events(first)]
            assert kinds.index(OrderAccepted) < kinds.index(OrderFilled)
            size0 -= Decimal("0.01")  # what the market buy took stays taken: the replay stands still

            # The FILLED report before the order's earlier trade: two levels swept, the first trade held.
            await stream_fault(lv, kind="unknown_fields")  # the NEW report
            await stream_fault(lv, kind="reorder")  # the first TRADE: sent after the second (FILLED)
            qty = size0 + min(size1, Decimal("0.001"))
            sweep = lv.submit("reo-filled", OrderSide.BUY, OrderType.LIMIT, str(qty), ask1)
            await lv.until(lambda: lv.engine.orders[sweep].filled_quantity == qty, "both trades")
            assert lv.status(sweep) is OrderStatus.FILLED

            # A cancel acknowledged before the fill that came first: Canceled -> Filled is accepted.
            _proxy(lv).set(ProxyMode.PASS)
            await stream_fault(lv, kind="delay", ms=2000)  # its NEW report, and all after it, late
            left1 = size1 - min(size1, Decimal("0.001"))  # the sweep took all of ask0 and this much of ask1
            assert left1 > 0
            late = lv.submit("reo-cancel", OrderSide.BUY, OrderType.LIMIT, str(left1 + 1), ask1)
            await lv.until(lambda: lv.status(late) is OrderStatus.ACCEPTED, "the resting remainder")
            _cancel(lv, late)
            await lv.until(lambda: lv.status(late) is OrderStatus.CANCELED, "the cancel ack")
            assert lv.engine.orders[late].filled_quantity == 0  # the fill has not been heard of yet
            await lv.until(lambda: lv.engine.orders[late].filled_quantity == left1, "the late fill", 6.0)
            kinds = [type(e) for e in lv.events(late)]
            assert kinds.index(OrderCanceled) < kinds.index(OrderFilled)
            assert lv.status(late) is OrderStatus.CANCELED  # terminal, with its fill booked
            await assert_invariants(lv)

    run(scenario)


# --------------------------------------------------------------------------- scenario 8
def test_user_stream_reset_refuses_submits_catches_up_and_loses_no_fill(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data, proxy="stream", backoff_initial_s=0.05, backoff_max_s=0.2, **FAST_WATCHDOG) as lv:
            bid, _ = await lv.book()
            cid = lv.submit("reset-1", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            proxy = _proxy(lv)
            proxy.set(ProxyMode.RESET)  # RST now, and on every reconnect while it lasts
            await lv.until(lambda: not lv.venue.stream_live, "the venue to notice")

            refused = lv.submit("while-down", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(refused) is OrderStatus.REJECTED, "the local refusal")
            assert lv.engine.orders[refused].reject_code is RejectCode.STREAM_RECONCILING

            lv.emulator.start_replay()  # the exchange fills the resting order while the stream is down
            await truth_traded(lv)
            attempts = proxy.accepted
            await lv.until(lambda: proxy.accepted > attempts, "a reconnect attempt (reset too)")
            assert lv.status(cid) is OrderStatus.ACCEPTED  # not heard of yet

            proxy.set(ProxyMode.PASS)
            await lv.until(lambda: lv.venue.stream_live, "the stream back, caught up")
            assert lv.venue.fills_by_source["catch_up"] == 1  # reported before submits were let through
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the missed fill")
            after = lv.submit("after", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(after) is OrderStatus.FILLED, "trading resumed")
            truth = await assert_invariants(lv)
            assert sorted(o["clientOrderId"] for o in truth["orders"]) == ["after", "reset-1"]  # never sent

    run(scenario)


def test_a_submit_during_the_catch_up_is_refused_with_the_reconciling_reason(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data, proxy="all", backoff_initial_s=0.05, backoff_max_s=0.2, guards=SHORT_BREAKER,
                        **FAST_WATCHDOG) as lv:  # fmt: skip
            proxy = _proxy(lv)
            proxy.set(ProxyMode.RESET)
            await lv.until(lambda: not lv.venue.stream_live, "the venue to notice")
            proxy.set(ProxyMode.DELAY, ms=150)  # a slow network: the catch-up's REST calls take a while
            await lv.until(lambda: lv.venue.stream_state == "catching up", "the catch-up to start")
            refused = lv.submit("during-catch-up", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(refused) is OrderStatus.REJECTED, "the local refusal")
            order = lv.engine.orders[refused]
            assert order.reject_code is RejectCode.STREAM_RECONCILING
            rejection = next(e for e in lv.events(refused) if isinstance(e, OrderRejected))
            assert "catching up" in rejection.reason
            await lv.until(lambda: lv.venue.stream_live, "the stream live again", 8.0)
            assert (await assert_invariants(lv))["orders"] == []  # nothing reached the exchange

    run(scenario)


# --------------------------------------------------------------------------- scenario 9
@pytest.mark.parametrize(
    ("kind", "logged"),
    [
        ("terminate", "the exchange sent eventStreamTerminated"),
        ("expire", "the exchange sent listenKeyExpired"),
        ("stall", "the stream stalled"),
    ],
)
def test_a_dead_stream_is_found_resubscribed_and_backfilled(
    shared_data: Path, caplog: pytest.LogCaptureFixture, kind: str, logged: str
) -> None:
    async def scenario() -> None:
        async with live(shared_data, proxy="stream", backoff_initial_s=0.1, backoff_max_s=0.2, **FAST_WATCHDOG) as lv:
            bid, _ = await lv.book()
            cid = lv.submit(f"{kind}-1", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            await stream_fault(lv, kind=kind)  # the socket stays open
            await lv.until(lambda: not lv.venue.stream_live, "the watchdog")
            proxy = _proxy(lv)
            proxy.set(ProxyMode.RESET)  # no new subscription until the fill has happened
            lv.emulator.start_replay()
            await truth_traded(lv)
            assert lv.status(cid) is OrderStatus.ACCEPTED
            proxy.set(ProxyMode.PASS)
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the backfill", 6.0)
            assert lv.venue.reconnects >= 1
            assert lv.venue.fills_by_source["catch_up"] == 1
            await assert_invariants(lv)

    with caplog.at_level(logging.WARNING, logger="spreadhawk.venues.ccxt"):
        run(scenario)
    assert logged in caplog.text


# --------------------------------------------------------------------------- scenario 21
def test_partition_during_cancel_keeps_pending_cancel_and_applies_the_fill(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data, proxy="all", backoff_initial_s=0.05, backoff_max_s=0.2, guards=SHORT_BREAKER,
                        **FAST_WATCHDOG) as lv:  # fmt: skip
            lv.venue.exchange.timeout = 300  # ms: a request lost in the partition fails fast
            bid, _ = await lv.book()
            cid = lv.submit("part-1", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            proxy = _proxy(lv)
            proxy.set(ProxyMode.BLACKHOLE)
            _cancel(lv, cid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.PENDING_CANCEL, "the cancel sent")
            lv.emulator.start_replay()  # meanwhile the exchange fills the order
            await truth_traded(lv)
            # Long enough for every cancel attempt to time out several times over.
            await asyncio.sleep(3.0)  # noqa: TID251 -- the partition lasts, in real time
            assert lv.status(cid) is OrderStatus.PENDING_CANCEL  # never assumed canceled (nor working)
            assert not lv.venue.stream_live
            proxy.set(ProxyMode.PASS)
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the fill, once seen", 6.0)
            await lv.until(lambda: lv.venue.stream_live, "the stream back")
            truth = await assert_invariants(lv)
            assert [o["clientOrderId"] for o in truth["orders"]] == ["part-1"]  # no replacement order

    run(scenario)


# --------------------------------------------------------------------------- S13: bad messages
def test_bad_exchange_messages_are_logged_raw_and_skipped(shared_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with live(shared_data, **FAST_WATCHDOG) as lv:
            for kind in ("malformed_json", "missing_fields", "wrong_types", "unknown_symbol"):
                await stream_fault(lv, kind=kind)
            await stream_fault(lv, kind="unknown_fields", count=10)  # on real reports: ignored, not refused
            bid, _ = await lv.book()
            cid = lv.submit("after-bad", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            lv.emulator.start_replay()
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "a stream fill after the bad messages")
            assert lv.venue.fills_by_source["stream"] == 1
            assert lv.venue.reconnects == 0  # the stream itself survived them
            await assert_invariants(lv)

    with caplog.at_level(logging.WARNING, logger="spreadhawk.venues.ccxt"):
        run(scenario)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    for raw in ('"l":"0.5', '"X":"FILLED"}', '"l":"one"', '"s":"NOSUCHUSDT"'):
        assert any(raw in message for message in skipped), f"no raw {raw!r} in the log: {skipped}"
