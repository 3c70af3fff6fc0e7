"""Prediction-market pair arbitrage: buy YES and NO of one market when together they cost less than 1.

One YES and one NO token of the same market pay exactly 1 (× contract size) at settlement, whatever
the outcome. So when ``ask_yes·(1 + fee_yes) + ask_no·(1 + fee_no) < 1 - min_edge`` (each side's
taker fee on its own price, as the venue charges it), buying both locks the difference per pair.
There is no merge here (Polymarket can redeem a YES+NO pair for 1 at once; this venue cannot), so
pairs are held to settlement: the capital stays locked until expiry and the edge arrives then.

Pairs are discovered, not configured: markets roll every 15 minutes. A BINARY instrument on
``venue`` whose symbol ends in ``-YES`` (``-NO``) is paired with the same symbol ending in ``-NO``
(``-YES``), as the simulator names them (``BTC-UPDOWN-20240101T0000-YES``), when the partner exists
with the same expiry, quote, lot and contract size. The first book update of a token pairs it.

On a book update of a pair (decided 1 ns after the instant, once however many of its books
changed), the two ask books are walked together, best first, keeping each slice while the rule
above holds. The quantity is bounded by ``max_pairs``, the quote balance on the venue, what is left
of ``max_quote_per_market`` (fees included), and rounded down to the lot. Liquidity our fills took
stays subtracted until the venue next updates that level, as the simulated venue does. Fees are the
instrument's ``taker_fee`` × price, as the simulated venue charges them (a venue with another fee
curve needs its own ``_cost``).

Legs are IOC limit buys at the worst ask taken, same quantity, sent together as one unit through
the paired-leg executor (``spreadhawk.execution.paired``). IOC rather than FOK: a leg whose book
thinned still fills what is there, so a partial loss of liquidity leaves a small imbalance instead
of one leg filled in full and the other not at all. A lost leg (one token filled more than the
other) is hedged, not held: with ``hedge_mode="complete"`` the missing tokens are bought at market
when that costs at most ``max_legging_loss`` (quote) over the prices decided on, i.e. while the
completed pairs still cost at most ``1 - min_edge + max_legging_loss / pairs`` each; otherwise (or
with ``hedge_mode="unwind"``) the excess tokens are sold at market. Holding an unmatched token to
settlement is a directional bet on the outcome, which this strategy exists to avoid.

Guards against false arbitrage, each counted as a skip of an opportunity seen: ``stale_book``
(either book older than ``max_book_age_ms``: a sum below 1 from a book that stopped updating is not
real), ``near_expiry`` (less than ``min_time_to_expiry_s`` left: a leg could arrive after the
market closed), ``neg_risk_market`` (the market is listed in ``neg_risk_markets``: see
``strategy.binary_guards``; the instrument model carries no neg-risk flag, the venue's metadata
does), ``leg_in_flight`` (an earlier unit is still open, legs or hedges: balance and
liquidity unknown),
``insufficient_balance``, ``market_budget_spent``, ``below_lot_size``, ``below_min_notional``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import Field

from spreadhawk.analytics.binary_pricing import OutcomeToken
from spreadhawk.domain.events import (
    OrderFilled,
    OrderSide,
)
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, InstrumentSettled
from spreadhawk.execution.paired import HedgeMode, Leg, UnitStatus
from spreadhawk.strategy.binary_guards import near_expiry, neg_risk_refusal, stale_books
from spreadhawk.strategy.detectors import BinaryPair, PairPlan, binary_pair, pair_cost, plan_binary_pair
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy
from spreadhawk.strategy.skips import Skip, counted
from spreadhawk.strategy.taken import TakenLiquidity

ZERO = Decimal(0)
MS, S = 1_000_000, 1_000_000_000
Asks = list[tuple[Decimal, Decimal]]  # (price, size) best first


class BinaryPairArbConfig(PairedLegsConfig):
    venue: str = Field(default="PREDICT", description="venue of the binary markets")
    min_edge: Decimal = Field(
        default=Decimal("0.005"), ge=0, description="1 - cost per pair after fees must exceed this"
    )
    max_pairs: Decimal = Field(default=Decimal(500), gt=0, description="pairs bought per opportunity, at most")
    max_quote_per_market: Decimal = Field(default=Decimal(2000), gt=0, description="quote spent per market, fees in")
    # Above the simulated venue's 10 s heartbeat: a quiet book that is still live is republished by then.
    max_book_age_ms: int = Field(default=15_000, gt=0, description="skip when either book is older than this")
    min_time_to_expiry_s: float = Field(default=30.0, ge=0, description="no trade this close to expiry")
    neg_risk_markets: frozenset[str] = Field(
        default=frozenset(), description="markets (symbol without outcome) the venue flags neg-risk: refused"
    )
    # Executor settings (hedge_after_ms, hedge_mode) come from PairedLegsConfig; only the bound differs.
    # 25 quote = 5 cents a pair on a full 500-pair unit: a completion dearer than that is unwound.
    max_legging_loss: Decimal = Field(default=Decimal(25), ge=0, description="quote; costlier completions unwind")


class BinaryPairArb(PairedLegsStrategy):
    config_class = BinaryPairArbConfig

    def __init__(self, config: BinaryPairArbConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._min_to_expiry_ns = round(config.min_time_to_expiry_s * S)
        self._pairs: dict[InstrumentId, BinaryPair | None] = {}  # either token -> its pair (None: not a pair)
        self._pending: set[InstrumentId] = set()  # yes ids of the pairs with a decision scheduled
        self._spent: dict[InstrumentId, Decimal] = {}  # yes id -> quote spent on the market, fees in
        self._taken = TakenLiquidity()
        self._counts = dict.fromkeys(("opportunities_seen", "opportunities_taken"), 0)
        self._skipped: dict[Skip, int] = {}
        self._expected_edge = ZERO

    def subscriptions(self) -> Iterable[InstrumentId]:
        return [inst.id for inst in self.ctx.instruments(self.cfg.venue)]  # markets roll: every one listed

    # --------------------------------------------------------------------------- discovery
    def _pair(self, iid: InstrumentId) -> BinaryPair | None:
        if iid not in self._pairs:
            self._pairs[iid] = pair = self._discover(iid)
            if pair is not None:
                self._pairs[pair.yes.id] = self._pairs[pair.no.id] = pair
        return self._pairs[iid]

    def _discover(self, iid: InstrumentId) -> BinaryPair | None:
        if venue_of(iid) != self.cfg.venue:
            return None
        return binary_pair(self.ctx.instrument(iid), self._lookup)

    def _lookup(self, iid: InstrumentId) -> Instrument | None:
        try:
            return self.ctx.instrument(iid)
        except KeyError:
            return None

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._taken.on_book(snapshot)
        self._book_changed(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._taken.on_book(deltas)
        self._book_changed(deltas.instrument_id)

    def on_instrument_settled(self, settled: InstrumentSettled) -> None:
        pair = self._pairs.pop(settled.instrument_id, None)
        self._taken.forget(settled.instrument_id)
        if pair is not None:
            self._spent.pop(pair.yes.id, None)

    # --------------------------------------------------------------------------- deciding
    def _book_changed(self, iid: InstrumentId) -> None:
        # Decide 1 ns after the instant, once: both books of a pair often update at the same instant,
        # and a fill made while that instant's records are still being dispatched would be wrongly
        # forgotten by a record the venue had already applied before the fill.
        pair = self._pair(iid)
        if pair is not None and pair.yes.id not in self._pending:
            self._pending.add(pair.yes.id)
            self.ctx.schedule(self.ctx.now_ns() + 1, partial(self._decide, pair))

    def _decide(self, pair: BinaryPair) -> None:
        self._pending.discard(pair.yes.id)
        if not (self.ctx.book(pair.yes.id).is_valid and self.ctx.book(pair.no.id).is_valid):
            return
        yes_asks, no_asks = self._asks(pair.yes), self._asks(pair.no)
        if not yes_asks or not no_asks or not self._pays(pair, yes_asks[0][0], no_asks[0][0]):
            return
        self._counts["opportunities_seen"] += 1
        plan = self._guard(pair, self.ctx.now_ns()) or self._plan(pair, yes_asks, no_asks)
        if isinstance(plan, Skip):
            self._skipped[plan] = self._skipped.get(plan, 0) + 1
            return
        self._counts["opportunities_taken"] += 1
        self._expected_edge += plan.edge
        self.executor.submit(
            [
                Leg(pair.yes.id, OrderSide.BUY, plan.quantity, plan.yes_limit, plan.yes_decision),
                Leg(pair.no.id, OrderSide.BUY, plan.quantity, plan.no_limit, plan.no_decision),
            ],
            tag=pair.yes.symbol.rpartition("-")[0],
        )

    def _pays(self, pair: BinaryPair, yes_ask: Decimal, no_ask: Decimal) -> bool:
        return pair.yes.contract_size - pair_cost(pair, yes_ask, no_ask) > self.cfg.min_edge

    def _guard(self, pair: BinaryPair, now: int) -> Skip | None:
        event = "neg-risk" if pair.market in self.cfg.neg_risk_markets else ""
        return (
            stale_books(now, (self.ctx.book(i.id).ts_ns for i in (pair.yes, pair.no)), self.cfg.max_book_age_ms * MS)
            or near_expiry(now, pair.yes.expiry_ns or 0, self._min_to_expiry_ns)
            or neg_risk_refusal([OutcomeToken(pair.market, i.symbol, event) for i in (pair.yes, pair.no)])
            or (Skip.LEG_IN_FLIGHT if self.executor.is_busy else None)
        )

    def _asks(self, inst: Instrument) -> Asks:
        """Ask levels best first, less what our fills took."""
        levels = self._taken.levels(self.ctx.book(inst.id), BookSide.ASK)
        return [(inst.price(price), inst.size(left)) for price, left in levels]

    def _plan(self, pair: BinaryPair, yes_asks: Asks, no_asks: Asks) -> PairPlan | Skip:
        """The legs to send, or the reason to skip."""
        balance = self.ctx.available(self.cfg.venue, pair.yes.quote)
        budget_left = self.cfg.max_quote_per_market - self._spent.get(pair.yes.id, ZERO)

        def limits(yes: Decimal, no: Decimal, qty: Decimal, spend: Decimal) -> tuple[tuple[Decimal, Skip], ...]:
            cost = pair_cost(pair, yes, no)
            return (
                (self.cfg.max_pairs - qty, Skip.BELOW_LOT_SIZE),
                ((balance - spend) / cost, Skip.INSUFFICIENT_BALANCE),
                ((budget_left - spend) / cost, Skip.MARKET_BUDGET_SPENT),
            )

        return plan_binary_pair(pair, yes_asks, no_asks, min_edge=self.cfg.min_edge, limits=limits)

    # --------------------------------------------------------------------------- doing
    def on_order_filled(self, event: OrderFilled) -> None:
        inst = self.ctx.instrument(event.instrument_id)
        # Only the asks are walked here; an unwind's sell is kept on the bid side, never read.
        self._taken.on_fill(event, inst, self.ctx.book(inst.id))
        pair = self._pairs.get(inst.id)
        if pair is not None:  # an unwind gives its proceeds back to the market's budget
            spent = self._spent.get(pair.yes.id, ZERO)
            self._spent[pair.yes.id] = spent + event.side.sign * inst.notional(event.quantity, event.price) + event.fee

    def _outcomes(self) -> dict[str, Decimal | int]:
        """Pairs held and tokens left unmatched, per closed unit, after its hedges (from the executor)."""
        legged, pairs, unmatched = 0, ZERO, ZERO
        for unit in self.executor.units.values():
            if unit.status is UnitStatus.OPEN:
                continue
            held = [unit.filled(0), unit.filled(1)]
            if held[0] != held[1]:
                legged += 1
            for hedge in unit.hedges:  # complete buys the short token, unwind sells the long one
                held[hedge.leg] += (1 if hedge.mode is HedgeMode.COMPLETE else -1) * hedge.order.filled
            pairs += min(held)
            unmatched += abs(held[0] - held[1])
        return {"legged": legged, "pairs_bought": pairs, "unmatched_quantity": unmatched}

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            **self._outcomes(),
            "skipped": counted(self._skipped),
            "expected_edge": self._expected_edge,
            "execution": self.executor.stats() if self._ctx is not None else {},
        }
