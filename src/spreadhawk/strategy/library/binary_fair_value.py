"""Volatility-fair binary trading: buy the YES (NO) token of an up/down market when its ask is far
enough below the model probability that the reference asset ends up (down), and hold to settlement.

Fair ``P(up) = N(d2)`` (``analytics.binary_pricing.fair_probability_up``) from: the reference
instrument's book mid (``reference``, e.g. ``ALPHA:BTC/USDT``) as spot; the strike, which is that mid
at the first reference update at or after the market's open (open = expiry - ``period_min``, markets
opening on period boundaries, as the simulator's and Polymarket's 15-minute markets do; a market
whose open was missed by more than ``max_strike_delay_s`` is never priced); the time to expiry; and
the realised volatility, an EWMA of squared log returns of the reference mid sampled about once a
second (variance per second, annualised over calendar seconds; the venue's quote noise biases it up,
which only makes the model less confident).

Rule: buy YES when ``fair - ask - ask·taker_fee > min_edge``; buy NO when ``(1 - fair) - ask -
ask·taker_fee > min_edge`` (the fee as the simulated venue charges it, on the price). An IOC limit at
the touch, at most ``order_shares``, the size shown, ``max_shares_per_market`` (both tokens of the
market together) and the balance. Guards, each counted as a skipped signal: ``stale_book`` (token book
older than ``max_book_age_ms`` or reference older than ``max_reference_age_ms``), ``near_expiry``,
``order_in_flight`` (one order per token at a time), ``position_limit``, ``insufficient_balance``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import Field

from spreadhawk.analytics.binary_pricing import YEAR_S, fair_probability_up
from spreadhawk.domain.events import OrderCanceled, OrderDenied, OrderFilled, OrderRejected
from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSnapshot, InstrumentSettled, QuoteTick
from spreadhawk.strategy.base import Strategy, StrategyConfig
from spreadhawk.strategy.binary_buyer import TokenBuyer
from spreadhawk.strategy.binary_guards import updown_market
from spreadhawk.strategy.skips import counted

MS, S = 1_000_000, 1_000_000_000
ZERO = Decimal(0)


class BinaryFairValueConfig(StrategyConfig):
    venue: str = Field(default="PREDICT", description="venue of the binary up/down markets")
    reference: str = Field(default="ALPHA:BTC/USDT", description="instrument whose mid is the spot")
    period_min: int = Field(default=15, gt=0, description="market length: open = expiry - period")
    min_edge: Decimal = Field(default=Decimal("0.03"), ge=0, description="fair - ask - fee must exceed this")
    order_shares: Decimal = Field(default=Decimal(100), gt=0, description="tokens per order, at most")
    max_shares_per_market: Decimal = Field(default=Decimal(500), gt=0, description="YES + NO tokens held")
    vol_half_life_s: float = Field(default=600.0, gt=0, description="EWMA half-life of the variance")
    min_vol_samples: int = Field(default=300, ge=1, description="1-s returns before the first trade")
    max_strike_delay_s: float = Field(default=5.0, gt=0, description="strike must be seen this soon after open")
    max_book_age_ms: int = Field(default=15_000, gt=0, description="token book older than this is stale")
    max_reference_age_ms: int = Field(default=10_000, gt=0, description="reference book older: stale")
    min_time_to_expiry_s: float = Field(default=60.0, ge=0, description="no entry this close to expiry")


class BinaryFairValue(Strategy):
    config_class = BinaryFairValueConfig

    def __init__(self, config: BinaryFairValueConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._period = config.period_min * 60 * S
        self._ref = InstrumentId(config.reference)
        self._strikes: dict[int, float] = {}  # open ns -> reference mid then
        self._sample: tuple[int, float] | None = None  # last 1-s sample (ts, mid)
        self._var_per_s, self._samples = 0.0, 0
        self._entry: dict[InstrumentId, float] = {}  # token -> fair probability of its last order
        self.buyer = TokenBuyer(
            config.venue,
            self._ref,
            order_shares=config.order_shares,
            max_shares_per_market=config.max_shares_per_market,
            max_book_age_ms=config.max_book_age_ms,
            max_reference_age_ms=config.max_reference_age_ms,
            min_time_to_expiry_s=config.min_time_to_expiry_s,
        )
        self._counts = dict.fromkeys(("signals", "orders", "fills", "not_priced"), 0)
        self._sums = {"shares_bought": ZERO, "quote_spent": ZERO, "expected_edge": ZERO}

    # --------------------------------------------------------------------------- reference
    def _mid(self) -> float | None:
        book = self.ctx.book(self._ref)
        mid = book.mid_ticks() if book.is_valid else None
        return None if mid is None else mid * float(self.ctx.instrument(self._ref).tick_size)

    def _on_reference(self, now: int) -> None:
        if (mid := self._mid()) is None:
            return
        opened = now // self._period * self._period
        if opened not in self._strikes and now - opened <= self.cfg.max_strike_delay_s * S:
            self._strikes[opened] = mid
        if self._sample is None or now - self._sample[0] >= S:
            if self._sample is not None:  # variance per second of this return, then the EWMA
                dt = (now - self._sample[0]) / S
                decay = 0.5 ** (dt / self.cfg.vol_half_life_s)
                self._var_per_s = decay * self._var_per_s + (1 - decay) * math.log(mid / self._sample[1]) ** 2 / dt
                self._samples += 1
            self._sample = (now, mid)

    def annual_vol(self) -> float:
        return math.sqrt(self._var_per_s * YEAR_S)

    def subscriptions(self) -> Iterable[InstrumentId]:
        return self.buyer.markets(self.ctx)

    def on_start(self) -> None:
        self.buyer.resume(self.ctx)  # a restarted node: what it holds counts against the limit

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._book_changed(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._book_changed(deltas.instrument_id)

    def on_quote_tick(self, quote: QuoteTick) -> None:
        if quote.instrument_id == self._ref:  # a reference recorded as top-of-book quotes (a bookTicker)
            self._on_reference(self.ctx.now_ns())

    def on_instrument_settled(self, settled: InstrumentSettled) -> None:
        expiry = self.ctx.instrument(settled.instrument_id).expiry_ns
        if expiry is not None and venue_of(settled.instrument_id) == self.cfg.venue:
            self._strikes.pop(expiry - self._period, None)
            self.buyer.settled(expiry)

    def _book_changed(self, iid: InstrumentId) -> None:
        now = self.ctx.now_ns()
        if iid == self._ref:
            self._on_reference(now)
            return
        inst = self.ctx.instrument(iid)
        market = updown_market(inst)  # Polymarket's Up is YES, Down is NO
        outcome = market.outcome if market is not None else inst.symbol.rpartition("-")[2]
        if inst.venue != self.cfg.venue or inst.kind is not InstrumentKind.BINARY or outcome not in ("YES", "NO"):
            return
        if market is not None and market.period_min != self.cfg.period_min:
            return  # another horizon's market (e.g. the 1-hour ones): its open is not expiry - period
        expiry = inst.expiry_ns or 0
        strike, spot = self._strikes.get(expiry - self._period), self._mid()
        book = self.ctx.book(iid)
        ask = book.best_ask() if book.is_valid else None
        if strike is None or spot is None or ask is None or self._samples < self.cfg.min_vol_samples:
            self._counts["not_priced"] += 1
            return
        up = fair_probability_up(spot, strike, (expiry - now) / S, self.annual_vol())
        fair = up if outcome == "YES" else 1 - up
        price = inst.price(ask[0])
        edge = Decimal(repr(fair)) - price * (1 + inst.taker_fee)
        if edge <= self.cfg.min_edge:
            return
        self._counts["signals"] += 1
        self._entry[iid] = fair
        if self.buyer.buy(self.ctx, iid, expiry, price, inst.size(ask[1])) > 0:
            self._counts["orders"] += 1

    # --------------------------------------------------------------------------- fills
    def on_order_filled(self, event: OrderFilled) -> None:
        inst = self.ctx.instrument(event.instrument_id)
        spent = inst.notional(event.quantity, event.price) + event.fee
        self._counts["fills"] += 1
        self._sums["shares_bought"] += event.quantity
        self._sums["quote_spent"] += spent
        fair = Decimal(repr(self._entry[event.instrument_id]))
        self._sums["expected_edge"] += fair * event.quantity * inst.contract_size - spent
        self.buyer.finish(self.ctx, event.client_order_id)

    def _done(self, event: OrderCanceled | OrderRejected | OrderDenied) -> None:
        self.buyer.finish(self.ctx, event.client_order_id)

    on_order_canceled = on_order_rejected = on_order_denied = _done

    def stats(self) -> dict[str, Any]:
        return {**self._counts, "skipped": counted(self.buyer.skipped), **self._sums}
