"""Guards against false arbitrage on binary (YES/NO) markets, shared by every binary strategy.

A price difference between prediction-market books is an opportunity only if it survives four
checks, each a pure function returning the reason to refuse (a short string counted as a skip) or
``None``:

* ``stale_books``: a book that stopped updating shows yesterday's price. If either leg's book is
  older than ``max_age_ns``, the "gap" may be the other leg having moved while this one is frozen
  (a disconnected feed, a halted market): no trade.
* ``near_expiry``: in the last seconds before expiry a leg may reach the venue after the market
  closed, and the outcome is all but known, so prices jump to 0 or 1: no entries.
* ``neg_risk_refusal``: YES + NO of one market pay exactly 1 together. Tokens of *different* markets
  of one negative-risk (multi-outcome) event do not (``analytics.binary_pricing``: the basket pays
  n - 1 or n, or 1 only if a listed outcome wins). The instrument model carries no neg-risk flag, so
  the flag comes from the venue's market metadata (``PolymarketMarket.outcome_tokens``). A basket
  across markets is always refused; a pair on a single neg-risk market is refused too unless the
  caller allows it: its YES + NO still pay 1, but an augmented neg-risk event can add or clarify
  outcomes ("Other") after listing, and the NO of a neg-risk market is convertible into YES of the
  others, so its book is arbitraged against the whole event rather than against its own YES. We
  keep the conservative default.
* per-side fees: ``cost_with_fees`` charges each token's own taker fee on its own price (the
  simulated venue's model, ``fee x price x quantity``), so a pair whose asks sum to 0.99 with a 1 %
  fee per side costs 0.9999 and is no arbitrage at 0.5 % edge. ``polymarket_fee`` is Polymarket's
  curve, ``rate x min(p, 1 - p)`` per share, for venues that charge that way.

``updown_market`` reads the rolling up/down market naming (``BTC-UPDOWN-20240101T0000-YES``, longer
horizons ``BTC-UPDOWN-60M-...``: the stamp is the open, UTC; and Polymarket's slugs,
``btc-updown-15m-1765450800-UP``, the open in epoch seconds, Up as YES) so that strategies only compare markets
whose open instant (hence strike, the reference price at the open) is the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from spreadhawk.analytics.binary_pricing import OutcomeToken, is_complementary_pair, is_neg_risk_basket
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.strategy.skips import Skip

__all__ = [
    "UpDownMarket",
    "cost_with_fees",
    "near_expiry",
    "neg_risk_refusal",
    "polymarket_fee",
    "stale_books",
    "updown_market",
]

S = 1_000_000_000
_UPDOWN = re.compile(r"^(?P<asset>[A-Z0-9]+)-UPDOWN(?:-(?P<period>\d+)M)?-(?P<stamp>\d{8}T\d{4})-(?P<outcome>YES|NO)$")
# Polymarket's slugs: btc-updown-15m-1765450800-UP (the window's open in epoch seconds; the hourly
# market as the recorder names it, btc-updown-1h-...). Up is the market's YES.
_POLYMARKET_UPDOWN = re.compile(
    r"^(?P<asset>[a-z0-9]+)-updown-(?P<period>\d+[mh])-(?P<open>\d{9,10})-(?P<outcome>UP|DOWN)$"
)
_POLYMARKET_OUTCOMES = {"UP": "YES", "DOWN": "NO"}


def stale_books(now_ns: int, book_ts_ns: Iterable[int], max_age_ns: int) -> Skip | None:
    """``"stale_book"`` when any leg's book was last updated more than ``max_age_ns`` ago."""
    return Skip.STALE_BOOK if any(now_ns - ts > max_age_ns for ts in book_ts_ns) else None


def near_expiry(now_ns: int, expiry_ns: int | None, min_left_ns: int) -> Skip | None:
    """``"near_expiry"`` when less than ``min_left_ns`` is left before ``expiry_ns`` (None: no expiry)."""
    return Skip.NEAR_EXPIRY if expiry_ns is not None and expiry_ns - now_ns < min_left_ns else None


def neg_risk_refusal(tokens: Sequence[OutcomeToken], *, allow_neg_risk_pairs: bool = False) -> Skip | None:
    """Why buying every token of ``tokens`` is not a locked payout of 1, or ``None`` when it is."""
    if is_neg_risk_basket(tokens):
        return Skip.NEG_RISK_BASKET
    if len(tokens) != 2 or not is_complementary_pair(tokens[0], tokens[1]):
        return Skip.NOT_A_PAIR
    if tokens[0].neg_risk_event and not allow_neg_risk_pairs:
        return Skip.NEG_RISK_MARKET
    return None


def cost_with_fees(legs: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """What buying one of each leg costs, ``(price, taker_fee)`` each, the fee on that leg's price."""
    return sum((price * (1 + fee) for price, fee in legs), Decimal(0))


def polymarket_fee(price: Decimal, rate: Decimal) -> Decimal:
    """Polymarket's fee per share at ``price``: ``rate x min(p, 1 - p)`` (largest at 0.5, zero at 0 or 1)."""
    return rate * min(price, 1 - price)


@dataclass(frozen=True, slots=True)
class UpDownMarket:
    asset: str
    open_ns: int
    expiry_ns: int
    outcome: str  # "YES" or "NO"
    key: str  # the symbol without the outcome: both tokens of a market share it

    @property
    def period_min(self) -> int:
        return (self.expiry_ns - self.open_ns) // (60 * S)


@functools.lru_cache(maxsize=4096)  # asked on every book change of a token; the date parse is the cost
def updown_market(inst: Instrument) -> UpDownMarket | None:
    """The up/down market a BINARY token belongs to, or ``None`` for any other instrument or naming."""
    if inst.kind is not InstrumentKind.BINARY or inst.expiry_ns is None:
        return None
    key = inst.symbol.rpartition("-")[0]
    if (match := _UPDOWN.match(inst.symbol)) is not None:
        opened = datetime.strptime(match["stamp"] + "+0000", "%Y%m%dT%H%M%z").astimezone(UTC)
        asset, open_ns, outcome = match["asset"], int(opened.timestamp()) * S, match["outcome"]
    elif (match := _POLYMARKET_UPDOWN.match(inst.symbol)) is not None:
        asset, open_ns = match["asset"].upper(), int(match["open"]) * S
        outcome = _POLYMARKET_OUTCOMES[match["outcome"]]
    else:
        return None
    if open_ns >= inst.expiry_ns:
        return None
    return UpDownMarket(asset, open_ns, inst.expiry_ns, outcome, key)
