"""Funding capture: long spot, short the perpetual of the same pair, while funding pays the short.

Decisions are made on each ``MarkPrice`` of the perpetual (once a second on Binance and on the
simulator) and on each funding estimate, in bps of notional:

* expected funding = the latest estimated rate (``FundingRate`` with ``ts_ns < funding_ts_ns``)
  × ``horizon_hours / funding_interval_hours`` periods;
* costs = taker fees of both legs in and out, ``2 × (spot taker + perp taker)``, plus half of each
  book's spread per leg each way (each whole spread; depth beyond the touch is not priced);
* enter when flat, ``cooldown_hours`` after the last exit, with expected − costs > ``min_edge_bps``
  and |basis| ≤ ``max_basis_bps``: market buy spot, market sell the perpetual, the same base
  quantity (``notional`` / spot mid, rounded down to both lot sizes).

Both legs go back, at market, on the first of: ``liquidation_guard``; ``basis`` (|perp mid / spot
mid − 1| > ``max_basis_bps``); ``funding_flip`` (the estimate turns negative: the short would pay);
``max_hold`` (``max_hold_hours``); ``legging`` (the legs hold different quantities).

Liquidation: a strategy cannot see the venue's leverage, so ``leverage`` must equal the venue's
(the runtime's ``[venues.X] leverage``). The venue holds notional / leverage of margin per unit, so
the short is liquidated when the mark reaches entry × (1 + 1 / leverage) (maintenance margin
ignored: an optimistic bound; entry is the average price of the strategy's own short); the distance
is that price / mark − 1. Below
``min_liquidation_distance`` the pair is closed: with margin held per unit, reducing part of the
short would leave the liquidation price of the rest where it was.

Funding estimate (``funding_source``): ``"stream"`` takes the venue's own estimates (Binance's
``markPrice@1s``, the simulator's); ``"books"``, for recordings without that stream (the 2024
hftbacktest captures), estimates it from the two books with Binance's formula
(``analytics.basis.FundingEstimator``): the premium ``perp mid / spot mid − 1`` (the one spot book
standing in for Binance's multi-venue index, mids for its impact prices: an approximation) sampled
every ``premium_sample_s`` and averaged with weights 1..n since the period began, then
``P + clamp(I − P, ±0.05 %)`` (interest and clamp scaled to the funding interval). Decisions are then
taken at each sample; the perp mid stands in for the mark.

Funding received, once per funding time, from whichever arrives first: the venue's ``FundingPaid``
(this strategy's share of the posting), or the realised ``FundingRate`` the venue pays on,
``-own perp quantity × contract size × last mark × rate``, which is the ledger's ``FUNDING`` posting
while no fill report of ours is in flight at the funding time.

Both legs of an entry or an exit go out together, as market orders, through the paired-leg
executor (``spreadhawk.execution.paired``), each leg's decision price being its book's mid. A leg
that fills less than the other (rejected, or partly filled) is a legging incident: the executor
completes it at market within ``max_legging_loss`` or unwinds the other leg, so the pair is never
left one-legged by design. An entry that could not be made whole (unwound: a venue refused a leg,
or completing was too dear) stops new entries, since the next one would most likely meet the same
refusal; a unit the executor could not hedge (failed) stops them too, and the next decision closes
what is held (exit reason ``legging``; a lone leg left is closed with a single market order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from spreadhawk.analytics.basis import BINANCE_CLAMP_8H, BINANCE_INTEREST_8H, FundingEstimator
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
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSnapshot, FundingRate, MarkPrice
from spreadhawk.execution.paired import Leg, UnitId, UnitStatus
from spreadhawk.strategy.detectors import funding_edge_bps
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy, UnitOutcomes

ZERO = Decimal(0)
BPS = Decimal(10_000)
HOUR_NS = 3_600_000_000_000


class FundingCaptureConfig(PairedLegsConfig):
    spot: str = Field(description="spot instrument id, e.g. 'ALPHA:BTC/USDT'")
    perp: str = Field(description="perpetual of the same base/quote (on the same venue or another)")
    notional: Decimal = Field(gt=0, description="quote per entry, at the spot mid")
    min_edge_bps: float = Field(default=5.0, description="expected funding over costs needed (< 0 forces entries)")
    funding_source: Literal["stream", "books"] = Field(default="stream", description="venue estimates, or own")
    premium_sample_s: float = Field(default=5.0, gt=0, description="books: premium sampling period")
    horizon_hours: float = Field(default=24.0, gt=0, description="expected holding time")
    funding_interval_hours: float = Field(default=8.0, gt=0, description="the perpetual's funding period")
    max_hold_hours: float = Field(default=72.0, gt=0)
    max_basis_bps: float = Field(default=50.0, gt=0, description="exit when |perp mid / spot mid - 1| exceeds it")
    leverage: Decimal = Field(default=Decimal(1), gt=0, description="must equal the perp venue's leverage")
    min_liquidation_distance: float = Field(default=0.3, gt=0, description="close below this (0.3 = 30 %)")
    cooldown_hours: float = Field(default=1.0, ge=0, description="no entry this long after an exit")

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.min_liquidation_distance >= 1 / float(self.leverage):
            raise ValueError(
                f"min_liquidation_distance {self.min_liquidation_distance} is not below the distance at entry "
                f"(1 / leverage = {1 / float(self.leverage):.4g}): every entry would be closed at once"
            )
        return self


@dataclass(frozen=True, slots=True)
class Touch:
    bid: Decimal
    ask: Decimal

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2


class FundingCapture(PairedLegsStrategy):
    config_class = FundingCaptureConfig
    family = "funding_capture"  # its row of the allocation matrix (spreadhawk.risk.allocation)

    def __init__(self, config: FundingCaptureConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.spot_id, self.perp_id = InstrumentId(config.spot), InstrumentId(config.perp)
        self._periods = Decimal(repr(config.horizon_hours)) / Decimal(repr(config.funding_interval_hours))
        self._min_edge, self._max_basis = Decimal(repr(config.min_edge_bps)), Decimal(repr(config.max_basis_bps))
        self._rate: Decimal | None = None  # latest funding estimate
        self._mark: Decimal | None = None
        self._liq_floor = Decimal(repr(config.min_liquidation_distance))
        self._opened_ns: int | None = None
        self._cooldown_until = 0
        self._lone: ClientOrderId | None = None  # a single leg left by a failed unit, being closed
        self._units = UnitOutcomes()  # halts entries after a failed one; spaces out failed exits
        self._last_funding_ts = -1
        self._counts = {"entries": 0}
        self._exits: dict[str, int] = {}
        self._fees: dict[str, Decimal] = {}
        self._funding = ZERO
        self._best_edge: Decimal | None = None
        self._lot = ZERO
        scale = Decimal(repr(config.funding_interval_hours)) / 8
        self._estimator = FundingEstimator(
            round(config.funding_interval_hours * HOUR_NS),
            sample_every_ns=round(config.premium_sample_s * 1e9),
            interest=BINANCE_INTEREST_8H * scale,
            clamp=BINANCE_CLAMP_8H * scale,
        )

    def _held(self, iid: InstrumentId) -> Decimal:
        """The strategy's own signed quantity (another strategy may trade the same instruments)."""
        return self.ctx.position(iid).quantity

    @property
    def _busy(self) -> bool:
        return self.executor.is_busy or (self._lone is not None and not self.ctx.order(self._lone).is_terminal)

    def subscriptions(self) -> Iterable[InstrumentId]:
        return (self.spot_id, self.perp_id)

    def on_start(self) -> None:
        spot, perp = self.ctx.instrument(self.spot_id), self.ctx.instrument(self.perp_id)
        kinds = (spot.kind, perp.kind) == (InstrumentKind.SPOT, InstrumentKind.PERPETUAL)
        if not kinds or (spot.base, spot.quote) != (perp.base, perp.quote):
            raise ValueError(f"{perp.id} must be a perpetual of {spot.id}'s pair {spot.base}/{spot.quote}")
        self._lot = _common_lot(spot.lot_size * spot.contract_size, perp.lot_size * perp.contract_size)
        if self._opened_ns is None and (self._held(self.spot_id) or self._held(self.perp_id)):
            # A restarted node: the journal gave the position back, not when it was opened. The
            # holding limit counts from now (it can only be later than the true one, never earlier).
            self._opened_ns = self.ctx.now_ns()

    # --------------------------------------------------------------------------- market data
    def on_mark_price(self, mark: MarkPrice) -> None:
        if mark.instrument_id == self.perp_id:
            self._mark = mark.mark
            self._decide()

    def on_book_deltas(self, book: BookDeltas | BookSnapshot) -> None:
        """``funding_source = "books"``: a premium sample when one is due, then a decision."""
        if self.cfg.funding_source != "books":
            return
        spot, perp = self._touch(self.spot_id), self._touch(self.perp_id)
        if spot is not None and perp is not None and self._estimator.observe(book.ts_ns, perp.mid / spot.mid - 1):
            self._rate, self._mark = self._estimator.rate(), perp.mid
            self._decide()

    on_book_snapshot = on_book_deltas

    def on_funding_rate(self, funding: FundingRate) -> None:
        if funding.instrument_id != self.perp_id:
            return
        if funding.ts_ns < funding.funding_ts_ns and self.cfg.funding_source == "books":
            return  # the strategy's own estimate is the one it decides on
        if funding.ts_ns < funding.funding_ts_ns:
            self._rate = funding.rate
            self._decide()
        else:  # realised: what the venue pays our short, at the last mark (else the book's mid, as the venue)
            touch = self._touch(self.perp_id)
            mark = self._mark if self._mark is not None else touch.mid if touch is not None else None
            if mark is not None:
                size = self.ctx.instrument(self.perp_id).contract_size
                self._book(funding.funding_ts_ns, -self._held(self.perp_id) * size * mark * funding.rate)

    def on_funding_paid(self, paid: FundingPaid) -> None:
        """The venue's posting for the perp (see the module docstring)."""
        own = self._held(self.perp_id)
        if paid.instrument_id == self.perp_id and paid.position:
            self._book(paid.funding_ts_ns, paid.amount if own == paid.position else paid.amount * own / paid.position)

    def _book(self, funding_ts_ns: int, amount: Decimal) -> None:
        if funding_ts_ns > self._last_funding_ts:  # once per funding time, whichever record comes first
            self._last_funding_ts = funding_ts_ns
            if amount:  # flat: nothing paid
                self._funding += amount

    # --------------------------------------------------------------------------- deciding
    def _decide(self) -> None:
        spot, perp = (None, None) if self._busy else (self._touch(self.spot_id), self._touch(self.perp_id))
        if spot is None or perp is None:
            return
        basis = abs(perp.mid / spot.mid - 1) * BPS
        spot_held, perp_held = self._held(self.spot_id), self._held(self.perp_id)
        if spot_held or perp_held:
            reason = self._exit_reason(basis) if self.ctx.now_ns() >= self._units.retry_at_ns else None
            if reason is not None:
                self._exits[reason] = self._exits.get(reason, 0) + 1
                self._cooldown_until = self.ctx.now_ns() + round(self.cfg.cooldown_hours * HOUR_NS)
                self._units.closing(self._submit_legs(-spot_held, -perp_held, spot.mid, perp.mid))
                self._legs_done()  # without latency the unit is already judged
        elif self._rate is not None and not self._units.halted and self.ctx.now_ns() >= self._cooldown_until:
            edge = funding_edge_bps(
                self._rate,
                self._periods,
                self.ctx.instrument(self.spot_id),
                (spot.bid, spot.ask),
                self.ctx.instrument(self.perp_id),
                (perp.bid, perp.ask),
            )
            self._best_edge = edge if self._best_edge is None else max(self._best_edge, edge)
            if edge > self._min_edge and basis <= self._max_basis:
                self._enter(spot.mid, perp.mid)

    def _exit_reason(self, basis_bps: Decimal) -> str | None:
        distance = self.liquidation_distance()
        held_for = self.ctx.now_ns() - (self._opened_ns or 0)
        reasons = (
            ("liquidation_guard", distance is not None and distance < self._liq_floor),
            ("basis", basis_bps > self._max_basis),
            ("funding_flip", self._rate is not None and self._rate < 0),
            ("max_hold", held_for >= round(self.cfg.max_hold_hours * HOUR_NS)),
            ("legging", self._unbalanced()),
        )
        return next((reason for reason, hit in reasons if hit), None)

    def liquidation_distance(self) -> Decimal | None:
        """How far the mark may rise before the short is liquidated (fraction of the mark)."""
        short = self.ctx.position(self.perp_id)
        if self._mark is None or short.quantity >= 0:
            return None
        return short.avg_price * (1 + 1 / self.cfg.leverage) / self._mark - 1

    def _touch(self, iid: InstrumentId) -> Touch | None:
        book, inst = self.ctx.book(iid), self.ctx.instrument(iid)
        bid, ask = (book.best_bid(), book.best_ask()) if book.is_valid else (None, None)
        return Touch(inst.price(bid[0]), inst.price(ask[0])) if bid and ask else None

    def _enter(self, spot_mid: Decimal, perp_mid: Decimal) -> None:
        spot, perp = self.ctx.instrument(self.spot_id), self.ctx.instrument(self.perp_id)
        notional = self.cfg.notional
        scale = self.ctx.capital_scale()  # hedged: the regime and drawdown scale, no correlation
        if scale != 1:
            notional *= scale
        base = (notional / spot_mid / self._lot).to_integral_value(rounding=ROUND_DOWN) * self._lot
        if base == 0 or min(spot.min_notional, perp.min_notional) > base * spot_mid:
            return
        self._counts["entries"] += 1
        self._opened_ns = self.ctx.now_ns()
        unit = self._submit_legs(base / spot.contract_size, -base / perp.contract_size, spot_mid, perp_mid)
        if unit is not None:
            self._units.entries.add(unit)
            self._legs_done()  # without latency the unit is already judged

    # --------------------------------------------------------------------------- doing
    def _submit_legs(self, spot_qty: Decimal, perp_qty: Decimal, spot_mid: Decimal, perp_mid: Decimal) -> UnitId | None:
        """Signed quantities at market: both legs as one executor unit, decided at the mids."""
        legs = [
            Leg(iid, OrderSide.BUY if qty > 0 else OrderSide.SELL, abs(qty), None, mid)
            for iid, qty, mid in ((self.spot_id, spot_qty, spot_mid), (self.perp_id, perp_qty, perp_mid))
            if qty
        ]
        if len(legs) == 2:
            return self.executor.submit(legs, tag="funding")
        # One leg only: what a failed unit left. There is nothing to pair it with; close it alone.
        (leg,) = legs
        self._lone = self.ctx.submit(leg.instrument_id, leg.side, leg.quantity).client_order_id
        self._legs_done()
        return None

    def on_order_filled(self, fill: OrderFilled) -> None:
        self._fees[fill.fee_currency] = self._fees.get(fill.fee_currency, ZERO) + fill.fee
        self._order_event(fill)

    def _order_event(self, event: OrderFilled | OrderCanceled | OrderRejected | OrderDenied | OrderExpired) -> None:
        self._legs_done()  # the executor has heard of the order already (it subscribed first)

    on_order_canceled = on_order_rejected = on_order_denied = on_order_expired = _order_event

    def _legs_done(self) -> None:
        """When nothing is working: stop entries if a unit could not be made whole; note a flat pair."""
        if self._busy:
            return
        for note in self._units.judge(self.executor.units, self.ctx.now_ns()):
            self.ctx.log(note)
        if not self._held(self.spot_id) and not self._held(self.perp_id):
            self._opened_ns = None

    def _unbalanced(self) -> bool:
        """The legs hold different base quantities."""
        sizes = (self.ctx.instrument(iid).contract_size * self._held(iid) for iid in (self.spot_id, self.perp_id))
        return sum(sizes, ZERO) != 0

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            # units whose legs filled unequally, whatever the executor then did about it
            "legging_incidents": sum(
                u.status in (UnitStatus.HEDGED, UnitStatus.UNWOUND, UnitStatus.FAILED)
                for u in self.executor.units.values()
            )
            if self._ctx is not None
            else 0,
            "exits": dict(sorted(self._exits.items())),
            "funding_received": self._funding,
            "fees_paid": dict(sorted(self._fees.items())),
            "best_edge_bps": None if self._best_edge is None else self._best_edge.quantize(Decimal("0.0001")),
            "funding_rate_estimate": self._rate,  # the latest, the venue's or (books) the strategy's own
            "halted": self._units.halted,
            "execution": self.executor.stats() if self._ctx is not None else {},
        }


def _common_lot(a: Decimal, b: Decimal) -> Decimal:
    """Smallest quantity that is a multiple of both lot sizes."""
    fa, fb = Fraction(a), Fraction(b)
    den = math.lcm(fa.denominator, fb.denominator)
    return Decimal(math.lcm(int(fa * den), int(fb * den))) / Decimal(den)
