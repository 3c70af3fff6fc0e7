"""The hedge side of maker-taker cross-exchange arbitrage: pricing a quote and hedging its fills.

Split from ``cross_exchange_maker`` (the strategy: when and where to quote). The pieces:

* ``quote_limit``: the pure band rule. A maker bid of ``quantity`` pays when selling the same
  quantity into the hedge venue's bids (walked level by level, average price ``h``) still beats the
  margin after both fees: ``h * (1 - taker_H) - p * (1 + maker_M) >= p * margin``, so
  ``p <= h * (1 - taker_H) / (1 + maker_M + margin)``. A maker ask mirrors it against the hedge asks:
  ``p * (1 - maker_M) - h * (1 + taker_H) >= h * margin``. The margin is a fraction of the buy price,
  as in ``detectors.cross_pays``. ``on_grid`` and ``inside_touch`` put a price on the maker's tick
  grid and against its touch.
* ``MakerHedger``: every maker fill is exposure; it is hedged at once on the hedge venue by an IOC
  limit ``hedge_slippage_bps`` beyond the worst level the quantity needs (the loss bound). What an
  IOC leaves unfilled is sent again, priced on the book as it then is: at once if the hedge book
  has moved since, else on its next update (the liquidity it missed may still be shown but gone),
  at most ``max_hedge_attempts`` times in a row; then the side is *failed*: the exposure stays
  recorded and the strategy stops quoting.

Why not the paired-leg executor (``execution.paired``)? Its unit is two or more legs sent together;
here one leg (the maker fill) has already happened when the hedge is decided, so a unit of one leg
does not fit its contract. The records below keep the same measures (slippage against the decision
price, fees, what is left unhedged).

Each side is hedged on its own, FIFO (a bid fill is sold on the hedge venue, an ask fill bought),
even if both sides filled: netting would save a taker fee in a rare case and blur the records.
Quantities below one hedge lot or the hedge venue's min notional (a small partial maker fill) wait
until more fills add up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from spreadhawk.domain.events import OrderFilled, OrderSide, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookSide
from spreadhawk.engine.context import StrategyContext

ZERO = Decimal(0)
BPS = Decimal(10_000)
WALK_DEPTH = 100  # hedge-book levels a quote may be sized against


@dataclass(frozen=True, slots=True)
class QuoteLimit:
    """The most aggressive profitable maker price for ``quantity`` and the hedge price it assumes."""

    price: Decimal  # on the maker tick grid: highest profitable bid / lowest profitable ask
    quantity: Decimal  # may be less than asked for when the hedge book is thin
    hedge_decision: Decimal  # average hedge price over the levels walked
    hedge_worst: Decimal  # worst hedge level the quantity needs


def walk(levels: Sequence[tuple[Decimal, Decimal]], quantity: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity available up to ``quantity``, its average price, the worst price reached)."""
    taken = cost = ZERO
    worst = ZERO
    for price, size in levels:
        take = min(size, quantity - taken)
        if take <= 0:
            break
        taken, cost, worst = taken + take, cost + take * price, price
    return taken, (cost / taken if taken else ZERO), worst


