"""Cross-exchange arbitrage: buy where an asset is cheap, sell where it is dear, both legs as takers.

Rule, for each direction (buy on A and sell on B, then the reverse; instruments in sorted order):
walk A's asks and B's bids together, best first, and keep each slice while it pays on its own,
``bid_B * (1 - taker_B) - ask_A * (1 + taker_A) > ask_A * min_profit_bps / 10_000``. The quantity is
also bounded by ``max_quantity``, by the quote held on A (notional plus taker fee), by the base held
on B, and rounded down to a multiple of both lot sizes; each leg must meet its venue's min notional
at its limit price. The legs are IOC limits at the worst level taken (buy: highest ask, sell: lowest
bid). "Opportunities seen" are decisions where the touch passes the rule; each is either taken or
skipped for one reason (``leg_in_flight``, ``cooldown``, ``insufficient_balance_buy_venue``,
``insufficient_balance_sell_venue``, ``below_lot_size``, ``below_min_notional``). ``book_invalid``
counts decisions that could not look, for want of two valid books.

Decisions are coalesced: the strategy decides ``decision_delay_ns`` (default 1 ns) after the first
book update it has not yet looked at, so two venues updating at the same instant cost one decision,
not two. (Pairing one venue's new book with the other's previous one cannot happen either way: the
engine applies every record of an instant before any strategy sees one.) 0 decides inside each
update handler. Liquidity our fills took stays subtracted from its level
until that venue next updates the level (snapshot: every level; deltas: the levels listed), as the
simulated venue does.

Inventory: every leg is bounded by what the venues hold, so a one-sided market drains the base on
the selling venue and the quote on the buying one. With ``rebalance`` enabled, each opportunity
seen is also reported to a ``Rebalancer`` (``strategy.rebalancing``) sized without balance limits,
and after each decision the strategy asks it whether to move the base back to the selling venue,
or the quote back to the buying one; it sends those transfers (``ctx.transfer``) only when the
edge the blocked direction has been showing beats the withdrawal fee by the configured factor.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from spreadhawk.domain.events import (
    DepositCredited,
    OrderFilled,
    OrderSide,
    TransferFailed,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, QuoteTick
from spreadhawk.domain.orders import TERMINAL, OrderStatus
from spreadhawk.execution.paired import Leg
from spreadhawk.strategy.detectors import CrossPlan, common_lot, cross_pays, plan_cross_exchange
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy
from spreadhawk.strategy.rebalancing import Rebalancer, RebalanceSettings, direction_needs
from spreadhawk.strategy.skips import Skip, counted
from spreadhawk.strategy.taken import TakenLiquidity

ZERO = Decimal(0)
WALK_DEPTH = 100  # levels per side an opportunity may sweep; far more than any spread pays for
COUNTERS = ("decisions", "opportunities_seen", "opportunities_taken")


class CrossExchangeArbConfig(PairedLegsConfig):
    instruments: list[str] = Field(description="two instrument ids, same base/quote, on different venues")
    max_quantity: Decimal = Field(gt=0, description="base quantity per opportunity")
    min_profit_bps: float = Field(default=5.0, ge=0, description="margin over both taker fees, bps of the ask")
    cooldown_ms: int = Field(default=0, ge=0, description="wait after taking an opportunity")
    decision_delay_ns: int = Field(default=1, ge=0, description="coalescing delay; 0 = decide on every record")
    rebalance: RebalanceSettings = Field(default=RebalanceSettings(), description="inventory transfers between venues")

    @field_validator("instruments")
    @classmethod
    def _two_venues(cls, ids: list[str]) -> list[str]:
        if len(ids) != 2:
            raise ValueError(f"cross-exchange arbitrage needs exactly 2 instrument ids, got {len(ids)}: {ids}")
        for iid in ids:
            venue, _, symbol = iid.partition(":")
            if not venue or not symbol:
                raise ValueError(f"{iid!r} is not an instrument id of the form 'VENUE:SYMBOL'")
        if venue_of(InstrumentId(ids[0])) == venue_of(InstrumentId(ids[1])):
            raise ValueError(f"both instruments are on venue {venue_of(InstrumentId(ids[0]))!r}: need two venues")
        return sorted(ids)


class CrossExchangeArb(PairedLegsStrategy):
    config_class = CrossExchangeArbConfig

    def __init__(self, config: CrossExchangeArbConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.ids = (InstrumentId(config.instruments[0]), InstrumentId(config.instruments[1]))
        self._margin = Decimal(repr(config.min_profit_bps)) / 10_000
        self._taken = TakenLiquidity()
        self._decision_pending = False
        self._last_taken_ns: int | None = None
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._skipped: dict[Skip, int] = {}
        self._edge = {"expected_gross_edge": ZERO, "expected_net_edge": ZERO}
        self._lot: Decimal | None = None
        self.rebalancer = Rebalancer(config.rebalance)

    def subscriptions(self) -> Iterable[InstrumentId]:
        return self.ids

    def on_start(self) -> None:
        self._check_pair()

    def _check_pair(self) -> Decimal:
        """The lot both legs can trade; raises unless the instruments trade the same pair."""
        if self._lot is None:
            a, b = (self.ctx.instrument(iid) for iid in self.ids)
            if (a.base, a.quote) != (b.base, b.quote):
                raise ValueError(f"{a.id} trades {a.base}/{a.quote} but {b.id} trades {b.base}/{b.quote}")
            self._lot = common_lot(a.lot_size, b.lot_size)
        return self._lot

    # --------------------------------------------------------------------------- market data
    def _book_changed(self, data: BookSnapshot | BookDeltas | QuoteTick) -> None:
        if type(data) is QuoteTick and not self.ctx.book(data.instrument_id).from_quotes:
            return  # the book has L2 data: the quote changed nothing
        self._taken.on_book(data)
        if self.cfg.decision_delay_ns == 0:
            self._decide()
        elif not self._decision_pending:
            self._decision_pending = True
            self.ctx.schedule(self.ctx.now_ns() + self.cfg.decision_delay_ns, self._decide)

    on_book_snapshot = on_book_deltas = on_quote_tick = _book_changed  # a quote keeps a book with no L2 data

    # --------------------------------------------------------------------------- deciding
    def _decide(self) -> None:
        self._decision_pending = False
        self._counts["decisions"] += 1
        if not all(self.ctx.book(iid).is_valid for iid in self.ids):
            self._skip(Skip.BOOK_INVALID)
            return
        a, b = self.ids
        for buy_id, sell_id in ((a, b), (b, a)):
            self._consider(self.ctx.instrument(buy_id), self.ctx.instrument(sell_id))

    def _consider(self, buy: Instrument, sell: Instrument) -> None:
        # Cheap test at the touch first: most updates show no opportunity, and converting a deep
        # book to Decimals on every update would cost more than everything else the engine does.
        ask, bid = self._touch(buy, BookSide.ASK), self._touch(sell, BookSide.BID)
        if ask is None or bid is None or not self._pays(buy, sell, ask, bid):
            return
        asks, bids = self._available(buy, BookSide.ASK), self._available(sell, BookSide.BID)
        self._counts["opportunities_seen"] += 1
        now = self.ctx.now_ns()
        if self.executor.is_busy:
            self._skip(Skip.LEG_IN_FLIGHT)
        elif self._last_taken_ns is not None and now < self._last_taken_ns + self.cfg.cooldown_ms * 1_000_000:
            self._skip(Skip.COOLDOWN)
        else:
            plan = self._plan(buy, sell, asks, bids)
            if isinstance(plan, Skip):
                self._skip(plan)
            else:
                self._counts["opportunities_taken"] += 1
                self._edge["expected_gross_edge"] += plan.gross_edge
                self._edge["expected_net_edge"] += plan.net_edge
                self._last_taken_ns = now
                self._submit_legs(plan)
        if self.rebalancer.enabled:
            self._rebalance(buy, sell, asks, bids)

    def _pays(self, buy: Instrument, sell: Instrument, ask: Decimal, bid: Decimal) -> bool:
        return cross_pays(buy, sell, ask, bid, self._margin)

    def _touch(self, inst: Instrument, side: BookSide) -> Decimal | None:
        """Best price on ``side`` with liquidity we have not already taken."""
        best = self._taken.best(self.ctx.book(inst.id), side, WALK_DEPTH)
        return inst.price(best[0]) if best is not None else None

    def _available(self, inst: Instrument, side: BookSide) -> list[tuple[Decimal, Decimal]]:
        """Up to ``WALK_DEPTH`` levels, best first, less what we already took."""
        levels = self._taken.levels(self.ctx.book(inst.id), side, WALK_DEPTH)
        return [(inst.price(price), inst.size(left)) for price, left in levels]

    def _plan(
        self,
        buy: Instrument,
        sell: Instrument,
        asks: list[tuple[Decimal, Decimal]],
        bids: list[tuple[Decimal, Decimal]],
        *,
        inventory: bool = True,
    ) -> CrossPlan | Skip:
        """The legs to send, or the reason to skip (the shared detector, with this strategy's limits;
        ``inventory=False`` leaves out the balances: what the opportunity offers a full-sized trade)."""
        quote_free = self.ctx.available(buy.venue, buy.quote) if inventory else Decimal("Infinity")
        base_free = self.ctx.available(sell.venue, sell.base) if inventory else Decimal("Infinity")
        buy_cost = 1 + buy.taker_fee

        def limits(ask: Decimal, _bid: Decimal, qty: Decimal, cost: Decimal) -> tuple[tuple[Decimal, Skip], ...]:
            return (
                (self.cfg.max_quantity - qty, Skip.BELOW_LOT_SIZE),
                ((quote_free - cost * buy_cost) / (ask * buy_cost), Skip.INSUFFICIENT_BALANCE_BUY_VENUE),
                (base_free - qty, Skip.INSUFFICIENT_BALANCE_SELL_VENUE),
            )

        return plan_cross_exchange(buy, sell, asks, bids, margin=self._margin, limits=limits)

    # --------------------------------------------------------------------------- inventory
    def _rebalance(
        self,
        buy: Instrument,
        sell: Instrument,
        asks: list[tuple[Decimal, Decimal]],
        bids: list[tuple[Decimal, Decimal]],
    ) -> None:
        """Report the opportunity, unbounded by balances, then move base or quote back if it pays."""
        direction, now = f"{buy.venue}->{sell.venue}", self.ctx.now_ns()
        full = self._plan(buy, sell, asks, bids, inventory=False)
        if not isinstance(full, Skip):
            self.rebalancer.observe(direction, now, full.net_edge, full.quantity)
        needs = direction_needs(self.ctx, buy, sell, self.cfg.max_quantity, asks[0][0], self._check_pair())
        self.rebalancer.act(self.ctx, needs)

    def _transfer_event(self, event: WithdrawalSent | DepositCredited | TransferFailed) -> None:
        self.rebalancer.on_transfer_event(event)

    on_withdrawal_sent = on_deposit_credited = on_transfer_failed = _transfer_event

    def _skip(self, reason: Skip) -> None:
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    # --------------------------------------------------------------------------- doing
    def _submit_legs(self, plan: CrossPlan) -> None:
        """Send both legs as one unit through the paired-leg executor (IOC limits)."""
        self.executor.submit(
            [
                Leg(plan.buy.id, OrderSide.BUY, plan.quantity, plan.buy_limit, plan.buy_decision),
                Leg(plan.sell.id, OrderSide.SELL, plan.quantity, plan.sell_limit, plan.sell_decision),
            ],
            tag=f"{plan.buy.venue}->{plan.sell.venue}",
        )

    def on_order_filled(self, event: OrderFilled) -> None:
        self._taken.on_fill(event, self.ctx.instrument(event.instrument_id), self.ctx.book(event.instrument_id))

    def _leg_counts(self) -> dict[str, int]:
        """Legs by how they ended (hedge orders are the executor's, reported in its stats)."""
        counts = {"legs_filled": 0, "legs_partially_filled": 0, "legs_unfilled": 0}
        for unit in self.executor.units.values():
            for leg in unit.leg_orders:
                if leg.status is OrderStatus.FILLED:
                    counts["legs_filled"] += 1
                elif leg.status in TERMINAL:
                    counts["legs_partially_filled" if leg.filled > 0 else "legs_unfilled"] += 1
        return counts

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            **self._leg_counts(),
            "skipped": counted(self._skipped),
            **self._edge,
            "execution": self.executor.stats() if self._ctx is not None else {},
            "rebalancing": self.rebalancer.stats(),
        }
