"""Polymarket's taker fee: what the emulator charges and what the adapter reports on a fill.

Polymarket charges the taker only (makers pay nothing): ``fee = shares * rate * p * (1 - p)`` in USDC,
``p`` the fill price and ``rate`` the market's fee rate (``/fee-rate`` answers it in basis points as
``base_fee``; crypto up/down markets have one, most others 0). The curve peaks at p = 0.5 and vanishes
at the extremes. The fee is floored to 5 decimals (USDC's 6, less one: how the venue books it).
Sources: docs.polymarket.com/trading/fees, read through the project's ``search`` tool (2026).

Polymarket takes a buyer's fee in shares on chain; the emulator debits it in USDC on both sides so
that the fee reported on a fill is one number in one currency (documented simplification).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

__all__ = ["FEE_PRECISION", "taker_fee"]

FEE_PRECISION = Decimal("0.00001")
_BPS = Decimal(10_000)


def taker_fee(shares: Decimal, price: Decimal, fee_rate_bps: int) -> Decimal:
    """The USDC fee a taker pays for ``shares`` filled at ``price``."""
    rate = Decimal(fee_rate_bps) / _BPS
    return (shares * rate * price * (1 - price)).quantize(FEE_PRECISION, rounding=ROUND_DOWN)
