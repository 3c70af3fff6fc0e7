"""Triangular arbitrage on one venue: convert a start asset around a cycle of markets and back.

On start the strategy builds the conversion graph of the configured instruments and enumerates the
cycles through its start assets (``spreadhawk.analytics.triangular``). On each book record it re-quotes
only the cycles with a leg on that market, at the touch and net of taker fees. Every cycle beating
``min_profit_bps`` is an opportunity seen; the best one of the update is sized along the whole path
(exact Decimals, lots, min notionals, start amount bounded by ``max_start_amount`` and the balance)
and taken, the others are skipped as ``not_best``. Other skip reasons: ``leg_in_flight``,
``taken_this_instant`` (records of one instant all see the same books), ``no_start_amount`` and
the sizing reasons of ``analytics.triangular.size``.

The legs are sent together as IOC limits at the worst level each one takes, so every intermediate
asset must already be held; ``_submit_legs`` is where a paired-leg executor will take over.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from spreadhawk.analytics.triangular import ConversionGraph, Cycle, CyclePlan, cycle_index, evaluate, size
from spreadhawk.domain.events import (
    OrderCanceled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.context import StrategyContext
from spreadhawk.strategy.base import Strategy, StrategyConfig

COUNTERS = ("evaluations", "opportunities_seen", "opportunities_taken", "legs_submitted")


class TriangularArbConfig(StrategyConfig):
    venue: str
    instruments: list[str] = Field(min_length=3, description="instrument ids of the venue's markets")
    start_assets: list[str] = Field(min_length=1, description="assets a cycle may start (and end) in")
    max_legs: int = Field(default=3, ge=3, le=4)
    min_profit_bps: float = Field(default=0.0, ge=0, description="net of taker fees, bps of the start amount")
    max_start_amount: dict[str, Decimal] = Field(description="start asset -> largest amount put into one cycle")

    @field_validator("instruments")
    @classmethod
    def _same_venue(cls, ids: list[str], info: ValidationInfo) -> list[str]:
        venue = info.data.get("venue")
        wrong = [iid for iid in ids if iid.partition(":")[0] != venue]
        if wrong:
            raise ValueError(f"instruments not on venue {venue!r}: {wrong}")
        return ids


class _Books:
    """``ctx.book`` seen as the ``get`` the analytics read books through."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: StrategyContext) -> None:
        self._ctx = ctx

    def get(self, key: InstrumentId, /) -> OrderBook | None:
        return self._ctx.book(key)


class TriangularArb(Strategy):
    config_class = TriangularArbConfig

    def __init__(self, config: TriangularArbConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._index: dict[InstrumentId, list[Cycle]] = {}
        self._n_cycles = 0
        self._min_profit = Decimal(repr(config.min_profit_bps))
        self._in_flight: set[ClientOrderId] = set()
        self._taken_at: dict[Cycle, int] = {}  # cycle -> ts_ns it was last taken
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._skipped: dict[str, int] = {}
        self._expected_profit: dict[str, Decimal] = {}

    def on_start(self) -> None:
        instruments = [self.ctx.instrument(InstrumentId(iid)) for iid in self.cfg.instruments]
        cycles = ConversionGraph.from_instruments(instruments).cycles(self.cfg.max_legs, self.cfg.start_assets)
        self._n_cycles = len(cycles)
        self._index = cycle_index(cycles)

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._decide(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._decide(deltas.instrument_id)

    def _decide(self, market: InstrumentId) -> None:
        cycles = self._index.get(market)
        if not cycles:
            return
        books = _Books(self.ctx)
        threshold = 1.0 + self.cfg.min_profit_bps / 10_000
        seen = []
        for cycle in cycles:
            self._counts["evaluations"] += 1
            quote = evaluate(cycle, books)
            if quote is not None and quote.net_rate > threshold:
                seen.append(quote)
        if not seen:
            return
        self._counts["opportunities_seen"] += len(seen)
        seen.sort(key=lambda q: q.net_rate, reverse=True)
        for _ in seen[1:]:
            self._skip("not_best")
        self._take(seen[0].cycle, books)

    def _take(self, cycle: Cycle, books: _Books) -> None:
        asset = cycle[0].source
        limit = min(self.cfg.max_start_amount.get(asset, Decimal(0)), self.ctx.balance(self.cfg.venue, asset))
        if self._in_flight:
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
        """Send every leg as an IOC limit at once (the one place a paired-leg executor will replace)."""
        for leg in plan.legs:
            side = OrderSide.BUY if leg.edge.buys_base else OrderSide.SELL
            order = self.ctx.submit(
                leg.edge.instrument.id, side, leg.quantity, price=leg.price, time_in_force=TimeInForce.IOC
            )
            self._counts["legs_submitted"] += 1
            if not order.is_terminal:
                self._in_flight.add(order.client_order_id)

    def _leg_event(self, event: OrderFilled | OrderCanceled | OrderRejected | OrderDenied | OrderExpired) -> None:
        if self.ctx.order(event.client_order_id).is_terminal:
            self._in_flight.discard(event.client_order_id)

    on_order_filled = on_order_canceled = on_order_rejected = on_order_denied = on_order_expired = _leg_event

    def stats(self) -> dict[str, Any]:
        return {
            "cycles": self._n_cycles,
            **self._counts,
            "skipped": dict(sorted(self._skipped.items())),
            "expected_profit": dict(sorted(self._expected_profit.items())),
        }
