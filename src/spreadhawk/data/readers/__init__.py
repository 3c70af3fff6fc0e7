"""Readers that turn the real recordings (``shared/data``) into domain market-data records.

Every reader takes the ``Instrument`` the file belongs to, converts book prices and sizes to exact
integer tick/size-unit counts (rejecting values off the instrument's grid) and raises
``DataFormatError`` naming the file and the line or row when a file cannot be read.
"""

from __future__ import annotations

from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.cryptofeed import iter_poloniex_books, read_binance_exchange_info, read_poloniex_markets
from spreadhawk.data.readers.freqtrade import (
    read_freqtrade_funding,
    read_freqtrade_mark,
    read_freqtrade_ohlcv,
    read_freqtrade_trades,
)
from spreadhawk.data.readers.hftbacktest import iter_hftbacktest, read_hftbacktest
from spreadhawk.data.readers.lean import read_lean_quotes, read_lean_trade_bars
from spreadhawk.data.readers.link_books import read_link_books
from spreadhawk.data.readers.polymarket import (
    PolymarketSequencer,
    read_polymarket_book,
    read_polymarket_market,
    read_polymarket_markets,
    read_polymarket_price_changes,
    read_polymarket_trade,
)

__all__ = [
    "DataFormatError",
    "PolymarketSequencer",
    "iter_hftbacktest",
    "iter_poloniex_books",
    "read_binance_exchange_info",
    "read_freqtrade_funding",
    "read_freqtrade_mark",
    "read_freqtrade_ohlcv",
    "read_freqtrade_trades",
    "read_hftbacktest",
    "read_lean_quotes",
    "read_lean_trade_bars",
    "read_link_books",
    "read_poloniex_markets",
    "read_polymarket_book",
    "read_polymarket_market",
    "read_polymarket_markets",
    "read_polymarket_price_changes",
    "read_polymarket_trade",
]
