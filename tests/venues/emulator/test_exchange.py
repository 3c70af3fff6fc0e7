"""The emulator's spot order side, driven by the real ccxt client over real sockets.

Every expected fill, fee and balance is computed here from the book ccxt fetched (``fetch_order_book``)
and the documented rules (taker sweep at the level prices, 0.1 % fee in the quote asset), not with the
emulator's own code. The replay is held still (``autostart=False``) unless a test starts it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxtpro
import pytest
from ccxt.base.errors import (
    AuthenticationError,
    BadRequest,
    DDoSProtection,
    ExchangeNotAvailable,
    InvalidOrder,
    NetworkError,
    OrderImmediatelyFillable,
    OrderNotFound,
    RequestTimeout,
)

from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.emulator.order_faults import OrderFault, OrderFaultKind
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data

TIMEOUT_S = 15.0
KEY, SECRET = "emulator-key", "emulator-secret"
FEE = Decimal("0.001")
START = {"USDT": Decimal(1_000_000), "BTC": Decimal(5)}
SYMBOL = "BTC/USDT"


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


def _emulator(shared_data: Path) -> BinanceEmulator:
    trading = TradingConfig(
        (ApiKey(KEY, SECRET), ApiKey("withdrawing-key", "s2", enable_withdrawals=True, ip_restrict=False)),
        {asset: str(amount) for asset, amount in START.items()},
        taker_fee=FEE,
        maker_fee=FEE,
    )
    return BinanceEmulator.from_data_dir(
        shared_data, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False, trading=trading
    )


def _settings(emulator: BinanceEmulator, key: str, secret: str) -> dict[str, Any]:
    """A ccxt spot client's settings pointed at ``emulator``."""
    return {
        "apiKey": key,
        "secret": secret,
        "urls": local_urls("binance", emulator.http_url),
        # No currencies/margin pairs: those are sapi calls the emulator does not serve.
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    }


@asynccontextmanager
async def _client(emulator: BinanceEmulator, secret: str = SECRET, key: str = KEY) -> AsyncIterator[Any]:
    exchange = ccxt_async.binance(_settings(emulator, key, secret))
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


