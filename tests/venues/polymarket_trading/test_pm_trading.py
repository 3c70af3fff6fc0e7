"""``PolymarketVenue`` trading through py-clob-client against the trading emulator, over real sockets.

The emulator's books and prints are the recorded SOL 15-minute Up token (see ``pm_trading_harness``).
Its first book: asks 0.48 x 150, 0.49 x 190, 0.50 x 800; bids 0.44 x 40, 0.43 x 755. Every expected
amount below is computed by hand from those levels and Polymarket's taker fee rule
``shares * 0.07 * p * (1 - p)`` (floored to 5 decimals), written out as literals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest
from pm_trading_harness import (
    SOL_CONDITION,
    SOL_DOWN,
    SOL_MARKET,
    SOL_UP,
    START_USDC,
    VENUE,
    WALLET_KEY,
    election_market,
    exchange_for,
    live,
    serve,
    sol_book,
    sol_prints,
)

from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    SettlementPaid,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.venues.polymarket.clob import PolymarketAuthError
from spreadhawk.venues.polymarket.venue import PolymarketVenue

pytestmark = pytest.mark.real_data

TIMEOUT_S = 20.0
D = Decimal


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


def test_a_marketable_gtc_takes_two_levels_rests_the_rest_and_is_canceled(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("buy-1", SOL_UP, OrderSide.BUY, "400", "0.49")
            await h.until(lambda: len(h.events("buy-1", OrderFilled)) == 2, "two taker fills")
            fills = h.events("buy-1", OrderFilled)
            assert [(f.quantity, f.price, f.liquidity) for f in fills] == [
                (D(150), D("0.48"), Liquidity.TAKER),
                (D(190), D("0.49"), Liquidity.TAKER),
            ]
            # 150 * 0.07 * 0.48 * 0.52 = 2.62080; 190 * 0.07 * 0.49 * 0.51 = 3.32367
            assert [f.fee for f in fills] == [D("2.62080"), D("3.32367")]
            assert {f.fee_currency for f in fills} == {"USDC"}
            assert h.status("buy-1") is OrderStatus.PARTIALLY_FILLED
            # paid 72 + 93.1 + 5.94447 = 171.04447
            assert h.exchange.balance(h.address) == D("828.95553")
            assert h.exchange.balance(h.address, SOL_UP) == D(340)
            await h.until(lambda: h.ledger("USDC") == D("828.95553"), "the ledger to book the fills")
            assert h.ledger(SOL_UP) == D(340)

            instrument = h.instrument(SOL_UP)
            h.engine.cancel(CancelOrder(h.engine.clock.now_ns(), ClientOrderId("buy-1"), instrument.id, "test"))
            await h.until(lambda: h.status("buy-1") is OrderStatus.CANCELED, "the cancel")
            assert h.exchange.balance(h.address) == D("828.95553")  # the 60 resting at 0.49 never filled
            assert await h.venue.open_orders() == []
            report = await h.venue.query_order(ClientOrderId("buy-1"))
            assert report is not None
            assert report.filled_quantity == D(340)
            assert not report.is_open

    run(scenario)


def test_a_resting_buy_fills_only_when_the_market_trades_through_it(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("rest-1", SOL_UP, OrderSide.BUY, "5", "0.46")  # below the best ask 0.48: it rests
            await h.until(lambda: bool(h.events("rest-1", OrderAccepted)), "the acceptance")
            prints = sol_prints(shared_data)
            for message in prints[:5]:  # 0.46 (at our price: not through), then 0.50, 0.50, 0.51, 0.52
                h.exchange.on_market_message(message)
            assert h.exchange.orders[h.venue.ids.order_of[ClientOrderId("rest-1")]].size_matched == 0
            h.exchange.on_market_message(prints[5])  # 2.380951 traded at 0.42: through our 0.46
            await h.until(lambda: bool(h.events("rest-1", OrderFilled)), "the maker fill")
            (fill,) = h.events("rest-1", OrderFilled)
            expected = (D("2.380951"), D("0.46"), 0, Liquidity.MAKER)
            assert (fill.quantity, fill.price, fill.fee, fill.liquidity) == expected
            # 2.380951 * 0.46 = 1.09523746, no fee for the maker
            assert h.exchange.balance(h.address) == D("998.90476254")
            await h.until(lambda: h.ledger("USDC") == D("998.90476254"), "the ledger")
            assert h.status("rest-1") is OrderStatus.PARTIALLY_FILLED
            assert len(h.events("rest-1", OrderFilled)) == 1  # MATCHED, MINED, CONFIRMED: booked once

    run(scenario)


def test_fok_too_big_for_the_book_is_refused_and_fak_fills_what_it_can(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("fok-1", SOL_UP, OrderSide.BUY, "2000", "0.50", TimeInForce.FOK)  # asks hold 1140
            await h.until(lambda: bool(h.events("fok-1", OrderRejected)), "the FOK refusal")
            (refusal,) = h.events("fok-1", OrderRejected)
            assert "FOK orders are fully filled or killed" in refusal.reason
            assert h.exchange.balance(h.address) == START_USDC
            assert h.exchange.markets.books[SOL_UP].asks[D("0.48")] == D(150)  # nothing taken

            h.submit("fak-1", SOL_UP, OrderSide.BUY, "2000", "0.49", TimeInForce.IOC)  # FAK
            await h.until(lambda: bool(h.events("fak-1", OrderExpired)), "the FAK rest expired")
            assert sum(f.quantity for f in h.events("fak-1", OrderFilled)) == D(340)
            assert h.status("fak-1") is OrderStatus.EXPIRED

    run(scenario)


def test_taker_sell_fee_per_level_equals_the_hand_computation(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.exchange.tokens[h.address.lower()] = {SOL_UP: D(100)}  # shares bought earlier
            h.submit("sell-1", SOL_UP, OrderSide.SELL, "100", "0.43", TimeInForce.IOC)
            await h.until(lambda: len(h.events("sell-1", OrderFilled)) == 2, "two taker fills")
            fills = h.events("sell-1", OrderFilled)
            assert [(f.quantity, f.price) for f in fills] == [(D(40), D("0.44")), (D(60), D("0.43"))]
            # 40 * 0.07 * 0.44 * 0.56 = 0.68992; 60 * 0.07 * 0.43 * 0.57 = 1.02942
            assert [f.fee for f in fills] == [D("0.68992"), D("1.02942")]
            # received 17.6 + 25.8 - 1.71934 = 41.68066
            assert h.exchange.balance(h.address) == D("1041.68066")

    run(scenario)


def test_winning_tokens_are_redeemed_for_one_usdc_each_after_resolution(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("buy-up", SOL_UP, OrderSide.BUY, "100", "0.48", TimeInForce.FOK)
            await h.until(lambda: h.status("buy-up") is OrderStatus.FILLED, "the fill")
            # 100 * 0.48 = 48, fee 100 * 0.07 * 0.48 * 0.52 = 1.74720
            assert h.exchange.balance(h.address) == D("950.25280")
            h.exchange.on_market_message(sol_book(shared_data, "down"))  # Down asks 0.56 x 40, 0.57 x 755
            h.submit("buy-down", SOL_DOWN, OrderSide.BUY, "30", "0.56", TimeInForce.FOK)
            await h.until(lambda: h.status("buy-down") is OrderStatus.FILLED, "the Down fill")
            # 30 * 0.56 = 16.8, fee 30 * 0.07 * 0.56 * 0.44 = 0.51744
            assert h.exchange.balance(h.address) == D("932.93536")
            h.submit("resting", SOL_UP, OrderSide.BUY, "5", "0.40")  # still working when the market resolves
            await h.until(lambda: bool(h.events("resting", OrderAccepted)), "the resting order")
            h.exchange.on_market_message(
                {"event_type": "market_resolved", "market": SOL_CONDITION, "assets_ids": [SOL_UP, SOL_DOWN],
                 "winning_asset_id": SOL_UP, "winning_outcome": "Up", "timestamp": "1765451700000"}
            )  # fmt: skip
            await h.until(lambda: h.status("resting") is OrderStatus.CANCELED, "the venue's cancel at resolution")
            paid = await h.venue.redeem(SOL_CONDITION)
            # the 100 Up shares pay 1 USDC each, the 30 Down shares nothing
            settled = [(p.instrument_id, p.quantity, p.price, p.amount, p.currency) for p in paid]
            up, down = h.instrument(SOL_UP).id, h.instrument(SOL_DOWN).id
            assert settled == [(up, D(100), D(1), D(100), "USDC"), (down, D(30), D(0), D(0), "USDC")]
            assert h.exchange.balance(h.address) == D("1032.93536")
            assert h.exchange.balance(h.address, SOL_UP) == 0
            assert h.exchange.balance(h.address, SOL_DOWN) == 0
            await h.until(lambda: sum(isinstance(m, SettlementPaid) for m in h.seen) == 2, "the settlements")
            await h.until(lambda: h.ledger("USDC") == D("1032.93536"), "the ledger")
            assert h.ledger(SOL_UP) == 0
            assert h.ledger(SOL_DOWN) == 0

    run(scenario)


def test_orders_on_a_neg_risk_market_are_refused_for_the_pair(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            market, _ = election_market(shared_data)
            assert market.neg_risk
            h.submit("nr-1", market.tokens[0].token_id, OrderSide.BUY, "10", "0.5")
            await h.until(lambda: bool(h.events("nr-1", OrderRejected)), "the refusal")
            (refusal,) = h.events("nr-1", OrderRejected)
            assert f"neg-risk market {market.condition_id}: refused for pair arbitrage" in refusal.reason
            assert h.exchange.orders == {}  # nothing was sent

    run(scenario)


def test_wrong_api_credentials_get_401_and_a_clear_error(shared_data: Path) -> None:
    async def scenario() -> None:
        exchange = exchange_for(shared_data)
        runner, where = await serve(exchange)
        try:
            wrong = ("not-a-key", "c2VjcmV0", "pass")  # a well-formed secret (base64), not the emulator's
            venue = PolymarketVenue(VENUE, SOL_MARKET.instruments(VENUE), private_key=WALLET_KEY, host=f"http://{where}",
                                    ws_url=f"ws://{where}/ws/user", api_creds=wrong)  # fmt: skip
            Engine(SOL_MARKET.instruments(VENUE), clock=WallClock()).add_venue(venue)
            with pytest.raises(PolymarketAuthError, match=r"HTTP 401: Unauthorized/Invalid api key: the CLOB refused"):
                await venue.start()
            await venue.close()
        finally:
            await runner.cleanup()

    run(scenario)


def test_a_malformed_user_channel_trade_is_logged_and_changes_nothing(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("rest-2", SOL_UP, OrderSide.BUY, "5", "0.44")
            await h.until(lambda: bool(h.events("rest-2", OrderAccepted)), "the acceptance")
            order_id = h.venue.ids.order_of[ClientOrderId("rest-2")]
            api_key = h.venue.clob.creds.api_key
            bad = {"event_type": "trade", "id": "t-bad", "taker_order_id": order_id, "trader_side": "TAKER",
                   "size": "lots", "price": "0.44", "fee_rate_bps": "0", "status": "MATCHED",
                   "market": SOL_CONDITION}  # fmt: skip
            with caplog.at_level(logging.ERROR):
                h.exchange.notify(api_key, bad)
                await h.until(lambda: h.venue.stream.skipped == 1, "the skip")
            (record,) = [r for r in caplog.records if "user channel message skipped" in r.getMessage()]
            assert "size missing or not a number: 'lots'" in record.getMessage()
            assert "\n" not in record.getMessage()
            assert record.exc_info is None
            assert h.events("rest-2", OrderFilled) == []
            assert h.status("rest-2") is OrderStatus.ACCEPTED
            h.exchange.on_market_message(sol_prints(shared_data)[5])  # the stream still works
            await h.until(lambda: bool(h.events("rest-2", OrderFilled)), "the next fill")

    run(scenario)


def test_a_print_reaches_the_better_priced_resting_order_first(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("worse", SOL_UP, OrderSide.BUY, "5", "0.45")  # older, but a lower bid
            await h.until(lambda: bool(h.events("worse", OrderAccepted)), "the first acceptance")
            h.submit("better", SOL_UP, OrderSide.BUY, "5", "0.46")
            await h.until(lambda: bool(h.events("better", OrderAccepted)), "the second acceptance")
            h.exchange.on_market_message(sol_prints(shared_data)[5])  # 2.380951 at 0.42: through both
            await h.until(lambda: bool(h.events("better", OrderFilled)), "the fill")
            assert [f.quantity for f in h.events("better", OrderFilled)] == [D("2.380951")]
            assert h.events("worse", OrderFilled) == []

    run(scenario)
