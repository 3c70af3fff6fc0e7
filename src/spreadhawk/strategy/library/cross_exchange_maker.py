"""Maker-taker cross-exchange arbitrage: rest a post-only quote on one venue, hedge its fills on another.

The taker-taker variant (``cross_exchange_arb``) waits for the two books to cross by more than both
taker fees. This one pays the maker fee instead of one taker fee and does not wait: it keeps a
post-only bid (and/or ask) on the *maker* venue at the edge of the profitable band computed from
the *hedge* venue's book (``cross_exchange_maker_hedge.quote_limit``: the hedge book walked for the
quoted size, its taker fee, our maker fee and ``min_profit_bps``). When the quote fills, the filled
quantity is hedged at once on the hedge venue with an IOC order (``MakerHedger``).

Where the quote sits:

* ``quote_offset_bps`` inside the band's edge (a tick of hedge-book noise does not push it out at
  once), but never more than one tick inside the maker's touch (no edge given away for nothing) and
  never crossing it (post-only: the venue would reject it). The touch is the venue's book as
  published; the simulated venue does not show our own orders in it, a live one would;
* widened by up to ``skew_bps`` as the base held on the maker venue drifts from its target share of
  the two venues' base (the side that would worsen the drift), and pulled at ``max_inventory_skew``;
* only for what balances allow: a bid needs the maker venue's quote and the hedge venue's base (minus
  what is still waiting to be hedged), an ask the maker venue's base and the hedge venue's quote.

When it moves: a quote is canceled at once when it leaves the band (the hedge book moved against it,
or the skew grew) or exceeds what the balances allow, and repriced when it has drifted more than
``requote_tolerance_bps`` from its target *and* has rested ``min_quote_life_ms`` (no churn on every
tick). A replacement is placed only after the cancel is confirmed, so two quotes of one side never
lock funds together. Every quote is pulled when the hedge book is invalid or older than
``max_hedge_book_age_ms`` (a timer watches it when no update comes), and the strategy stops quoting
for good once a side could not be hedged ``max_hedge_attempts`` times in a row.

Inventory transfers (``rebalance``, off by default): each hedged fill is reported to a
``Rebalancer`` (``strategy.rebalancing``) as the flow of its direction (``MAKER->HEDGE`` for a bid,
``HEDGE->MAKER`` for an ask); after each decision the rule is asked whether to move base or quote
back to the venue a direction is running short on, and the transfer is sent only when that flow's
edge beats the withdrawal fee by the configured factor.

Stats: ``opportunities_seen`` are quotes placed, ``opportunities_taken`` maker fills; the hedge
records (``hedger.records``) give per hedge the maker and hedge prices, slippage against the hedge
price the quote was priced on, the realised spread net of both fees and the hedge latency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from spreadhawk.domain.events import (
    DepositCredited,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderSide,
    RejectCode,
    TransferFailed,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId, venue_of
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.strategy.base import Strategy
from spreadhawk.strategy.detectors import common_lot
from spreadhawk.strategy.library.cross_exchange_maker_config import CrossExchangeMakerConfig
from spreadhawk.strategy.library.cross_exchange_maker_hedge import (
    WALK_DEPTH,
    MakerHedger,
    QuoteLimit,
    inside_touch,
    on_grid,
    quote_limit,
)
from spreadhawk.strategy.rebalancing import Rebalancer, direction_needs

ZERO = Decimal(0)
BPS = Decimal(10_000)
MS = 1_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL


@dataclass(slots=True)
class _Quote:
    client_order_id: ClientOrderId
    price: Decimal
    quantity: Decimal
    decision_price: Decimal  # the hedge price it was priced on
    placed_ns: int
    canceling: bool = False


@dataclass(frozen=True, slots=True)
class _Target:
    price: Decimal  # where the quote should rest
    band: Decimal  # the least profitable price still allowed (skew included)
    quantity: Decimal
    decision_price: Decimal


class CrossExchangeMaker(Strategy):
    config_class = CrossExchangeMakerConfig

    def __init__(self, config: CrossExchangeMakerConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.maker_id, self.hedge_id = InstrumentId(config.maker), InstrumentId(config.hedge)
        self._sides = {"both": (BUY, SELL), "bid": (BUY,), "ask": (SELL,)}[config.sides]
        self._margin = Decimal(repr(config.min_profit_bps)) / BPS
        self._offset = Decimal(repr(config.quote_offset_bps)) / BPS
        self._live: dict[OrderSide, _Quote | None] = {BUY: None, SELL: None}
        self._quotes: dict[ClientOrderId, tuple[OrderSide, _Quote]] = {}
        self._decision_pending = False
        self._watch_ns: int | None = None  # a staleness check is scheduled for this time
        self._target_share: float | None = config.target_base_share
        self._hedger: MakerHedger | None = None
        self.rebalancer = Rebalancer(config.rebalance)
        self._observed = 0  # hedge records already reported to the rebalancer
        self._lot = ZERO
        self._quote_units = 0
        self.counts = dict.fromkeys(
            ("decisions", "quotes_placed", "maker_fills", "quotes_rejected", "post_only_rejected"), 0
        )
        self._canceled: dict[str, int] = {}
        self._skipped: dict[str, int] = {}

    @property
    def hedger(self) -> MakerHedger:
        if self._hedger is None:
            self._hedger = MakerHedger(
                self.ctx,
                self.ctx.instrument(self.hedge_id),
                slippage_bps=self.cfg.hedge_slippage_bps,
                max_attempts=self.cfg.max_hedge_attempts,
            )
        return self._hedger

    def subscriptions(self) -> Iterable[InstrumentId]:
        return (self.maker_id, self.hedge_id)

    def on_start(self) -> None:
        maker, hedge = self.ctx.instrument(self.maker_id), self.ctx.instrument(self.hedge_id)
        if (maker.base, maker.quote) != (hedge.base, hedge.quote):
            raise ValueError(f"{maker.id} trades {maker.base}/{maker.quote} but {hedge.id} {hedge.base}/{hedge.quote}")
        self._lot = common_lot(maker.lot_size, hedge.lot_size)
        self._quote_units = hedge.units(self.cfg.quantity)

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._book_changed(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._book_changed(deltas.instrument_id)

    def _book_changed(self, iid: InstrumentId) -> None:
        if iid == self.hedge_id:
            if not self.ctx.book(iid).is_valid:
                self._pull_all("hedge_book_invalid")  # at once: not even a coalescing delay
                return
            self.hedger.hedge_pending()  # exposure waiting for a valid book or a retry
        if self.cfg.decision_delay_ns == 0:
            self._decide()
        elif not self._decision_pending:
            self._decision_pending = True
            self.ctx.schedule(self.ctx.now_ns() + self.cfg.decision_delay_ns, self._decide)

    # --------------------------------------------------------------------------- deciding
    def _decide(self) -> None:
        self._decision_pending = False
        self.counts["decisions"] += 1
        reason = self._cannot_quote()
        if reason is not None:
            self._pull_all(reason)
            return
        drift = self._share_drift()
        for side in self._sides:
            self._reconcile(side, self._target(side, drift))
        self._watch_hedge_book()
        if self.rebalancer.enabled:
            self._rebalance()

    def _cannot_quote(self) -> str | None:
        if self.hedger.failed:
            return "halted_hedge_failed"
        hedge_book, maker_book = self.ctx.book(self.hedge_id), self.ctx.book(self.maker_id)
        if not hedge_book.is_valid:
            return "hedge_book_invalid"
        if self.ctx.now_ns() - hedge_book.ts_ns > self.cfg.max_hedge_book_age_ms * MS:
            return "hedge_book_stale"
        return None if maker_book.is_valid else "maker_book_invalid"

    def _share_drift(self) -> float:
        """Share of the base held on the maker venue minus its target (> 0: too much there)."""
        base = self.ctx.instrument(self.maker_id).base
        on_maker = self.ctx.account_balance(venue_of(self.maker_id), base)
        total = on_maker + self.ctx.account_balance(venue_of(self.hedge_id), base)
        if total <= 0:
            return 0.0
        share = float(on_maker / total)
        if self._target_share is None:
            self._target_share = share
        return share - self._target_share

    def _target(self, side: OrderSide, drift: float) -> _Target | str:
        """Where ``side``'s quote belongs now, or why there is none."""
        worsening = drift if side is BUY else -drift  # a bid adds base on the maker venue
        if worsening >= self.cfg.max_inventory_skew:
            return "inventory_skew_limit"
        ticks = self._hedge_ticks(BookSide.BID if side is BUY else BookSide.ASK)
        maker, hedge = self.ctx.instrument(self.maker_id), self.ctx.instrument(self.hedge_id)
        levels = [(hedge.price(price), hedge.size(size)) for price, size in ticks]
        if not levels:
            return "hedge_book_empty"
        quantity = self._affordable(side, maker, hedge, levels[0][0])
        if quantity <= 0:
            return "insufficient_balance"
        limit = quote_limit(side, maker, hedge, levels, quantity, self._margin, self._lot)
        return "hedge_book_thin" if limit is None else self._skewed(side, limit, max(worsening, 0.0))

    def _hedge_ticks(self, side: BookSide) -> tuple[tuple[int, int], ...]:
        """The hedge book's levels, best first, as far as one whole quote reaches (converting a deep
        book to exact values on every decision would cost more than the rest of the decision)."""
        left = self._quote_units
        levels = []
        for price, size in self.ctx.book(self.hedge_id).levels(side, WALK_DEPTH):
            levels.append((price, min(size, left)))
            left -= size
            if left <= 0:
                break
        return tuple(levels)

    def _skewed(self, side: OrderSide, limit: QuoteLimit, worsening: float) -> _Target | str:
        """The band widened for the inventory drift, then placed against the maker's touch."""
        maker, hedge = self.ctx.instrument(self.maker_id), self.ctx.instrument(self.hedge_id)
        skew = Decimal(repr(self.cfg.skew_bps * worsening / self.cfg.max_inventory_skew)) / BPS
        band = on_grid(limit.price * (1 - skew if side is BUY else 1 + skew), maker.tick_size, side)
        offset = self._offset if side is BUY else -self._offset  # rest inside the band, not on its edge
        book = self.ctx.book(self.maker_id)
        touch = tuple(None if t is None else maker.price(t[0]) for t in (book.best_bid(), book.best_ask()))
        price = inside_touch(side, on_grid(band * (1 - offset), maker.tick_size, side), maker.tick_size, *touch)
        if price is None:
            return "maker_book_empty"
        if (
            maker.notional(limit.quantity, price) < maker.min_notional
            or hedge.notional(limit.quantity, limit.hedge_worst) < hedge.min_notional
        ):
            return "below_min_notional"
        return _Target(price, band, limit.quantity, limit.hedge_decision)

    def _affordable(self, side: OrderSide, maker: Instrument, hedge: Instrument, hedge_touch: Decimal) -> Decimal:
        """Quote size the two venues' balances can carry through fill and hedge, in whole lots."""
        waiting = self.hedger.unhedged(side)
        if side is BUY:  # buy here with quote, sell the base on the hedge venue
            spend = self.ctx.account_balance(maker.venue, maker.quote) / (hedge_touch * (1 + maker.maker_fee))
            deliver = self.ctx.account_balance(hedge.venue, hedge.base) - waiting
        else:  # sell base here, buy it back on the hedge venue with quote (at the slippage bound)
            spend = self.ctx.account_balance(maker.venue, maker.base)
            worst = hedge_touch * (1 + self.cfg.hedge_slippage_bps / BPS) * (1 + hedge.taker_fee)
            deliver = self.ctx.account_balance(hedge.venue, hedge.quote) / worst - waiting
        room = min(self.cfg.quantity, spend, deliver)
        return (room / self._lot).to_integral_value(rounding=ROUND_FLOOR) * self._lot if room > 0 else ZERO

    def _reconcile(self, side: OrderSide, target: _Target | str) -> None:
        live = self._live[side]
        if live is not None and live.canceling:
            return  # the replacement waits for the cancel's answer
        if isinstance(target, str):
            self._skipped[target] = self._skipped.get(target, 0) + 1
            if live is not None:
                self._cancel(side, target)
            return
        if live is None:
            self._place(side, target)
            return
        leaves = self.ctx.order(live.client_order_id).leaves_quantity
        out_of_band = live.price > target.band if side is BUY else live.price < target.band
        if out_of_band:
            self._cancel(side, "out_of_band")
        elif leaves > target.quantity:
            self._cancel(side, "balance_limit")
        elif self._drifted(live, target) and self.ctx.now_ns() - live.placed_ns >= self.cfg.min_quote_life_ms * MS:
            self._cancel(side, "drift")

    def _drifted(self, live: _Quote, target: _Target) -> bool:
        return abs(live.price - target.price) / target.price * BPS > Decimal(repr(self.cfg.requote_tolerance_bps))

    # --------------------------------------------------------------------------- doing
    def _place(self, side: OrderSide, target: _Target) -> None:
        order = self.ctx.submit(self.maker_id, side, target.quantity, price=target.price, post_only=True)
        quote = _Quote(order.client_order_id, target.price, target.quantity, target.decision_price, self.ctx.now_ns())
        self._live[side] = quote
        self._quotes[order.client_order_id] = (side, quote)
        self.counts["quotes_placed"] += 1
        if order.is_terminal:  # denied, or a venue without latency already answered
            self._quote_ended(side, quote)

    def _cancel(self, side: OrderSide, reason: str) -> None:
        quote = self._live[side]
        if quote is None or quote.canceling:
            return
        quote.canceling = True
        self._canceled[reason] = self._canceled.get(reason, 0) + 1
        self.ctx.cancel(quote.client_order_id)

    def _pull_all(self, reason: str) -> None:
        for side in (BUY, SELL):
            self._cancel(side, reason)

    def _watch_hedge_book(self) -> None:
        """While a quote rests, decide again when the hedge book would turn stale without an update."""
        if all(q is None for q in self._live.values()):
            return
        if self._watch_ns is None:  # one timer at a time: it moves itself on when the book updated
            self._watch_ns = self._stale_at()
            self.ctx.schedule(self._watch_ns, self._on_watch)

    def _stale_at(self) -> int:
        return self.ctx.book(self.hedge_id).ts_ns + self.cfg.max_hedge_book_age_ms * MS + 1

    def _on_watch(self) -> None:
        self._watch_ns = None
        if self._stale_at() > self.ctx.now_ns():  # updated since: watch the new deadline
            self._watch_hedge_book()
        else:
            self._decide()

    # --------------------------------------------------------------------------- inventory transfers
    def _rebalance(self) -> None:
        """Report new hedged fills as their direction's flow, then move base or quote back if it pays."""
        maker, hedge = self.ctx.instrument(self.maker_id), self.ctx.instrument(self.hedge_id)
        now = self.ctx.now_ns()
        legs = {BUY: (maker, hedge), SELL: (hedge, maker)}  # (buy venue, sell venue) per maker side
        for record in self.hedger.records[self._observed :]:
            buy, sell = legs[record.maker_side]
            self.rebalancer.observe(f"{buy.venue}->{sell.venue}", now, record.realised_edge, record.quantity)
        self._observed = len(self.hedger.records)
        best = self.ctx.book(self.hedge_id).best_bid()
        if best is not None:
            for side in self._sides:
                needs = direction_needs(self.ctx, *legs[side], self.cfg.quantity, hedge.price(best[0]), self._lot)
                self.rebalancer.act(self.ctx, needs)

    def _transfer_event(self, event: WithdrawalSent | DepositCredited | TransferFailed) -> None:
        self.rebalancer.on_transfer_event(event)

    on_withdrawal_sent = on_deposit_credited = on_transfer_failed = _transfer_event

    # --------------------------------------------------------------------------- order events
    def on_order_filled(self, event: OrderFilled) -> None:
        coid = event.client_order_id
        if self.hedger.owns(coid):
            self.hedger.on_hedge_event(coid)
            return
        found = self._quotes.get(coid)
        if found is None:
            return  # a hedge order reporting while it was being sent: handled once submit returns
        side, quote = found
        self.counts["maker_fills"] += 1
        self.hedger.on_maker_fill(event, quote.decision_price)
        if self.ctx.order(coid).is_terminal:
            self._quote_ended(side, quote)

    def _order_ended(self, event: OrderCanceled | OrderRejected | OrderDenied | OrderExpired) -> None:
        coid = event.client_order_id
        if self.hedger.owns(coid):
            self.hedger.on_hedge_event(coid)
        elif coid in self._quotes and self.ctx.order(coid).is_terminal:
            self._quote_ended(*self._quotes[coid])

    on_order_canceled = on_order_rejected = on_order_denied = on_order_expired = _order_ended

    def on_order_cancel_rejected(self, event: OrderCancelRejected) -> None:
        """A refused cancel of a quote still working (not a lost race with its last fill): may retry."""
        found = self._quotes.get(event.client_order_id)
        if found is not None and not self.ctx.order(event.client_order_id).is_terminal:
            found[1].canceling = False

    def _quote_ended(self, side: OrderSide, quote: _Quote) -> None:
        order = self.ctx.order(quote.client_order_id)
        refused = order.status in (OrderStatus.REJECTED, OrderStatus.DENIED)
        self.counts["quotes_rejected"] += refused
        self.counts["post_only_rejected"] += order.reject_code is RejectCode.POST_ONLY
        del self._quotes[quote.client_order_id]
        if self._live[side] is quote:
            self._live[side] = None
            # Requote (or not) after a cancel or a fill, with the balances as they are now. After a
            # refusal, wait for the next book: deciding again at once would meet the same refusal.
            if not refused and not self._decision_pending:
                self._decision_pending = True
                self.ctx.schedule(self.ctx.now_ns() + max(self.cfg.decision_delay_ns, 1), self._decide)

    # --------------------------------------------------------------------------- results
    def stats(self) -> dict[str, Any]:
        hedge = self.hedger.stats() if self._ctx is not None else {}
        return {
            **self.counts,
            "opportunities_seen": self.counts["quotes_placed"],
            "opportunities_taken": self.counts["maker_fills"],
            "quotes_canceled": dict(sorted(self._canceled.items())),
            "skipped": dict(sorted(self._skipped.items())),
            "halted": bool(self._hedger is not None and self._hedger.failed),
            **hedge,
            "rebalancing": self.rebalancer.stats(),
        }
