"""Fee values, worked out by hand from the exchange's rule (notional x rate, notional = quantity x
contract size x price, rounded to 1e-8 half to even), on a perpetual whose contract is 0.1 BTC and on
spot, for a taker and a maker fill (#11: dropping the contract size from the fee, ten times too
much on these perpetuals, left every test green)."""

from __future__ import annotations

from decimal import Decimal

from sim_harness import VENUE, chain, run, snapshot, submit, trade

from spreadhawk.domain.events import Liquidity, OrderSide
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, FundingRate, MarketData, MarkPrice

D = Decimal
PERP = Instrument(VENUE, "BTC-PERP", InstrumentKind.PERPETUAL, "BTC", "USDT", tick_size=D("0.5"), lot_size=D(1),
                  contract_size=D("0.1"), maker_fee=D("0.0002"), taker_fee=D("0.0005"))  # fmt: skip
SPOT = Instrument(VENUE, "ETH/USDT", InstrumentKind.SPOT, "ETH", "USDT", tick_size=D("0.01"), lot_size=D("0.001"),
                  maker_fee=D("0.00075"), taker_fee=D("0.001"))  # fmt: skip


def test_perpetual_fees_count_the_contract_size() -> None:
    book = snapshot(1000, bids=[("100", "50")], asks=[("100.5", "50")], inst=PERP)
    sells_into_our_ask = trade(2000, "101", "4", Aggressor.BUYER, inst=PERP)
    h = run(
        [book, sells_into_our_ask],
        {1000: chain(submit(OrderSide.BUY, "10", inst=PERP), submit(OrderSide.SELL, "4", "101", inst=PERP))},
        instruments=[PERP],
    )
    fees = [(f.liquidity, f.quantity, f.price, f.fee) for f in h.fills()]
    # taker: 10 contracts x 0.1 BTC x 100.5 = 100.5 USDT notional x 0.05 % = 0.05025
    # maker: 4 x 0.1 x 101 = 40.4 USDT x 0.02 % = 0.00808
    assert fees == [(Liquidity.TAKER, D(10), D("100.5"), D("0.05025")), (Liquidity.MAKER, D(4), D(101), D("0.00808"))]
    # the wallet: realized (101 - 100.5) x 4 x 0.1 = 0.2, less both fees
    assert h.balance("USDT") == D(10000) + D("0.2") - D("0.05025") - D("0.00808")
    h.assert_books_agree()


def test_spot_fees_in_the_quote_currency_rounded_half_to_even() -> None:
    book = snapshot(1000, bids=[("1999.99", "5")], asks=[("2000.01", "5")], inst=SPOT)
    h = run([book], {1000: submit(OrderSide.BUY, "0.123", inst=SPOT)}, instruments=[SPOT])
    (fill,) = h.fills()
    # 0.123 x 2000.01 = 246.00123 USDT x 0.1 % = 0.24600123 (exact at 1e-8)
    assert (fill.fee, fill.fee_currency) == (D("0.24600123"), "USDT")
    assert h.balance("USDT") == D(10000) - D("246.00123") - D("0.24600123")
    assert h.balance("ETH") == D("0.123")


def test_funding_is_rounded_as_the_venue_books_it() -> None:
    """Long 3 contracts of 0.1 BTC, mark 27,123.45, rate 0.0123 %: 3 x 0.1 x 27123.45 x 0.000123 =
    1.000855305 USDT, which the venue books to 8 decimals, half to even: 1.00085530 paid by the long."""
    book = snapshot(1000, bids=[("100", "50")], asks=[("100.5", "50")], inst=PERP)
    feed: list[MarketData] = [
        book,
        MarkPrice(PERP.id, 2000, D("27123.45")),
        FundingRate(PERP.id, 8000, D("0.000123"), 8000),
    ]
    h = run(feed, {1000: submit(OrderSide.BUY, "3", inst=PERP)}, instruments=[PERP])
    (paid,) = h.funding_postings()
    assert paid.amount == D("-1.00085530")
    # bought 3 x 0.1 at 100.5 (taker 0.05 %: 0.015075), then the funding
    assert h.balance("USDT") == D(10000) - D("0.015075") - D("1.00085530")
    h.assert_books_agree()
