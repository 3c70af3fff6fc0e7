"""Polymarket Gamma API payloads (``/markets``, ``/events``, ``/public-search``) as ``PolymarketMarket``.

Gamma is where markets are discovered (the CLOB's ``/markets`` pages are the trading view); its
objects differ from the CLOB's and every optional field may be missing:

* camelCase names; ``clobTokenIds``, ``outcomes`` and ``outcomePrices`` are JSON lists written as
  strings (``'["Up", "Down"]'``), sometimes as real lists;
* a payload is a market, a list of markets, an event (its ``markets``), a list of events, a search
  answer (``{"events": [...]}``, ``{"markets": [...]}``), or a file of JSON lines of any of these (a
  recorder's file; a line that wraps the Gamma object in a ``raw`` field is read from it);
* ``orderPriceMinTickSize`` and ``orderMinSize`` are absent on some markets: the CLOB's default tick
  (0.01) and no known minimum (0) are used, and the market says so (``tick_from_default``);
* fees: the 2026 crypto markets carry ``feeSchedule = {"rate", "exponent", "takerOnly"}``, a taker
  fee of ``shares x rate x (p (1 - p))^exponent`` (``makerBaseFee``/``takerBaseFee`` of 1000 there
  are not a 10 % rate). An ``Instrument`` fee is proportional to the notional, so the instrument gets
  the curve's *highest* proportional rate, ``rate`` (reached as p -> 0): costs are overstated, never
  understated, until the venue charges the curve itself. The schedule is kept on the market.
* a resolved market's ``outcomePrices`` (``["1", "0"]``) names the winner (``winner``).

An object without ``conditionId`` is not a market: an error naming the file, the line (JSON lines)
and the path to the object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import DataFormatError, read_text
from spreadhawk.data.readers.polymarket import (
    PolymarketMarket,
    PolymarketToken,
    _iso_ns,
    _number,
)

__all__ = ["GammaMarket", "read_gamma_markets"]

DEFAULT_TICK = Decimal("0.01")  # the CLOB's tick for a market that does not state one


@dataclass(frozen=True, slots=True)
class GammaMarket:
    """A Gamma market: the trading definition, and what Gamma adds to it."""

    market: PolymarketMarket
    start_ns: int | None  # eventStartTime (an up/down window's start), else startDate
    fee_rate: Decimal  # feeSchedule.rate: the taker fee curve's coefficient (0: no fee)
    fee_exponent: Decimal
    taker_only: bool
    winner: str | None  # the outcome that paid 1, once resolved
    tick_from_default: bool
    resolution_source: str


def read_gamma_markets(path: Path | str) -> list[GammaMarket]:
    """Every market of a Gamma payload file (see the module docstring for the shapes read)."""
    path = Path(path)
    text = read_text(path)
    out: list[GammaMarket] = []
    for label, payload in _payloads(text, str(path)):
        for where, raw in _markets(payload, label):
            try:
                out.append(_gamma_market(raw))
            except (KeyError, TypeError, ValueError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                raise DataFormatError(f"{where}: {detail}") from None
    return out


def _payloads(text: str, label: str) -> Iterator[tuple[str, Any]]:
    try:
        yield label, json.loads(text)
        return
    except json.JSONDecodeError:
        pass  # JSON lines, one payload a line
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{label}: line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{label}: line {number}: invalid JSON: {exc}") from None


def _markets(payload: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if isinstance(payload, list):
        for index, item in enumerate(payload):
            yield from _markets(item, f"{where}: [{index}]")
        return
    if not isinstance(payload, Mapping):
        raise DataFormatError(f"{where}: expected a JSON object or list, got {type(payload).__name__}")
    if isinstance(payload.get("raw"), Mapping) and "conditionId" not in payload:
        yield from _markets(payload["raw"], f"{where}: raw")  # a recorder's wrapper
    elif "conditionId" in payload:
        yield where, payload
    elif isinstance(payload.get("markets"), list):  # an event, or a search answer's markets
        yield from _markets(payload["markets"], f"{where}: markets")
        for index, event in enumerate(payload.get("events") or []):
            yield from _markets(event, f"{where}: events[{index}]")
    elif isinstance(payload.get("events"), list):  # a search answer
        yield from _markets(payload["events"], f"{where}: events")
    else:
        raise DataFormatError(
            f"{where}: not a Gamma market, event or search answer (no conditionId, markets or events)"
        )


def _gamma_market(raw: Mapping[str, Any]) -> GammaMarket:
    outcomes = _json_list(raw.get("outcomes"), "outcomes")
    token_ids = _json_list(raw.get("clobTokenIds"), "clobTokenIds")
    if token_ids and len(token_ids) != len(outcomes):
        raise ValueError(f"{len(token_ids)} clobTokenIds for {len(outcomes)} outcomes")
    tick_raw = raw.get("orderPriceMinTickSize")
    tick = _number(tick_raw, "orderPriceMinTickSize") if tick_raw is not None else DEFAULT_TICK
    if tick <= 0:
        raise ValueError(f"orderPriceMinTickSize {tick} must be positive")
    schedule = raw.get("feeSchedule") if raw.get("feesEnabled", True) else None
    rate, exponent, taker_only = Decimal(0), Decimal(1), True
    if isinstance(schedule, Mapping):
        rate = _number(schedule.get("rate", 0), "feeSchedule.rate")
        exponent = _number(schedule.get("exponent", 1), "feeSchedule.exponent")
        taker_only = bool(schedule.get("takerOnly", True))
        if rate < 0 or exponent < 0:
            raise ValueError(f"feeSchedule {dict(schedule)}: rate and exponent must not be negative")
    end = raw.get("endDate") or raw.get("endDateIso")
    start = raw.get("eventStartTime") or raw.get("startDate")
    market = PolymarketMarket(
        condition_id=str(raw["conditionId"]),
        question=str(raw.get("question") or ""),
        slug=str(raw.get("slug") or ""),
        neg_risk=bool(raw.get("negRisk", False)),
        neg_risk_market_id=str(raw.get("negRiskMarketID") or ""),
        tokens=tuple(
            PolymarketToken(str(outcome), str(token_ids[i]) if token_ids else "") for i, outcome in enumerate(outcomes)
        ),
        tick_size=tick,
        min_order_size=_number(raw.get("orderMinSize", 0), "orderMinSize"),
        end_ns=_iso_ns(str(end)) if end else None,
        maker_fee=Decimal(0) if taker_only else rate,
        taker_fee=rate,  # the curve's highest proportional rate (module docstring)
        active=bool(raw.get("active", True)),
        closed=bool(raw.get("closed", False)),
    )
    return GammaMarket(
        market=market,
        start_ns=_iso_ns(str(start)) if start else None,
        fee_rate=rate,
        fee_exponent=exponent,
        taker_only=taker_only,
        winner=_winner(outcomes, raw.get("outcomePrices"), raw),
        tick_from_default=tick_raw is None,
        resolution_source=str(raw.get("resolutionSource") or ""),
    )


def _winner(outcomes: list[Any], prices_raw: Any, raw: Mapping[str, Any]) -> str | None:
    """The outcome priced 1 once the market is resolved (``umaResolutionStatus`` or closed)."""
    resolved = raw.get("umaResolutionStatus") == "resolved" or bool(raw.get("closed"))
    prices = _json_list(prices_raw, "outcomePrices")
    if not resolved or len(prices) != len(outcomes):
        return None
    paid = [
        str(outcome) for outcome, price in zip(outcomes, prices, strict=True) if _number(price, "outcomePrices") == 1
    ]
    return paid[0] if len(paid) == 1 else None


def _json_list(value: Any, field: str) -> list[Any]:
    """A Gamma list field: a real list, a JSON list written as a string, or absent (empty)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(f"field {field!r}: not a JSON list: {value[:80]!r}") from None
    if not isinstance(value, list):
        raise ValueError(f"field {field!r}: expected a list, got {type(value).__name__}")
    return value
