"""The scanner's detectors, one per kind of opportunity (see ``runtime.scanner`` for the protocol):

* ``cross_exchange``: every ordered pair of spot instruments of one base/quote on two venues, asks
  of the buy venue against bids of the sell venue, both taker fees, lots and min notionals;
* ``triangular``: every 3-leg cycle of each venue's spot markets, started at the asset most markets
  quote in (so the profit is in e.g. USDT), quoted at the touch then sized along the whole path;
* ``binary_pair``: YES and NO of one market bought together for less than their payout of 1;
* ``funding``: long spot / short the perpetual of the same venue, expected funding over a horizon
  (latest estimate × periods) minus the taker round trip; an expectation, not a locked profit.

A new kind is added by writing its detector (in its own module, importing only from
``runtime.scanner``) and registering a factory in ``DETECTORS`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from spreadhawk.analytics.cycle_table import CycleTable
from spreadhawk.analytics.triangular import ConversionGraph, Cycle, size
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSide
from spreadhawk.runtime.scan_funding_spread import FundingSpreadDetector
from spreadhawk.runtime.scan_prediction import CrossMarketDetector
from spreadhawk.runtime.scanner import Detector, MarketView, Sighting, book_levels, books_valid
from spreadhawk.strategy.detectors import (
    BinaryPair,
    binary_pairs,
    common_lot,
    cross_pays,
    funding_edge_bps,
    plan_binary_pair,
    plan_cross_exchange,
)
from spreadhawk.strategy.paired_walk import round_down

BPS = Decimal(10_000)
HOUR_NS = 3_600_000_000_000
WALK_DEPTH = 100  # levels per side a cross-exchange walk may sweep (as the strategy)
UNBOUNDED = Decimal("Infinity")  # no balance limits the start amount of a cycle


class CrossExchangeDetector:
    kind = "cross_exchange"

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        groups: dict[tuple[str, str], list[Instrument]] = {}
        for inst in sorted(instruments, key=lambda i: i.id):
            if inst.kind is InstrumentKind.SPOT:
                groups.setdefault((inst.base, inst.quote), []).append(inst)
        self._index: dict[InstrumentId, list[tuple[Instrument, Instrument]]] = {}
        for group in groups.values():
            for a, b in combinations(group, 2):
                if a.venue != b.venue:
                    for buy, sell in ((a, b), (b, a)):
                        self._index.setdefault(buy.id, []).append((buy, sell))
                        self._index.setdefault(sell.id, []).append((buy, sell))

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            for buy, sell in self._index[iid]:
                key = f"{buy.id}->{sell.id}"
                if key not in found:
                    found[key] = self._look(buy, sell, market)
        return found

    @staticmethod
    def _look(buy: Instrument, sell: Instrument, market: MarketView) -> Sighting | None:
        if not books_valid(market, buy, sell):
            return None
        buy_book, sell_book = market.books[buy.id], market.books[sell.id]
        ask, bid = buy_book.best_ask(), sell_book.best_bid()
        # The touch first: converting deep books to Decimals on every update would dominate the scan.
        if ask is None or bid is None or not cross_pays(buy, sell, buy.price(ask[0]), sell.price(bid[0])):
            return None
        asks = book_levels(buy, buy_book, BookSide.ASK, WALK_DEPTH)
        bids = book_levels(sell, sell_book, BookSide.BID, WALK_DEPTH)
        plan = plan_cross_exchange(buy, sell, asks, bids)
        if isinstance(plan, str):
            return None
        return Sighting(plan.net_edge_bps, plan.quantity, plan.net_edge, buy.quote)


class TriangularDetector:
    """Re-quotes the cycles of every changed market in one numpy product per market (``CycleTable``:
    a hub market is in hundreds of triangles), then sizes the few beating 1 in exact Decimals.

    ``scan`` must be given every market whose book changed since the previous scan (the scanner
    does), because the table caches touch rates. It reports the cycles found and those it had
    reported found that no longer are (None); the other cycles touching ``changed`` show nothing,
    so reporting them would only make the scanner close what is not live.
    """

    kind = "triangular"

    def __init__(self, instruments: Iterable[Instrument], max_legs: int = 3) -> None:
        by_venue: dict[str, list[Instrument]] = {}
        for inst in instruments:
            if inst.kind is InstrumentKind.SPOT:
                by_venue.setdefault(inst.venue, []).append(inst)
        cycles: list[Cycle] = []
        for venue_instruments in by_venue.values():
            if len(venue_instruments) >= 3:
                cycles.extend(self._cycles(venue_instruments, max_legs))
        self._table = CycleTable(cycles)
        self._keys = [cycle_key(cycle) for cycle in cycles]
        self._markets = self._table.markets()
        self._shown: dict[int, frozenset[InstrumentId]] = {}  # position -> its markets, while reported found

    @staticmethod
    def _cycles(instruments: list[Instrument], max_legs: int) -> list[Cycle]:
        # Start each cycle at the asset most markets quote in (USDT before BTC), so profits are in it.
        quoted: dict[str, int] = {}
        for inst in instruments:
            quoted[inst.quote] = quoted.get(inst.quote, 0) + 1
            quoted.setdefault(inst.base, 0)
        starts = sorted(quoted, key=lambda asset: (-quoted[asset], asset))
        return ConversionGraph.from_instruments(instruments).cycles(max_legs, starts)

    def watched(self) -> Set[InstrumentId]:
        return self._markets

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        touched = sorted(changed & self._markets)
        table, books = self._table, market.books
        for iid in touched:  # every changed book first: a cycle may have legs on two of them
            table.refresh(iid, books.get(iid))
        found: dict[str, Sighting | None] = {}
        for iid in touched:
            # Floats at the touch for every cycle (cheap); exact sizing only for those beating 1.
            beating = set(table.profitable(iid).tolist())
            shown = {p for p, markets in self._shown.items() if iid in markets}
            for position in sorted(beating | shown):  # in cycle order, as the table lists them
                key = self._keys[position]
                if key not in found:
                    sighting = self._look(table.cycles[position], market) if position in beating else None
                    found[key] = sighting
                    if sighting is None:
                        self._shown.pop(position, None)
                    else:
                        self._shown[position] = frozenset(edge.market for edge in table.cycles[position])
        return found

    @staticmethod
    def _look(cycle: Cycle, market: MarketView) -> Sighting | None:
        plan = size(cycle, market.books, UNBOUNDED)
        if isinstance(plan, str):
            return None
        return Sighting(plan.profit_bps, plan.start_amount, plan.profit, plan.start_asset)


def cycle_key(cycle: Cycle) -> str:
    """``ALPHA:USDT->BTC->ETH->USDT``."""
    assets = [cycle[0].source, *(edge.target for edge in cycle)]
    return f"{cycle[0].instrument.venue}:{'->'.join(assets)}"


class BinaryPairDetector:
    kind = "binary_pair"

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._index: dict[InstrumentId, BinaryPair] = {}
        for pair in binary_pairs(instruments):
            self._index[pair.yes.id] = self._index[pair.no.id] = pair

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            pair = self._index[iid]
            key = f"{pair.yes.venue}:{pair.market} YES+NO"
            if key not in found:
                found[key] = self._look(pair, market)
        return found

    @staticmethod
    def _look(pair: BinaryPair, market: MarketView) -> Sighting | None:
        expired = market.now_ns >= (pair.yes.expiry_ns or 0) or {pair.yes.id, pair.no.id} & market.settled
        if expired or not books_valid(market, pair.yes, pair.no):
            return None
        yes_asks = book_levels(pair.yes, market.books[pair.yes.id], BookSide.ASK)
        no_asks = book_levels(pair.no, market.books[pair.no.id], BookSide.ASK)
        plan = plan_binary_pair(pair, yes_asks, no_asks) if yes_asks and no_asks else "empty"
        if isinstance(plan, str):
            return None
        return Sighting(plan.edge_bps, plan.quantity, plan.edge, pair.yes.quote)


class FundingDetector:
    kind = "funding"

    def __init__(
        self, instruments: Iterable[Instrument], *, horizon_hours: float = 24.0, interval_hours: float = 8.0
    ) -> None:
        listed = list(instruments)
        spots = {(i.venue, i.base, i.quote): i for i in listed if i.kind is InstrumentKind.SPOT}
        self._horizon_ns = round(horizon_hours * HOUR_NS)
        self._default_interval_ns = round(interval_hours * HOUR_NS)
        self._index: dict[InstrumentId, tuple[Instrument, Instrument]] = {}
        for perp in listed:
            spot = spots.get((perp.venue, perp.base, perp.quote))
            if perp.kind is InstrumentKind.PERPETUAL and spot is not None:
                self._index[perp.id] = self._index[spot.id] = (spot, perp)

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            spot, perp = self._index[iid]
            key = f"long {spot.id} / short {perp.id}"
            if key not in found:
                found[key] = self._look(spot, perp, market)
        return found

    def _look(self, spot: Instrument, perp: Instrument, market: MarketView) -> Sighting | None:
        rate = market.funding.get(perp.id)
        if rate is None or not books_valid(market, spot, perp):
            return None
        spot_book, perp_book = market.books[spot.id], market.books[perp.id]
        touches = (spot_book.best_bid(), spot_book.best_ask(), perp_book.best_bid(), perp_book.best_ask())
        if any(t is None for t in touches):
            return None
        sb, sa, pb, pa = (t for t in touches if t is not None)
        interval = market.funding_interval_ns.get(perp.id, self._default_interval_ns)
        periods = Decimal(self._horizon_ns) / Decimal(interval)
        spot_touch, perp_touch = (spot.price(sb[0]), spot.price(sa[0])), (perp.price(pb[0]), perp.price(pa[0]))
        edge = funding_edge_bps(rate, periods, spot, spot_touch, perp, perp_touch)
        if edge <= 0:
            return None
        # The touch only: buy the spot ask, sell the perp bid, the same base quantity on both legs.
        lot = common_lot(spot.lot_size * spot.contract_size, perp.lot_size * perp.contract_size)
        base = min(spot.size(sa[1]) * spot.contract_size, perp.size(pb[1]) * perp.contract_size)
        base = round_down(base, lot)
        if base == 0:
            return None
        mid = (spot_touch[0] + spot_touch[1]) / 2
        return Sighting(edge, base, edge / BPS * base * mid, spot.quote)


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Options a detector factory may read (from the ``scan`` command line)."""

    funding_horizon_hours: float = 24.0
    funding_interval_hours: float = 8.0  # until the feed shows two funding times


