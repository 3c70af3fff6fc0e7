"""``CcxtVenue`` trading through the real ccxt client against the in-process Binance emulator.

A real ``Engine`` (wall clock) driven by ``run_live`` with no feeds; orders go in through
``engine.submit`` from inside the loop, as a strategy's would. Expected balances are computed here
from the book read over REST and the documented fee rule (0.1 % of the notional in the quote
asset, to 1e-8), then compared with both the engine's ledger and the emulator's ``/emulator/truth``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    OrderStatusUnknown,
    OrderType,
    RejectCode,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.live import run_live
from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.emulator.fault_proxy import FaultProxy
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data

TIMEOUT_S = 15.0
KEY, SECRET = "emulator-key", "emulator-secret"
FEE = Decimal("0.001")
START = {"USDT": Decimal(1_000_000), "BTC": Decimal(5)}
INSTRUMENT = binance_spot_btcusdt()
VENUE = INSTRUMENT.venue
WINDOW_S = 1.0  # the venue's visibility window in these tests (short: the tests wait it out)


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


@dataclass
class Live:
    emulator: BinanceEmulator
    engine: Engine
    venue: CcxtVenue
    http: aiohttp.ClientSession
    seen: list[object] = field(default_factory=list)  # every message the driver handled, in order
    proxy: FaultProxy | None = None  # the R2 fault proxy the venue talks through, when asked for

    def submit(self, cid: str, side: OrderSide, order_type: OrderType, qty: str, price: Decimal | None = None,
               **extra: Any) -> ClientOrderId:  # fmt: skip
        command = SubmitOrder(self.engine.clock.now_ns(), ClientOrderId(cid), "test", INSTRUMENT.id, side,
                              order_type, Decimal(qty), price, **extra)  # fmt: skip
        self.engine.submit(command)
        return command.client_order_id

    def status(self, cid: str) -> OrderStatus:
        return self.engine.orders[ClientOrderId(cid)].status

    def events(self, cid: str) -> list[object]:
        return [m for m in self.seen if getattr(m, "client_order_id", None) == cid]

    async def until(self, done: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time

    async def get(self, path: str, **params: str) -> Any:
        async with self.http.get(f"{self.emulator.http_url}{path}", params=params) as response:
            return await response.json()

    async def fault(self, **fault: Any) -> None:
        async with self.http.post(f"{self.emulator.http_url}/emulator/order_fault", json=fault) as response:
            assert response.status == 200

    async def book(self) -> tuple[Decimal, Decimal]:
        depth = await self.get("/api/v3/depth", symbol="BTCUSDT", limit="5")
        return Decimal(depth["bids"][0][0]), Decimal(depth["asks"][0][0])

    def ledger(self) -> dict[str, Decimal]:
        return {a: b for a, b in self.engine.portfolio.ledger.venue_balances(VENUE).items() if b}


@asynccontextmanager
async def live(shared_data: Path, proxy: str = "", **venue_options: Any) -> AsyncIterator[Live]:
    """An engine trading through a ``CcxtVenue`` on the emulator. ``proxy``: what goes through a
    fault proxy -- ``"stream"`` (the user stream's websocket), ``"rest"`` or ``"all"``."""
    trading = TradingConfig((ApiKey(KEY, SECRET),), {a: str(v) for a, v in START.items()}, taker_fee=FEE, maker_fee=FEE)
    emulator = BinanceEmulator.from_data_dir(
        shared_data, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False, trading=trading
    )
    async with emulator, aiohttp.ClientSession() as http, FaultProxy(emulator.port) as faults:
        engine = Engine([INSTRUMENT], clock=WallClock())
        urls = local_urls("binance", faults.url if proxy in ("rest", "all") else emulator.http_url)
        if proxy in ("stream", "all"):
            urls["api"]["ws"]["ws-api"]["spot"] = local_urls("binance", faults.url)["api"]["ws"]["ws-api"]["spot"]
        venue = CcxtVenue(VENUE, "binance", [INSTRUMENT], api_key=KEY, api_secret=SECRET, urls=urls,
                          visibility_window_s=WINDOW_S, **venue_options)  # fmt: skip
        engine.add_venue(venue)
        harness = Live(emulator, engine, venue, http, proxy=faults if proxy else None)
        stop = asyncio.Event()
        driver: asyncio.Task[None] | None = None
        try:
            await venue.start()
            driver = asyncio.create_task(run_live(engine, [], stop, on_message=harness.seen.append))
            streams = emulator.user_streams
            await harness.until(lambda: streams is not None and streams.subscriptions > 0, "the user stream")
            await harness.until(lambda: venue.stream_live, "the user stream caught up (submits refused before)")
            await harness.until(lambda: VENUE in engine.accounts.opened, "the opening account snapshot")
            yield harness
        finally:
            stop.set()
            try:
                if driver is not None:
                    await driver  # a crashed engine raises here: the venue is closed all the same
            finally:
                await venue.close()


def _fee(notional: Decimal) -> Decimal:
    return (notional * FEE).quantize(Decimal("1e-8"))


def _truth_totals(truth: dict[str, Any]) -> dict[str, Decimal]:
    totals = {a: Decimal(b["free"]) + Decimal(b["locked"]) for a, b in truth["balances"].items()}
    return {a: v for a, v in totals.items() if v}


def test_market_buy_fills_and_the_ledger_equals_the_truth(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            _, ask = await lv.book()
            cid = lv.submit("mkt-1", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the fill")
            truth = await lv.get("/emulator/truth")
            kinds = [type(e) for e in lv.events(cid)]
            assert kinds[kinds.index(OrderAccepted) + 1] is OrderFilled  # accepted, then filled
            fill = next(e for e in lv.events(cid) if isinstance(e, OrderFilled))
            assert [str(t["id"]) for t in truth["trades"]] == [fill.trade_id]
            assert (fill.quantity, fill.price, fill.fee, fill.fee_currency) == (
                Decimal("0.01"),
                ask,
                _fee(ask * Decimal("0.01")),
                "USDT",
            )
            # The stream and the REST answer both reported this trade: the engine applied it once.
            assert len(lv.engine.fills) == 1
            expected = {"BTC": START["BTC"] + Decimal("0.01"), "USDT": START["USDT"] - ask * Decimal("0.01") - fill.fee}
            assert lv.ledger() == expected
            assert _truth_totals(truth) == expected

    run(scenario)


def test_limit_rests_is_reported_and_canceled_and_post_only_that_would_take_is_rejected(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            bid, ask = await lv.book()
            price = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
            cid = lv.submit("rest-1", OrderSide.BUY, OrderType.LIMIT, "0.1", price)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the limit order accepted")

            report = await lv.venue.query_order(cid)
            assert report is not None
            assert (report.is_open, report.quantity, report.price, report.filled_quantity) == (
                True,
                Decimal("0.1"),
                price,
                Decimal(0),
            )
            assert [r.client_order_id for r in await lv.venue.open_orders()] == [cid]
            assert await lv.venue.query_order(ClientOrderId("never-sent")) is None
            snapshot = await lv.venue.account_snapshot()
            truth = await lv.get("/emulator/truth")
            for asset, held in truth["balances"].items():
                balance = snapshot.balance(asset)
                assert balance is not None
                assert (balance.free, balance.total - balance.free) == (Decimal(held["free"]), Decimal(held["locked"]))
            usdt = snapshot.balance("USDT")
            assert usdt is not None
            assert usdt.total - usdt.free == price * Decimal("0.1")  # locked by the resting order

            lv.engine.cancel(CancelOrder(lv.engine.clock.now_ns(), cid, INSTRUMENT.id, "test"))
            await lv.until(lambda: lv.status(cid) is OrderStatus.CANCELED, "the cancel")
            assert await lv.venue.open_orders() == []
            gone = await lv.venue.query_order(cid)
            assert gone is not None
            assert not gone.is_open

            # A cancel asked for before the venue answered the submit waits for the answer.
            quick = lv.submit("quick-1", OrderSide.BUY, OrderType.LIMIT, "0.01", price)
            lv.engine.cancel(CancelOrder(lv.engine.clock.now_ns(), quick, INSTRUMENT.id, "test"))
            await lv.until(lambda: lv.status(quick) is OrderStatus.CANCELED, "the early cancel")
            assert [type(e) for e in lv.events(quick)][-2:] == [OrderAccepted, OrderCanceled]

            taker = lv.submit("po-1", OrderSide.BUY, OrderType.LIMIT, "0.01", ask, post_only=True)
            await lv.until(lambda: lv.status(taker) is OrderStatus.REJECTED, "the post-only rejection")
            assert lv.engine.orders[taker].reject_code is RejectCode.POST_ONLY
            assert lv.ledger() == START  # nothing traded

    run(scenario)


def test_an_unknown_submit_is_looked_up_by_client_id_and_never_resent(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            await lv.fault(kind="commit_then_503_unknown")
            cid = lv.submit("u-503", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the look-up")
            kinds = [type(e) for e in lv.events(cid)]
            assert kinds.index(OrderStatusUnknown) < kinds.index(OrderAccepted) < kinds.index(OrderFilled)
            truth = await lv.get("/emulator/truth")
            assert [o["clientOrderId"] for o in truth["orders"]] == ["u-503"]  # exactly one: no re-send
            assert lv.ledger() == _truth_totals(truth)

            # Dropped answer to a resting order: accepted by the look-up, still one order.
            await lv.fault(kind="commit_then_drop_response")
            bid, _ = await lv.book()
            dropped = lv.submit("u-drop", OrderSide.BUY, OrderType.LIMIT, "0.01", bid - 100)
            await lv.until(lambda: lv.status(dropped) is OrderStatus.ACCEPTED, "the dropped answer resolved")
            truth = await lv.get("/emulator/truth")
            assert sorted(o["clientOrderId"] for o in truth["orders"]) == ["u-503", "u-drop"]

    run(scenario)


def test_not_found_is_not_rejected_inside_the_visibility_window(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            # The request is dropped before anything is committed: the venue cannot know that, so it
            # must look the order up, and it cannot be found: rejected only after the window.
            await lv.fault(kind="drop_request")
            cid = lv.submit("u-drop-req", OrderSide.BUY, OrderType.MARKET, "0.01")
            loop = asyncio.get_running_loop()
            sent = loop.time()
            await lv.until(lambda: lv.status(cid) is OrderStatus.UNKNOWN, "the unknown status")
            await asyncio.sleep(WINDOW_S / 2)  # noqa: TID251 -- inside the window, in real time
            assert lv.status(cid) is OrderStatus.UNKNOWN
            await lv.until(lambda: lv.status(cid) is OrderStatus.REJECTED, "the rejection", WINDOW_S * 4)
            assert loop.time() - sent >= WINDOW_S
            assert (await lv.get("/emulator/truth"))["orders"] == []

            # Invisible for a while after a clean answer: the answer says accepted, no look-up needed,
            # and a query inside the window says "not found" (None), not an error.
            await lv.fault(kind="order_invisible_for_ms", ms=int(WINDOW_S * 500))
            bid, _ = await lv.book()
            late = lv.submit("u-late", OrderSide.BUY, OrderType.LIMIT, "0.01", bid - 100)
            await lv.until(lambda: lv.status(late) is OrderStatus.ACCEPTED, "the invisible order accepted")
            assert await lv.venue.query_order(late) is None
            await lv.until(lambda: lv.status(late) is OrderStatus.ACCEPTED, "still accepted")

    run(scenario)


def test_fills_missed_while_the_user_stream_was_down_arrive_by_the_rest_catch_up(shared_data: Path) -> None:
    async def scenario() -> None:
        # A long reconnect delay: the fill happens while the stream is down, whatever the machine's speed.
        async with live(shared_data, backoff_initial_s=1.5, backoff_max_s=1.5) as lv:
            bid, _ = await lv.book()
            cid = lv.submit("rest-c", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            for client in list(lv.venue.exchange.clients.values()):
                await client.close()  # the user stream's connection drops
            await lv.until(lambda: not lv.venue.stream_live, "the venue to notice the lost stream")

            lv.emulator.start_replay()  # the replay crosses the bid: the order fills, nobody is listening

            async def traded() -> bool:
                return bool((await lv.get("/emulator/truth"))["trades"])

            for _ in range(200):
                if await traded():
                    break
                await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
            assert lv.status(cid) is OrderStatus.ACCEPTED  # not heard of yet
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the catch-up", 6.0)
            assert lv.venue.reconnects >= 1
            assert lv.venue.fills_by_source["catch_up"] == 1
            fill = next(e for e in lv.events(cid) if isinstance(e, OrderFilled))
            assert (fill.price, fill.quantity, fill.liquidity) == (bid, Decimal("0.002"), Liquidity.MAKER)
            assert lv.ledger() == _truth_totals(await lv.get("/emulator/truth"))

    run(scenario)


def test_a_resting_order_filled_by_the_market_is_reported_from_the_user_stream(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            bid, _ = await lv.book()
            cid = lv.submit("rest-s", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            lv.emulator.start_replay()
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the stream fill")
            assert lv.venue.fills_by_source == {"answer": 0, "stream": 1, "catch_up": 0}
            fill = next(e for e in lv.events(cid) if isinstance(e, OrderFilled))
            assert (fill.price, fill.liquidity, fill.leaves_quantity) == (bid, Liquidity.MAKER, Decimal(0))
            assert fill.fee == _fee(bid * Decimal("0.002"))
            expected = {
                "BTC": START["BTC"] + Decimal("0.002"),
                "USDT": START["USDT"] - bid * Decimal("0.002") - fill.fee,
            }
            assert lv.ledger() == expected
            assert _truth_totals(await lv.get("/emulator/truth")) == expected

    run(scenario)


def test_ioc_remainder_expires_quote_sized_buy_fills_1007_resolves_and_a_late_cancel_is_refused(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            depth = await lv.get("/api/v3/depth", symbol="BTCUSDT", limit="5")
            ask, level = Decimal(depth["asks"][0][0]), Decimal(depth["asks"][0][1])
            ioc = lv.submit("ioc-1", OrderSide.BUY, OrderType.LIMIT, str(level + 1), ask,
                            time_in_force=TimeInForce.IOC)  # fmt: skip
            await lv.until(lambda: lv.status(ioc) is OrderStatus.EXPIRED, "the IOC remainder expired")
            assert lv.engine.orders[ioc].filled_quantity == level
            assert [type(e) for e in lv.events(ioc)][-1] is OrderExpired  # after its fill

            quote = SubmitOrder(lv.engine.clock.now_ns(), ClientOrderId("q-1"), "test", INSTRUMENT.id, OrderSide.BUY,
                                OrderType.MARKET, Decimal(0), quote_quantity=Decimal(1000))  # fmt: skip
            lv.engine.submit(quote)
            await lv.until(lambda: lv.status("q-1") is OrderStatus.FILLED, "the quote-sized buy")
            spent = lv.engine.orders[ClientOrderId("q-1")].filled_notional
            assert Decimal(1000) - spent < ask * Decimal("0.00001")  # at most one lot step left over

            await lv.fault(kind="-1007")
            timed_out = lv.submit("u-1007", OrderSide.SELL, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(timed_out) is OrderStatus.FILLED, "the -1007 look-up")
            assert OrderStatusUnknown in [type(e) for e in lv.events(timed_out)]

            # Canceling a filled order: Binance -2011, reported as a refused cancel.
            lv.venue.cancel(CancelOrder(lv.engine.clock.now_ns(), timed_out, INSTRUMENT.id, "test"))
            await lv.until(lambda: OrderCancelRejected in [type(e) for e in lv.events(timed_out)], "the refusal")
            assert lv.status(timed_out) is OrderStatus.FILLED

            truth = await lv.get("/emulator/truth")
            assert sorted(o["clientOrderId"] for o in truth["orders"]) == ["ioc-1", "q-1", "u-1007"]
            assert lv.ledger() == _truth_totals(truth)

    run(scenario)


def test_a_dropped_answer_on_an_order_not_visible_yet_is_not_rejected_inside_the_window(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as lv:
            hidden_ms = int(WINDOW_S * 600)  # found "not found" for most of the window, then found
            await lv.fault(kind="commit_then_drop_response", ms=hidden_ms)
            bid, _ = await lv.book()
            cid = lv.submit("u-hidden", OrderSide.BUY, OrderType.LIMIT, "0.01", bid - 100)
            await lv.until(lambda: lv.status(cid) is OrderStatus.UNKNOWN, "the unknown status")
            await asyncio.sleep(hidden_ms / 2000)  # noqa: TID251 -- while the order is hidden, in real time
            assert lv.status(cid) is OrderStatus.UNKNOWN  # "not found" inside the window is not a rejection
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the order found", WINDOW_S * 3)
            assert not any(isinstance(e, OrderRejected) for e in lv.events(cid))
            truth = await lv.get("/emulator/truth")
            assert [o["clientOrderId"] for o in truth["orders"]] == ["u-hidden"]  # found, never re-sent

    run(scenario)
