"""Polymarket CLOB adapter: the live market feed and the trading venue (``PolymarketVenue``)."""
