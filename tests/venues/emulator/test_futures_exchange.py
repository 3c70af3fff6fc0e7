"""The emulator's USD-M order side, driven by the real ccxt ``binanceusdm`` client over real sockets.

Expected fills, fees, positions, realized PnL and funding are computed here from the book ccxt fetched,
the recorded ``markPriceUpdate`` lines (read straight from the capture file) and Binance's documented
rules -- taker sweep at the level prices, fee = notional x rate, realized PnL = closed qty x (exit -
entry), funding = -position x mark x rate -- never with the emulator's code.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import pytest
from ccxt.base.errors import ExchangeError, InvalidOrder

from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.emulator import BinanceEmulator, Market, load_capture
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data

KEY, SECRET = "emulator-key", "emulator-secret"
TAKER, MAKER = Decimal("0.0004"), Decimal("0.0002")
WALLET = Decimal(100_000)
SYMBOL = "BTC/USDT:USDT"
EIGHT = Decimal("1e-8")
FUNDING_DAY = ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz")  # one capture across 00:00 UTC


def run(coro_fn: Callable[[], Awaitable[None]], timeout_s: float = 20.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), timeout_s)

    asyncio.run(bounded())


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


@asynccontextmanager
async def usdm(shared_data: Path, *, funding_day: bool = False) -> AsyncIterator[tuple[BinanceEmulator, Any]]:
    trading = TradingConfig((ApiKey(KEY, SECRET),), {"USDT": str(WALLET)}, taker_fee=TAKER, maker_fee=MAKER)
    if funding_day:
        folder = shared_data / "hftbacktest" / "binance_usdm_futures"
        capture = load_capture(*(folder / name for name in FUNDING_DAY))
        emulator = BinanceEmulator([capture], market=Market.USDM, exchange_info=shared_data / "cryptofeed" /
                                   "sample_data", speed=0, autostart=False, trading=trading)  # fmt: skip
    else:
        emulator = BinanceEmulator.from_data_dir(
            shared_data, Market.USDM, ["BTCUSDT"], speed=0, autostart=False, trading=trading
        )
    async with emulator:
        client = ccxtpro.binanceusdm(
            {
                "apiKey": KEY,
                "secret": SECRET,
                "urls": local_urls("binanceusdm", emulator.http_url),
                "options": {"fetchMarkets": {"types": ["linear"]}, "fetchCurrencies": False, "fetchMargins": False},
            }
        )
        try:
            await client.load_markets()
            yield emulator, client
        finally:
            await client.close()


async def _truth(emulator: BinanceEmulator) -> Any:
    async with aiohttp.ClientSession() as http, http.get(f"{emulator.http_url}/emulator/truth") as response:
        return await response.json()


def _sweep(levels: list[list[Any]], qty: Decimal) -> list[tuple[Decimal, Decimal]]:
    """Taker fills for ``qty`` over ``levels`` (best first), at the levels' prices."""
    fills, left = [], qty
    for price, size in levels:
        take = min(_d(size), left)
        fills.append((_d(price), take))
        left -= take
        if not left:
            return fills
    raise AssertionError("the book is too thin for this test")


def _fee(fills: list[tuple[Decimal, Decimal]], rate: Decimal) -> Decimal:
    return sum(((p * q * rate).quantize(EIGHT) for p, q in fills), Decimal(0))


