"""The simulated venue matches against a book kept from quotes (#11: quote ticks are first-class).
Spot ``X:BTC/USDT``: tick 0.5, lot 0.1, taker fee 0.1 %, maker fee 0.02 %."""

from __future__ import annotations

from decimal import Decimal

from sim_harness import SPOT, run, submit, ticks, units

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.market import MarketData, QuoteTick

D = Decimal


def quote(ts: int, bid: str, bid_size: str, ask: str, ask_size: str) -> QuoteTick:
    return QuoteTick(SPOT.id, ts, ticks(bid), units(bid_size), ticks(ask), units(ask_size))


def test_a_market_order_takes_the_quoted_size_at_the_quoted_price_and_no_more() -> None:
    feed: list[MarketData] = [quote(1000, "100", "2", "100.5", "0.3")]
    h = run(feed, {1000: submit(OrderSide.BUY, "1")})
    # one level: 0.3 at 100.5, then nothing (the rest of a market order is not filled out of thin air)
    assert [(f.price, f.quantity) for f in h.fills()] == [(D("100.5"), D("0.3"))]
    assert h.balance("USDT") == D(10000) - D("0.3") * D("100.5") * (1 + D("0.001"))
    h.assert_books_agree()


def test_a_resting_bid_fills_when_a_later_quote_offers_through_it() -> None:
    feed: list[MarketData] = [quote(1000, "100", "2", "100.5", "3"), quote(2000, "99", "1", "99.5", "3")]
    h = run(feed, {1000: submit(OrderSide.BUY, "1", "100")})
    # the ask moved to 99.5, through our 100 bid: it trades with us at our price, as a maker
    assert [(f.ts_ns, f.price, f.quantity) for f in h.fills()] == [(2000, D(100), D(1))]
    assert h.balance("USDT") == D(10000) - D(100) * (1 + D("0.0002"))
    h.assert_books_agree()
