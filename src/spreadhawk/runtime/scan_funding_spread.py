"""The scanner's ``funding_spread`` detector: perp-perp funding differential across venues.

For every pair of perpetuals of one base/quote on two venues, with a funding estimate for both: long
the one with the lower estimate, short the other, the base quantity both touches give (the long's
best ask, the short's best bid, rounded down to both lots), and the rule of ``FundingSpread``
(``strategy.library.funding_spread.plan_funding_spread``): the expected differential over the horizon
minus both taker fees in and out and both books' spreads walked for that quantity. An expectation
(the latest estimates held for the horizon), not a locked profit. Register it with::

    DETECTORS["funding_spread"] = lambda instruments, settings: FundingSpreadDetector(
        instruments, horizon_hours=settings.funding_horizon_hours, interval_hours=settings.funding_interval_hours
    )
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from decimal import Decimal
from itertools import combinations

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSide
from spreadhawk.runtime.scanner import MarketView, Sighting, book_levels, books_valid
from spreadhawk.strategy.detectors import common_lot
from spreadhawk.strategy.library.funding_spread import plan_funding_spread
from spreadhawk.strategy.paired_walk import round_down

HOUR_NS = 3_600_000_000_000
WALK_DEPTH = 50  # levels per side the spread walk may use


class FundingSpreadDetector:
    kind = "funding_spread"

    def __init__(
        self, instruments: Iterable[Instrument], *, horizon_hours: float = 24.0, interval_hours: float = 8.0
    ) -> None:
        by_pair: dict[tuple[str, str], list[Instrument]] = {}
        for inst in instruments:
            if inst.kind is InstrumentKind.PERPETUAL:
                by_pair.setdefault((inst.base, inst.quote), []).append(inst)
        self._horizon_ns = round(horizon_hours * HOUR_NS)
        self._default_interval_ns = round(interval_hours * HOUR_NS)
        self._pairs: dict[InstrumentId, list[tuple[Instrument, Instrument]]] = {}
        for perps in by_pair.values():
            for a, b in combinations(sorted(perps, key=lambda i: i.id), 2):
                if a.venue != b.venue:
                    self._pairs.setdefault(a.id, []).append((a, b))
                    self._pairs.setdefault(b.id, []).append((a, b))

    def watched(self) -> Set[InstrumentId]:
        return self._pairs.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._pairs.keys()):
            for a, b in self._pairs[iid]:
                key = f"{a.id} / {b.id}"
                if key not in found:
                    found[key] = self._look(a, b, market)
        return found

    def _look(self, a: Instrument, b: Instrument, market: MarketView) -> Sighting | None:
        rate_a, rate_b = market.funding.get(a.id), market.funding.get(b.id)
        if rate_a is None or rate_b is None or not books_valid(market, a, b):
            return None
        books = [
            (
                book_levels(i, market.books[i.id], BookSide.BID, WALK_DEPTH),
                book_levels(i, market.books[i.id], BookSide.ASK, WALK_DEPTH),
            )
            for i in (a, b)
        ]
        if not all(bids and asks for bids, asks in books):
            return None
        long_book, short_book = (books[0], books[1]) if rate_a <= rate_b else (books[1], books[0])
        long, short = (a, b) if rate_a <= rate_b else (b, a)
        # The touch only: the long's best ask and the short's best bid, in base.
        base = min(long_book[1][0][1] * long.contract_size, short_book[0][0][1] * short.contract_size)
        base = round_down(base, common_lot(a.lot_size * a.contract_size, b.lot_size * b.contract_size))
        if base == 0:
            return None
        interval = market.funding_interval_ns.get(a.id, self._default_interval_ns)
        periods = Decimal(self._horizon_ns) / Decimal(interval)
        plan = plan_funding_spread(a, rate_a, books[0], b, rate_b, books[1], periods=periods, base=base)
        if plan is None or plan.edge_bps <= 0:
            return None
        return Sighting(plan.edge_bps, base, plan.expected_profit, a.quote)
