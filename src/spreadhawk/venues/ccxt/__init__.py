"""Live exchange adapters through ccxt (market data: ``CcxtLiveFeed``)."""

from spreadhawk.venues.ccxt.feed import CcxtLiveFeed, FeedConfigError, FeedCounts
from spreadhawk.venues.ccxt.mapping import BinanceRecords, MappingError, instrument_from_market

__all__ = ["BinanceRecords", "CcxtLiveFeed", "FeedConfigError", "FeedCounts", "MappingError", "instrument_from_market"]
