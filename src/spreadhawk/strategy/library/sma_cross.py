"""Long-only moving-average crossover on bars.

On every bar of its instrument the strategy appends the close and computes two simple moving
averages as ``math.fsum(window) / n``, exactly as backtrader's ``SMA`` does, so its decisions match
backtrader's bit for bit. Crossings follow backtrader's ``CrossOver`` indicator: the fast average
crosses *above* when the last non-zero difference ``fast - slow`` before this bar was negative and
``fast > slow`` now (below: positive, then ``fast < slow``). The first difference, on the bar where
both averages first exist, seeds that memory (even when it is zero) and can't signal by itself, and a
zero difference keeps the previous non-zero one. So touching the slow average and then moving away
on the same side isn't a cross.

Signals are floats (they aren't money); orders are exact. Crossing above while flat, with no order
in flight, is a market buy of the whole quote balance on the venue (``quote_quantity``), or of
``max_quote`` when set (strategies sharing a venue). Crossing below while long is a market sell of the
whole position. With a capital allocator (``[risk.allocation]``) the entry budget is multiplied by
``ctx.capital_scale`` (regime, correlation to the rest of the book, drawdown halving); without one
the scale is exactly 1 and the budget is untouched.

``sizing`` chooses how much of that budget an entry commits (``spreadhawk.strategy.sizing``): the
default ``{ method = "fixed" }`` is the whole budget as above; the other methods size from the bars
and from the net return of each closed round trip, measured on this strategy's own fills (quote
received over quote spent, fees in quote included), with the budget as equity and as the cap.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from itertools import islice
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from spreadhawk.domain.events import OrderCanceled, OrderDenied, OrderFilled, OrderRejected, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import Bar
from spreadhawk.strategy.base import Strategy, StrategyConfig
from spreadhawk.strategy.sizing import FixedSizing, Sizer, SizingSettings

ZERO = Decimal(0)


class SmaCrossConfig(StrategyConfig):
    instrument_id: str
    fast: int = Field(default=10, gt=0, description="bars in the fast simple moving average")
    slow: int = Field(default=50, gt=0, description="bars in the slow simple moving average")
    max_quote: Decimal | None = Field(
        default=None, gt=0, description="spend at most this much quote per entry (default: the whole balance)"
    )
    sizing: SizingSettings = Field(default_factory=FixedSizing, description="how much of the budget an entry commits")

    @field_validator("slow")
    @classmethod
    def _slow_longer_than_fast(cls, slow: int, info: ValidationInfo) -> int:
        fast = info.data.get("fast")  # absent when fast itself was invalid
        if fast is not None and slow <= fast:
            raise ValueError(f"slow ({slow}) must be longer than fast ({fast})")
        return slow


class SmaCross(Strategy):
    config_class = SmaCrossConfig
    family = "directional"  # its row of the allocation matrix (spreadhawk.risk.allocation)

    def __init__(self, config: SmaCrossConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.instrument_id = InstrumentId(config.instrument_id)
        self._closes: deque[float] = deque(maxlen=config.slow)
        self._last_nonzero_diff: float | None = None  # backtrader's NonZeroDifference, one bar behind
        self._in_flight: ClientOrderId | None = None
        self._counts = dict.fromkeys(("bars", "signals_up", "signals_down", "orders", "fills", "rejections"), 0)
        self.sizer = Sizer(config.sizing)
        self._trip_spent = ZERO  # quote paid for the open round trip (fees in quote included)
        self._trip_received = ZERO  # quote received from it so far, net of fees in quote

    def subscriptions(self) -> Iterable[InstrumentId]:
        return (self.instrument_id,)

    # --------------------------------------------------------------------------- signals
    def on_bar(self, bar: Bar) -> None:
        self._counts["bars"] += 1
        self.sizer.on_bar(bar)
        closes = self._closes
        closes.append(float(bar.close))
        if len(closes) < self.cfg.slow:
            return
        fast = math.fsum(islice(closes, self.cfg.slow - self.cfg.fast, None)) / self.cfg.fast
        slow = math.fsum(closes) / self.cfg.slow
        diff = fast - slow
        before = self._last_nonzero_diff
        if before is None or diff:
            self._last_nonzero_diff = diff
        if before is None:
            return  # the seed bar: no previous difference, no cross
        if before < 0 and fast > slow:
            self._counts["signals_up"] += 1
            self._enter()
        elif before > 0 and fast < slow:
            self._counts["signals_down"] += 1
            self._exit()

    # --------------------------------------------------------------------------- orders
    def _enter(self) -> None:
        ctx = self.ctx
        if self._in_flight is not None or not ctx.position(self.instrument_id).is_flat:
            return
        inst = ctx.instrument(self.instrument_id)
        budget = ctx.account_balance(inst.venue, inst.quote)
        if self.cfg.max_quote is not None:
            budget = min(budget, self.cfg.max_quote)
        scale = ctx.capital_scale(self.instrument_id)  # exactly 1 without a capital allocator
        notional = self.sizer.notional(budget, scale, quantum=inst.tick_size * inst.lot_size)
        if notional > 0:
            self._submit(OrderSide.BUY, ZERO, notional)

    def _exit(self) -> None:
        quantity = self.ctx.position(self.instrument_id).quantity
        if self._in_flight is None and quantity > 0:
            self._submit(OrderSide.SELL, quantity, None)

    def _submit(self, side: OrderSide, quantity: Decimal, quote_quantity: Decimal | None) -> None:
        order = self.ctx.submit(self.instrument_id, side, quantity, quote_quantity=quote_quantity)
        self._counts["orders"] += 1
        self._in_flight = None if order.is_terminal else order.client_order_id  # a denied order is final

    def on_order_filled(self, event: OrderFilled) -> None:
        self._counts["fills"] += 1
        if not self.sizer.is_fixed:
            self._measure_round_trip(event)
        self._settle(event.client_order_id)

    def _measure_round_trip(self, fill: OrderFilled) -> None:
        inst = self.ctx.instrument(self.instrument_id)
        value = fill.price * fill.quantity * inst.contract_size
        fee = fill.fee if fill.fee_currency == inst.quote else ZERO  # a fee in base shrinks the position
        if fill.side is OrderSide.BUY:
            self._trip_spent += value + fee
            return
        self._trip_received += value - fee
        if self.ctx.position(self.instrument_id).is_flat and self._trip_spent > 0:
            self.sizer.record_trade(self._trip_received / self._trip_spent - 1)
            self._trip_spent = self._trip_received = ZERO

    def on_order_rejected(self, event: OrderRejected) -> None:
        self._counts["rejections"] += 1
        self._settle(event.client_order_id)

    def on_order_denied(self, event: OrderDenied) -> None:
        self._counts["rejections"] += 1
        self._settle(event.client_order_id)

    def on_order_canceled(self, event: OrderCanceled) -> None:
        self._settle(event.client_order_id)

    def _settle(self, client_order_id: ClientOrderId) -> None:
        if client_order_id == self._in_flight and self.ctx.order(client_order_id).is_terminal:
            self._in_flight = None

    def stats(self) -> dict[str, Any]:
        counts: dict[str, Any] = dict(self._counts)
        if not self.sizer.is_fixed:  # fixed runs report exactly what they always did
            counts["closed_trades"] = len(self.sizer.trade_returns)
        return counts
