"""The Polymarket trading emulator and ``PolymarketVenue`` under faults and bad input.

Over real sockets: a dropped user channel (fills made while it is down arrive by the REST catch-up,
submits are refused meanwhile), refusals with Polymarket's messages (minimum size, balance), bad L1
signatures and bad user-channel credentials. On the emulator's state: the recorded market-channel
messages of ``nautilus_trader/polymarket`` (``book``, ``price_change`` v1 and v2, ``tick_size_change``)
and malformed ones, which are logged and change nothing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from eth_account import Account
from pm_trading_harness import (
    SOL_UP,
    START_USDC,
    WALLET_KEY,
    election_market,
    exchange_for,
    live,
    serve,
    sol_books,
    sol_prints,
)
from py_clob_client.signer import Signer  # type: ignore[import-untyped]
from py_clob_client.signing.eip712 import sign_clob_auth_message  # type: ignore[import-untyped]

from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    OrderSide,
    RejectCode,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.venues.polymarket.ids import IdJournal, salt_for
from spreadhawk.venues.polymarket_emulator.trading_book import TradingMarket

pytestmark = pytest.mark.real_data

TIMEOUT_S = 20.0
D = Decimal
WS_MESSAGES = "nautilus_trader/polymarket/ws_messages"


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


def test_a_fill_made_while_the_user_channel_is_down_arrives_by_the_catch_up(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data, backoff=(0.5, 0.5)) as h, aiohttp.ClientSession() as http:
            h.submit("rest-1", SOL_UP, OrderSide.BUY, "5", "0.46")
            await h.until(lambda: bool(h.events("rest-1", OrderAccepted)), "the acceptance")
            url = h.venue.clob.client.host + "/emulator/user-channel/drop"
            async with http.post(url) as answer:
                assert (await answer.json())["dropped"] == 1
            await h.until(lambda: not h.venue.stream_live, "the client to see the drop")
            h.exchange.on_market_message(sol_prints(shared_data)[5])  # fills 2.380951 while nobody listens
            h.submit("while-down", SOL_UP, OrderSide.BUY, "5", "0.45")
            await h.until(lambda: bool(h.events("while-down", OrderRejected)), "the local refusal")
            assert h.events("while-down", OrderRejected)[0].code is RejectCode.STREAM_RECONCILING
            await h.until(lambda: bool(h.events("rest-1", OrderFilled)), "the fill from the catch-up")
            assert h.venue.stream.reconnects == 1
            (fill,) = h.events("rest-1", OrderFilled)
            assert (fill.quantity, fill.price) == (D("2.380951"), D("0.46"))

    run(scenario)


def test_orders_below_the_minimum_size_or_beyond_the_balance_are_refused_with_polymarkets_words(
    shared_data: Path,
) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h:
            h.submit("small", SOL_UP, OrderSide.BUY, "4", "0.46")
            h.submit("big", SOL_UP, OrderSide.BUY, "3000", "0.46")  # 1380 USDC, 1000 held
            await h.until(lambda: bool(h.events("small") and h.events("big", OrderRejected)), "both refusals")
            (small,) = h.events("small", OrderRejected)
            assert "is invalid. Size (4) lower than the minimum: 5" in small.reason
            (big,) = h.events("big", OrderRejected)
            assert "not enough balance / allowance" in big.reason
            assert big.code is RejectCode.INSUFFICIENT_BALANCE
            assert h.status("big") is OrderStatus.REJECTED
            assert h.exchange.orders == {}

    run(scenario)


def test_bad_l1_signatures_and_bad_user_channel_credentials_are_refused(shared_data: Path) -> None:
    async def scenario() -> None:
        exchange = exchange_for(shared_data)
        runner, where = await serve(exchange)
        try:
            signer, other = Signer("0x" + "4c" * 32, 137), Signer("0x" + "4d" * 32, 137)
            headers = {"POLY_ADDRESS": signer.address(), "POLY_TIMESTAMP": "1765450800", "POLY_NONCE": "0"}
            async with aiohttp.ClientSession() as http:
                forged = {**headers, "POLY_SIGNATURE": sign_clob_auth_message(other, 1765450800, 0)}
                async with http.post(f"http://{where}/auth/api-key", headers=forged) as answer:
                    assert answer.status == 401
                    assert await answer.json() == {"error": "Unauthorized/Invalid api key"}
                signed = {**headers, "POLY_SIGNATURE": sign_clob_auth_message(signer, 1765450800, 0)}
                async with http.get(f"http://{where}/auth/derive-api-key", headers=signed) as answer:
                    creds = await answer.json()
                assert set(creds) == {"apiKey", "secret", "passphrase"}
                async with http.ws_connect(f"ws://{where}/ws/user") as socket:
                    wrong = {**creds, "secret": "d3Jvbmc="}
                    await socket.send_str(json.dumps({"auth": wrong, "type": "user", "markets": []}))
                    assert (await socket.receive()).type is aiohttp.WSMsgType.CLOSE
                    assert socket.close_code == 4001
        finally:
            await runner.cleanup()

    run(scenario)


def test_recorded_market_messages_move_the_books_and_malformed_ones_change_nothing(
    shared_data: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exchange = exchange_for(shared_data)
    _, election = election_market(shared_data)
    no_token = election["tokens"][1]["token_id"]
    raw = {name: json.loads((shared_data / WS_MESSAGES / f"{name}.json").read_text()) for name in
           ("book", "price_change", "price_change_v2", "tick_size_change")}  # fmt: skip
    exchange.on_market_message(raw["book"])
    book = exchange.markets.books[no_token]
    assert (min(book.asks), max(book.bids)) == (D("0.514"), D("0.511"))  # the recorded best ask and bid
    exchange.on_market_message(raw["price_change"])  # v1: the 0.514 ask is now 21574.08
    assert book.asks[D("0.514")] == D("21574.08")
    v2 = raw["price_change_v2"]
    v2_token = v2["price_changes"][0]["asset_id"]
    exchange.add_market(TradingMarket(v2["market"], {v2_token: "Yes"}, D("0.1"), D(5)))
    exchange.on_market_message(v2)  # v2: three bid levels of one token
    assert exchange.markets.books[v2_token].bids == {D("0.6"): D(3300), D("0.5"): D(3400), D("0.7"): D(3400)}
    tick = raw["tick_size_change"]
    exchange.add_market(TradingMarket(tick["market"], {tick["asset_id"]: "Yes"}, D("0.01"), D(5)))
    exchange.on_market_message(tick)
    assert exchange.markets.by_token[tick["asset_id"]].tick_size == D("0.001")

    before = copy.deepcopy(exchange.markets.books)
    bad_size = {**raw["price_change"], "size": "abc"}
    half_bad = copy.deepcopy(v2)
    half_bad["price_changes"][2]["side"] = "UP"  # the first two are fine: none may be applied
    unknown = {**raw["book"], "asset_id": "42"}
    with caplog.at_level(logging.WARNING):
        for message in (bad_size, half_bad, unknown, {"event_type": "nonsense"}, ["not", "an", "object"]):
            exchange.on_market_message(message)  # type: ignore[arg-type]
    assert exchange.markets.books == before
    skipped = [r.getMessage() for r in caplog.records if "market message skipped" in r.getMessage()]
    assert skipped == [
        "polymarket emulator: market message skipped: price_change: size 'abc' is not a number",
        "polymarket emulator: market message skipped: price_change: side 'UP' is neither BUY nor SELL",
        "polymarket emulator: market message skipped: unknown asset_id '42'",
        "polymarket emulator: market message skipped: unknown market event_type 'nonsense'",
        "polymarket emulator: market message skipped: market message is a list, not an object",
    ]


def test_a_lost_answer_is_looked_up_by_the_orderid_known_before_the_send_and_never_resent(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h, aiohttp.ClientSession() as http:
            url = h.venue.clob.client.host + "/emulator/order-fault"
            async with http.post(url, json={"lose_answers": 1}) as answer:
                assert answer.status == 200
            h.submit("lost-1", SOL_UP, OrderSide.BUY, "100", "0.48", TimeInForce.FOK)
            await h.until(lambda: h.status("lost-1") is OrderStatus.FILLED, "the look-up's report")
            kinds = [type(e).__name__ for e in h.events("lost-1")]
            assert kinds[-3:] == ["OrderStatusUnknown", "OrderAccepted", "OrderFilled"]
            (order_id,) = h.exchange.orders  # placed once: the lost answer was not re-sent
            assert h.venue.ids.order_of[ClientOrderId("lost-1")] == order_id
            # 100 * 0.48 + 100 * 0.07 * 0.48 * 0.52 = 48 + 1.74720
            assert h.exchange.balance(h.address) == D("950.25280")

    run(scenario)


def test_the_id_journal_survives_a_restart_and_the_orderid_follows_from_the_command(tmp_path: Path) -> None:
    path = tmp_path / "polymarket.ids"
    journal = IdJournal(path)
    journal.record(ClientOrderId("a.1"), "0xabc")
    journal.record(ClientOrderId("a.2"), "0xdef")
    reopened = IdJournal(path)
    assert reopened.order_of == {"a.1": "0xabc", "a.2": "0xdef"}
    assert reopened.client_of["0xdef"] == "a.2"
    (tmp_path / "broken.ids").write_text("a.1 0xabc\nonly-one-field\n")
    with pytest.raises(ValueError, match=r"broken.ids:2: not 'client-id order-id'"):
        IdJournal(tmp_path / "broken.ids")
    # the salt, hence the signed order and its id, follow from the client id: recomputable after a crash
    assert salt_for(ClientOrderId("a.1")) == salt_for(ClientOrderId("a.1")) != salt_for(ClientOrderId("a.2"))
    assert salt_for(ClientOrderId("a.1")) < 2**53


def test_after_a_restart_a_fill_made_while_down_is_booked_to_the_journaled_order(
    shared_data: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        exchange = exchange_for(shared_data)
        exchange.on_market_message(sol_books(shared_data)[0])
        runner, where = await serve(exchange)
        exchange.fund(Account.from_key(WALLET_KEY).address, START_USDC)
        journal, ids = tmp_path / "live.journal", tmp_path / "polymarket.ids"
        try:
            async with live(shared_data, served=(exchange, where), journal=journal, id_journal=ids) as h:
                h.submit("rest-1", SOL_UP, OrderSide.BUY, "5", "0.46")
                await h.until(lambda: bool(h.events("rest-1", OrderAccepted)), "the acceptance")
            exchange.on_market_message(sol_prints(shared_data)[5])  # fills 2.380951 while the node is down
            async with live(shared_data, served=(exchange, where), journal=journal, id_journal=ids) as h:
                # the restored engine knows the order from its journal, the venue its orderID from the id journal
                await h.until(lambda: h.status("rest-1") is OrderStatus.PARTIALLY_FILLED, "the catch-up's fill")
                (fill,) = h.events("rest-1", OrderFilled)
                assert (fill.quantity, fill.price, fill.liquidity) == (D("2.380951"), D("0.46"), Liquidity.MAKER)
                (report,) = await h.venue.open_orders()
                assert report.client_order_id == "rest-1"  # the id journal names the exchange's order
                instrument = h.instrument(SOL_UP)
                h.engine.cancel(CancelOrder(h.engine.clock.now_ns(), ClientOrderId("rest-1"), instrument.id, "t"))
                await h.until(
                    lambda: h.status("rest-1") is OrderStatus.CANCELED, "the cancel of the earlier run's order"
                )
        finally:
            await runner.cleanup()

    run(scenario)


def test_a_fak_ends_only_after_the_fills_its_answer_announced_have_arrived(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(shared_data) as h, aiohttp.ClientSession() as http:
            url = h.venue.clob.client.host + "/emulator/order-fault"
            async with http.post(url, json={"hold_trades": True}) as answer:
                assert answer.status == 200
            h.submit("fak-late", SOL_UP, OrderSide.BUY, "2000", "0.49", TimeInForce.IOC)
            await h.until(lambda: bool(h.events("fak-late", OrderAccepted)), "the acceptance")
            await h.until(lambda: not h.venue.busy, "the submit's work (its catch-up found no trade yet)")
            assert h.status("fak-late") is OrderStatus.ACCEPTED  # 340 matched, none reported: not ended
            async with http.post(url, json={"hold_trades": False}) as answer:
                assert answer.status == 200
            await h.until(lambda: h.status("fak-late") is OrderStatus.EXPIRED, "the end after the fills")
            kinds = [type(e).__name__ for e in h.events("fak-late")]
            assert kinds[-3:] == ["OrderFilled", "OrderFilled", "OrderExpired"]
            assert sum(f.quantity for f in h.events("fak-late", OrderFilled)) == D(340)

    run(scenario)
