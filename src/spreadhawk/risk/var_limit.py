"""Value at risk as a pre-trade limit: deny an order that would lift the book's 1-day VaR above
``max_var_fraction`` of equity.

Parametric (variance-covariance) VaR of the account's holdings plus the order:

    VaR = z_level × sqrt(e' Σ e) × sqrt(minutes in a day)

with ``e`` the signed value of the account's net holding of each asset (balances on every venue
plus perpetual positions, in the valuation currency; orders in flight are left to the exposure
limits) and ``Σ`` the covariance of the assets' 1-minute log returns over the last
``var_window_minutes``, scaled to a day by the square-root-of-time rule (returns assumed
independent from minute to minute; fat tails and volatility clustering are *not* in a normal
quantile: this limit is a cheap guard, the VaR reports in ``analytics.var`` are the measurement).

Kept cheap on the order's path (bench/bench_risk.py): the prices are sampled once a minute on
market data, the covariance is re-estimated every ``var_refresh_s`` and ``Σe`` and ``e'Σe`` when
the risk engine re-marks (every ``mark_interval_s`` and after fills), all outside the check. An
order adding ``d`` of value to asset ``k`` then needs only ``e'Σe + 2 d (Σe)_k + d² Σ_kk``: O(1).

An order is denied only when it *raises* the VaR above the limit (an order that lowers it passes
even when the book is already over, so the book can be brought back). An asset without a minute of
history (or with too few samples, ``MIN_SAMPLES``) adds no VaR: the limit cannot see it yet.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from spreadhawk.domain.market import Bar, BookDeltas, BookSnapshot, MarketData, QuoteTick, TradeTick
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.config import NS_PER_S, RiskLimits
from spreadhawk.risk.denials import Denial, DenialCode
from spreadhawk.risk.marks import Marks

FloatArray = npt.NDArray[np.float64]
MINUTE_NS = 60 * NS_PER_S
MINUTES_PER_DAY = 1_440
MIN_SAMPLES = 30  # minutes of returns before an asset's variance is trusted


class VarLimit:
    def __init__(self, limits: RiskLimits) -> None:
        if limits.max_var_fraction is None:
            raise ValueError("VarLimit needs risk.max_var_fraction")
        self.fraction = limits.max_var_fraction
        self.level = limits.var_level
        self._z = NormalDist().inv_cdf(limits.var_level)
        self._window = limits.var_window_minutes
        self._refresh_ns = int(limits.var_refresh_s * NS_PER_S)
        self._prices: dict[str, deque[float]] = {}
        self._next_sample_ns: int | None = None
        self._refreshed_ns: int | None = None
        self._index: dict[str, int] = {}  # asset -> row of the covariance
        self._cov: FloatArray | None = None  # one day's covariance of log returns
        self._sigma_e: FloatArray | None = None  # Σe, at the last re-mark
        self._variance = 0.0  # e'Σe, at the last re-mark
        self._exposures: dict[str, float] = {}
        self.var = 0.0  # the book's VaR at the last re-mark (valuation currency)

    # ------------------------------------------------------------------ wiring (RiskEngine.attach)
    def attach(self, engine: Engine, marks: Marks, venues: tuple[str, ...]) -> None:
        """Sample every traded asset's price once a minute, on market data (not on timers: the
        replay drains timers at the end of the data, and a self-renewing one would never end)."""
        self._engine, self._marks, self._venues = engine, marks, venues
        valuation = engine.portfolio.valuation_currency
        self._assets = sorted({i.base for i in engine.instruments.values()} - {valuation})
        for data_type in (BookSnapshot, BookDeltas, QuoteTick, TradeTick, Bar):
            engine.bus.subscribe(data_type, self._on_market_data)

    def _on_market_data(self, data: MarketData) -> None:
        if self._next_sample_ns is None or data.ts_ns >= self._next_sample_ns:
            prices = {asset: self._marks.price(asset, self._engine) for asset in self._assets}
            self.observe(data.ts_ns, {a: p for a, p in prices.items() if p is not None})

    def on_remark(self) -> None:
        """After the risk engine re-marked: the book's value per asset, from its marks."""
        if self._cov is None:
            return
        prices = self._marks.prices
        self.remark(
            {
                asset: float(self._marks.account_net(asset, self._engine, self._venues) * prices[asset])
                for asset in self._index
                if asset in prices
            }
        )

    # ------------------------------------------------------------------ inputs (off the order's path)
    def observe(self, ts_ns: int, prices: Mapping[str, Decimal | float]) -> None:
        """A minute's prices (valuation currency per unit); refreshes the covariance when it is due."""
        for asset, price in prices.items():
            if price and price > 0:
                self._prices.setdefault(asset, deque(maxlen=self._window + 1)).append(math.log(float(price)))
        self._next_sample_ns = (ts_ns // MINUTE_NS + 1) * MINUTE_NS
        if self._refreshed_ns is None or ts_ns - self._refreshed_ns >= self._refresh_ns:
            self.refresh(ts_ns)

    def refresh(self, ts_ns: int) -> None:
        """Re-estimate the covariance from the common history of the assets with enough of it."""
        self._refreshed_ns = ts_ns
        assets = sorted(a for a, logs in self._prices.items() if len(logs) > MIN_SAMPLES)
        if not assets:
            self._cov, self._index = None, {}
            return
        length = min(len(self._prices[a]) for a in assets)
        logs = np.array([list(self._prices[a])[-length:] for a in assets], dtype=np.float64)
        returns = np.diff(logs, axis=1)
        self._cov = np.atleast_2d(np.cov(returns)) * MINUTES_PER_DAY
        self._index = {asset: k for k, asset in enumerate(assets)}
        self.remark(self._exposures)

    def remark(self, exposures: Mapping[str, float]) -> None:
        """The book's signed value per asset now; precomputes ``Σe`` and ``e'Σe`` for the checks."""
        self._exposures = dict(exposures)
        cov = self._cov
        if cov is None:
            self._sigma_e, self._variance, self.var = None, 0.0, 0.0
            return
        e = np.zeros(len(self._index))
        for asset, k in self._index.items():
            e[k] = exposures.get(asset, 0.0)
        self._sigma_e = cov @ e
        self._variance = max(float(e @ self._sigma_e), 0.0)
        self.var = self._z * math.sqrt(self._variance)

    # ------------------------------------------------------------------ the check
    def denial(self, asset: str, added_value: float, equity: Decimal) -> Denial | None:
        """``var_limit: ...`` when adding ``added_value`` (signed) of ``asset`` lifts the VaR over the cap."""
        k = self._index.get(asset)
        sigma_e, cov = self._sigma_e, self._cov
        if k is None or sigma_e is None or cov is None:
            return None
        variance = self._variance + 2.0 * added_value * float(sigma_e[k]) + added_value * added_value * float(cov[k, k])
        if variance <= self._variance:
            return None
        var = self._z * math.sqrt(variance)
        cap = float(self.fraction * equity)
        if var <= cap:
            return None
        detail = f"1-day {self.level:.0%} VaR {var:.2f} > {cap:.2f} ({self.fraction:%} of equity)"
        return Denial(DenialCode.VAR_LIMIT, detail)
