"""The emulated USD-M Algo Service (``venues/emulator/algo_orders.py``): stop-loss and take-profit
orders on a hand-made book, each fill worked out by hand; and the endpoints through the real ccxt
``binanceusdm`` client (its ``trigger`` routing to ``/fapi/v1/algoOrder``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ccxt.base.errors import ExchangeError as CcxtExchangeError
from ccxt.base.errors import OrderNotFound
from test_futures_exchange import SYMBOL, _truth, run, usdm

from spreadhawk.venues.emulator.captures import Message, RawBook, StreamKind
from spreadhawk.venues.emulator.exchange import ExchangeError, SymbolRules
from spreadhawk.venues.emulator.futures_exchange import FuturesExchange

D = Decimal
BTC = "BTCUSDT"


def _exchange() -> FuturesExchange:
    # bids 100 x 2 | 99 x 5      asks 101 x 3 | 102 x 4
    book = RawBook({"lastUpdateId": 1, "bids": [["100", "2"], ["99", "5"]], "asks": [["101", "3"], ["102", "4"]]})
    rules = {BTC: SymbolRules(BTC, "BTC", "USDT", D("0.001"), D("0.1"))}
    return FuturesExchange(rules, {BTC: book}, D(100_000), taker_fee=D(0), maker_fee=D(0), clock=lambda: 7)


def _print(exchange: FuturesExchange, price: str) -> None:
    data = {"e": "trade", "E": 1, "s": BTC, "t": 1, "p": price, "q": "0.001", "m": True}
    exchange.on_market(Message(1, BTC, StreamKind.TRADE, data))


def test_a_stop_loss_waits_for_a_print_at_its_trigger_then_sells_into_the_bids() -> None:
    ex = _exchange()
    ex.place(BTC, "BUY", "MARKET", qty=D(4))  # 3 @ 101 + 1 @ 102: long 4
    stop = ex.algo.place(BTC, "SELL", "STOP_MARKET", qty=D(4), trigger=D("99.5"), reduce_only=True, client_algo_id="s1")
    updates: list[str] = []
    ex.algo.listeners.append(lambda o: updates.append(o.status))
    _print(ex, "99.6")  # above the trigger: nothing
    assert (stop.status, ex.positions[BTC].qty) == ("NEW", D(4))
    _print(ex, "99.5")  # reaches it: a market sell of 4 into bids 100 x 2 | 99 x 5
    child = ex.orders[stop.actual_order_id or 0]
    assert (child.type, child.client_id, child.reduce_only) == ("MARKET", "s1", True)
    assert [(t.price, t.qty) for t in ex.trades if t.order_id == child.order_id] == [(D(100), D(2)), (D(99), D(2))]
    assert (stop.status, stop.executed, stop.avg_price) == ("FINISHED", D(4), D("99.5"))
    assert updates == ["TRIGGERED", "FINISHED"]
    assert ex.positions[BTC].qty == 0


def test_a_reduce_only_stop_with_no_position_left_is_rejected_when_it_fires_and_opens_nothing() -> None:
    ex = _exchange()
    ex.place(BTC, "BUY", "MARKET", qty=D(2))
    stop = ex.algo.place(BTC, "SELL", "STOP_MARKET", qty=D(2), trigger=D(99), reduce_only=True, client_algo_id="s2")
    ex.place(BTC, "SELL", "MARKET", qty=D(2))  # closed by hand: the stop is left behind
    _print(ex, "98.9")
    assert (stop.status, stop.reason, stop.actual_order_id) == ("REJECTED", "Reduce Only reject", None)
    assert ex.positions[BTC].qty == 0


def test_a_take_profit_fires_upwards_and_a_trigger_already_reached_is_refused() -> None:
    ex = _exchange()
    _print(ex, "100.5")
    ex.place(BTC, "SELL", "MARKET", qty=D(1))  # short 1 at 100
    with pytest.raises(ExchangeError, match="-2021"):  # a buy stop at 100 would fire at once (last 100.5)
        ex.algo.place(BTC, "BUY", "STOP_MARKET", qty=D(1), trigger=D(100), reduce_only=True, client_algo_id=None)
    tp = ex.algo.place(BTC, "BUY", "TAKE_PROFIT_MARKET", qty=D(1), trigger=D(98), reduce_only=True, client_algo_id="t")
    _print(ex, "99")
    assert tp.status == "NEW"
    _print(ex, "98")  # buys 1 at the ask, 101
    assert (tp.status, tp.avg_price, ex.positions[BTC].qty) == ("FINISHED", D(101), D(0))


def test_cancel_and_look_up_rules() -> None:
    ex = _exchange()
    stop = ex.algo.place(BTC, "SELL", "STOP_MARKET", qty=D(1), trigger=D(90), reduce_only=False, client_algo_id="c")
    with pytest.raises(ExchangeError, match="-4116"):
        ex.algo.place(BTC, "SELL", "STOP_MARKET", qty=D(1), trigger=D(90), reduce_only=False, client_algo_id="c")
    assert ex.algo.cancel(None, "c") is stop
    assert stop.status == "CANCELED"
    with pytest.raises(ExchangeError, match="-2011"):  # not open any more
        ex.algo.cancel(stop.algo_id, None)
    with pytest.raises(ExchangeError, match="-2013"):
        ex.algo.find(None, "nobody")
    with pytest.raises(ExchangeError, match="-1013"):  # off the 0.1 tick
        ex.algo.place(BTC, "SELL", "STOP_MARKET", qty=D(1), trigger=D("90.05"), reduce_only=False, client_algo_id=None)


def test_ccxt_routes_conditional_orders_to_the_algo_endpoints(shared_data: Path) -> None:
    async def scenario() -> None:
        async with usdm(shared_data) as (emulator, ex):
            book = await ex.fetch_order_book(SYMBOL, 5)
            bid = Decimal(str(book["bids"][0][0]))
            await ex.create_order(SYMBOL, "market", "buy", 0.01)
            trigger = float(bid - 300)
            params: dict[str, Any] = {"stopLossPrice": trigger, "reduceOnly": True, "newClientOrderId": "sl-1"}
            placed = await ex.create_order(SYMBOL, "market", "sell", 0.01, None, params)
            assert (placed["clientOrderId"], placed["status"], placed["triggerPrice"]) == ("sl-1", "open", trigger)
            assert await ex.fetch_open_orders(SYMBOL) == []  # not a matching-engine order
            [listed] = await ex.fetch_open_orders(SYMBOL, None, None, {"trigger": True})
            assert (listed["clientOrderId"], listed["triggerPrice"], listed["reduceOnly"]) == ("sl-1", trigger, True)
            assert listed["info"]["orderType"] == "STOP_MARKET"
            found = await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "sl-1", "trigger": True})
            assert found["id"] == placed["id"]
            with pytest.raises(OrderNotFound):  # -2013 on the ordinary endpoint
                await ex.fetch_order(None, SYMBOL, {"origClientOrderId": "sl-1"})
            await ex.cancel_order(None, SYMBOL, {"origClientOrderId": "sl-1", "trigger": True})
            with pytest.raises(OrderNotFound):  # -2011: no longer open
                await ex.cancel_order(None, SYMBOL, {"origClientOrderId": "sl-1", "trigger": True})
            truth = await _truth(emulator)
            assert [(o["clientAlgoId"], o["algoStatus"]) for o in truth["algoOrders"]] == [("sl-1", "CANCELED")]
            with pytest.raises(CcxtExchangeError, match="-2021"):  # a sell stop above the last price
                await ex.create_order(
                    SYMBOL, "market", "sell", 0.01, None, {**params, "stopLossPrice": float(bid + 5000)}
                )

    run(scenario)
