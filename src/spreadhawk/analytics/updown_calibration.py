"""The binary fair-value model on real, resolved up/down markets: its forecasts, and what trading on
them would have earned after Polymarket's fees (#12, calibration on real outcomes).

The model is ``binary_pricing.fair_probability_up``: N(d2) from the reference price, the strike, the
time left and a realised volatility. Two real series (``data.readers.updown_series``):

* the 288 markets with a strike of the Chainlink day: forecasts at ``HORIZONS_S`` before each close,
  from the Chainlink feed itself (spot = its last tick, volatility = the feed's realised variance
  over the ``VOL_WINDOW_S`` before the forecast, per second, annualised). No market price is in
  that series, so there is no market baseline for it;
* the 203 windows of the book ladder: forecasts at each sample, from Binance's spot at the sample
  against Binance's open of the window (the official strike is Chainlink's: a basis the model does
  not know), volatility from the previous ``LADDER_VOL_WINDOWS`` windows' 5-minute returns of that
  open. The Up token's mid at the same sample is the market's own forecast: the baseline.

``edge_trades`` buys, in each window, the first token the model prices above its ask by more than
Polymarket's taker fee (``fee_per_share``: ``rate x (p (1-p))^exponent`` a share, the 2026 crypto
schedule ``rate 0.07, exponent 1``), one share, held to the settlement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from spreadhawk.analytics.binary_pricing import YEAR_S, fair_probability_up

__all__ = [
    "HORIZONS_S",
    "LADDER_VOL_WINDOWS",
    "VOL_WINDOW_S",
    "EdgeTrades",
    "Forecast",
    "LadderSample",
    "LadderWindow",
    "PairSums",
    "SettledWindow",
    "chainlink_forecasts",
    "edge_trades",
    "fee_per_share",
    "ladder_forecasts",
    "pair_sums",
]

HORIZONS_S = (120, 60, 30, 10)
VOL_WINDOW_S = 1_800
MAX_TICK_AGE_S = 60  # a forecast needs a reference price at most this old
LADDER_VOL_WINDOWS = 12  # an hour of 5-minute windows
WINDOW_S = 300
FEE_RATE, FEE_EXPONENT = 0.07, 1.0


@dataclass(frozen=True, slots=True)
class SettledWindow:
    slug: str
    start_s: int
    end_s: int
    strike: float  # the reference's price at the start (the official priceToBeat)
    up_won: bool


@dataclass(frozen=True, slots=True)
class LadderSample:
    seconds_left: float  # before the close (the sample's actual time, not its nominal offset)
    spot: float  # Binance BTCUSDT at the sample
    up_bid: float | None
    up_ask: float | None
    down_bid: float | None
    down_ask: float | None


@dataclass(frozen=True, slots=True)
class LadderWindow:
    slug: str
    start_s: int
    open_px: float  # Binance's 1-minute open at the start (the official strike is Chainlink's)
    up_won: bool
    samples: tuple[LadderSample, ...]


@dataclass(frozen=True, slots=True)
class Forecast:
    slug: str
    seconds_left: float
    probability: float  # the model's P(Up)
    up_won: bool
    market_mid: float | None = None  # the Up token's mid at the same moment (the ladder only)
    up_ask: float | None = None
    down_ask: float | None = None


def chainlink_forecasts(
    windows: Iterable[SettledWindow],
    times_ms: Sequence[int],
    prices: Sequence[float],
    horizons: Sequence[int] = HORIZONS_S,
    vol_window_s: int = VOL_WINDOW_S,
) -> list[Forecast]:
    t = np.asarray(times_ms, dtype=np.float64) / 1000.0
    log_price = np.log(np.asarray(prices, dtype=np.float64))
    out = []
    for window in windows:
        for horizon in horizons:
            at = window.end_s - horizon
            last = int(np.searchsorted(t, at, side="right")) - 1
            first = int(np.searchsorted(t, at - vol_window_s, side="left"))
            if last < 0 or at - t[last] > MAX_TICK_AGE_S or last - first < 10:
                continue
            span = t[last] - t[first]
            if span < vol_window_s / 2:
                continue
            returns = np.diff(log_price[first : last + 1])
            vol = math.sqrt(float(np.sum(returns * returns)) / span * YEAR_S)
            spot = math.exp(log_price[last])
            probability = fair_probability_up(spot, window.strike, float(horizon), vol)
            out.append(Forecast(window.slug, float(horizon), probability, window.up_won))
    return out


def ladder_forecasts(windows: Sequence[LadderWindow], vol_windows: int = LADDER_VOL_WINDOWS) -> list[Forecast]:
    out = []
    for k in range(vol_windows, len(windows)):
        history = windows[k - vol_windows : k + 1]
        if any(b.start_s - a.start_s != WINDOW_S for a, b in itertools.pairwise(history)):
            continue  # a gap in the series: no clean 5-minute returns
        opens = np.log(np.array([w.open_px for w in history], dtype=np.float64))
        returns = np.diff(opens)
        vol = math.sqrt(float(np.sum(returns * returns)) / (WINDOW_S * vol_windows) * YEAR_S)
        window = windows[k]
        for sample in window.samples:
            if sample.seconds_left <= 0:
                continue
            probability = fair_probability_up(sample.spot, window.open_px, sample.seconds_left, vol)
            mid = None
            if sample.up_bid is not None and sample.up_ask is not None:
                mid = (sample.up_bid + sample.up_ask) / 2
            out.append(
                Forecast(
                    window.slug, sample.seconds_left, probability, window.up_won, mid, sample.up_ask, sample.down_ask
                )
            )
    return out


def fee_per_share(price: float, rate: float = FEE_RATE, exponent: float = FEE_EXPONENT) -> float:
    """Polymarket's taker fee on one share bought at ``price`` (the 2026 crypto schedule)."""
    return float(rate * (price * (1 - price)) ** exponent)


