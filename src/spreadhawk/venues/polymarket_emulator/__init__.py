"""A local Polymarket CLOB exchange for tests: market data replay and the trading endpoints."""