DetectorFactory = Callable[[Sequence[Instrument], DetectorSettings], Detector]

# Every kind the scanner looks for, in the order summaries list them: register new detectors here.
DETECTORS: dict[str, DetectorFactory] = {
    "cross_exchange": lambda instruments, _: CrossExchangeDetector(instruments),
    "triangular": lambda instruments, _: TriangularDetector(instruments),
    "binary_pair": lambda instruments, _: BinaryPairDetector(instruments),
    "funding": lambda instruments, settings: FundingDetector(
        instruments, horizon_hours=settings.funding_horizon_hours, interval_hours=settings.funding_interval_hours
    ),
    "funding_spread": lambda instruments, settings: FundingSpreadDetector(
        instruments, horizon_hours=settings.funding_horizon_hours, interval_hours=settings.funding_interval_hours
    ),
    "binary_cross_market": lambda instruments, _: CrossMarketDetector(instruments),
}
KINDS = tuple(DETECTORS)


def default_detectors(
    instruments: Iterable[Instrument], *, funding_horizon_hours: float = 24.0, funding_interval_hours: float = 8.0
) -> list[Detector]:
    """One detector of every registered kind over ``instruments``."""
    listed = list(instruments)
    settings = DetectorSettings(funding_horizon_hours, funding_interval_hours)
    return [factory(listed, settings) for factory in DETECTORS.values()]
