"""Polymarket's crypto "Up or Down" markets found among Gamma markets (#12 item 2, market discovery).

Every 5, 15 or 60 minutes a new market opens on whether an asset ends its window at or above the
price it started at: outcomes ``Up`` and ``Down``, the window from ``eventStartTime`` to ``endDate``,
settled on ``resolutionSource`` (Chainlink Data Streams for the crypto markets: the strike is that
feed's price at the window's start, the outcome its price at the end). Each market is listed about
a day before its window and trades from then on; its strike is known only once the window starts.

``updown_chain`` picks one asset's markets of one length out of any Gamma payload and orders them
into the chain that rolls from window to window; ``UpDownChain.at(now)`` is the market whose window
holds ``now`` and ``upcoming(now)`` those listed but not started. ``updown_winner`` settles a window
from a reference price series the way the market does (Up iff the price at the end is at or above
the price at the start). The asset comes from the slug
(``btc-updown-5m-<start>``) or, for slugs without it (the hourly ``bitcoin-up-or-down-...-6am-et``),
from the question's first word.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from spreadhawk.data.readers.polymarket_gamma import GammaMarket
from spreadhawk.domain.instruments import Instrument

__all__ = ["UpDownChain", "UpDownMarket", "updown_chain", "updown_winner"]

NS_PER_MIN = 60 * 1_000_000_000
_SLUG = re.compile(r"^(?P<asset>[a-z0-9]+)-updown-(?P<length>\d+)(?P<unit>[mh])-(?P<start>\d+)$")
_NAMES = {"bitcoin": "btc", "ethereum": "eth", "solana": "sol", "xrp": "xrp", "dogecoin": "doge", "bnb": "bnb"}


@dataclass(frozen=True, slots=True)
class UpDownMarket:
    asset: str  # lower case, as in the slug: "btc"
    start_ns: int  # the window: the strike is the reference price here ...
    end_ns: int  # ... the outcome the reference price here
    gamma: GammaMarket

    @property
    def minutes(self) -> int:
        return (self.end_ns - self.start_ns) // NS_PER_MIN

    def instruments(self) -> tuple[Instrument, Instrument]:
        """The Up and Down tokens, as BINARY instruments expiring at the window's end."""
        found = {inst.symbol.rsplit("-", 1)[-1]: inst for inst in self.gamma.market.instruments()}
        if set(found) != {"UP", "DOWN"}:  # instruments() leaves out tokens without an id
            raise ValueError(f"{self.gamma.market.slug}: expected Up and Down tokens with ids, got {sorted(found)}")
        return found["UP"], found["DOWN"]


@dataclass(frozen=True, slots=True)
class UpDownChain:
    """One asset's up/down markets of one length, in window order."""

    asset: str
    minutes: int
    markets: tuple[UpDownMarket, ...]

    def at(self, now_ns: int) -> UpDownMarket | None:
        """The market whose window holds ``now_ns`` (start inclusive, end exclusive), if listed."""
        index = bisect_right([m.start_ns for m in self.markets], now_ns) - 1
        if index >= 0 and now_ns < self.markets[index].end_ns:
            return self.markets[index]
        return None

    def upcoming(self, now_ns: int) -> list[UpDownMarket]:
        """Markets listed whose window has not started: tradable, strike not yet known."""
        return [m for m in self.markets if m.start_ns > now_ns]

    def gaps(self) -> list[tuple[int, int]]:
        """(end, next start) wherever a window does not start when the previous one ends."""
        pairs = zip(self.markets, self.markets[1:], strict=False)
        return [(a.end_ns, b.start_ns) for a, b in pairs if a.end_ns != b.start_ns]


def updown_chain(markets: Iterable[GammaMarket], asset: str, minutes: int) -> UpDownChain:
    """The up/down markets of ``asset`` (``"btc"``, any case) over ``minutes``-long windows, in order;
    raises ValueError when two listed markets claim the same window."""
    wanted = asset.lower()
    found: dict[int, UpDownMarket] = {}
    for gamma in markets:
        market = _updown(gamma)
        if market is None or market.asset != wanted or market.minutes != minutes:
            continue
        other = found.get(market.start_ns)
        if other is not None and other.gamma.market.condition_id != gamma.market.condition_id:
            raise ValueError(
                f"{other.gamma.market.slug} and {gamma.market.slug} both claim the window at {market.start_ns}"
            )
        found[market.start_ns] = market
    return UpDownChain(wanted, minutes, tuple(found[start] for start in sorted(found)))


def updown_winner(
    start_ns: int, end_ns: int, prices: Sequence[tuple[int, Decimal]], max_age_ns: int = 60 * 1_000_000_000
) -> str | None:
    """``"Up"`` or ``"Down"`` as the reference settles a window: its price at the end (the last at or
    before it) against its price at the start (the strike), Up on a tie; None when the reference has
    no price within ``max_age_ns`` of either (``prices``: (time, price), in time order)."""
    times = [ts for ts, _ in prices]

    def at(ts: int) -> Decimal | None:
        index = bisect_right(times, ts) - 1
        return prices[index][1] if index >= 0 and ts - times[index] <= max_age_ns else None

    strike, final = at(start_ns), at(end_ns)
    if strike is None or final is None:
        return None
    return "Up" if final >= strike else "Down"


def _updown(gamma: GammaMarket) -> UpDownMarket | None:
    market = gamma.market
    outcomes = sorted(token.outcome.upper() for token in market.tokens)
    if outcomes != ["DOWN", "UP"] or gamma.start_ns is None or market.end_ns is None:
        return None
    if market.end_ns <= gamma.start_ns:
        return None
    match = _SLUG.match(market.slug)
    if match is not None:
        if int(match["start"]) * 1_000_000_000 != gamma.start_ns:
            raise ValueError(f"{market.slug}: the slug's start is not eventStartTime ({gamma.start_ns} ns)")
        asset = match["asset"]
    else:
        first = market.question.split(" ", 1)[0].lower() if market.question else ""
        asset = _NAMES.get(first, first)
    return UpDownMarket(asset, gamma.start_ns, market.end_ns, gamma) if asset else None
