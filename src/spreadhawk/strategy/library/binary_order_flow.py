"""Order-flow imbalance on the reference spot venue, traded on the binary up/down markets.

Signal: over the last ``window_s`` of the reference's public trades, ``ofi = (buy - sell) / (buy +
sell)`` taker volume (in [-1, 1]). Prediction: the reference log return over the next ``horizon_s``
is ``r = beta ofi``, ``beta`` fitted online by least squares (exponentially weighted, half-life
``fit_half_life_s``) from the pairs (ofi at t, realised return t -> t + horizon) seen so far, with
no look-ahead: a pair enters the fit only once its horizon has passed. Nothing trades before
``min_samples`` pairs.

Binary: the token's own book mid ``m`` is its current probability (so the strategy acts only where
"the book has not yet moved"); moving the reference by ``r`` moves ``d2`` by ``r / (sigma
sqrt(tau))``, so the predicted probability is ``N(N^-1(m) + r / (sigma sqrt(tau)))`` for YES (minus
the shift for NO), ``sigma`` an EWMA of 1-s squared reference returns. Buy the token when
``predicted - ask (1 + taker_fee) > min_edge``, an IOC at the touch, held to settlement.

Does the flow carry information? On the simulator, by construction, hardly: a simulated print's
aggressor is "informed" only about the move of the venue's displayed mid since the book was last
published (``books.draw_trades``), i.e. about the past, and the binary books are quoted off the
*true* path without lag (``binaries``), so they are never behind the spot book. What future
information remains comes from the price process's regime drift. The tests measure it and show
that the strategy does not make money there. ``ofi_predictive_correlation`` measures the same
signal on any trade/mid series (the tests run it on the Binance BTCUSDT hftbacktest capture).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from decimal import Decimal
from statistics import NormalDist
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import Field

from spreadhawk.analytics.binary_pricing import YEAR_S
from spreadhawk.domain.events import OrderCanceled, OrderDenied, OrderFilled, OrderRejected
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, InstrumentSettled, TradeTick
from spreadhawk.strategy.base import Strategy, StrategyConfig
from spreadhawk.strategy.binary_buyer import TokenBuyer
from spreadhawk.strategy.binary_guards import updown_market
from spreadhawk.strategy.skips import counted

MS, S = 1_000_000, 1_000_000_000
ZERO = Decimal(0)
_N = NormalDist()
Floats = npt.NDArray[np.float64]


def predicted_probability(mid: float, predicted_return: float, annual_vol: float, seconds_left: float) -> float:
    """The YES probability ``mid`` moved by a reference log return (see the module docstring)."""
    scale = annual_vol * math.sqrt(max(seconds_left, 1e-9) / YEAR_S)
    return _N.cdf(_N.inv_cdf(min(max(mid, 1e-6), 1 - 1e-6)) + predicted_return / max(scale, 1e-12))


def ofi_predictive_correlation(
    trade_ts_ns: Floats, signed_size: Floats, mid_ts_ns: Floats, mids: Floats, window_s: float, horizon_s: float
) -> tuple[float, int]:
    """Correlation of ``ofi`` over the past ``window_s`` with the next ``horizon_s`` log mid return,
    sampled every second on non-overlapping-in-signal grid points; returns (corr, samples)."""
    grid = np.arange(mid_ts_ns[0] + window_s * S, mid_ts_ns[-1] - horizon_s * S, S, dtype=np.float64)
    cum_signed = np.concatenate(([0.0], np.cumsum(signed_size)))
    cum_total = np.concatenate(([0.0], np.cumsum(np.abs(signed_size))))
    hi = np.searchsorted(trade_ts_ns, grid, side="right")
    lo = np.searchsorted(trade_ts_ns, grid - window_s * S, side="right")
    total = cum_total[hi] - cum_total[lo]
    ofi = np.divide(cum_signed[hi] - cum_signed[lo], total, out=np.zeros_like(total), where=total > 0)
    now = np.log(mids[np.searchsorted(mid_ts_ns, grid, side="right") - 1])
    later = np.log(mids[np.searchsorted(mid_ts_ns, grid + horizon_s * S, side="right") - 1])
    keep = total > 0
    if keep.sum() < 3:
        return 0.0, int(keep.sum())
    return float(np.corrcoef(ofi[keep], (later - now)[keep])[0, 1]), int(keep.sum())


class BinaryOrderFlowConfig(StrategyConfig):
    venue: str = Field(default="PREDICT", description="venue of the binary up/down markets")
    reference: str = Field(default="ALPHA:BTC/USDT", description="spot instrument whose trades are read")
    period_min: int = Field(default=15, gt=0, description="trade only the markets of this length")
    window_s: float = Field(default=30.0, gt=0, description="trades summed into the imbalance")
    horizon_s: float = Field(default=60.0, gt=0, description="the return the imbalance predicts")
    fit_half_life_s: float = Field(default=3600.0, gt=0, description="EWMA half-life of the regression")
    min_samples: int = Field(default=600, ge=10, description="(ofi, return) pairs before the first trade")
    vol_half_life_s: float = Field(default=600.0, gt=0, description="EWMA half-life of the variance")
    min_edge: Decimal = Field(default=Decimal("0.01"), ge=0, description="predicted - ask - fee must exceed it")
    order_shares: Decimal = Field(default=Decimal(100), gt=0, description="tokens per order, at most")
    max_shares_per_market: Decimal = Field(default=Decimal(500), gt=0, description="YES + NO tokens held")
    max_book_age_ms: int = Field(default=15_000, gt=0, description="token book older than this: skip")
    max_reference_age_ms: int = Field(default=10_000, gt=0, description="reference book older: skip")
    min_time_to_expiry_s: float = Field(default=60.0, ge=0, description="no entry this close to expiry")


class BinaryOrderFlow(Strategy):
    config_class = BinaryOrderFlowConfig

    def __init__(self, config: BinaryOrderFlowConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._ref = InstrumentId(config.reference)
        self._trades: deque[tuple[int, float]] = deque()  # (ts, signed size) within the window
        self._flow = [0.0, 0.0]  # signed and total size in the window
        self._samples: deque[tuple[int, float, float]] = deque()  # (ts, ofi, log mid) awaiting their horizon
        self._xx = self._xy = self._yy = 0.0  # EWMA sums of the (ofi, return) pairs
        self._fit_pairs = 0
        self._last_mid: tuple[int, float] | None = None
        self._var_per_s = 0.0
        self.buyer = TokenBuyer(
            config.venue,
            self._ref,
            order_shares=config.order_shares,
            max_shares_per_market=config.max_shares_per_market,
            max_book_age_ms=config.max_book_age_ms,
            max_reference_age_ms=config.max_reference_age_ms,
            min_time_to_expiry_s=config.min_time_to_expiry_s,
        )
        self._counts = dict.fromkeys(("signals", "orders", "fills"), 0)
        self._expected_edge = 0.0

    # --------------------------------------------------------------------------- the signal
    def on_trade_tick(self, trade: TradeTick) -> None:
        if trade.instrument_id != self._ref or trade.aggressor is Aggressor.UNKNOWN:
            return
        size = float(self.ctx.instrument(self._ref).size(trade.size))
        signed = size if trade.aggressor is Aggressor.BUYER else -size
        self._trades.append((trade.ts_ns, signed))
        self._flow[0] += signed
        self._flow[1] += size

    def ofi(self, now: int) -> float:
        while self._trades and self._trades[0][0] <= now - self.cfg.window_s * S:
            _, signed = self._trades.popleft()
            self._flow[0] -= signed
            self._flow[1] -= abs(signed)
        return self._flow[0] / self._flow[1] if self._flow[1] > 1e-12 and self._trades else 0.0

    def beta(self) -> float:
        """Least squares through the origin: the mean return is ~0 over a horizon of a minute."""
        return self._xy / self._xx if self._xx > 0 else 0.0

    def correlation(self) -> float:
        return self._xy / math.sqrt(self._xx * self._yy) if self._xx > 0 and self._yy > 0 else 0.0

    def _on_reference(self, now: int) -> None:
        book = self.ctx.book(self._ref)
        mid = book.mid_ticks() if book.is_valid else None
        if mid is None or (self._last_mid is not None and now - self._last_mid[0] < S):
            return  # sampled about once a second
        log_mid = math.log(mid)
        if self._last_mid is not None:
            dt = (now - self._last_mid[0]) / S
            decay = 0.5 ** (dt / self.cfg.vol_half_life_s)
            self._var_per_s = decay * self._var_per_s + (1 - decay) * (log_mid - self._last_mid[1]) ** 2 / dt
        self._last_mid = (now, log_mid)
        while self._samples and self._samples[0][0] <= now - self.cfg.horizon_s * S:
            _, x, before = self._samples.popleft()  # its horizon has passed: the pair enters the fit
            decay = 0.5 ** (1 / self.cfg.fit_half_life_s)  # pairs arrive about once a second
            y = log_mid - before
            self._xx, self._xy, self._yy = (
                decay * self._xx + x * x,
                decay * self._xy + x * y,
                decay * self._yy + y * y,
            )
            self._fit_pairs += 1
        self._samples.append((now, self.ofi(now), log_mid))

    def subscriptions(self) -> Iterable[InstrumentId]:
        return self.buyer.markets(self.ctx)

    def on_start(self) -> None:
        self.buyer.resume(self.ctx)  # a restarted node: what it holds counts against the limit

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._book_changed(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._book_changed(deltas.instrument_id)

    def on_instrument_settled(self, settled: InstrumentSettled) -> None:
        expiry = self.ctx.instrument(settled.instrument_id).expiry_ns
        if expiry is not None:
            self.buyer.settled(expiry)

    def _book_changed(self, iid: InstrumentId) -> None:
        now = self.ctx.now_ns()
        if iid == self._ref:
            self._on_reference(now)
            return
        inst = self.ctx.instrument(iid)
        market = updown_market(inst) if inst.venue == self.cfg.venue else None
        if market is None or market.period_min != self.cfg.period_min or self._fit_pairs < self.cfg.min_samples:
            return
        book = self.ctx.book(iid)
        mid, ask = (book.mid_ticks(), book.best_ask()) if book.is_valid else (None, None)
        if mid is None or ask is None:
            return
        shift = self.beta() * self.ofi(now) * (1 if market.outcome == "YES" else -1)
        vol = math.sqrt(self._var_per_s * YEAR_S)
        predicted = predicted_probability(mid * float(inst.tick_size), shift, vol, (market.expiry_ns - now) / S)
        price = inst.price(ask[0])
        edge = predicted - float(price * (1 + inst.taker_fee))
        if edge <= self.cfg.min_edge:
            return
        self._counts["signals"] += 1
        quantity = self.buyer.buy(self.ctx, iid, market.expiry_ns, price, inst.size(ask[1]))
        if quantity > 0:
            self._counts["orders"] += 1
            self._expected_edge += edge * float(quantity)

    # --------------------------------------------------------------------------- fills
    def on_order_filled(self, event: OrderFilled) -> None:
        self._counts["fills"] += 1
        self.buyer.finish(self.ctx, event.client_order_id)

    def _done(self, event: OrderCanceled | OrderRejected | OrderDenied) -> None:
        self.buyer.finish(self.ctx, event.client_order_id)

    on_order_canceled = on_order_rejected = on_order_denied = _done

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            "skipped": counted(self.buyer.skipped),
            "fit_pairs": self._fit_pairs,
            "beta": round(self.beta(), 8),
            "ofi_return_correlation": round(self.correlation(), 4),
            "expected_edge": round(self._expected_edge, 6),
        }