def test_a_position_is_opened_reduced_and_flipped_with_realized_pnl_and_fees(shared_data: Path) -> None:
    async def scenario() -> None:
        async with usdm(shared_data) as (emulator, ex):
            book = await ex.fetch_order_book(SYMBOL, 20)
            asks = [[_d(p), _d(q)] for p, q, *_ in book["asks"]]
            bids = [[_d(p), _d(q)] for p, q, *_ in book["bids"]]

            await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"newClientOrderId": "open-1"})
            bought = _sweep(asks, Decimal("0.01"))
            entry = sum((p * q for p, q in bought), Decimal(0)) / Decimal("0.01")

            await ex.create_order(SYMBOL, "market", "sell", 0.004, None, {"reduceOnly": True})
            sold = _sweep(bids, Decimal("0.004"))
            realized = sum(((p - entry) * q for p, q in sold), Decimal(0))

            positions = await ex.fetch_positions([SYMBOL])
            assert [(_d(p["info"]["positionAmt"]), _d(p["info"]["entryPrice"])) for p in positions] == [
                (Decimal("0.006"), entry.quantize(EIGHT))
            ]
            wallet = WALLET - _fee(bought, TAKER) - _fee(sold, TAKER) + realized
            balance = await ex.fetch_balance()
            assert _d(balance["info"]["assets"][0]["walletBalance"]) == wallet
            trades = await ex.fetch_my_trades(SYMBOL)
            assert sum((_d(t["info"]["realizedPnl"]) for t in trades), Decimal(0)) == realized.quantize(EIGHT)

            # Selling 0.02 from +0.006 closes the long and opens a 0.014 short at the fills' prices.
            await ex.create_order(SYMBOL, "market", "sell", 0.02)
            flip = _sweep(bids, Decimal("0.02"))
            closing, opening, left = [], [], Decimal("0.006")
            for price, qty in flip:
                take = min(qty, left)
                left -= take
                closing += [(price, take)] if take else []
                opening += [(price, qty - take)] if qty > take else []
            realized += sum(((p - entry) * q for p, q in closing), Decimal(0))
            short_entry = sum((p * q for p, q in opening), Decimal(0)) / Decimal("0.014")
            truth = await _truth(emulator)
            assert truth["positions"]["BTCUSDT"] == {
                "positionAmt": "-0.01400000",
                "entryPrice": f"{short_entry:.8f}",
            }
            wallet = WALLET - _fee(bought + sold + flip, TAKER) + realized
            assert _d(truth["balances"]["USDT"]["free"]) == wallet

    run(scenario)


def test_reduce_only_post_only_and_client_id_rules(shared_data: Path) -> None:
    async def scenario() -> None:
        async with usdm(shared_data) as (emulator, ex):
            book = await ex.fetch_order_book(SYMBOL, 5)
            bid, ask = _d(book["bids"][0][0]), _d(book["asks"][0][0])
            with pytest.raises(ExchangeError, match="-2022"):  # flat: a reduce-only order would open
                await ex.create_order(SYMBOL, "market", "sell", 0.001, None, {"reduceOnly": True})
            with pytest.raises(InvalidOrder, match="-5022"):  # post-only at the ask would take
                await ex.create_order(SYMBOL, "limit", "buy", 0.001, float(ask), {"postOnly": True})
            assert (await _truth(emulator))["orders"] == []  # neither was recorded

            price = bid - 500
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(price), {"postOnly": True,
                                  "newClientOrderId": "rest.1:a/B_c-9"})  # fmt: skip
            [resting] = await ex.fetch_open_orders(SYMBOL)
            assert (resting["clientOrderId"], resting["info"]["timeInForce"]) == ("rest.1:a/B_c-9", "GTX")
            balance = await ex.fetch_balance()
            # 20x leverage: the open order holds qty x price / 20 of the wallet as margin.
            assert _d(balance["info"]["availableBalance"]) == WALLET - Decimal("0.01") * price / 20

            with pytest.raises(ExchangeError, match="-4116"):  # unique among open orders
                await ex.create_order(
                    SYMBOL, "limit", "buy", 0.01, float(price), {"newClientOrderId": "rest.1:a/B_c-9"}
                )
            for bad in ("has space", "x" * 37, "emoji-\u00e9"):
                with pytest.raises(ExchangeError, match="-4015"):
                    await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(price), {"newClientOrderId": bad})
            await ex.cancel_order(None, SYMBOL, {"origClientOrderId": "rest.1:a/B_c-9"})
            # Once the first is no longer open, Binance accepts the id again.
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, float(price), {"newClientOrderId": "rest.1:a/B_c-9"})
            assert len((await _truth(emulator))["orders"]) == 2

    run(scenario)


