"""The book on the real Binance captures: it syncs from the REST snapshot and never loses sequence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from spreadhawk.data.readers import iter_hftbacktest
from spreadhawk.data.readers.instruments import (
    binance_spot_btcusdt,
    binance_spot_ethusdt,
    binance_usdm_btcusdt,
    binance_usdm_ethusdt,
)
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSnapshot, QuoteTick
from spreadhawk.domain.orderbook import OrderBook

CAPTURES: list[tuple[tuple[str, ...], Callable[[], Instrument]]] = [
    (("binance_spot/btcusdt_20240808.gz",), binance_spot_btcusdt),
    (("binance_spot/ethusdt_20240808.gz",), binance_spot_ethusdt),
    (("binance_usdm_futures/btcusdt_20240808.gz",), binance_usdm_btcusdt),
    (("binance_usdm_futures/ethusdt_20240808.gz",), binance_usdm_ethusdt),
    (
        ("binance_usdm_futures/btcusdt_20230404.dat.gz", "binance_usdm_futures/btcusdt_20230405.dat.gz"),
        binance_usdm_btcusdt,
    ),
]


@pytest.mark.parametrize(("files", "make"), CAPTURES, ids=[c[0][0] for c in CAPTURES])
def test_book_syncs_and_never_gaps_on_real_capture(
    shared_data: Path, files: tuple[str, ...], make: Callable[[], Instrument]
) -> None:
    inst = make()
    book = OrderBook(inst.id)
    applied = gaps = crossed_updates = 0
    last_quote: QuoteTick | None = None
    synced = False
    for record in iter_hftbacktest([shared_data / "hftbacktest" / f for f in files], inst):
        if isinstance(record, BookSnapshot):
            book.apply_snapshot(record)
            synced = True
        elif isinstance(record, BookDeltas):
            applied += book.apply_deltas(record)
            if synced and book.invalid_reason and book.invalid_reason.startswith("sequence gap"):
                gaps += 1
            crossed_updates += not book.is_valid
        elif isinstance(record, QuoteTick):
            last_quote = record
    assert synced
    assert gaps == 0
    assert applied > 1000
    assert book.is_valid, book.invalid_reason
    best_bid, best_ask = book.best_bid(), book.best_ask()
    assert best_bid is not None
    assert best_ask is not None
    assert best_bid[0] < best_ask[0]
    # The depth stream and the faster bookTicker stream agree on where the market is (within 0.1 %).
    assert last_quote is not None
    assert abs(best_bid[0] - last_quote.bid) <= best_bid[0] // 1000
    assert crossed_updates < applied // 100  # transient crossings are rare
