"""The emulator's matching rules on a hand-made book, each fill computed by hand (the module docstring
of ``venues/emulator/exchange.py``): what our orders took stays taken until the level is updated,
a resting order waits behind the queue displayed at its price when it arrived (a queue that book
updates can only shrink), a public trade reaches it only from the other side and is shared once,
and a book moving through it fills no more than the book shows there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from spreadhawk.venues.emulator.captures import Message, RawBook, StreamKind
from spreadhawk.venues.emulator.exchange import ExchangeError, SpotExchange, SymbolRules

SYMBOL = "BTCUSDT"
FEE = Decimal("0.001")


def _exchange() -> tuple[SpotExchange, RawBook]:
    book = RawBook(
        {
            "lastUpdateId": 10,
            "bids": [["100.00", "2"], ["99.00", "1"]],
            "asks": [["101.00", "3"], ["102.00", "4"]],
        }
    )
    rules = {SYMBOL: SymbolRules(SYMBOL, "BTC", "USDT", Decimal("0.001"), Decimal("0.01"))}
    exchange = SpotExchange(
        rules, {SYMBOL: book}, {"USDT": "100000", "BTC": "10"}, taker_fee=FEE, maker_fee=FEE, clock=lambda: 0
    )
    return exchange, book


def _diff(exchange: SpotExchange, book: RawBook, bids: list[list[str]], asks: list[list[str]]) -> None:
    update = book.last_update_id + 1
    data: dict[str, Any] = {
        "e": "depthUpdate",
        "E": update,
        "s": SYMBOL,
        "U": update,
        "u": update,
        "b": bids,
        "a": asks,
    }
    book.apply(data)
    exchange.on_market(Message(update, SYMBOL, StreamKind.DEPTH, data))


def _trade(exchange: SpotExchange, price: str, qty: str, *, seller_aggressor: bool) -> None:
    data = {"e": "trade", "E": 1, "s": SYMBOL, "t": 1, "p": price, "q": qty, "m": seller_aggressor}
    exchange.on_market(Message(1, SYMBOL, StreamKind.TRADE, data))


def _fills(exchange: SpotExchange) -> list[tuple[int, Decimal, Decimal, bool]]:
    return [(t.order_id, t.price, t.qty, t.maker) for t in exchange.trades]


def test_what_a_sweep_took_stays_taken_until_the_level_is_updated() -> None:
    exchange, book = _exchange()
    exchange.place(SYMBOL, "BUY", "MARKET", qty=Decimal("2"))
    _, trades = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("2"), price=Decimal("102"), time_in_force="IOC")
    assert [(t.price, t.qty) for t in trades] == [(Decimal("101.00"), Decimal("1")), (Decimal("102.00"), Decimal("1"))]
    _diff(exchange, book, [], [["101.00", "3"]])  # the exchange shows 101 afresh: all 3 are there again
    _, trades = exchange.place(SYMBOL, "BUY", "MARKET", qty=Decimal("5"))
    assert [(t.price, t.qty) for t in trades] == [(Decimal("101.00"), Decimal("3")), (Decimal("102.00"), Decimal("2"))]
    assert trades[0].commission == (Decimal("101.00") * 3 * FEE).quantize(Decimal("1e-8"))


def test_a_resting_bid_waits_behind_the_queue_displayed_at_its_price() -> None:
    exchange, _ = _exchange()
    bid, _ = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("1"), price=Decimal("100"), time_in_force="GTC")
    assert bid.queue_ahead == Decimal("2")
    _trade(exchange, "100.00", "1.5", seller_aggressor=True)  # the queue ahead trades first
    assert exchange.trades == []
    _trade(exchange, "100.00", "0.8", seller_aggressor=False)  # a buyer's trade never reaches a bid
    assert exchange.trades == []
    _trade(exchange, "100.00", "0.8", seller_aggressor=True)  # 0.5 left ahead, then 0.3 for us
    assert _fills(exchange) == [(bid.order_id, Decimal("100"), Decimal("0.3"), True)]
    assert bid.status == "PARTIALLY_FILLED"


def test_book_updates_shrink_the_queue_and_a_trade_through_the_price_fills_at_ours() -> None:
    exchange, book = _exchange()
    bid, _ = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("1"), price=Decimal("100"), time_in_force="GTC")
    _diff(exchange, book, [["100.00", "0.4"]], [])  # cancels ahead of us: 0.4 left ahead
    _diff(exchange, book, [["100.00", "3"]], [])  # orders joining behind us do not push us back
    assert bid.queue_ahead == Decimal("0.4")
    _trade(exchange, "100.00", "1", seller_aggressor=True)
    assert _fills(exchange) == [(bid.order_id, Decimal("100"), Decimal("0.6"), True)]
    _trade(exchange, "99.50", "5", seller_aggressor=True)  # through our price: it reached us for sure
    assert _fills(exchange)[1] == (bid.order_id, Decimal("100"), Decimal("0.4"), True)
    assert bid.status == "FILLED"


def test_one_trade_is_shared_once_best_price_first_then_arrival() -> None:
    exchange, _ = _exchange()
    low, _ = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("1"), price=Decimal("99.50"), time_in_force="GTC")
    first, _ = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("1"), price=Decimal("100.50"), time_in_force="GTC")
    second, _ = exchange.place(SYMBOL, "BUY", "LIMIT", qty=Decimal("1"), price=Decimal("100.50"), time_in_force="GTC")
    _trade(exchange, "99.00", "1.7", seller_aggressor=True)
    assert _fills(exchange) == [
        (first.order_id, Decimal("100.50"), Decimal("1"), True),
        (second.order_id, Decimal("100.50"), Decimal("0.7"), True),
    ]
    assert low.executed == 0


def test_a_book_moving_through_a_resting_ask_fills_what_it_shows_there() -> None:
    exchange, book = _exchange()
    ask, _ = exchange.place(SYMBOL, "SELL", "LIMIT", qty=Decimal("5"), price=Decimal("101.50"), time_in_force="GTC")
    _diff(exchange, book, [["101.50", "1.2"], ["101.60", "0.5"]], [["101.00", "0"], ["101.70", "2"]])
    assert _fills(exchange) == [(ask.order_id, Decimal("101.50"), Decimal("1.7"), True)]
    _diff(exchange, book, [["99.00", "0.3"]], [])  # those bids were taken by us: no second fill from them
    assert len(exchange.trades) == 1
    _diff(exchange, book, [["101.60", "0.5"]], [])  # shown afresh: it trades with us again
    assert _fills(exchange)[1] == (ask.order_id, Decimal("101.50"), Decimal("0.5"), True)


def test_post_only_is_refused_at_the_best_displayed_price_even_when_we_took_it() -> None:
    exchange, _ = _exchange()
    exchange.place(SYMBOL, "BUY", "MARKET", qty=Decimal("3"))  # 101 is all ours now, still displayed
    with pytest.raises(ExchangeError, match="immediately match"):
        exchange.place(SYMBOL, "BUY", "LIMIT_MAKER", qty=Decimal("1"), price=Decimal("101"))
    maker, trades = exchange.place(SYMBOL, "BUY", "LIMIT_MAKER", qty=Decimal("1"), price=Decimal("100.99"))
    assert (maker.status, trades) == ("NEW", [])