def test_fills_arrive_on_the_futures_user_stream(shared_data: Path) -> None:
    async def scenario() -> None:
        async with usdm(shared_data) as (_, ex):
            book = await ex.fetch_order_book(SYMBOL, 20)
            watcher = asyncio.ensure_future(ex.watch_my_trades())
            wallet = asyncio.ensure_future(ex.watch_balance())  # ACCOUNT_UPDATE on the same stream
            await asyncio.sleep(0.2)  # noqa: TID251 -- let the subscription reach the server, in real time
            await ex.create_order(SYMBOL, "market", "buy", 0.003, None, {"newClientOrderId": "stream-1"})
            trades = await asyncio.wait_for(watcher, 5)
            fills = _sweep([[_d(p), _d(q)] for p, q, *_ in book["asks"]], Decimal("0.003"))
            assert [(_d(t["price"]), _d(t["amount"])) for t in trades] == fills[:1]
            assert trades[0]["info"]["c"] == "stream-1"
            assert _d(trades[0]["fee"]["cost"]) == (fills[0][0] * fills[0][1] * TAKER).quantize(EIGHT)
            balance = await asyncio.wait_for(wallet, 5)
            assert balance["info"]["e"] == "ACCOUNT_UPDATE"
            assert _d(balance["info"]["a"]["B"][0]["wb"]) == WALLET - _fee(fills, TAKER)
            assert balance["info"]["a"]["P"][0]["pa"] == "0.00300000"

    run(scenario)


def _recorded_funding(shared_data: Path) -> tuple[int, Decimal, Decimal]:
    """(funding time, rate, mark) of the funding time the 2023 capture crosses, from its raw lines:
    the rate announced before the time, the mark of the last update at or before it."""
    folder = shared_data / "hftbacktest" / "binance_usdm_futures"
    updates: list[dict[str, Any]] = []
    for name in FUNDING_DAY:
        with gzip.open(folder / name, "rt", encoding="utf-8") as lines:
            for line in lines:
                data = json.loads(line.partition(" ")[2]).get("data") or {}
                if data.get("e") == "markPriceUpdate":
                    updates.append(data)
    funding_ms = int(updates[0]["T"])
    before = [u for u in updates if int(u["E"]) < funding_ms]
    at_or_before = [u for u in updates if int(u["E"]) <= funding_ms]
    assert any(int(u["E"]) > funding_ms for u in updates), "the capture must cross its funding time"
    return funding_ms, Decimal(before[-1]["r"]), Decimal(at_or_before[-1]["p"])


def test_funding_is_paid_at_the_recorded_funding_time(shared_data: Path) -> None:
    funding_ms, rate, mark = _recorded_funding(shared_data)
    assert funding_ms == 1_680_652_800_000  # 2023-04-05 00:00 UTC

    async def scenario() -> None:
        async with usdm(shared_data, funding_day=True) as (emulator, ex):
            book = await ex.fetch_order_book(SYMBOL, 20)
            await ex.create_order(SYMBOL, "market", "sell", 0.05)  # short: pays when the rate is negative
            sold = _sweep([[_d(p), _d(q)] for p, q, *_ in book["bids"]], Decimal("0.05"))
            reasons: list[str] = []

            async def account_updates() -> None:  # the stream's ACCOUNT_UPDATE reasons, until funding
                while "FUNDING_FEE" not in reasons:
                    reasons.append((await ex.watch_balance())["info"]["a"]["m"])

            listener = asyncio.ensure_future(account_updates())
            await asyncio.sleep(0.2)  # noqa: TID251 -- let the subscription reach the server, in real time
            emulator.start_replay()
            await emulator.replay.finished.wait()
            await asyncio.wait_for(listener, 5)
            assert reasons == ["FUNDING_FEE"]  # the only account change during the replay

            amount = (Decimal("0.05") * mark * rate).quantize(EIGHT)  # -(-0.05) x mark x rate
            history = await ex.fetch_funding_history(SYMBOL)
            assert [(h["timestamp"], _d(h["info"]["income"])) for h in history] == [(funding_ms, amount)]
            truth = await _truth(emulator)
            assert [(f["rate"], f["markPrice"], f["positionAmt"]) for f in truth["funding"]] == [
                (str(rate), str(mark), "-0.05000000")
            ]
            assert _d(truth["balances"]["USDT"]["free"]) == WALLET - _fee(sold, TAKER) + amount

    run(scenario, 90.0)
