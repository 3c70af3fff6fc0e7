"""Polymarket in paper and live trading: the markets a ``[[live]]`` section names, as instruments,
and the market-channel feed of their tokens.

A Polymarket ``[[live]]`` section names markets (``markets = ["sol-updown-15m-1765450800"]``, slugs
or condition ids), or tokens declared in ``[[instruments]]`` (base = the token id). A market's token
ids are the CLOB's, known only by asking it. So
the node asks the CLOB's ``/markets`` (the local emulator's at ``host``, else
https://clob.polymarket.com) once as it is built, and each market's tokens become BINARY instruments
(``PolymarketMarket.instruments``: ``POLYMARKET:<slug>-UP`` ...). The answer of a restart is the
same for the same markets, so a journal written by one session restores in the next.

Markets that roll (a new 15-minute market every 15 minutes) are not followed: a session trades the
markets it was started with. Following the roll needs instruments added to a running engine.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.polymarket import PolymarketMarket, read_polymarket_market
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.runtime.config import ConfigError, LiveFeedSection, RunConfig
from spreadhawk.runtime.sources import build_instruments

__all__ = ["EXCHANGE", "LIVE_REST_URL", "live_instruments", "polymarket_feed", "section_instruments"]

EXCHANGE = "polymarket"
LIVE_REST_URL = "https://clob.polymarket.com"
_PAGES = 200  # /markets pages read at most while looking for slugs (the live CLOB lists thousands)
_TIMEOUT_S = 10.0
_END_CURSOR = "LTE="  # the CLOB's next_cursor after the last page

# (rest url, markets named) -> the markets' instruments: asked once a process (a restarted node in the
# same process, as the tests run it, must see the very same definitions)
_DISCOVERED: dict[tuple[str, str, tuple[str, ...]], list[Instrument]] = {}


def live_instruments(config: RunConfig) -> dict[InstrumentId, Instrument]:
    """The ``[[instruments]]`` and the tokens of every Polymarket ``[[live]]`` section's markets."""
    instruments = build_instruments(config)
    for index, section in enumerate(config.live):
        if section.exchange != EXCHANGE:
            continue
        for inst in section_instruments(section, index):
            if inst.id in instruments:
                raise ConfigError(f"live.{index}.markets: {inst.id} is also declared in [[instruments]]")
            instruments[inst.id] = inst
    return instruments


def section_instruments(section: LiveFeedSection, index: int) -> list[Instrument]:
    """The tokens of the section's markets, as the CLOB lists them (errors name the section)."""
    if not section.markets:
        return []  # its tokens are declared in [[instruments]]
    rest = _rest_url(section)
    key = (rest, section.venue, tuple(section.markets))
    if key not in _DISCOVERED:
        try:
            markets = _find(rest, section.markets)
        except (OSError, ValueError, DataFormatError) as exc:
            raise ConfigError(f"live.{index}: cannot read the markets from {rest}: {exc}") from None
        _DISCOVERED[key] = [inst for market in markets for inst in market.instruments(section.venue)]
    return list(_DISCOVERED[key])


def polymarket_feed(
    section: LiveFeedSection, index: int, instruments: dict[InstrumentId, Instrument], seed: int
) -> Any:
    """The market-channel feed of the section's tokens (the local emulator's when ``host`` is set)."""
    from spreadhawk.venues.polymarket.feed import FeedConfigError, PolymarketLiveFeed  # noqa: PLC0415

    declared = [instruments[InstrumentId(iid)] for iid in section.instruments]  # checked by the caller
    tokens = [instruments[inst.id] for inst in section_instruments(section, index)] + declared
    try:
        return PolymarketLiveFeed(tokens, ws_url=_ws_url(section), staleness_s=section.staleness_s, seed=seed)
    except FeedConfigError as exc:
        raise ConfigError(f"live.{index}: {exc}") from None


def _rest_url(section: LiveFeedSection) -> str:
    return section.host.rstrip("/") if section.host else LIVE_REST_URL


def _ws_url(section: LiveFeedSection) -> str:
    from spreadhawk.venues.polymarket.feed import LIVE_WS_URL  # noqa: PLC0415

    if not section.host:
        return LIVE_WS_URL
    parts = urllib.parse.urlsplit(section.host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urllib.parse.urlunsplit((scheme, parts.netloc, "/ws/market", "", ""))


def _find(rest: str, wanted: Sequence[str]) -> list[PolymarketMarket]:
    """The markets named by slug or condition id, in the order asked; a name not listed is an error."""
    found: dict[str, PolymarketMarket] = {}
    cursor = ""
    for _ in range(_PAGES):
        query = f"?next_cursor={urllib.parse.quote(cursor)}" if cursor else ""
        page = _get_json(f"{rest}/markets{query}")
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise ValueError("/markets did not answer a page of markets ({'data': [...], 'next_cursor': ...})")
        for raw in page["data"]:
            market = read_polymarket_market(raw)
            for name in (market.slug, market.condition_id):
                if name in wanted:
                    found[name] = market
        cursor = str(page.get("next_cursor") or "")
        if all(name in found for name in wanted) or cursor in ("", _END_CURSOR):
            break
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ValueError(f"market {missing[0]} is not listed")
    return [found[name] for name in wanted]


def _get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise ValueError(f"GET {url} answered {exc.code}") from None
    except json.JSONDecodeError:
        raise ValueError(f"GET {url} did not answer JSON") from None
