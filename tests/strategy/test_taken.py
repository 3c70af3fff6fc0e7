"""TakenLiquidity: what our fills took stays subtracted, per side, until the venue republishes the level."""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.strategy.taken import TakenLiquidity

D = Decimal
INST = Instrument(
    venue="A",
    symbol="BTC/USDT",
    kind=InstrumentKind.SPOT,
    base="BTC",
    quote="USDT",
    tick_size=D("0.01"),
    lot_size=D("0.01"),
    size_increment=D("0.01"),
)
ASK, BID = BookSide.ASK, BookSide.BID


def _book(ts: int = 10) -> OrderBook:
    book = OrderBook(INST.id)
    book.apply_snapshot(BookSnapshot(INST.id, ts, 1, ((9_990, 300), (9_980, 500)), ((10_010, 200), (10_020, 400))))
    return book


def _fill(side: OrderSide, price: str, qty: str, ts: int = 10) -> OrderFilled:
    return OrderFilled(
        ts, ClientOrderId("c1"), "v1", "t1", INST.id, side, D(qty), D(price), D(0), "USDT", Liquidity.TAKER
    )


def _deltas(
    book: OrderBook, bids: tuple[tuple[int, int], ...] = (), asks: tuple[tuple[int, int], ...] = ()
) -> BookDeltas:
    deltas = BookDeltas(INST.id, book.ts_ns + 1, book.sequence + 1, book.sequence + 1, book.sequence, bids, asks)
    book.apply_deltas(deltas)
    return deltas


def test_a_buy_takes_from_the_asks_only_and_an_emptied_level_is_left_out() -> None:
    book, taken = _book(), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.BUY, "100.10", "2"), INST, book)  # all of the best ask
    assert taken.levels(book, ASK) == [(10_020, 400)]
    assert taken.best(book, ASK, 10) == (10_020, 400)
    assert taken.levels(book, BID) == book.levels(BID)
    assert taken.left(INST.id, ASK, (10_010, 200)) == 0
    assert taken.left(INST.id, BID, (10_010, 200)) == 200  # the same price on the other side: untouched


def test_a_sell_takes_from_the_bids() -> None:
    book, taken = _book(), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.SELL, "99.90", "1"), INST, book)
    assert taken.levels(book, BID, 1) == [(9_990, 200)]
    assert taken.levels(book, ASK) == book.levels(ASK)


def test_deltas_restore_only_the_levels_they_list_on_their_side() -> None:
    book, taken = _book(), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.BUY, "100.10", "1"), INST, book)
    taken.on_fill(_fill(OrderSide.BUY, "100.20", "1"), INST, book)
    taken.on_book(_deltas(book, bids=((10_010 - 30, 100),)))  # a bid level: the asks stay as they were
    assert taken.levels(book, ASK) == [(10_010, 100), (10_020, 300)]
    taken.on_book(_deltas(book, asks=((10_010, 150),)))  # the venue republished 100.10: nothing of ours there
    assert taken.levels(book, ASK) == [(10_010, 150), (10_020, 300)]


def test_a_snapshot_restores_everything() -> None:
    book, taken = _book(), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.BUY, "100.10", "1"), INST, book)
    taken.on_fill(_fill(OrderSide.SELL, "99.90", "1"), INST, book)
    snapshot = BookSnapshot(INST.id, 20, 2, ((9_990, 300),), ((10_010, 200),))
    book.apply_snapshot(snapshot)
    taken.on_book(snapshot)
    assert (taken.levels(book, ASK), taken.levels(book, BID)) == ([(10_010, 200)], [(9_990, 300)])


def test_a_fill_older_than_the_book_is_already_in_it() -> None:
    book, taken = _book(ts=10), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.BUY, "100.10", "1", ts=9), INST, book)
    assert taken.levels(book, ASK) == book.levels(ASK)


def test_forget_drops_both_sides() -> None:
    book, taken = _book(), TakenLiquidity()
    taken.on_fill(_fill(OrderSide.BUY, "100.10", "2"), INST, book)
    taken.forget(INST.id)
    assert taken.best(book, ASK, 10) == (10_010, 200)
