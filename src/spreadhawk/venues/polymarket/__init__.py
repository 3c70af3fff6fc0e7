"""Polymarket: the live market-data feed (``feed``) and the CLOB trading venue (``venue.PolymarketVenue``)."""
