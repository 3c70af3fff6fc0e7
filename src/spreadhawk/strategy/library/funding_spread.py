"""Funding spread: long the perpetual that pays less funding, short the one that pays more, on two venues.

The position is price-neutral (same base quantity long and short) and earns the *difference* of the
two funding rates each period. Decisions on every ``MarkPrice`` and funding estimate of either perp:

* the rule (``plan_funding_spread``, shared with the scanner's ``runtime.scan_funding_spread``):
  expected = (rate of the short − rate of the long) × ``horizon_hours / funding_interval_hours``;
  costs = both taker fees in and out, ``2 × (taker long + taker short)``, plus each book's spread
  *walked for the size* (buy the asks now, sell the bids later, at the book of now: the average ask
  minus the average bid of that quantity, over the mid); enter when expected − costs >
  ``min_edge_bps``. The long is the perp with the lower estimate.
* exits, at market, on the first of: ``legging`` (the legs hold different quantities);
  ``funding_flip`` (the short's estimate falls below the long's: the differential now pays the
  other way); ``spread`` (the price spread ``short mid / long mid − 1`` moved more than
  ``max_spread_move_bps`` away from where it was at entry: a loss, or a gain to take, bigger than
  the carry); ``max_hold``.
* liquidation, per leg, with margin held per venue (each leg's collateral is what its venue holds
  of the settlement currency, cross margin; ``maintenance_margin`` of the notional kept): a short of
  q at entry E on a venue holding B is liquidated at ``P* = (B + qE) / (q (1 + mm))``, a long at
  ``P* = (qE − B) / (q (1 − mm))`` (E the average price of the strategy's own position in that
  leg); the distance is |P* / mark − 1|. Below
  ``min_liquidation_distance`` on either leg both legs are reduced by ``defend_fraction`` (the
  distance of a cross-margined leg grows as its size falls); what would fall under a lot is closed.
* funding received: the venue's ``FundingPaid`` of each leg (``−position × contract size × mark × rate``).

Both legs of every trade go out together through the paired-leg executor, at market, each decided at
its book's mid (as ``FundingCapture``); a unit that could not be made whole stops new entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field

from spreadhawk.domain.events import (
    FundingPaid,
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSide, FundingRate, MarkPrice
from spreadhawk.execution.paired import Leg, UnitId, UnitStatus
from spreadhawk.strategy.detectors import common_lot
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy, UnitOutcomes
from spreadhawk.strategy.paired_walk import Levels, round_down

ZERO = Decimal(0)
BPS = Decimal(10_000)
HOUR_NS = 3_600_000_000_000


# =========================================================================== the rule (pure)
@dataclass(frozen=True, slots=True)
class SpreadPlan:
    long: Instrument
    short: Instrument
    base: Decimal  # base quantity of each leg
    expected_bps: Decimal  # funding differential over the horizon
    cost_bps: Decimal  # fees in and out + walked spreads of both legs
    long_mid: Decimal
    short_mid: Decimal

    @property
    def edge_bps(self) -> Decimal:
        return self.expected_bps - self.cost_bps

    @property
    def expected_profit(self) -> Decimal:
        """Edge in quote, on the long leg's notional at its mid."""
        return self.edge_bps / BPS * self.base * self.long_mid


def walked_average(levels: Levels, quantity: Decimal) -> Decimal | None:
    """Average price of taking ``quantity`` from ``levels`` (best first); None when too thin."""
    left, cost = quantity, ZERO
    for price, size in levels:
        take = min(left, size)
        cost, left = cost + take * price, left - take
        if left <= 0:
            return cost / quantity
    return None


def walked_spread_bps(bids: Levels, asks: Levels, quantity: Decimal) -> Decimal | None:
    """Buying ``quantity`` at the asks and selling it at the bids, in bps of the mid."""
    buy, sell = walked_average(asks, quantity), walked_average(bids, quantity)
    if buy is None or sell is None or not bids or not asks:
        return None
    return (buy - sell) / ((bids[0][0] + asks[0][0]) / 2) * BPS


