"""Polymarket CLOB payloads (REST ``/markets``, ``/book``; market WebSocket ``book``, ``price_change``,
``last_trade_price``, ``tick_size_change``; user-channel ``trade``) as domain records.

Markets: a CLOB market (a *condition*) has two outcome tokens. ``PolymarketMarket.instruments``
gives one BINARY ``Instrument`` per token: symbol ``<market_slug>-<OUTCOME>`` (``...-YES``/``...-NO``
for the usual Yes/No markets, so ``BinaryPairArb`` pairs them as it pairs the simulator's tokens),
``base`` = the token id, which is what the ledger holds and what every payload calls ``asset_id``,
so a reader can check that a payload belongs to the instrument it was given. Tick from
``minimum_tick_size``; lot and book size increment 0.01 share (the CLOB's size precision); quote
USDC; ``expiry_ns`` from ``end_date_iso`` (the scheduled end, not the resolution time, which can
come later). ``minimum_order_size`` is in shares and has no ``Instrument`` field: it stays on
``PolymarketMarket``. Fees: ``maker_base_fee``/``taker_base_fee`` (bps) are mapped to the
instrument's proportional fee; they are 0 on every market in the recordings.

Books: prices are probabilities as decimal strings, sizes shares. The CLOB lists bids ascending
and asks descending (best *last*), in REST and WebSocket alike; the reader sorts best first.

Sequencing: Polymarket sends no sequence numbers (a book carries a ``hash`` of its state, which
this reader does not verify). A ``PolymarketSequencer`` numbers the messages of each asset with a
running counter, so an ``OrderBook`` applies them in arrival order: a snapshot takes the next
number ``n``; a price change takes ``first_sequence = sequence = n`` and ``prev_sequence = n - 1``.
Gaps (a lost WebSocket message) are therefore undetectable from the feed: the counter makes every
received message contiguous. Re-request ``/book`` on reconnect; pass one sequencer to every call
of one stream, as a book and the changes after it must be numbered by the same counter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.analytics.binary_pricing import OutcomeToken
from spreadhawk.data.readers._common import (
    NS_PER_MS,
    NS_PER_SECOND,
    DataFormatError,
    Grid,
    decimal_of,
    decimal_of_float,
    require_file,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, Level, TradeTick

__all__ = [
    "PolymarketMarket",
    "PolymarketSequencer",
    "PolymarketToken",
    "TickSizeChange",
    "read_polymarket_book",
    "read_polymarket_market",
    "read_polymarket_markets",
    "read_polymarket_price_changes",
    "read_polymarket_tick_size_change",
    "read_polymarket_trade",
]

VENUE = "POLYMARKET"
QUOTE = "USDC"
SHARE_STEP = Decimal("0.01")  # CLOB order and book sizes have two decimals
_BPS = Decimal(10_000)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Source = Path | str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolymarketToken:
    outcome: str
    token_id: str


@dataclass(frozen=True, slots=True)
class PolymarketMarket:
    condition_id: str
    question: str
    slug: str
    neg_risk: bool
    neg_risk_market_id: str  # the multi-outcome event; "" when the market stands alone
    tokens: tuple[PolymarketToken, ...]
    tick_size: Decimal
    min_order_size: Decimal  # shares
    end_ns: int | None
    maker_fee: Decimal
    taker_fee: Decimal
    active: bool
    closed: bool

    def instruments(self, venue: str = VENUE) -> list[Instrument]:
        """One BINARY instrument per token that has a token id (closed legacy markets may have none)."""
        return [self._instrument(venue, i, tok) for i, tok in enumerate(self.tokens) if tok.token_id]

    def _instrument(self, venue: str, index: int, token: PolymarketToken) -> Instrument:
        outcome = outcome_tag(token.outcome) or f"OUTCOME{index}"
        return Instrument(
            venue=venue,
            symbol=f"{self.slug or self.condition_id}-{outcome}",
            kind=InstrumentKind.BINARY,
            base=token.token_id,
            quote=QUOTE,
            tick_size=self.tick_size,
            lot_size=SHARE_STEP,
            # orders in 0.01 share, but prints (a market buy of a dollar amount) and balances to the
            # token's 6 on-chain decimals: 8.181817 shares traded at 11:01:20 in the SOL session
            size_increment=Decimal("0.000001"),
            maker_fee=self.maker_fee,
            taker_fee=self.taker_fee,
            expiry_ns=self.end_ns,
        )

    def outcome_tokens(self) -> list[OutcomeToken]:
        """The tokens for the pair / neg-risk guards of ``analytics.binary_pricing``."""
        event = self.neg_risk_market_id if self.neg_risk else ""
        return [OutcomeToken(self.condition_id, tok.token_id, event) for tok in self.tokens]


def outcome_tag(outcome: str) -> str:
    """An outcome as an instrument symbol ends with it: ``"Yes"`` -> ``YES``, ``"Trump wins"`` ->
    ``TRUMP-WINS`` (empty for an outcome with no letter or digit)."""
    return re.sub(r"[^A-Z0-9]+", "-", outcome.upper()).strip("-")


@dataclass(frozen=True, slots=True)
class TickSizeChange:
    """The CLOB changed a token's tick (it does so near 0 and 1). Prices already held as ticks of
    the old size mean something else on the new grid: rebuild the book from a new snapshot."""

    asset_id: str
    ts_ns: int
    old_tick_size: Decimal
    new_tick_size: Decimal

    def apply(self, instrument: Instrument) -> Instrument:
        return replace(instrument, tick_size=self.new_tick_size)


class PolymarketSequencer:
    """Running message counter per instrument (see the module docstring: gaps are undetectable)."""

    def __init__(self) -> None:
        self._last: dict[InstrumentId, int] = {}

    def next(self, iid: InstrumentId) -> int:
        self._last[iid] = number = self._last.get(iid, 0) + 1
        return number


# --------------------------------------------------------------------------- loading
def _load(source: Source) -> tuple[Any, str]:
    """(parsed JSON, label for errors): a path is read, a mapping is taken as the parsed payload."""
    if isinstance(source, Mapping):
        return source, "<payload>"
    path = Path(source)
    require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8")), str(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: invalid JSON: {exc}") from None


def _fail(label: str, exc: Exception) -> DataFormatError:
    detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return DataFormatError(f"{label}: {detail}")


def _object(payload: Any, label: str) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise DataFormatError(f"{label}: expected a JSON object, got {type(payload).__name__}")
    return payload


# --------------------------------------------------------------------------- markets
def read_polymarket_markets(path: Path | str) -> list[PolymarketMarket]:
    """Every market of a CLOB ``/markets`` page (``{"data": [...], "next_cursor": ...}``)."""
    payload, label = _load(path)
    data = _object(payload, label).get("data")
    if not isinstance(data, list):
        raise DataFormatError(f"{label}: missing field 'data' (a list of markets)")
    out = []
    for index, raw in enumerate(data):
        try:
            out.append(_market(raw))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise _fail(f"{label}: data[{index}]", exc) from None
    return out


def read_polymarket_market(source: Source) -> PolymarketMarket:
    """One CLOB market (``/markets/<condition_id>``)."""
    payload, label = _load(source)
    try:
        return _market(_object(payload, label))
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None


def _market(raw: Mapping[str, Any]) -> PolymarketMarket:
    if "conditionId" in raw and "condition_id" not in raw:
        raise ValueError("a Gamma API market (camelCase conditionId), not a CLOB one: read it with read_gamma_markets")
    end = raw.get("end_date_iso")
    tick = _number(raw["minimum_tick_size"], "minimum_tick_size")
    if tick <= 0:
        raise ValueError(f"minimum_tick_size {tick} must be positive")
    return PolymarketMarket(
        condition_id=str(raw["condition_id"]),
        question=str(raw["question"]),
        slug=str(raw.get("market_slug") or ""),
        neg_risk=bool(raw["neg_risk"]),
        neg_risk_market_id=str(raw.get("neg_risk_market_id") or ""),
        tokens=tuple(PolymarketToken(str(t["outcome"]), str(t["token_id"])) for t in raw["tokens"]),
        tick_size=tick,
        min_order_size=_number(raw["minimum_order_size"], "minimum_order_size"),
        end_ns=_iso_ns(str(end)) if end else None,
        maker_fee=_number(raw.get("maker_base_fee", 0), "maker_base_fee") / _BPS,
        taker_fee=_number(raw.get("taker_base_fee", 0), "taker_base_fee") / _BPS,
        active=bool(raw.get("active", True)),
        closed=bool(raw.get("closed", False)),
    )


def _iso_ns(text: str) -> int:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # the CLOB writes UTC; a naive time is read as UTC too
    return (stamp - _EPOCH) // timedelta(microseconds=1) * 1_000


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"field {field!r}: expected a number, got {value!r}")
    return (decimal_of_float(value) if isinstance(value, float) else decimal_of(str(value))).normalize()


# --------------------------------------------------------------------------- books
def read_polymarket_book(
    source: Source, instrument: Instrument, sequencer: PolymarketSequencer | None = None
) -> BookSnapshot:
    """A REST ``/book`` response or WebSocket ``book`` message, best levels first.

    Without a sequencer the snapshot has sequence 0 (a one-off book); see the module docstring.
    """
    payload, label = _load(source)
    try:
        raw = _object(payload, label)
        _check_asset(raw, instrument)
        ticks, units = Grid(instrument.tick_size), Grid(instrument.size_increment)
        bids = sorted(_levels(raw["bids"], ticks, units), reverse=True)
        asks = sorted(_levels(raw["asks"], ticks, units))
        ts = int(raw["timestamp"]) * NS_PER_MS
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None
    sequence = sequencer.next(instrument.id) if sequencer is not None else 0
    return BookSnapshot(
        instrument.id, ts, sequence, tuple(lv for lv in bids if lv[1]), tuple(lv for lv in asks if lv[1])
    )


def read_polymarket_price_changes(
    source: Source, instruments: Iterable[Instrument], sequencer: PolymarketSequencer
) -> list[BookDeltas]:
    """``price_change`` (v1: one level of one asset; v2: ``price_changes`` of several) as one
    ``BookDeltas`` per asset, in first-appearance order. ``BUY`` is the bid side, ``SELL`` the ask
    side; sizes are the level's new absolute size (0 deletes). Assets not in ``instruments`` are skipped.
    """
    payload, label = _load(source)
    by_token = {inst.base: inst for inst in instruments}
    try:
        raw = _object(payload, label)
        if raw.get("event_type") != "price_change":
            raise ValueError(f"field 'event_type': expected 'price_change', got {raw.get('event_type')!r}")
        changes = raw.get("price_changes", [raw])
        ts = int(raw["timestamp"]) * NS_PER_MS
        sides: dict[str, tuple[list[Level], list[Level]]] = {}
        for change in changes:
            inst = by_token.get(str(change["asset_id"]))
            if inst is None:
                continue
            (level,) = _levels([change], Grid(inst.tick_size), Grid(inst.size_increment))
            bids, asks = sides.setdefault(inst.base, ([], []))
            (bids if _side(change["side"]) is Aggressor.BUYER else asks).append(level)
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None
    out = []
    for token, (bids, asks) in sides.items():
        iid = by_token[token].id
        seq = sequencer.next(iid)
        out.append(BookDeltas(iid, ts, seq, seq, seq - 1, tuple(bids), tuple(asks)))
    return out


def _check_asset(raw: Mapping[str, Any], instrument: Instrument) -> None:
    # Applying the other token's book would mirror every price (YES at p is NO at 1 - p): refuse.
    if str(raw["asset_id"]) != instrument.base:
        raise ValueError(f"asset_id {raw['asset_id']} is not the token of {instrument.id} ({instrument.base})")


def _levels(raw: Iterable[Mapping[str, Any]], ticks: Grid, units: Grid) -> list[Level]:
    levels = []
    for level in raw:
        size = units.count(str(level["size"]))
        if size < 0:
            raise ValueError(f"negative size {level['size']}")
        levels.append((ticks.count(str(level["price"])), size))
    return levels


def _side(value: Any) -> Aggressor:
    if value == "BUY":
        return Aggressor.BUYER
    if value == "SELL":
        return Aggressor.SELLER
    raise ValueError(f"field 'side': expected BUY or SELL, got {value!r}")


# --------------------------------------------------------------------------- trades, ticks
def read_polymarket_trade(source: Source, instrument: Instrument) -> TradeTick:
    """A market-channel ``last_trade_price`` or a user-channel ``trade`` message.

    ``last_trade_price.side`` is the taker's side. In a user ``trade`` message ``side`` is the
    user's: it is the aggressor only when ``trader_side`` is ``TAKER`` (else ``UNKNOWN``); its time
    is ``match_time`` in seconds. ``last_trade_price`` has no trade id: ``<asset>-<timestamp ms>``.
    """
    payload, label = _load(source)
    try:
        raw = _object(payload, label)
        _check_asset(raw, instrument)
        side = _side(raw["side"])
        if raw.get("event_type") == "last_trade_price":
            ts, trade_id = int(raw["timestamp"]) * NS_PER_MS, f"{raw['asset_id']}-{raw['timestamp']}"
        else:
            ts, trade_id = int(raw["match_time"]) * NS_PER_SECOND, str(raw["id"])
            side = side if raw.get("trader_side") == "TAKER" else Aggressor.UNKNOWN
        price = Grid(instrument.tick_size).count(str(raw["price"]))
        size = Grid(instrument.size_increment).count(str(raw["size"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None
    return TradeTick(instrument.id, ts, price, size, side, trade_id)


def read_polymarket_tick_size_change(source: Source) -> TickSizeChange:
    payload, label = _load(source)
    try:
        raw = _object(payload, label)
        return TickSizeChange(
            asset_id=str(raw["asset_id"]),
            ts_ns=int(raw["timestamp"]) * NS_PER_MS,
            old_tick_size=_number(raw["old_tick_size"], "old_tick_size"),
            new_tick_size=_number(raw["new_tick_size"], "new_tick_size"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(label, exc) from None
