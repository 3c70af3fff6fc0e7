"""Opportunity detection shared by the strategies and the scanner: pure functions over book levels.

A strategy and ``spreadhawk scan`` must agree on what an opportunity is, so the rule and the
depth walk of each kind live here once and both call them. What differs is only the limits: a
strategy bounds a walk by its balances, budgets and maximum size (``limits``, as in
``paired_walk.walk_pair``); the scanner knows no balances and sizes by depth alone.

* cross-exchange: ``cross_pays`` (the rule at one pair of prices) and ``plan_cross_exchange`` (asks
  of the buy venue against bids of the sell venue, both taker fees, rounded to both lots, each leg's
  min notional) are ``CrossExchangeArb._pays`` / ``_plan`` with the limits injected.
* YES/NO pairs: ``binary_pair`` (the strategy's discovery rule), ``pair_cost`` and
  ``plan_binary_pair`` are ``BinaryPairArb._discover`` / ``_cost`` / ``_plan`` likewise.
* funding: ``funding_edge_bps`` is ``FundingCapture``'s entry rule, expected funding over the
  horizon minus the round trip of both legs as a taker (fees in and out, each whole spread).
* triangular: already shared, in ``spreadhawk.analytics.triangular`` (``evaluate`` then ``size``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from spreadhawk.domain.identifiers import InstrumentId, instrument_id
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.strategy.paired_walk import Levels, Limits, round_down, truncate, walk_pair
from spreadhawk.strategy.skips import Skip

__all__ = [
    "BinaryPair",
    "CrossPlan",
    "PairPlan",
    "binary_pair",
    "binary_pairs",
    "common_lot",
    "cross_pays",
    "funding_edge_bps",
    "no_limits",
    "pair_cost",
    "plan_binary_pair",
    "plan_cross_exchange",
    "spread_bps",
]

ZERO = Decimal(0)
BPS = Decimal(10_000)
# The two outcomes of a market, first the one the pair calls "yes": Polymarket's up/down markets
# name theirs Up and Down (Up pays when the price rose), its other markets Yes and No.
OUTCOMES = {"YES": "NO", "NO": "YES", "UP": "DOWN", "DOWN": "UP"}
_FIRST = frozenset({"YES", "UP"})


def no_limits(_a: Decimal, _b: Decimal, _qty: Decimal, _spend: Decimal) -> tuple[tuple[Decimal, Skip], ...]:
    """Depth is the only bound (a scanner, which does not know any balance)."""
    return ((Decimal("Infinity"), Skip.DEPTH),)


def common_lot(a: Decimal, b: Decimal) -> Decimal:
    """Smallest quantity that is a multiple of both lot sizes."""
    fa, fb = Fraction(a), Fraction(b)
    den = math.lcm(fa.denominator, fb.denominator)
    return Decimal(math.lcm(int(fa * den), int(fb * den))) / Decimal(den)


# =========================================================================== cross-exchange
@dataclass(frozen=True, slots=True)
class CrossPlan:
    buy: Instrument
    sell: Instrument
    quantity: Decimal
    buy_limit: Decimal  # worst (highest) ask taken
    sell_limit: Decimal  # worst (lowest) bid taken
    gross_edge: Decimal  # sum of (bid - ask) * quantity over the slices, before fees
    net_edge: Decimal  # after both taker fees (quote)
    buy_decision: Decimal  # average ask planned on
    sell_decision: Decimal

    @property
    def net_edge_bps(self) -> Decimal:
        """Net edge in bps of the quote spent on the buy leg."""
        return self.net_edge / (self.quantity * self.buy_decision) * BPS


def cross_pays(buy: Instrument, sell: Instrument, ask: Decimal, bid: Decimal, margin: Decimal = ZERO) -> bool:
    """Selling at ``bid`` on ``sell`` what was bought at ``ask`` on ``buy`` beats ``margin`` (a fraction of
    the ask) after both taker fees."""
    return bid * (1 - sell.taker_fee) - ask * (1 + buy.taker_fee) > ask * margin


def plan_cross_exchange(
    buy: Instrument,
    sell: Instrument,
    asks: Levels,
    bids: Levels,
    *,
    margin: Decimal = ZERO,
    limits: Limits = no_limits,
    depth_reason: Skip = Skip.BELOW_LOT_SIZE,
) -> CrossPlan | Skip:
    """Buy ``buy``'s asks and sell ``sell``'s bids while each slice pays, or the reason there is nothing
    to take (the binding limit's reason, ``depth_reason``, or ``below_min_notional``)."""
    slices, bound = walk_pair(
        asks,
        bids,
        pays=lambda ask, bid: cross_pays(buy, sell, ask, bid, margin),
        limits=limits,
        unit_spend=lambda ask, _bid: ask,
        depth_reason=depth_reason,
    )
    quantity = round_down(sum((q for _, _, q in slices), ZERO), common_lot(buy.lot_size, sell.lot_size))
    if quantity == 0:
        return bound
    kept = truncate(slices, quantity)
    plan = CrossPlan(
        buy,
        sell,
        quantity,
        buy_limit=max(ask for ask, _, _ in kept),
        sell_limit=min(bid for _, bid, _ in kept),
        gross_edge=sum(((bid - ask) * q for ask, bid, q in kept), ZERO),
        net_edge=sum(((bid * (1 - sell.taker_fee) - ask * (1 + buy.taker_fee)) * q for ask, bid, q in kept), ZERO),
        buy_decision=sum((ask * q for ask, _, q in kept), ZERO) / quantity,
        sell_decision=sum((bid * q for _, bid, q in kept), ZERO) / quantity,
    )
    if buy.notional(quantity, plan.buy_limit) < buy.min_notional:
        return Skip.BELOW_MIN_NOTIONAL
    if sell.notional(quantity, plan.sell_limit) < sell.min_notional:
        return Skip.BELOW_MIN_NOTIONAL
    return plan


# =========================================================================== YES/NO pairs
@dataclass(frozen=True, slots=True)
class BinaryPair:
    yes: Instrument
    no: Instrument

    @property
    def market(self) -> str:
        """The market's symbol without the outcome (``BTC-UPDOWN-20240101T0000``)."""
        return self.yes.symbol.rpartition("-")[0]


@dataclass(frozen=True, slots=True)
class PairPlan:
    quantity: Decimal
    yes_limit: Decimal
    no_limit: Decimal
    edge: Decimal  # sum over the slices of (payout - cost per pair with fees) × pairs (quote)
    cost: Decimal  # quote paid for the pairs, fees included
    yes_decision: Decimal  # average asks planned on
    no_decision: Decimal

    @property
    def edge_bps(self) -> Decimal:
        """Locked edge in bps of the quote paid."""
        return self.edge / self.cost * BPS


def binary_pair(inst: Instrument, lookup: Callable[[InstrumentId], Instrument | None]) -> BinaryPair | None:
    """The YES/NO pair ``inst`` belongs to: a BINARY ``...-YES`` (``-NO``) with its ``-NO`` (``-YES``)
    partner on the same venue, same expiry, quote, lot and contract size; else None. ``-UP`` and
    ``-DOWN`` pair the same way (Up as the pair's yes)."""
    if inst.kind is not InstrumentKind.BINARY:
        return None
    stem, _, outcome = inst.symbol.rpartition("-")
    if outcome not in OUTCOMES or inst.expiry_ns is None:
        return None  # not a token of a two-outcome market settling at a known time
    other = lookup(instrument_id(inst.venue, f"{stem}-{OUTCOMES[outcome]}"))
    if other is None:
        return None
    rules = (other.kind, other.expiry_ns, other.quote, other.lot_size, other.contract_size)
    if rules != (inst.kind, inst.expiry_ns, inst.quote, inst.lot_size, inst.contract_size):
        return None  # not the two sides of one market: their payouts need not add up to 1
    return BinaryPair(inst, other) if outcome in _FIRST else BinaryPair(other, inst)


def binary_pairs(instruments: Iterable[Instrument]) -> list[BinaryPair]:
    """Every YES/NO pair among ``instruments``, by YES id."""
    by_id = {inst.id: inst for inst in instruments}
    pairs = {pair.yes.id: pair for inst in by_id.values() if (pair := binary_pair(inst, by_id.get)) is not None}
    return [pairs[iid] for iid in sorted(pairs)]


def pair_cost(pair: BinaryPair, yes_ask: Decimal, no_ask: Decimal) -> Decimal:
    """Quote paid for one pair, each side's taker fee on its own price (as the simulated venue charges)."""
    yes, no = pair.yes, pair.no
    return (yes_ask * (1 + yes.taker_fee) + no_ask * (1 + no.taker_fee)) * yes.contract_size


def plan_binary_pair(
    pair: BinaryPair,
    yes_asks: Levels,
    no_asks: Levels,
    *,
    min_edge: Decimal = ZERO,
    limits: Limits = no_limits,
    depth_reason: Skip = Skip.BELOW_LOT_SIZE,
) -> PairPlan | Skip:
    """Buy both asks together while a pair costs less than its payout minus ``min_edge``."""
    payout = pair.yes.contract_size

    def pays(yes: Decimal, no: Decimal) -> bool:
        return payout - pair_cost(pair, yes, no) > min_edge

    slices, bound = walk_pair(
        yes_asks,
        no_asks,
        pays=pays,
        limits=limits,
        unit_spend=lambda yes, no: pair_cost(pair, yes, no),
        depth_reason=depth_reason,
    )
    quantity = round_down(sum((q for _, _, q in slices), ZERO), pair.yes.lot_size)
    if quantity == 0:
        return bound
    kept = truncate(slices, quantity)
    yes_limit, no_limit = max(s[0] for s in kept), max(s[1] for s in kept)
    for inst, limit in ((pair.yes, yes_limit), (pair.no, no_limit)):
        if inst.notional(quantity, limit) < inst.min_notional:
            return Skip.BELOW_MIN_NOTIONAL
    cost = sum((pair_cost(pair, y, n) * q for y, n, q in kept), ZERO)
    return PairPlan(
        quantity,
        yes_limit,
        no_limit,
        edge=payout * quantity - cost,
        cost=cost,
        yes_decision=sum((y * q for y, _, q in kept), ZERO) / quantity,
        no_decision=sum((n * q for _, n, q in kept), ZERO) / quantity,
    )


# =========================================================================== funding
def spread_bps(bid: Decimal, ask: Decimal) -> Decimal:
    return (ask - bid) / ((bid + ask) / 2) * BPS


def funding_edge_bps(
    rate: Decimal,
    periods: Decimal,
    spot: Instrument,
    spot_touch: tuple[Decimal, Decimal],
    perp: Instrument,
    perp_touch: tuple[Decimal, Decimal],
) -> Decimal:
    """Expected funding of a short perpetual over ``periods`` funding periods, less the round trip of
    long spot / short perp as a taker (fees in and out, each book's whole spread), in bps of notional.
    Touches are (bid, ask)."""
    costs = 2 * (spot.taker_fee + perp.taker_fee) * BPS + spread_bps(*spot_touch) + spread_bps(*perp_touch)
    return rate * periods * BPS - costs