@dataclass(frozen=True, slots=True)
class EdgeTrades:
    trades: int
    won: int
    pnl: tuple[float, ...]  # per trade, per share, after the fee

    @property
    def total(self) -> float:
        return float(sum(self.pnl))

    @property
    def mean(self) -> float:
        return self.total / self.trades if self.trades else float("nan")

    @property
    def t_stat(self) -> float:
        if self.trades < 2:
            return float("nan")
        spread = float(np.std(self.pnl, ddof=1))
        return float(self.mean / (spread / math.sqrt(self.trades))) if spread > 0 else float("nan")


def edge_trades(
    forecasts: Sequence[Forecast], min_edge: float = 0.0, rate: float = FEE_RATE, exponent: float = FEE_EXPONENT
) -> EdgeTrades:
    """One share per window: the first sample (earliest) where the model's price of a token beats its
    ask plus the fee by more than ``min_edge``; held to the settlement."""
    traded: set[str] = set()
    pnl = []
    won = 0
    for forecast in sorted(forecasts, key=lambda f: (f.slug, -f.seconds_left)):
        if forecast.slug in traded:
            continue
        choices = []
        if forecast.up_ask is not None and 0 < forecast.up_ask < 1:
            cost = forecast.up_ask + fee_per_share(forecast.up_ask, rate, exponent)
            choices.append((forecast.probability - cost, cost, forecast.up_won))
        if forecast.down_ask is not None and 0 < forecast.down_ask < 1:
            cost = forecast.down_ask + fee_per_share(forecast.down_ask, rate, exponent)
            choices.append((1 - forecast.probability - cost, cost, not forecast.up_won))
        if not choices:
            continue
        edge, cost, wins = max(choices)
        if edge <= min_edge:
            continue
        traded.add(forecast.slug)
        pnl.append((1.0 if wins else 0.0) - cost)
        won += wins
    return EdgeTrades(len(pnl), won, tuple(pnl))


@dataclass(frozen=True, slots=True)
class PairSums:
    """Up ask + Down ask over every sample that has both: a pair below 1 locks the difference."""

    samples: int
    sums: tuple[float, ...]  # ask_up + ask_down, per sample
    net: tuple[float, ...]  # per pair after both taker fees: 1 - sum - fee(up) - fee(down)

    @property
    def below_one(self) -> int:
        return sum(1 for total in self.sums if total < 1 - 1e-12)

    @property
    def profitable(self) -> int:
        return sum(1 for value in self.net if value > 1e-12)

    @property
    def median(self) -> float:
        return float(np.median(self.sums)) if self.sums else float("nan")


def pair_sums(windows: Sequence[LadderWindow], rate: float = FEE_RATE, exponent: float = FEE_EXPONENT) -> PairSums:
    """YES/NO pair arbitrage on the sampled books, after Polymarket's taker fee on each side. The
    two asks of a sample come from two REST calls, not one instant: a sum below 1 may be a book
    that moved between them, which is an upper bound on what was there to take."""
    sums, net = [], []
    for window in windows:
        for sample in window.samples:
            if sample.up_ask is None or sample.down_ask is None:
                continue
            total = sample.up_ask + sample.down_ask
            fees = fee_per_share(sample.up_ask, rate, exponent) + fee_per_share(sample.down_ask, rate, exponent)
            sums.append(total)
            net.append(1 - total - fees)
    return PairSums(len(sums), tuple(sums), tuple(net))