def _sweep(
    levels: list[list[float]], qty: Decimal, limit: Decimal | None = None, taken: dict[Decimal, Decimal] | None = None
) -> list[tuple[Decimal, Decimal]]:
    """Independent expectation: take ``levels`` (best first) for ``qty`` up to ``limit``, less what
    earlier orders ``taken`` (price -> quantity) while the replay stood still."""
    fills, left, taken = [], qty, taken or {}
    for price_f, size_f in levels:
        price, size = Decimal(str(price_f)), Decimal(str(size_f)) - taken.get(Decimal(str(price_f)), Decimal(0))
        if left <= 0 or (limit is not None and price > limit):
            break
        if size > 0:
            take = min(size, left)
            fills.append((price, take))
            left -= take
    return fills


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def test_ccxt_trades_every_order_type_and_balances_follow(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator, _client(emulator) as ex, aiohttp.ClientSession() as http:
            book = await ex.fetch_order_book(SYMBOL, 100)
            bid, ask = _d(book["bids"][0][0]), _d(book["asks"][0][0])
            ccxt_trades: list[dict[str, Any]] = []

            # A resting limit far from the market: open, found by client id, locked, canceled.
            rest = await ex.create_order(SYMBOL, "limit", "buy", 0.1, 50_000, {"clientOrderId": "rest-1"})
            assert rest["status"] == "open"
            assert [o["clientOrderId"] for o in await ex.fetch_open_orders(SYMBOL)] == ["rest-1"]
            found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "rest-1"})
            assert (found["id"], found["remaining"]) == (rest["id"], 0.1)
            balance = await ex.fetch_balance()
            assert _d(balance["USDT"]["used"]) == Decimal("5000")
            canceled = await ex.cancel_order(rest["id"], SYMBOL)
            assert canceled["status"] == "canceled"
            assert await ex.fetch_open_orders(SYMBOL) == []
            assert _d((await ex.fetch_balance())["USDT"]["used"]) == 0

            # Market buy of more than the best level: a sweep of several levels.
            qty = _d(book["asks"][0][1]) + Decimal("0.5")
            expected = _sweep(book["asks"], qty)
            assert len(expected) > 1
            market = await ex.create_order(SYMBOL, "market", "buy", float(qty), None, {"clientOrderId": "mkt-1"})
            assert market["status"] == "closed"
            assert _d(market["filled"]) == qty
            assert sorted((_d(t["price"]), _d(t["amount"])) for t in market["trades"]) == expected  # ccxt reorders

            # What the market buy took stays taken while the replay stands still: an IOC at the best ask
            # finds nothing there; one at the next price takes what the market buy left of it.
            taken = dict(expected)
            nothing = await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(ask), {"timeInForce": "IOC"})
            assert (nothing["status"], nothing["filled"]) == ("expired", 0.0)
            second = _d(book["asks"][1][0])
            left = _d(book["asks"][1][1]) - taken.get(second, Decimal(0))
            ioc = await ex.create_order(SYMBOL, "limit", "buy", float(left + 1), float(second), {"timeInForce": "IOC"})
            assert ioc["status"] == "expired"
            assert _d(ioc["filled"]) == left
            taken[second] = taken.get(second, Decimal(0)) + left

            # FOK that cannot fill in full: nothing fills; one that can: fills.
            fok_qty = float(_d(book["bids"][0][1]) + Decimal("1"))
            fok = await ex.create_order(SYMBOL, "limit", "sell", fok_qty, float(bid), {"timeInForce": "FOK"})
            assert (fok["status"], fok["filled"]) == ("expired", 0.0)
            fok_ok = await ex.create_order(SYMBOL, "limit", "sell", 0.001, float(bid), {"timeInForce": "FOK"})
            assert (fok_ok["status"], _d(fok_ok["filled"])) == ("closed", Decimal("0.001"))
            taken[bid] = Decimal("0.001")

            # Post-only: rejected (-2010) when it would take; rests when it would not.
            with pytest.raises(OrderImmediatelyFillable, match="Order would immediately match and take"):
                await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(ask), {"postOnly": True})
            maker = await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(bid), {"postOnly": True})
            assert maker["status"] == "open"
            assert maker["info"]["type"] == "LIMIT_MAKER"
            await ex.cancel_order(None, SYMBOL, {"origClientOrderId": maker["clientOrderId"]})

            # Market buy for a quote amount (quoteOrderQty).
            cost = await ex.create_market_buy_order_with_cost(SYMBOL, 1000)
            assert cost["status"] == "closed"
            assert Decimal(1000) - _d(cost["cost"]) < ask * Decimal("0.00001")  # at most one lot step left

            # Market sell.
            sell = await ex.create_order(SYMBOL, "market", "sell", 0.3)
            fills = sorted(((_d(t["price"]), _d(t["amount"])) for t in sell["trades"]), reverse=True)
            assert fills == _sweep(book["bids"], Decimal("0.3"), taken=taken)

            ccxt_trades = await ex.fetch_my_trades(SYMBOL)
            balance = await ex.fetch_balance()
            async with http.get(f"{emulator.http_url}/emulator/truth") as r:
                truth = await r.json()

        # Fees and balances from ccxt's trades, by the documented formula.
        usdt, btc = START["USDT"], START["BTC"]
        for trade in ccxt_trades:
            notional = _d(trade["price"]) * _d(trade["amount"])
            fee = (notional * FEE).quantize(Decimal("1e-8"))
            assert _d(trade["fee"]["cost"]) == fee
            assert trade["fee"]["currency"] == "USDT"
            sign = 1 if trade["side"] == "buy" else -1
            btc += sign * _d(trade["amount"])
            usdt += -sign * notional - fee
        assert _d(balance["BTC"]["total"]) == btc
        assert abs(_d(balance["USDT"]["total"]) - usdt) < Decimal("1e-6")
        assert _d(balance["USDT"]["used"]) == 0

        # The truth endpoint agrees with what ccxt saw.
        assert [t["id"] for t in truth["trades"]] == sorted(int(t["id"]) for t in ccxt_trades)
        assert {t["id"]: Decimal(t["commission"]) for t in truth["trades"]} == {
            int(t["id"]): _d(t["fee"]["cost"]) for t in ccxt_trades
        }
        statuses = {o["clientOrderId"]: o["status"] for o in truth["orders"]}
        assert statuses["rest-1"] == "CANCELED"
        assert statuses["mkt-1"] == "FILLED"
        assert Decimal(truth["balances"]["BTC"]["free"]) == btc

    run(scenario)


