"""A diagnostic strategy: proves a feed and a venue path end to end, and makes runs comparable.

On every book update of its instrument it fingerprints the top ``depth`` levels (SHA-256 of the
integer prices and sizes, or of the reason the book is invalid), so two runs over the same tape —
a backtest and a paper session on the emulator, say — can be compared update by update. Each time the exchange's
update id passes another multiple of ``trade_every`` it sends one small market order, alternating
buy and sell, so the order path (risk, venue, fills, journal) is exercised with a position that
stays near flat. Counting exchange update ids rather than messages keeps the schedule the same
however a feed presents the stream (live, the diffs buffered before the first snapshot arrive as
messages of their own; a capture's book absorbs them into the snapshot). It also
records, for each order, whether any report about it arrived before ``submit`` returned (it never
should, in any mode).
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from pydantic import Field

from spreadhawk.domain.events import OrderEvent, OrderFilled, OrderRejected, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot
from spreadhawk.strategy.base import Strategy, StrategyConfig


class BookProbeConfig(StrategyConfig):
    instrument_id: str
    depth: int = Field(default=10, gt=0, description="levels per side fingerprinted")
    trade_every: int = Field(default=0, ge=0, description="exchange update ids between probe orders (0: never)")
    quantity: Decimal = Field(default=Decimal("0.001"), gt=0, description="size of each probe order")
    rest_bps: float = Field(
        default=0.0, ge=0, description="also keep one post-only bid this far below the best bid resting (0: none)"
    )


class BookProbe(Strategy):
    config_class = BookProbeConfig

    def __init__(self, config: BookProbeConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.instrument_id = InstrumentId(config.instrument_id)
        self.fingerprints: list[str] = []  # one per book update of the instrument, in order
        self.early_reports: list[str] = []  # reports that arrived inside submit (must stay empty)
        self.fills: list[OrderFilled] = []
        self._bucket: int | None = None  # update id // trade_every at the last order (or the first valid book)
        self._submitting: ClientOrderId | None = None
        self._next_side = OrderSide.BUY

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        if deltas.instrument_id != self.instrument_id or not self._fingerprint():
            return
        if self.cfg.rest_bps and not self.ctx.open_orders(self.instrument_id):
            self._rest()  # from the first valid book on, one bid always rests
        if self.cfg.trade_every:
            bucket = self.ctx.book(self.instrument_id).sequence // self.cfg.trade_every
            if self._bucket is not None and bucket > self._bucket:
                self._probe()
            self._bucket = bucket

    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        if snapshot.instrument_id == self.instrument_id and self._fingerprint() and self.cfg.trade_every:
            self._bucket = self.ctx.book(self.instrument_id).sequence // self.cfg.trade_every

    def _fingerprint(self) -> bool:
        """Record the book's state; ``True`` when it is valid."""
        book = self.ctx.book(self.instrument_id)
        if not book.is_valid:
            self.fingerprints.append(f"invalid: {book.invalid_reason}")
            return False
        depth = self.cfg.depth
        top = (book.levels(BookSide.BID, depth), book.levels(BookSide.ASK, depth))
        self.fingerprints.append(hashlib.sha256(repr(top).encode()).hexdigest()[:16])
        return True

    def _probe(self) -> None:
        side = self._next_side
        self._next_side = OrderSide.SELL if side is OrderSide.BUY else OrderSide.BUY
        self._submitting = ClientOrderId("?")  # any report arriving now arrived inside submit
        order = self.ctx.submit(self.instrument_id, side, self.cfg.quantity)
        self._submitting = None
        book = self.ctx.book(self.instrument_id)
        self.ctx.log(f"probe {side} {self.cfg.quantity} at book update {book.sequence}: {order.client_order_id}")

    def _rest(self) -> None:
        book = self.ctx.book(self.instrument_id)
        best = book.best_bid()
        if best is None:
            return
        instrument = self.ctx.instrument(self.instrument_id)
        price = instrument.price(best[0]) * (1 - Decimal(str(self.cfg.rest_bps)) / 10_000)
        price = (price / instrument.tick_size).to_integral_value(rounding=ROUND_FLOOR) * instrument.tick_size
        self.ctx.submit(self.instrument_id, OrderSide.BUY, self.cfg.quantity, price=price, post_only=True)

    def _report(self, event: OrderEvent) -> None:
        if self._submitting is not None:
            self.early_reports.append(f"{type(event).__name__} {event.client_order_id}")

    def on_order_accepted(self, event: OrderEvent) -> None:
        self._report(event)

    def on_order_filled(self, event: OrderFilled) -> None:
        self._report(event)
        self.fills.append(event)

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._report(event)

    def on_order_canceled(self, event: OrderEvent) -> None:
        self._report(event)

    def stats(self) -> dict[str, Any]:
        return {
            "book_updates": len(self.fingerprints),
            "fills": len(self.fills),
            "early_reports": len(self.early_reports),
        }