def quote_limit(
    maker_side: OrderSide,
    maker: Instrument,
    hedge: Instrument,
    hedge_levels: Sequence[tuple[Decimal, Decimal]],
    quantity: Decimal,
    margin: Decimal,
    lot: Decimal,
) -> QuoteLimit | None:
    """The band edge for a maker quote on ``maker_side``; ``hedge_levels`` are the hedge venue's bids
    for a maker bid (we sell there), its asks for a maker ask. None when the book holds less than a lot."""
    available, average, worst = walk(hedge_levels, quantity)
    quantity = (available / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
    if quantity <= 0:
        return None
    average = walk(hedge_levels, quantity)[1]  # of the quantity actually quoted
    if maker_side is OrderSide.BUY:
        edge = average * (1 - hedge.taker_fee) / (1 + maker.maker_fee + margin)
    else:
        edge = average * (1 + hedge.taker_fee + margin) / (1 - maker.maker_fee)
    price = on_grid(edge, maker.tick_size, maker_side)
    return QuoteLimit(price, quantity, average, worst) if price > 0 else None


def on_grid(price: Decimal, tick: Decimal, side: OrderSide) -> Decimal:
    """``price`` rounded to the tick grid away from the touch (down for a bid, up for an ask)."""
    rounding = ROUND_FLOOR if side is OrderSide.BUY else ROUND_CEILING
    return (price / tick).to_integral_value(rounding=rounding) * tick


def inside_touch(
    side: OrderSide, band: Decimal, tick: Decimal, best_bid: Decimal | None, best_ask: Decimal | None
) -> Decimal | None:
    """``band`` on the maker's book: not crossing the far touch (a post-only order there would be
    rejected) and at most one tick inside the near one (no edge given away for nothing)."""
    if side is OrderSide.BUY:
        if best_ask is None:
            return None
        price = min(band, best_ask - tick)
        price = price if best_bid is None else min(price, best_bid + tick)
    else:
        if best_bid is None:
            return None
        price = max(band, best_bid + tick)
        price = price if best_ask is None else max(price, best_ask - tick)
    return price if price > 0 else None


@dataclass(frozen=True, slots=True)
class HedgeRecord:
    """One hedge order and the maker fills it covered (money in the quote currency)."""

    maker_side: OrderSide  # BUY: bought on the maker venue, sold on the hedge venue
    quantity: Decimal  # hedged (filled on the hedge venue)
    maker_price: Decimal  # average maker fill price of that quantity
    hedge_price: Decimal  # average hedge fill price
    decision_price: Decimal  # hedge price the quote was priced on
    slippage: Decimal  # hedge fill against the decision price; positive = worse
    fees: Decimal  # maker fees of the quantity plus the hedge's taker fee
    realised_edge: Decimal  # spread captured net of both fees
    latency_ns: int  # from the first maker fill covered to the hedge's last fill

    @property
    def realised_edge_bps(self) -> Decimal:
        return self.realised_edge / (self.quantity * self.maker_price) * BPS


@dataclass(slots=True)
class _Exposure:
    """Part of a maker fill not yet hedged."""

    quantity: Decimal
    price: Decimal
    fee_per_unit: Decimal
    decision_price: Decimal
    ts_ns: int


@dataclass(slots=True)
class _Hedge:
    maker_side: OrderSide
    covers: list[_Exposure]  # the exposure slices assigned to this order, FIFO
    book_ts_ns: int  # the hedge book it was priced on


class MakerHedger:
    """Hedges the maker fills of one strategy on one hedge instrument (see the module docstring)."""

    def __init__(self, ctx: StrategyContext, hedge: Instrument, *, slippage_bps: Decimal, max_attempts: int) -> None:
        self._ctx = ctx
        self.hedge = hedge
        self._slippage = slippage_bps / BPS
        self._max_attempts = max_attempts
        self._open: dict[OrderSide, deque[_Exposure]] = {OrderSide.BUY: deque(), OrderSide.SELL: deque()}
        self._in_flight: dict[ClientOrderId, _Hedge] = {}
        self._misses = {OrderSide.BUY: 0, OrderSide.SELL: 0}
        self.records: list[HedgeRecord] = []
        self.failed: set[OrderSide] = set()
        self.counts = {"hedges_sent": 0, "hedges_filled": 0, "hedge_shortfalls": 0, "hedge_failures": 0}
        self.maker_filled = {OrderSide.BUY: ZERO, OrderSide.SELL: ZERO}

    # --------------------------------------------------------------------------- reading
    def unhedged(self, maker_side: OrderSide) -> Decimal:
        """Maker quantity on ``maker_side`` not yet covered by a filled hedge (waiting or in flight)."""
        waiting = sum((e.quantity for e in self._open[maker_side]), ZERO)
        flying = sum(
            (e.quantity for h in self._in_flight.values() if h.maker_side is maker_side for e in h.covers), ZERO
        )
        return waiting + flying

    def owns(self, client_order_id: ClientOrderId) -> bool:
        return client_order_id in self._in_flight

    # --------------------------------------------------------------------------- events
    def on_maker_fill(self, fill: OrderFilled, decision_price: Decimal) -> None:
        """Record the exposure and hedge what amounts to whole lots, now."""
        fee = fill.fee if fill.fee_currency == self.hedge.settlement else ZERO
        self._open[fill.side].append(
            _Exposure(fill.quantity, fill.price, fee / fill.quantity, decision_price, fill.ts_ns)
        )
        self.maker_filled[fill.side] += fill.quantity
        self.hedge_pending()

    def on_hedge_event(self, client_order_id: ClientOrderId) -> None:
        """A report on a hedge order: once it is terminal, record it and requeue what it left."""
        order = self._ctx.order(client_order_id)
        if not order.is_terminal:
            return
        hedge = self._in_flight.pop(client_order_id)
        side = hedge.maker_side
        filled = order.filled_quantity
        if filled > 0:
            self._record(hedge, order.filled_notional / filled, filled, order.fees)
        left = order.quantity - filled
        if left > 0:
            self.counts["hedge_shortfalls"] += 1
            self._requeue(hedge, filled)
            self._misses[side] += 1
            if self._misses[side] >= self._max_attempts:
                self.counts["hedge_failures"] += 1
                self.failed.add(side)
            elif self._ctx.book(self.hedge.id).ts_ns > hedge.book_ts_ns:
                self.hedge_pending()  # again at once, priced on the book as it is now
            # else: the book it missed on has not moved since; the next update retries
            return
        self.counts["hedges_filled"] += 1
        self._misses[side] = 0

    def hedge_pending(self) -> None:
        """Send a hedge for each side's waiting exposure, if the hedge book can price it."""
        book = self._ctx.book(self.hedge.id)
        if not book.is_valid:
            return  # retried on the next valid hedge book
        for side in (OrderSide.BUY, OrderSide.SELL):
            if side not in self.failed and self._open[side]:
                self._send(side)

    # --------------------------------------------------------------------------- doing
    def _send(self, maker_side: OrderSide) -> None:
        waiting = sum((e.quantity for e in self._open[maker_side]), ZERO)
        quantity = self.hedge.round_lot_down(waiting)
        hedge_side = OrderSide.SELL if maker_side is OrderSide.BUY else OrderSide.BUY
        book_side = BookSide.BID if hedge_side is OrderSide.SELL else BookSide.ASK
        levels = [
            (self.hedge.price(p), self.hedge.size(s))
            for p, s in self._ctx.book(self.hedge.id).levels(book_side, WALK_DEPTH)
        ]
        available, _, worst = walk(levels, quantity)
        if quantity <= 0 or available <= 0:
            return
        bound = worst * (1 - self._slippage) if hedge_side is OrderSide.SELL else worst * (1 + self._slippage)
        rounding = ROUND_FLOOR if hedge_side is OrderSide.BUY else ROUND_CEILING  # inside the bound
        limit = (bound / self.hedge.tick_size).to_integral_value(rounding=rounding) * self.hedge.tick_size
        if self.hedge.notional(quantity, limit) < self.hedge.min_notional:
            return  # waits for more fills
        covers = self._take(maker_side, quantity)
        self.counts["hedges_sent"] += 1
        order = self._ctx.submit(self.hedge.id, hedge_side, quantity, price=limit, time_in_force=TimeInForce.IOC)
        self._in_flight[order.client_order_id] = _Hedge(maker_side, covers, self._ctx.book(self.hedge.id).ts_ns)
        if order.is_terminal:  # denied, or a venue without latency already answered
            self.on_hedge_event(order.client_order_id)

    def _take(self, side: OrderSide, quantity: Decimal) -> list[_Exposure]:
        """Move ``quantity`` off the front of ``side``'s waiting exposure."""
        queue, covers, left = self._open[side], [], quantity
        while left > 0:
            head = queue[0]
            take = min(head.quantity, left)
            covers.append(_Exposure(take, head.price, head.fee_per_unit, head.decision_price, head.ts_ns))
            head.quantity -= take
            left -= take
            if head.quantity == 0:
                queue.popleft()
        return covers

    def _requeue(self, hedge: _Hedge, filled: Decimal) -> None:
        """Put the slices the hedge did not fill back at the front, oldest first."""
        rest: list[_Exposure] = []
        skip = filled
        for e in hedge.covers:
            used = min(e.quantity, skip)
            skip -= used
            if e.quantity > used:
                rest.append(_Exposure(e.quantity - used, e.price, e.fee_per_unit, e.decision_price, e.ts_ns))
        self._open[hedge.maker_side].extendleft(reversed(rest))

    def _record(self, hedge: _Hedge, hedge_price: Decimal, filled: Decimal, hedge_fees: Decimal) -> None:
        covered, notional, maker_fees, decision = ZERO, ZERO, ZERO, ZERO
        for e in hedge.covers:
            q = min(e.quantity, filled - covered)
            if q <= 0:
                break
            covered += q
            notional += q * e.price
            maker_fees += q * e.fee_per_unit
            decision += q * e.decision_price
        maker_price, decision_price = notional / filled, decision / filled
        sign = 1 if hedge.maker_side is OrderSide.BUY else -1  # bought on the maker venue: sold here
        fees = maker_fees + hedge_fees
        self.records.append(
            HedgeRecord(
                maker_side=hedge.maker_side,
                quantity=filled,
                maker_price=maker_price,
                hedge_price=hedge_price,
                decision_price=decision_price,
                slippage=sign * (decision_price - hedge_price) * filled,
                fees=fees,
                realised_edge=sign * (hedge_price - maker_price) * filled - fees,
                latency_ns=self._ctx.now_ns() - hedge.covers[0].ts_ns,
            )
        )

    # --------------------------------------------------------------------------- results
    def stats(self) -> dict[str, Any]:
        records = self.records
        latencies = sorted(r.latency_ns for r in records)
        notional = sum((r.quantity * r.maker_price for r in records), ZERO)
        edge = sum((r.realised_edge for r in records), ZERO)
        return {
            **self.counts,
            "maker_filled": {str(s): q for s, q in self.maker_filled.items()},
            "hedged": {str(s): sum((r.quantity for r in records if r.maker_side is s), ZERO) for s in OrderSide},
            "unhedged": {str(s): self.unhedged(s) for s in OrderSide},
            "realised_edge": edge,
            "realised_edge_bps": (edge / notional * BPS).quantize(Decimal("0.01")) if notional else None,
            "hedge_slippage": sum((r.slippage for r in records), ZERO),
            "fees": sum((r.fees for r in records), ZERO),
            "hedge_latency_ms_median": latencies[len(latencies) // 2] / 1e6 if latencies else None,
            "hedge_latency_ms_max": latencies[-1] / 1e6 if latencies else None,
            "failed_sides": sorted(str(s) for s in self.failed),
        }
