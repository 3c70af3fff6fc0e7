"""Risk: pre-trade limits, loss limits and breakers, the kill switch, sizing and portfolio risk (issue #5)."""