def test_client_id_is_unique_among_open_orders_only(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator, _client(emulator) as ex:
            first = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, {"clientOrderId": "same-id"})
            with pytest.raises(InvalidOrder, match="Duplicate order sent"):
                await ex.create_order(SYMBOL, "limit", "buy", 0.02, 50_000, {"clientOrderId": "same-id"})
            with pytest.raises(BadRequest, match="Illegal characters found in parameter 'newClientOrderId'"):
                await ex.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, {"clientOrderId": "bad id!"})
            await ex.cancel_order(first["id"], SYMBOL)
            # Canceled: the id is free again; a filled order frees it too.
            second = await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "same-id"})
            assert second["status"] == "closed"
            third = await ex.create_order(SYMBOL, "limit", "buy", 0.03, 50_000, {"clientOrderId": "same-id"})
            assert len({first["id"], second["id"], third["id"]}) == 3
            latest = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "same-id"})
            assert (latest["id"], latest["amount"]) == (third["id"], 0.03)
            with pytest.raises(OrderNotFound):
                await ex.fetch_order("999", SYMBOL)

    run(scenario)


def test_bad_signatures_and_keys_are_rejected_and_key_permissions_are_served(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator:
            async with _client(emulator, secret="wrong-secret") as ex:
                with pytest.raises(AuthenticationError, match="Signature for this request is not valid"):
                    await ex.fetch_balance()
            async with _client(emulator, key="unknown-key") as ex:
                with pytest.raises(AuthenticationError, match="-2015"):
                    await ex.fetch_open_orders(SYMBOL)
            async with _client(emulator) as ex:
                restrictions = await ex.sapi_get_account_apirestrictions()
                assert (restrictions["enableWithdrawals"], restrictions["ipRestrict"]) == (False, True)
            async with _client(emulator, key="withdrawing-key", secret="s2") as ex:
                restrictions = await ex.sapi_get_account_apirestrictions()
                assert (restrictions["enableWithdrawals"], restrictions["ipRestrict"]) == (True, False)

    run(scenario)


async def _reports(ws: aiohttp.ClientWebSocketResponse, until: Callable[[list[dict[str, Any]]], bool]) -> list[Any]:
    events: list[dict[str, Any]] = []
    while not until(events):
        events.append(json.loads(await ws.receive_str()))
    return events


def test_user_stream_reports_taker_and_resting_fills(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator, _client(emulator) as ex, aiohttp.ClientSession() as http:
            headers = {"X-MBX-APIKEY": KEY}
            async with http.post(f"{emulator.http_url}/api/v3/userDataStream", headers=headers) as r:
                listen_key = (await r.json())["listenKey"]
            async with http.put(
                f"{emulator.http_url}/api/v3/userDataStream", params={"listenKey": listen_key}, headers=headers
            ) as r:
                assert r.status == 200
            async with http.ws_connect(f"{emulator.ws_url}/{listen_key}") as ws:
                book = await ex.fetch_order_book(SYMBOL, 5)
                market = await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "stream-1"})
                events = await _reports(ws, lambda ev: any(e["e"] == "outboundAccountPosition" for e in ev))
                reports = [e for e in events if e["e"] == "executionReport"]
                assert [(e["x"], e["X"]) for e in reports] == [("NEW", "NEW"), ("TRADE", "FILLED")]
                fill = reports[1]
                price = _d(book["asks"][0][0])
                assert (fill["c"], str(fill["i"]), fill["N"]) == ("stream-1", market["id"], "USDT")
                assert (Decimal(fill["l"]), Decimal(fill["L"]), Decimal(fill["z"])) == (
                    Decimal("0.01"),
                    price,
                    Decimal("0.01"),
                )
                assert Decimal(fill["n"]) == (price * Decimal("0.01") * FEE).quantize(Decimal("1e-8"))
                assert str(fill["t"]) == market["trades"][0]["id"]

                # A resting buy at the best bid fills at its own price, as maker, once the replay crosses it.
                bid = _d(book["bids"][0][0])
                resting = await ex.create_order(SYMBOL, "limit", "buy", 0.002, float(bid), {"clientOrderId": "rest-2"})
                emulator.start_replay()
                events = await _reports(ws, lambda ev: any(e.get("x") == "TRADE" for e in ev))
                trade = next(e for e in events if e.get("x") == "TRADE")
                assert (trade["c"], trade["X"], trade["m"]) == ("rest-2", "FILLED", True)
                assert Decimal(trade["L"]) == bid
                order = await ex.fetch_order(resting["id"], SYMBOL)
                assert (order["status"], order["average"]) == ("closed", float(bid))
            async with http.delete(
                f"{emulator.http_url}/api/v3/userDataStream", params={"listenKey": listen_key}, headers=headers
            ) as r:
                assert r.status == 200

    run(scenario)


