"""Pure mapping of ccxt's account answers -- balances, positions, funding payments -- to domain records.

Like ``orders``: no I/O, no clock. Where the exchange's own strings are at hand (Binance's ``info``)
they are used, because ccxt's floats may not be exact; otherwise ccxt's unified fields go through
``str`` into ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance, PositionReport
from spreadhawk.domain.events import FundingPaid
from spreadhawk.domain.instruments import Instrument
from spreadhawk.venues.ccxt.orders import OrderMappingError, decimal

__all__ = ["account_snapshot", "funding_paid", "position_reports"]


def _info(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The exchange's own object behind a ccxt structure (empty when there is none)."""
    info = answer.get("info")
    return info if isinstance(info, dict) else {}


def _balances(balance: Mapping[str, Any]) -> tuple[AssetBalance, ...]:
    info = balance.get("info")
    spot = info.get("balances") if isinstance(info, dict) else None
    if isinstance(spot, list):  # Binance spot's own strings
        return tuple(
            AssetBalance(str(b["asset"]), decimal(b["free"]) + decimal(b["locked"]), decimal(b["free"]))
            for b in sorted(spot, key=lambda b: str(b["asset"]))
        )
    assets = info.get("assets") if isinstance(info, dict) else None
    if isinstance(assets, list):  # Binance USD-M: the wallet (what fills, fees and funding moved), and
        # what is free of margin; unrealized PnL is the positions' business, not the balance's
        return tuple(
            AssetBalance(str(a["asset"]), decimal(a["walletBalance"]), decimal(a["availableBalance"]))
            for a in sorted(assets, key=lambda a: str(a["asset"]))
        )
    totals = balance.get("total") or {}
    frees = balance.get("free") or {}
    return tuple(
        AssetBalance(asset, decimal(totals[asset]), decimal(frees.get(asset, 0)))
        for asset in sorted(totals)
        if totals[asset] is not None
    )


def position_reports(
    positions: list[dict[str, Any]], by_symbol: Mapping[str, Instrument]
) -> tuple[PositionReport, ...]:
    """ccxt ``fetch_positions`` as signed positions of the instruments we trade, flat ones left out."""
    reports = []
    for position in positions:
        instrument = by_symbol.get(str(position.get("symbol")))
        if instrument is None:
            continue
        info = _info(position)
        if "positionAmt" in info:  # Binance's signed string
            quantity = decimal(info["positionAmt"])
        else:
            quantity = decimal(position.get("contracts") or 0)
            quantity = -quantity if position.get("side") == "short" else quantity
        if not quantity:
            continue
        entry = info.get("entryPrice", position.get("entryPrice"))
        reports.append(PositionReport(instrument.id, quantity, decimal(entry if entry is not None else 0)))
    return tuple(sorted(reports, key=lambda r: r.instrument_id))


def account_snapshot(
    balance: dict[str, Any], venue: str, ts_ns: int, positions: tuple[PositionReport, ...] = ()
) -> AccountSnapshot:
    """ccxt ``fetch_balance`` (and the positions) as a snapshot, balances sorted by asset."""
    return AccountSnapshot(ts_ns, venue, _balances(balance), positions)


def funding_paid(
    payment: Mapping[str, Any], rate: Mapping[str, Any], instrument: Instrument, ts_ns: int
) -> FundingPaid:
    """One ccxt ``fetch_funding_history`` entry with the ``fetch_funding_rate_history`` entry of the same
    funding time. The payment says only the amount; the held position is what the documented rule
    (amount = -position x mark x rate) leaves, to the instrument's lot: exact, since the exchange rounds
    the amount to 1e-8 and a lot is far coarser than 1e-8 / (mark x rate)."""
    info = _info(payment)
    amount = decimal(info.get("income", payment.get("amount")))
    rate_info = _info(rate)
    funding_rate = decimal(rate_info.get("fundingRate", rate.get("fundingRate")))
    mark = decimal(rate_info.get("markPrice", 0))
    timestamp = payment.get("timestamp")
    if timestamp is None:
        raise OrderMappingError(f"funding payment without a time: {payment!r:.200}")
    position = Decimal(0)
    if funding_rate and mark:
        position = (-amount / (mark * funding_rate)).quantize(instrument.lot_size, ROUND_HALF_EVEN)
    currency = str(payment.get("code") or info.get("asset") or instrument.settlement or instrument.quote)
    return FundingPaid(ts_ns, instrument.id, position, mark, funding_rate, amount, currency, int(timestamp) * 1_000_000)