def plan_funding_spread(
    a: Instrument,
    rate_a: Decimal,
    book_a: tuple[Levels, Levels],
    b: Instrument,
    rate_b: Decimal,
    book_b: tuple[Levels, Levels],
    *,
    periods: Decimal,
    base: Decimal,
) -> SpreadPlan | None:
    """Long the lower-rate perp, short the other, ``base`` of each; None when a book is too thin.

    Books are (bids, asks), best first, sizes in each instrument's units.
    """
    (long, rate_l, book_l), (short, rate_s, book_s) = sorted(
        ((a, rate_a, book_a), (b, rate_b, book_b)), key=lambda leg: leg[1]
    )
    spreads = [walked_spread_bps(*book, base / inst.contract_size) for inst, book in ((long, book_l), (short, book_s))]
    if spreads[0] is None or spreads[1] is None:
        return None
    fees = 2 * (long.taker_fee + short.taker_fee) * BPS
    mids = [(book[0][0][0] + book[1][0][0]) / 2 for book in (book_l, book_s)]
    return SpreadPlan(long, short, base, (rate_s - rate_l) * periods * BPS, fees + spreads[0] + spreads[1], *mids)


def liquidation_distance(held: Decimal, entry: Decimal, collateral: Decimal, mark: Decimal, mm: Decimal) -> Decimal:
    """How far (fraction of ``mark``) the price may move against a cross-margined position of ``held``
    base (signed) entered at ``entry`` on a venue holding ``collateral`` before it is liquidated."""
    q = abs(held)
    if held < 0:
        return (collateral + q * entry) / (q * (1 + mm)) / mark - 1
    liquidation = (q * entry - collateral) / (q * (1 - mm))
    return Decimal(1) if liquidation <= 0 else 1 - liquidation / mark


# =========================================================================== the strategy
class FundingSpreadConfig(PairedLegsConfig):
    perp_a: str = Field(description="a perpetual, e.g. 'ALPHA:BTC/USDT:USDT'")
    perp_b: str = Field(description="the same pair's perpetual on another venue")
    notional: Decimal = Field(gt=0, description="quote per leg, at the long leg's mid")
    min_edge_bps: float = Field(default=5.0, description="expected differential over costs needed (may be < 0)")
    horizon_hours: float = Field(default=24.0, gt=0)
    funding_interval_hours: float = Field(default=8.0, gt=0, description="both perps' funding period")
    max_hold_hours: float = Field(default=72.0, gt=0)
    max_spread_move_bps: float = Field(default=30.0, gt=0, description="exit when the price spread moves this far")
    maintenance_margin: Decimal = Field(default=Decimal("0.005"), ge=0, lt=1, description="of the notional")
    min_liquidation_distance: float = Field(default=0.1, gt=0, description="defend either leg below it")
    defend_fraction: Decimal = Field(default=Decimal("0.5"), gt=0, le=1, description="share of each leg to cut")
    cooldown_hours: float = Field(default=1.0, ge=0)


