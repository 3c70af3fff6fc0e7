"""Polymarket: the live market-data feed (``feed``) and the CLOB adapter."""
