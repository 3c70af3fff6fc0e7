"""Funding carry estimate: the funding-capture rule run on a perpetual alone, with the hedge assumed.

For recordings that have a perpetual and no spot book of the same pair (Binance USD-M 2023, the
freqtrade XRP futures history), ``FundingCapture`` cannot trade its spot leg. This strategy applies
the same decision rule and shorts the perpetual only; the spot hedge is **not traded, only
costed**: ``assumed_spot_taker_fee`` and ``assumed_spot_spread_bps`` (assumptions, stated in each
example) enter the round-trip cost of the rule and the ``net_carry`` figure. The run's equity
therefore carries the unhedged short's price P&L; the figure to read is ``net_carry`` = funding
received (the venue's ``FundingPaid``) − perp fees − the assumed spot fees (both legs' notional at the
perp's fill price); ``net_carry_if_closed`` also pays for closing what is still held at the end.

* forecast: ``funding_source = "stream"`` uses the latest estimate (``ts_ns < funding_ts_ns``);
  ``"realised"`` uses the mean of the last ``forecast_periods`` realised rates (a history without
  estimates: the best guess of the next rate is the recent ones);
* enter (flat, after ``cooldown_hours``) when forecast × periods − costs > ``min_edge_bps``, costs =
  ``2 × (perp taker + assumed spot taker)`` + the perp's spread + ``assumed_spot_spread_bps``;
* exit on ``funding_flip`` (forecast < 0) or ``max_hold``; one market order each way.

Prices: the perp's book mid when it has a valid book, else its last bar's close (bar data: the
venue fills a market order at the next bar's open), else its mark.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

from pydantic import Field

from spreadhawk.domain.events import FundingPaid, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import Bar, FundingRate, MarkPrice
from spreadhawk.strategy.base import Strategy, StrategyConfig
from spreadhawk.strategy.detectors import spread_bps

ZERO = Decimal(0)
BPS = Decimal(10_000)
HOUR_NS = 3_600_000_000_000


class FundingCarryConfig(StrategyConfig):
    perp: str = Field(description="the perpetual to short, e.g. 'BINANCE:XRP/USDT:USDT'")
    notional: Decimal = Field(gt=0, description="quote per entry")
    funding_source: Literal["stream", "realised"] = "stream"
    forecast_periods: int = Field(default=1, ge=1, description="realised rates averaged into the forecast")
    min_edge_bps: float = Field(default=5.0, description="expected carry over costs needed (< 0 forces entries)")
    horizon_hours: float = Field(default=24.0, gt=0)
    funding_interval_hours: float = Field(default=8.0, gt=0)
    max_hold_hours: float = Field(default=72.0, gt=0)
    cooldown_hours: float = Field(default=1.0, ge=0)
    assumed_spot_taker_fee: Decimal = Field(default=Decimal("0.001"), ge=0, description="ASSUMPTION: hedge leg fee")
    assumed_spot_spread_bps: Decimal = Field(default=Decimal(0), ge=0, description="ASSUMPTION: hedge leg spread")


class FundingCarry(Strategy):
    config_class = FundingCarryConfig

    def __init__(self, config: FundingCarryConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.perp_id = InstrumentId(config.perp)
        self._periods = Decimal(repr(config.horizon_hours)) / Decimal(repr(config.funding_interval_hours))
        self._min_edge = Decimal(repr(config.min_edge_bps))
        self._realised: list[Decimal] = []
        self._estimate: Decimal | None = None
        self._mark: Decimal | None = None
        self._close: Decimal | None = None
        self._order: ClientOrderId | None = None
        self._opened_ns: int | None = None
        self._cooldown_until = 0
        self._entries = 0
        self._exits: dict[str, int] = {}
        self._funding = ZERO
        self._perp_fees = ZERO
        self._spot_fees = ZERO
        self._best_edge: Decimal | None = None
        self.decisions: list[tuple[int, str, Decimal]] = []  # (ts, "enter"/exit reason, forecast)

    @property
    def _held(self) -> Decimal:
        """The strategy's own signed perp quantity (another strategy may hold the same perpetual)."""
        return self.ctx.position(self.perp_id).quantity

    def subscriptions(self) -> Iterable[InstrumentId]:
        return (self.perp_id,)

    def on_start(self) -> None:
        if self.ctx.instrument(self.perp_id).kind is not InstrumentKind.PERPETUAL:
            raise ValueError(f"{self.perp_id} is not a perpetual")

    # --------------------------------------------------------------------------- market data
    def on_mark_price(self, mark: MarkPrice) -> None:
        self._mark = mark.mark
        self._decide()

    def on_bar(self, bar: Bar) -> None:
        self._close = bar.close

    def on_funding_rate(self, funding: FundingRate) -> None:
        if funding.ts_ns < funding.funding_ts_ns:
            self._estimate = funding.rate
        else:
            self._realised.append(funding.rate)
        self._decide()

    def on_funding_paid(self, paid: FundingPaid) -> None:
        """The venue's posting; this strategy's share when others hold the same perpetual."""
        if paid.position:
            self._funding += paid.amount * self._held / paid.position

    def forecast(self) -> Decimal | None:
        if self.cfg.funding_source == "stream":
            return self._estimate
        recent = self._realised[-self.cfg.forecast_periods :]
        return sum(recent, ZERO) / len(recent) if recent else None

    def _price(self) -> Decimal | None:
        book, inst = self.ctx.book(self.perp_id), self.ctx.instrument(self.perp_id)
        mid = book.mid_ticks() if book.is_valid else None
        return inst.tick_size * Decimal(repr(mid)) if mid is not None else self._close or self._mark

    def _spread_bps(self) -> Decimal:
        book, inst = self.ctx.book(self.perp_id), self.ctx.instrument(self.perp_id)
        bid, ask = (book.best_bid(), book.best_ask()) if book.is_valid else (None, None)
        return spread_bps(inst.price(bid[0]), inst.price(ask[0])) if bid and ask else ZERO

    # --------------------------------------------------------------------------- deciding
    def _decide(self) -> None:
        rate, price = self.forecast(), self._price()
        if rate is None or price is None or (self._order is not None and not self.ctx.order(self._order).is_terminal):
            return
        now = self.ctx.now_ns()
        if self._held:
            held_for = now - (self._opened_ns or now)
            reason = (
                "funding_flip" if rate < 0 else "max_hold" if held_for >= self.cfg.max_hold_hours * HOUR_NS else None
            )
            if reason is not None:
                self._exits[reason] = self._exits.get(reason, 0) + 1
                self._cooldown_until = now + round(self.cfg.cooldown_hours * HOUR_NS)
                self.decisions.append((now, reason, rate))
                self._send(OrderSide.BUY, -self._held)
            return
        inst = self.ctx.instrument(self.perp_id)
        costs = 2 * (inst.taker_fee + self.cfg.assumed_spot_taker_fee) * BPS
        edge = rate * self._periods * BPS - costs - self._spread_bps() - self.cfg.assumed_spot_spread_bps
        self._best_edge = edge if self._best_edge is None else max(self._best_edge, edge)
        if edge > self._min_edge and now >= self._cooldown_until:
            quantity = (self.cfg.notional / price / inst.contract_size / inst.lot_size).to_integral_value(
                rounding=ROUND_DOWN
            ) * inst.lot_size
            if quantity > 0:
                self._entries += 1
                self._opened_ns = now
                self.decisions.append((now, "enter", rate))
                self._send(OrderSide.SELL, quantity)

    def _send(self, side: OrderSide, quantity: Decimal) -> None:
        self._order = self.ctx.submit(self.perp_id, side, quantity).client_order_id

    def on_order_filled(self, fill: OrderFilled) -> None:
        self._perp_fees += fill.fee
        notional = fill.quantity * fill.price * self.ctx.instrument(self.perp_id).contract_size
        self._spot_fees += notional * self.cfg.assumed_spot_taker_fee  # the hedge leg's, assumed
        if not self._held:
            self._opened_ns = None

    def _closing_cost(self) -> Decimal:
        price = self._price() if self._ctx is not None else None
        if not self._held or price is None:
            return ZERO
        inst = self.ctx.instrument(self.perp_id)
        notional = abs(self._held) * inst.contract_size * price
        fees = inst.taker_fee + self.cfg.assumed_spot_taker_fee
        return notional * (fees + (self._spread_bps() + self.cfg.assumed_spot_spread_bps) / 2 / BPS)

    def stats(self) -> dict[str, Any]:
        return {
            "mode": "carry estimate (perp traded, spot hedge assumed: not traded)",
            "entries": self._entries,
            "exits": dict(sorted(self._exits.items())),
            "funding_received": self._funding,
            "perp_fees": self._perp_fees,
            "assumed_spot_fees": self._spot_fees,
            "net_carry": self._funding - self._perp_fees - self._spot_fees,
            # what closing what is still held would cost at the last price (both legs' fees, and the
            # perp's spread and the assumed spot spread, half each way): comparable to a round trip
            "net_carry_if_closed": self._funding - self._perp_fees - self._spot_fees - self._closing_cost(),
            "best_edge_bps": None if self._best_edge is None else self._best_edge.quantize(Decimal("0.0001")),
            "held": self._held if self._ctx is not None else ZERO,
        }
