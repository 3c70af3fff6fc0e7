"""Triangular arbitrage on one venue: convert a start asset around a cycle of markets and back.

On start the strategy builds the conversion graph of the configured instruments (every market the
engine knows on ``venue`` when ``instruments`` is empty) and enumerates the
cycles through its start assets (``spreadhawk.analytics.triangular``). On each book record it re-quotes
only the cycles with a leg on that market, at the touch and net of taker fees. Every cycle beating
``min_profit_bps`` is an opportunity seen; the best one of the update is sized along the whole path
(exact Decimals, lots, min notionals, start amount bounded by ``max_start_amount`` and the balance)
and taken, the others are skipped as ``not_best``. Other skip reasons: ``leg_in_flight``,
``taken_this_instant`` (records of one instant all see the same books), ``no_start_amount`` and
the sizing reasons of ``analytics.triangular.size``.

The legs are sent together as IOC limits at the worst level each one takes, so every intermediate
asset must already be held. They go out as one unit through the paired-leg executor
(``spreadhawk.execution.paired``), whose balance rule is each leg's fill fraction: along a cycle the
legs' quantities are in different assets, but each is sized from the previous one, so equal
fractions mean the cycle was run at a uniform scale and nothing is left in an intermediate asset
(beyond lot dust). A leg that fills short is completed at market, or the over-filled legs are
unwound. ``max_legging_loss`` is compared with a sum over legs of amounts in each leg's own quote
currency (the executor does not convert), so set it for the dearest quote of the venue's cycles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from spreadhawk.analytics.cycle_table import profitable
from spreadhawk.analytics.triangular import (
    ConversionGraph,
    Cycle,
    CyclePlan,
    cycle_index,
    size,
)
from spreadhawk.domain.events import (
    OrderSide,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSnapshot, QuoteTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.context import StrategyContext
from spreadhawk.execution.paired import Leg
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy

COUNTERS = ("evaluations", "opportunities_seen", "opportunities_taken", "legs_submitted")


class TriangularArbConfig(PairedLegsConfig):
    venue: str
    instruments: list[str] = Field(default=[], description="the venue's markets to use; empty = all it lists")
    start_assets: list[str] = Field(min_length=1, description="assets a cycle may start (and end) in")
    max_legs: int = Field(default=3, ge=3, le=4)
    min_profit_bps: float = Field(default=0.0, ge=0, description="net of taker fees, bps of the start amount")
    max_start_amount: dict[str, Decimal] = Field(description="start asset -> largest amount put into one cycle")
    # Executor settings come from PairedLegsConfig; the bound is summed in each leg's own quote currency.
    max_legging_loss: Decimal = Field(
        default=Decimal(10), ge=0, description="summed in each leg's quote currency; costlier completions unwind"
    )

    @field_validator("instruments")
    @classmethod
    def _same_venue(cls, ids: list[str], info: ValidationInfo) -> list[str]:
        if 0 < len(ids) < 3:
            raise ValueError(f"a cycle needs at least 3 markets, got {len(ids)}: {ids}")
        venue = info.data.get("venue")
        wrong = [iid for iid in ids if iid.partition(":")[0] != venue]
        if wrong:
            raise ValueError(f"instruments not on venue {venue!r}: {wrong}")
        return ids


class _Books:
    """``ctx.book`` seen as the ``get`` the analytics read books through (bound once: it runs per leg)."""

    __slots__ = ("get",)

    def __init__(self, ctx: StrategyContext) -> None:
        self.get: Callable[[InstrumentId], OrderBook | None] = ctx.book


class TriangularArb(PairedLegsStrategy):
    config_class = TriangularArbConfig

    def __init__(self, config: TriangularArbConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._index: dict[InstrumentId, list[Cycle]] = {}
        self._n_cycles = 0
        self._min_profit = Decimal(repr(config.min_profit_bps))
        self._taken_at: dict[Cycle, int] = {}  # cycle -> ts_ns it was last taken
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._skipped: dict[str, int] = {}
        self._expected_profit: dict[str, Decimal] = {}

    def _markets(self) -> list[Instrument]:
        if self.cfg.instruments:
            return [self.ctx.instrument(InstrumentId(iid)) for iid in self.cfg.instruments]
        return self.ctx.instruments(self.cfg.venue)  # discovered: a venue lists hundreds of markets, and they change

    def subscriptions(self) -> Iterable[InstrumentId]:
        return [inst.id for inst in self._markets()]

    def on_start(self) -> None:
        instruments = self._markets()
        cycles = ConversionGraph.from_instruments(instruments).cycles(self.cfg.max_legs, self.cfg.start_assets)
        self._n_cycles = len(cycles)
        self._index = cycle_index(cycles)

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._decide(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._decide(deltas.instrument_id)

    def on_quote_tick(self, quote: QuoteTick) -> None:
        if self.ctx.book(quote.instrument_id).from_quotes:  # an instrument with no L2 data: its book
            self._decide(quote.instrument_id)

    def _decide(self, market: InstrumentId) -> None:
        cycles = self._index.get(market)
        if not cycles:
            return
        books = _Books(self.ctx)
        threshold = 1.0 + self.cfg.min_profit_bps / 10_000
        self._counts["evaluations"] += len(cycles)
        seen = profitable(cycles, books, threshold)  # (position, net rate) at the touch
        if not seen:
            return
        self._counts["opportunities_seen"] += len(seen)
        for _ in seen[1:]:
            self._skip("not_best")
        best, _ = max(seen, key=lambda found: found[1])  # the first of equals, as a stable sort would
        self._take(cycles[best], books)

    def _take(self, cycle: Cycle, books: _Books) -> None:
        asset = cycle[0].source
        limit = min(self.cfg.max_start_amount.get(asset, Decimal(0)), self.ctx.available(self.cfg.venue, asset))
        if self.executor.is_busy:
            self._skip("leg_in_flight")
            return
        if self._taken_at.get(cycle) == self.ctx.now_ns():
            self._skip("taken_this_instant")  # the books of one instant, seen again by another record
            return
        if limit <= 0:
            self._skip("no_start_amount")
            return
        plan = size(cycle, books, limit, min_profit_bps=self._min_profit)
        if isinstance(plan, str):
            self._skip(plan)
            return
        self._counts["opportunities_taken"] += 1
        self._taken_at[cycle] = self.ctx.now_ns()
        self._expected_profit[asset] = self._expected_profit.get(asset, Decimal(0)) + plan.profit
        self._submit_legs(plan)

    def _skip(self, reason: str) -> None:
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    # --------------------------------------------------------------------------- doing
    def _submit_legs(self, plan: CyclePlan) -> None:
        """Send every leg at once as one executor unit (IOC limits at the worst level taken)."""
        legs = []
        for leg in plan.legs:
            inst = leg.edge.instrument
            # Decision price: the average of the levels planned on (``spend`` of a buy is its notional;
            # ``receive`` of a sell is its notional net of the taker fee ``size`` deducted).
            notional = leg.spend if leg.edge.buys_base else leg.receive / (1 - inst.taker_fee)
            side = OrderSide.BUY if leg.edge.buys_base else OrderSide.SELL
            legs.append(Leg(inst.id, side, leg.quantity, leg.price, notional / leg.quantity))
        self.executor.submit(legs, tag="->".join(edge.source for edge in plan.cycle))
        self._counts["legs_submitted"] += len(legs)

    def stats(self) -> dict[str, Any]:
        return {
            "cycles": self._n_cycles,
            **self._counts,
            "skipped": dict(sorted(self._skipped.items())),
            "expected_profit": dict(sorted(self._expected_profit.items())),
            "execution": self.executor.stats() if self._ctx is not None else {},
        }