def test_order_faults_commit_without_a_clean_answer_and_the_truth_shows_it(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator, _client(emulator) as ex, aiohttp.ClientSession() as http:
            base = emulator.http_url
            async with http.post(f"{base}/emulator/order_fault", json={"kind": "explode"}) as r:
                assert r.status == 400
                assert "unknown order fault kind 'explode'" in (await r.json())["error"]
            for fault in (
                {"kind": "-1007"},
                {"kind": "commit_then_503_unknown"},
                {"kind": "commit_then_drop_response"},
                {"kind": "order_invisible_for_ms", "ms": 300},
            ):
                async with http.post(f"{base}/emulator/order_fault", json=fault) as r:
                    assert r.status == 200
            for client_id, error in [
                ("u-1007", RequestTimeout),
                ("u-503", ExchangeNotAvailable),
                ("u-drop", NetworkError),
            ]:
                with pytest.raises(error):
                    await ex.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, {"clientOrderId": client_id})
                # The outcome was unknown to the client, but the order stands: look it up, never resend blindly.
                found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": client_id})
                assert found["status"] == "open"
            # Eventual consistency: answered, then not found for a while, then found.
            late = await ex.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, {"clientOrderId": "u-late"})
            with pytest.raises(OrderNotFound):
                await ex.fetch_order(late["id"], SYMBOL)
            assert "u-late" not in {o["clientOrderId"] for o in await ex.fetch_open_orders(SYMBOL)}
            await asyncio.sleep(0.4)  # noqa: TID251 -- the emulator hides it for 300 ms of real time
            assert (await ex.fetch_order(late["id"], SYMBOL))["clientOrderId"] == "u-late"

            # 429 / 418: refused before anything happens, with Retry-After.
            emulator_api = emulator.orders_api
            assert emulator_api is not None
            emulator_api.arm(OrderFault(OrderFaultKind.TOO_MANY_REQUESTS, retry_after=7))
            with pytest.raises(DDoSProtection):
                await ex.create_order(SYMBOL, "limit", "buy", 0.01, 50_000, {"clientOrderId": "u-429"})
            assert ex.last_response_headers["Retry-After"] == "7"
            emulator_api.arm(OrderFault(OrderFaultKind.IP_BANNED, retry_after=120))
            async with http.get(f"{base}/api/v3/openOrders") as r:
                assert (r.status, r.headers["Retry-After"], (await r.json())["code"]) == (418, "120", -1003)
            async with http.get(f"{base}/emulator/truth") as r:
                truth = await r.json()
        ids = {o["clientOrderId"] for o in truth["orders"]}
        assert ids == {"u-1007", "u-503", "u-drop", "u-late"}  # nothing of the 429

    run(scenario)


def test_ccxt_watch_orders_and_my_trades_over_the_websocket_api(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator:
            exchange = ccxtpro.binance(_settings(emulator, KEY, SECRET))
            try:
                await exchange.load_markets()
                orders = asyncio.ensure_future(exchange.watch_orders(SYMBOL))
                trades = asyncio.ensure_future(exchange.watch_my_trades(SYMBOL))
                # Trade once the emulator holds the subscription: its events then follow the answer.
                for _ in range(200):
                    if emulator.user_streams is not None and emulator.user_streams.subscriptions:
                        break
                    await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
                placed = await exchange.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "watch-1"})
                seen = await orders
                mine = await trades
            finally:
                await exchange.close()
        assert seen[-1]["clientOrderId"] == "watch-1"
        assert seen[-1]["id"] == placed["id"]
        assert mine[-1]["order"] == placed["id"]
        assert mine[-1]["id"] == placed["trades"][0]["id"]
        assert _d(mine[-1]["fee"]["cost"]) == (_d(mine[-1]["price"]) * Decimal("0.01") * FEE).quantize(Decimal("1e-8"))

    run(scenario)


def test_a_marketable_gtc_limit_takes_what_it_can_and_rests_the_rest(shared_data: Path) -> None:
    emulator = _emulator(shared_data)

    async def scenario() -> None:
        async with emulator, _client(emulator) as ex:
            book = await ex.fetch_order_book(SYMBOL, 5)
            ask, level = _d(book["asks"][0][0]), _d(book["asks"][0][1])
            qty = level + Decimal("0.5")
            order = await ex.create_order(SYMBOL, "limit", "buy", float(qty), float(ask))
            assert (order["status"], _d(order["filled"]), _d(order["remaining"])) == ("open", level, Decimal("0.5"))
            assert order["info"]["status"] == "PARTIALLY_FILLED"
            balance = await ex.fetch_balance()
            assert _d(balance["USDT"]["used"]) == Decimal("0.5") * ask  # the resting part stays locked
            fee = (level * ask * FEE).quantize(Decimal("1e-8"))
            assert _d(balance["USDT"]["total"]) == START["USDT"] - level * ask - fee
            assert _d(balance["BTC"]["free"]) == START["BTC"] + level

    run(scenario)
