"""The account of a ``PolymarketVenue``: USDC and the outcome tokens held, what is free of them, and
what a redemption paid.

The CLOB's ``/balance-allowance`` answers the wallet's on-chain balance (6-decimal units), which
includes what our open orders have committed; free is that balance less the open orders' rest (a buy
commits ``rest * price`` USDC, a sell ``rest`` shares).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from py_clob_client.clob_types import AssetType, BalanceAllowanceParams, OpenOrderParams  # type: ignore[import-untyped]

from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance
from spreadhawk.domain.events import SettlementPaid
from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.polymarket.clob import AsyncClob
from spreadhawk.venues.polymarket.orders import MICRO

__all__ = ["COLLATERAL", "account_snapshot", "settlements"]

COLLATERAL = "USDC"

log = logging.getLogger(__name__)


async def _balance(clob: AsyncClob, asset_type: str, token: str | None) -> Decimal:
    params = BalanceAllowanceParams(asset_type=asset_type, token_id=token)
    answer = await clob.call(clob.client.get_balance_allowance, params)
    return Decimal(str(answer["balance"])) / MICRO


async def account_snapshot(clob: AsyncClob, venue: str, tokens: list[str], ts_ns: int) -> AccountSnapshot:
    locked: dict[str, Decimal] = {}
    for row in await clob.call(clob.client.get_orders, OpenOrderParams()):
        rest = Decimal(str(row["original_size"])) - Decimal(str(row["size_matched"]))
        if row["side"] == "BUY":
            locked[COLLATERAL] = locked.get(COLLATERAL, Decimal(0)) + rest * Decimal(str(row["price"]))
        else:
            locked[str(row["asset_id"])] = locked.get(str(row["asset_id"]), Decimal(0)) + rest
    held = {COLLATERAL: await _balance(clob, AssetType.COLLATERAL, None)}
    for token in tokens:
        held[token] = await _balance(clob, AssetType.CONDITIONAL, token)
    balances = tuple(
        AssetBalance(asset, total, total - locked.get(asset, Decimal(0))) for asset, total in sorted(held.items())
    )
    return AccountSnapshot(ts_ns, venue, balances)


def settlements(answer: Any, by_token: Mapping[str, Instrument], ts_ns: int) -> list[SettlementPaid]:
    """A redeem answer (``{"winning_asset_id", "redeemed": [{"asset_id", "size", "payout"}]}``) as one
    ``SettlementPaid`` per token: price 1 for the winning token, 0 for the other."""
    paid = []
    for row in answer.get("redeemed", []):
        instrument = by_token.get(str(row["asset_id"]))
        if instrument is None:
            log.warning("redeemed token %s is not an instrument of this venue", row["asset_id"])
            continue
        size, payout = Decimal(str(row["size"])), Decimal(str(row["payout"]))
        price = Decimal(1) if row["asset_id"] == answer.get("winning_asset_id") else Decimal(0)
        paid.append(SettlementPaid(ts_ns, instrument.id, size, price, payout, instrument.settlement))
    return paid
