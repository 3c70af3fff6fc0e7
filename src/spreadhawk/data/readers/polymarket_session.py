"""A recorded Polymarket market-channel session (the ``polymarket`` ``[[data]]`` format) as records.

The file holds the WebSocket market channel's messages as they were received, one a line (plain or
gzip): a message, a list of messages (the channel sends the first books as one list), or a
recorder's wrapper ``{"received_ms": ..., "message": <message or list>}``. Which tokens they are
about comes from the markets file (Gamma or CLOB payloads, ``markets_file``): every token there is
an instrument (``PolymarketMarket.instruments``; ``base`` = the token id, which every message calls
``asset_id``).

* ``book`` -> ``BookSnapshot``, ``price_change`` (both versions) -> ``BookDeltas``,
  ``last_trade_price`` -> ``TradeTick``, numbered in arrival order per token (Polymarket sends no
  sequence numbers: ``PolymarketSequencer``), so the file must be in the order it was received;
* ``market_resolved`` -> an ``InstrumentSettled`` of each token of that market at the message's
  time (1 to ``winning_asset_id``, 0 to the others); without one, a resolved Gamma market's winner
  settles it at its end;
* ``tick_size_change`` to another tick than the instrument's is an error: prices before and after
  lie on two grids, and one run has one instrument definition (cut the session there);
* ``best_bid_ask``, ``new_market`` and unknown event types carry nothing a book does not, or
  nothing to replay: skipped, as are messages of tokens not in the markets file.

Every error names the file and the line; a last line cut short (no newline, not JSON: a recorder
killed mid-write) ends the session instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import NS_PER_MS, DataFormatError, read_text
from spreadhawk.data.readers.polymarket import (
    PolymarketMarket,
    PolymarketSequencer,
    outcome_tag,
    read_polymarket_book,
    read_polymarket_price_changes,
    read_polymarket_trade,
)
from spreadhawk.data.readers.polymarket_gamma import GammaMarket
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import InstrumentSettled, MarketData

__all__ = ["read_polymarket_session"]

_SKIPPED = frozenset({"best_bid_ask", "new_market"})


def read_polymarket_session(path: Path, markets: Sequence[PolymarketMarket | GammaMarket]) -> list[MarketData]:
    """The records of the session in ``path`` (see the module docstring)."""
    defined = [m.market if isinstance(m, GammaMarket) else m for m in markets]
    by_token = {inst.base: inst for market in defined for inst in market.instruments()}
    tokens_of = {market.condition_id: [inst for inst in market.instruments()] for market in defined}
    sequencer = PolymarketSequencer()
    records: list[MarketData] = []
    resolved: set[str] = set()
    for where, message in _messages(path):
        try:
            records += _records(message, by_token, tokens_of, sequencer, resolved)
        except DataFormatError as exc:
            raise DataFormatError(f"{where}: {str(exc).removeprefix('<payload>: ')}") from None
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise DataFormatError(f"{where}: {detail}") from None
    for market in markets:  # a resolution the stream did not carry, from the markets file
        if isinstance(market, GammaMarket) and market.winner and market.market.condition_id not in resolved:
            end = market.market.end_ns
            if end is not None:
                records += _settle(market.market.instruments(), market.winner, end, by_outcome=True)
    return records


def _messages(path: Path) -> Iterator[tuple[str, Mapping[str, Any]]]:
    text = read_text(path)
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                return  # a recorder killed mid-line (``spreadhawk record``): the lines before it stand
            raise DataFormatError(f"{where}: invalid JSON: {exc}") from None
        if isinstance(payload, Mapping) and "message" in payload and "event_type" not in payload:
            payload = payload["message"]  # a recorder's wrapper
        for message in payload if isinstance(payload, list) else [payload]:
            if not isinstance(message, Mapping):
                raise DataFormatError(f"{where}: expected a message (a JSON object), got {type(message).__name__}")
            yield where, message


def _records(  # noqa: PLR0911 -- one return per message type
    message: Mapping[str, Any],
    by_token: dict[str, Instrument],
    tokens_of: dict[str, list[Instrument]],
    sequencer: PolymarketSequencer,
    resolved: set[str],
) -> list[MarketData]:
    kind = message.get("event_type")
    if kind == "price_change":
        return list(read_polymarket_price_changes(message, by_token.values(), sequencer))
    if kind == "market_resolved":
        market = str(message["market"])
        resolved.add(market)
        ts = int(message["timestamp"]) * NS_PER_MS
        return list(_settle(tokens_of.get(market, []), str(message["winning_asset_id"]), ts, by_outcome=False))
    if kind in _SKIPPED or kind not in ("book", "last_trade_price", "tick_size_change"):
        return []
    inst = by_token.get(str(message["asset_id"]))
    if inst is None:
        return []  # a token the markets file does not define
    if kind == "book":
        return [read_polymarket_book(message, inst, sequencer)]
    if kind == "last_trade_price":
        return [read_polymarket_trade(message, inst)]
    new_tick = Decimal(str(message["new_tick_size"]))
    if new_tick != inst.tick_size:
        raise ValueError(
            f"tick size of {inst.id} changed to {new_tick} (from {inst.tick_size}): "
            "one run has one instrument definition; cut the session here"
        )
    return []


def _settle(tokens: list[Instrument], winner: str, ts_ns: int, *, by_outcome: bool) -> Iterator[InstrumentSettled]:
    """1 to the winning token (its id, or its outcome in the symbol), 0 to the others."""
    outcome = outcome_tag(winner)
    for inst in tokens:
        won = inst.symbol.endswith(f"-{outcome}") if by_outcome else inst.base == winner
        yield InstrumentSettled(inst.id, ts_ns, Decimal(1 if won else 0))
