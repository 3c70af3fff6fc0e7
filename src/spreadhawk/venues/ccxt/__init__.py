"""Live exchange adapters through ccxt (market data: ``CcxtLiveFeed``; trading: ``CcxtVenue``)."""

from spreadhawk.venues.ccxt.feed import CcxtLiveFeed, FeedConfigError, FeedCounts
from spreadhawk.venues.ccxt.mapping import BinanceRecords, MappingError, instrument_from_market
from spreadhawk.venues.ccxt.venue import CcxtVenue

__all__ = [
    "BinanceRecords",
    "CcxtLiveFeed",
    "CcxtVenue",
    "FeedConfigError",
    "FeedCounts",
    "MappingError",
    "instrument_from_market",
]