class FundingSpread(PairedLegsStrategy):
    config_class = FundingSpreadConfig
    family = "funding_capture"  # carry: its row of the allocation matrix (spreadhawk.risk.allocation)

    def __init__(self, config: FundingSpreadConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.ids = (InstrumentId(config.perp_a), InstrumentId(config.perp_b))
        self._periods = Decimal(repr(config.horizon_hours)) / Decimal(repr(config.funding_interval_hours))
        self._min_edge = Decimal(repr(config.min_edge_bps))
        self._rates: dict[InstrumentId, Decimal] = {}
        self._marks: dict[InstrumentId, Decimal] = {}
        self._entry_spread = ZERO
        self._opened_ns: int | None = None
        self._cooldown_until = 0
        self._units = UnitOutcomes()  # halts entries after a failed one; spaces out failed exits
        self._lone: ClientOrderId | None = None  # a single leg left by a failed unit, being closed
        self._counts = {"entries": 0, "defences": 0}
        self._exits: dict[str, int] = {}
        self._fees: dict[str, Decimal] = {}
        self._funding = ZERO
        self._best_edge: Decimal | None = None
        self._lot = ZERO

    def _held(self, iid: InstrumentId) -> Decimal:
        """The strategy's own signed quantity (another strategy may hold the same perpetual)."""
        return self.ctx.position(iid).quantity

    @property
    def _busy(self) -> bool:
        return self.executor.is_busy or (self._lone is not None and not self.ctx.order(self._lone).is_terminal)

    def subscriptions(self) -> Iterable[InstrumentId]:
        return self.ids

    def on_start(self) -> None:
        a, b = (self.ctx.instrument(iid) for iid in self.ids)
        if {a.kind, b.kind} != {InstrumentKind.PERPETUAL} or (a.base, a.quote) != (b.base, b.quote):
            raise ValueError(f"{a.id} and {b.id} must be perpetuals of one pair")
        if a.venue == b.venue:
            raise ValueError(f"{a.id} and {b.id} are on one venue: funding spread is across venues")
        self._lot = common_lot(a.lot_size * a.contract_size, b.lot_size * b.contract_size)

    # --------------------------------------------------------------------------- market data
    def on_mark_price(self, mark: MarkPrice) -> None:
        self._marks[mark.instrument_id] = mark.mark
        self._decide()

    def on_funding_rate(self, funding: FundingRate) -> None:
        if funding.ts_ns < funding.funding_ts_ns:
            self._rates[funding.instrument_id] = funding.rate
            self._decide()

    def on_funding_paid(self, paid: FundingPaid) -> None:
        """The venue's posting for a leg; this strategy's share when others hold the same perpetual."""
        if paid.position:
            self._funding += paid.amount * self._held(paid.instrument_id) / paid.position

    def _mark(self, iid: InstrumentId) -> Decimal | None:
        if iid in self._marks:
            return self._marks[iid]
        book = self._book(iid)
        return None if book is None else _mid(book)

    def _book(self, iid: InstrumentId) -> tuple[Levels, Levels] | None:
        book, inst = self.ctx.book(iid), self.ctx.instrument(iid)
        if not book.is_valid:
            return None
        sides = [[(inst.price(p), inst.size(s)) for p, s in book.levels(side)] for side in (BookSide.BID, BookSide.ASK)]
        return (sides[0], sides[1]) if sides[0] and sides[1] else None

    # --------------------------------------------------------------------------- deciding
    def _decide(self) -> None:
        books = [self._book(iid) for iid in self.ids]
        if self._busy or books[0] is None or books[1] is None:
            return
        if any(self._held(iid) for iid in self.ids):
            if self.ctx.now_ns() >= self._units.retry_at_ns:
                self._manage()
        elif len(self._rates) == 2 and not self._units.halted and self.ctx.now_ns() >= self._cooldown_until:
            a, b = (self.ctx.instrument(iid) for iid in self.ids)
            mid_low = _mid(books[0] if self._rates[a.id] <= self._rates[b.id] else books[1])
            notional = self.cfg.notional
            scale = self.ctx.capital_scale()  # hedged: the regime and drawdown scale, no correlation
            if scale != 1:
                notional *= scale
            base = round_down(notional / mid_low, self._lot)
            if base == 0:
                return
            plan = plan_funding_spread(
                a, self._rates[a.id], books[0], b, self._rates[b.id], books[1], periods=self._periods, base=base
            )
            if plan is None:
                return
            self._best_edge = plan.edge_bps if self._best_edge is None else max(self._best_edge, plan.edge_bps)
            if plan.edge_bps > self._min_edge and min(a.min_notional, b.min_notional) <= base * mid_low:
                self._counts["entries"] += 1
                self._opened_ns, self._entry_spread = self.ctx.now_ns(), plan.short_mid / plan.long_mid - 1
                unit = self._trade({plan.long.id: base, plan.short.id: -base})
                if unit is not None:
                    self._units.entries.add(unit)
                    self._legs_done()  # without latency the unit is already judged

    def _manage(self) -> None:
        long_id, short_id = sorted(self.ids, key=self._held, reverse=True)
        long_mid, short_mid = self._mark_mid(long_id), self._mark_mid(short_id)
        spread_move = abs(short_mid / long_mid - 1 - self._entry_spread) * BPS
        rates = (self._rates.get(long_id), self._rates.get(short_id))
        reasons = (
            ("legging", self._base(long_id) + self._base(short_id) != 0),
            ("funding_flip", rates[0] is not None and rates[1] is not None and rates[1] < rates[0]),
            ("spread", spread_move > Decimal(repr(self.cfg.max_spread_move_bps))),
            ("max_hold", self.ctx.now_ns() - (self._opened_ns or 0) >= round(self.cfg.max_hold_hours * HOUR_NS)),
        )
        reason = next((name for name, hit in reasons if hit), None)
        if reason is not None:
            self._exits[reason] = self._exits.get(reason, 0) + 1
            self._cooldown_until = self.ctx.now_ns() + round(self.cfg.cooldown_hours * HOUR_NS)
            self._close(self._trade({iid: -self._base(iid) for iid in self.ids}))
        elif min(self.liquidation_distances().values()) < Decimal(repr(self.cfg.min_liquidation_distance)):
            self._counts["defences"] += 1
            cut = round_down(self._base(long_id) * self.cfg.defend_fraction, self._lot)
            cut = self._base(long_id) if cut == 0 or self._base(long_id) - cut < self._lot else cut
            self._close(self._trade({long_id: -cut, short_id: cut}))

    def _close(self, unit: UnitId | None) -> None:
        self._units.closing(unit)
        self._legs_done()  # without latency the unit is already judged

    def _mark_mid(self, iid: InstrumentId) -> Decimal:
        book = self._book(iid)
        assert book is not None  # checked by _decide
        return _mid(book)

    def _base(self, iid: InstrumentId) -> Decimal:
        return self._held(iid) * self.ctx.instrument(iid).contract_size

    def liquidation_distances(self) -> dict[InstrumentId, Decimal]:
        """Each held leg's distance to liquidation (fraction of its mark), margin held on its venue."""
        out = {}
        for iid in self.ids:
            inst, mark, own = self.ctx.instrument(iid), self._mark(iid), self.ctx.position(iid)
            if own.quantity and mark is not None:
                size = own.quantity * inst.contract_size
                collateral = self.ctx.account_balance(inst.venue, inst.settlement)  # cross margin: the venue's
                out[iid] = liquidation_distance(size, own.avg_price, collateral, mark, self.cfg.maintenance_margin)
        return out

    # --------------------------------------------------------------------------- doing
    def _trade(self, base_by_leg: dict[InstrumentId, Decimal]) -> UnitId | None:
        """Signed base quantities at market, decided at the mids: one executor unit, or, for the single
        leg a failed unit left, one market order (there is nothing to pair it with)."""
        legs = [
            Leg(
                iid,
                OrderSide.BUY if base > 0 else OrderSide.SELL,
                abs(base) / self.ctx.instrument(iid).contract_size,
                None,
                self._mark_mid(iid),
            )
            for iid, base in base_by_leg.items()
            if base
        ]
        if len(legs) == 1:
            self._lone = self.ctx.submit(legs[0].instrument_id, legs[0].side, legs[0].quantity).client_order_id
            return None
        unit = self.executor.submit(legs, tag="funding_spread")
        self._legs_done()
        return unit

    def on_order_filled(self, fill: OrderFilled) -> None:
        self._fees[fill.fee_currency] = self._fees.get(fill.fee_currency, ZERO) + fill.fee
        self._order_event(fill)

    def _order_event(self, event: OrderFilled | OrderCanceled | OrderRejected | OrderDenied | OrderExpired) -> None:
        self._legs_done()  # the executor has heard of the order already (it subscribed first)

    on_order_canceled = on_order_rejected = on_order_denied = on_order_expired = _order_event

    def _legs_done(self) -> None:
        if self._busy:
            return
        for note in self._units.judge(self.executor.units, self.ctx.now_ns()):
            self.ctx.log(note)
        if not any(self._held(iid) for iid in self.ids):
            self._opened_ns = None

    def stats(self) -> dict[str, Any]:
        attached = self._ctx is not None
        return {
            **self._counts,
            "failed_exits_or_defences": self._units.failed_closings(self.executor.units) if attached else 0,
            "legging_incidents": sum(
                u.status in (UnitStatus.HEDGED, UnitStatus.UNWOUND, UnitStatus.FAILED)
                for u in self.executor.units.values()
            )
            if attached
            else 0,
            "exits": dict(sorted(self._exits.items())),
            "funding_received": self._funding,
            "fees_paid": dict(sorted(self._fees.items())),
            "best_edge_bps": None if self._best_edge is None else self._best_edge.quantize(Decimal("0.0001")),
            "halted": self._units.halted,
            "execution": self.executor.stats() if attached else {},
        }


def _mid(book: tuple[Levels, Levels]) -> Decimal:
    return (book[0][0][0] + book[1][0][0]) / 2
