"""A losing streak counts a strategy's whole book from flat to flat, not each instrument alone.

A hedged trade loses on one leg and wins on the other by construction; judged leg by leg, every
winning maker-taker or spot-perp trade would count a loss (the demo's maker strategy was paused
after three winning trades before this rule).
"""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.risk.breakers import LosingStreaks

D = Decimal
MAKER, HEDGE = InstrumentId("BETA:BTC/USDT"), InstrumentId("ALPHA:BTC/USDT")
_ids = count()


def fill(iid: InstrumentId, side: OrderSide, price: str, fee: str = "0") -> OrderFilled:
    n = next(_ids)
    return OrderFilled(
        n, ClientOrderId(f"o{n}"), f"v{n}", f"t{n}", iid, side, D(1), D(price), D(fee), "USDT", Liquidity.TAKER
    )


def trade(streaks: LosingStreaks, maker_in: str, hedge_in: str, maker_out: str, hedge_out: str) -> list[object]:
    """Long 1 on the maker venue hedged short on the other, then both closed."""
    return [
        streaks.on_fill("s", fill(MAKER, OrderSide.BUY, maker_in), D(1)),
        streaks.on_fill("s", fill(HEDGE, OrderSide.SELL, hedge_in), D(1)),
        streaks.on_fill("s", fill(MAKER, OrderSide.SELL, maker_out), D(1)),
        streaks.on_fill("s", fill(HEDGE, OrderSide.BUY, hedge_out), D(1)),
    ]


def test_a_hedged_trade_is_judged_with_its_hedge() -> None:
    streaks = LosingStreaks()
    # The maker leg loses 5, the hedge wins 8: a winning trade, closed when the book is flat.
    assert trade(streaks, "100", "103", "95", "95") == [None, None, None, D(3)]
    assert streaks.streak["s"] == 0


def test_hedged_trades_that_lose_overall_count_once_each() -> None:
    streaks = LosingStreaks()
    for n in range(1, 4):
        closed = trade(streaks, "100", "101", "99", "101")  # maker -1, hedge 0
        assert closed[-1] == D(-1)
        assert streaks.streak["s"] == n


def test_a_single_instrument_strategy_still_closes_a_trip_on_a_flip() -> None:
    streaks = LosingStreaks()
    streaks.on_fill("s", fill(MAKER, OrderSide.BUY, "100"), D(1))
    flip = OrderFilled(
        99, ClientOrderId("flip"), "v", "tflip", MAKER, OrderSide.SELL, D(2), D(98), D(0), "USDT", Liquidity.TAKER
    )
    assert streaks.on_fill("s", flip, D(1)) == D(-2)
    assert streaks.streak["s"] == 1
