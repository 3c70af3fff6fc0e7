"""Live regime- and correlation-aware capital allocation (issue #5, items 3, 5 and 6).

A ``CapitalAllocator`` samples the prices (book mids) of a few *reference* instruments from the
engine on the injected clock (at the first market record of every ``sample_interval_s``), folds
them into bars (``bar_interval_s``, one minute by default: high, low and close of the samples),
and on every closed bar

* classifies the current **regime**: ``rules`` runs ``analytics.regime.classify_regimes`` on the
  first reference's bars, with the mean pairwise correlation of every reference's bar returns over
  ``correlation_window`` bars as the crisis signal; ``hmm`` refits ``fit_hmm_regimes`` (seeded)
  every ``hmm_refit_hours`` and maps its calmest state to ranging, its most volatile to volatile and
  any other to neutral, with the same correlation test deciding crisis first;
* keeps the covariance of the references' bar returns over the same window.

A strategy asks ``scale(strategy_id, instrument_id)`` (through ``StrategyContext.capital_scale``)
when it sizes an entry, and gets

    allocation_matrix[regime][family] × correlation factor × the risk engine's size multiplier

where the **correlation factor** is ``1 - corr(long the instrument's base asset, the rest of the
portfolio)``, clipped to ``[floor, 1]``. "The rest of the portfolio" is what the account holds in
the reference assets (balances on every venue plus perpetual positions, marked at the last bar
close) less the asking instrument's own position: a strategy whose bet is already on the book
through another asset (ETH while BTC is held) is sized down by how much the two move together, and
by more when correlations rise in a crisis. A negative correlation (a hedge) does not scale up. A
strategy without an instrument (a hedged carry trade asks without one) gets factor 1, as does an
asset that is not among the references: there is nothing to correlate it with.

A strategy's family (a row key of the allocation matrix) comes from the config's ``families``
mapping, else the strategy class's ``family`` attribute; a strategy with neither is not scaled by
regime (factor 1). Regime changes are kept as a time series (``regimes``: ``(ts_ns, regime)`` at
each change) for the run's results.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from spreadhawk.analytics.regime_table import STRATEGY_FAMILIES, AllocationMatrix, Regime, RegimeThresholds
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import Bar, BookDeltas, BookSnapshot, MarketData, QuoteTick, TradeTick
from spreadhawk.engine.engine import Engine

if TYPE_CHECKING:
    from spreadhawk.analytics.regime import HmmRegimeModel

ONE = Decimal(1)
NS_PER_S = 1_000_000_000
FloatArray = npt.NDArray[np.float64]
RegimeMethod = Literal["rules", "hmm"]

# Short names a config may use for the allocation matrix's families.
FAMILY_ALIASES = {
    "arbitrage": "cross_exchange_arb",
    "carry": "funding_capture",
    "prediction": "prediction_markets",
    "stat_arb": "statistical_arb",
}
HMM_VOLATILITY_WINDOW = 30  # bars of realised volatility in the HMM's second feature


def resolve_family(name: str) -> str:
    """A matrix family from a family name or its alias; ValueError naming the known ones."""
    family = FAMILY_ALIASES.get(name, name)
    if family not in STRATEGY_FAMILIES:
        known = sorted({*STRATEGY_FAMILIES, *FAMILY_ALIASES})
        raise ValueError(f"unknown strategy family {name!r}; known: {', '.join(known)}")
    return family


@dataclass(frozen=True, slots=True)
class AllocationSettings:
    reference: tuple[InstrumentId, ...]  # the first decides trend, range and volatility; all decide crisis
    method: RegimeMethod = "rules"
    matrix: AllocationMatrix = field(default_factory=AllocationMatrix.default)
    families: Mapping[str, str] = field(default_factory=dict)  # strategy id -> family (overrides the class's)
    correlation_window: int = 30  # bars
    floor: Decimal = Decimal("0.25")  # the correlation factor never goes below this
    sample_interval_s: float = 5.0
    bar_interval_s: float = 60.0
    history_bars: int = 360  # bars kept for the indicators and the HMM
    thresholds: RegimeThresholds = field(default_factory=RegimeThresholds)
    hmm_states: int = 3
    hmm_refit_hours: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.reference:
            raise ValueError("allocation needs at least one reference instrument")
        if self.correlation_window < 3:
            raise ValueError(f"correlation_window must be at least 3 bars, got {self.correlation_window}")
        if not ONE >= self.floor >= 0:
            raise ValueError(f"floor must be in [0, 1], got {self.floor}")
        if self.bar_interval_s < self.sample_interval_s:
            raise ValueError("bar_interval_s must be at least sample_interval_s")
        if self.history_bars < max(self.correlation_window + 1, 3 * self.thresholds.period):
            raise ValueError(f"history_bars ({self.history_bars}) is too short for the windows")


class SizeMultiplier(Protocol):
    """What the allocator needs of the risk engine: its size multiplier (0.5 while halving)."""

    def size_multiplier(self) -> Decimal: ...


class CapitalAllocator:
    def __init__(self, settings: AllocationSettings, risk: SizeMultiplier | None = None) -> None:
        self.settings = settings
        self.risk = risk
        self.regime = Regime.NEUTRAL
        self.regimes: list[tuple[int, str]] = []  # (ts_ns, regime) at each change
        self.override: Regime | None = None  # set by the operator: used instead of the classifier
        self.override_by: str | None = None
        self.mean_correlation = math.nan
        self._families: dict[str, str] = {}
        n, history = len(settings.reference), settings.history_bars
        self._highs: list[deque[float]] = [deque(maxlen=history) for _ in range(n)]
        self._lows: list[deque[float]] = [deque(maxlen=history) for _ in range(n)]
        self._closes: list[deque[float]] = [deque(maxlen=history) for _ in range(n)]
        self._bar: list[list[float] | None] = [None] * n  # the bar being built: high, low, close
        self._covariance: FloatArray | None = None
        self._hmm: HmmRegimeModel | None = None
        self._hmm_fitted_ns: int | None = None
        self._engine: Engine | None = None
        self._bar_end_ns = 0

    # ------------------------------------------------------------------ wiring
    def attach(self, engine: Engine, families: Mapping[str, str]) -> None:
        """Start sampling ``engine``; ``families`` by strategy id. Strategies read it once the
        composition root calls ``engine.use_capital(self)``."""
        missing = [str(iid) for iid in self.settings.reference if iid not in engine.instruments]
        if missing:
            raise ValueError(f"allocation reference instrument(s) not traded in this run: {', '.join(missing)}")
        self._families = {sid: resolve_family(family) for sid, family in families.items()}
        self._assets = [engine.instruments[iid].base for iid in self.settings.reference]
        self._engine = engine
        now = engine.clock.now_ns()
        self._sample_ns = int(self.settings.sample_interval_s * NS_PER_S)
        self._bar_ns = int(self.settings.bar_interval_s * NS_PER_S)
        self._bar_end_ns = (now // self._bar_ns + 1) * self._bar_ns  # bars on the clock's grid
        self._next_sample_ns = (now // self._sample_ns + 1) * self._sample_ns
        # Sampled on market data (the first record at or after each point of the sampling grid),
        # not on self-renewing timers: the replay drains every timer at the end of the data, and a
        # timer that schedules the next one would never let it finish.
        for data_type in (BookSnapshot, BookDeltas, QuoteTick, TradeTick, Bar):
            engine.bus.subscribe(data_type, self._on_market_data)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the capital allocator is not attached to an engine")
        return self._engine

    # ------------------------------------------------------------------ the port
    def scale(self, strategy_id: str, instrument_id: InstrumentId | None = None) -> Decimal:
        regime_factor, correlation_factor, multiplier = self.factors(strategy_id, instrument_id)
        return regime_factor * correlation_factor * multiplier

    def factors(self, strategy_id: str, instrument_id: InstrumentId | None = None) -> tuple[Decimal, Decimal, Decimal]:
        """(regime factor, correlation factor, risk size multiplier) for the strategy now."""
        family = self._families.get(strategy_id)
        regime_factor = ONE if family is None else self.settings.matrix.scale(self.regime, family)
        multiplier = ONE if self.risk is None else self.risk.size_multiplier()
        return regime_factor, self.correlation_factor(instrument_id), multiplier

    def correlation_factor(self, instrument_id: InstrumentId | None) -> Decimal:
        correlation = self.correlation_to_portfolio(instrument_id)
        if correlation is None:
            return ONE
        factor = Decimal(repr(round(1.0 - max(correlation, 0.0), 6)))
        return min(ONE, max(self.settings.floor, factor))

    def correlation_to_portfolio(self, instrument_id: InstrumentId | None) -> float | None:
        """Correlation of a long in the instrument's base asset with the rest of the book's holdings;
        None when it cannot be said (no instrument, no history, the asset is not a reference, or the
        rest of the book holds none of the references)."""
        cov = self._covariance
        if instrument_id is None or cov is None:
            return None
        inst = self.engine.instruments[instrument_id]
        if inst.base not in self._assets:
            return None
        k = self._assets.index(inst.base)
        weights = self._holdings_value()
        own = self.engine.portfolio.positions.get(instrument_id)
        if own is not None:
            weights[k] -= float(own.quantity * inst.contract_size) * self._closes[k][-1]
        portfolio_variance = float(weights @ cov @ weights)
        if portfolio_variance <= 0.0 or cov[k, k] <= 0.0:
            return None
        return float((cov @ weights)[k] / math.sqrt(cov[k, k] * portfolio_variance))

    def _holdings_value(self) -> FloatArray:
        """Signed value of the account's holdings of each reference asset, at the last bar close."""
        engine = self.engine
        units = dict.fromkeys(self._assets, Decimal(0))
        for (_, asset), amount in engine.portfolio.ledger.balances().items():
            if asset in units:
                units[asset] += amount
        for iid, position in engine.portfolio.positions.items():
            inst = engine.instruments[iid]
            if inst.kind is InstrumentKind.PERPETUAL and inst.base in units:
                units[inst.base] += position.quantity * inst.contract_size
        return np.array([float(units[a]) * self._closes[k][-1] for k, a in enumerate(self._assets)])

    # ------------------------------------------------------------------ sampling
    def _on_market_data(self, data: MarketData) -> None:
        if data.ts_ns >= self._next_sample_ns:
            self._sample(data.ts_ns)

    def _sample(self, now: int) -> None:
        engine = self.engine
        for k, iid in enumerate(self.settings.reference):
            price = engine.price(iid)
            if price is None:
                continue
            value = float(price)
            bar = self._bar[k]
            if bar is None:
                self._bar[k] = [value, value, value]
            else:
                bar[0], bar[1], bar[2] = max(bar[0], value), min(bar[1], value), value
        if now >= self._bar_end_ns:
            self._close_bar(now)
            self._bar_end_ns += self._bar_ns * ((now - self._bar_end_ns) // self._bar_ns + 1)
        self._next_sample_ns += self._sample_ns * ((now - self._next_sample_ns) // self._sample_ns + 1)

    def _close_bar(self, now: int) -> None:
        if any(bar is None for bar in self._bar):
            return  # a reference without a price yet: bars start when every reference has one
        for k, bar in enumerate(self._bar):
            assert bar is not None
            self._highs[k].append(bar[0])
            self._lows[k].append(bar[1])
            self._closes[k].append(bar[2])
            self._bar[k] = [bar[2], bar[2], bar[2]]  # the next bar opens at this close
        self._update_covariance()
        regime = self._classify(now)
        if regime is not self.regime or not self.regimes:
            self.regime = regime
            self.regimes.append((now, regime.value))

    def _returns(self, bars: int | None = None) -> FloatArray:
        closes = np.array([list(c) for c in self._closes], dtype=np.float64)
        returns = np.diff(np.log(closes), axis=1).T  # (bars - 1, references)
        return returns if bars is None else returns[-bars:]

    def _update_covariance(self) -> None:
        window = self.settings.correlation_window
        if len(self._closes[0]) < window + 1:
            return
        returns = self._returns(window)
        cov = np.atleast_2d(np.cov(returns, rowvar=False))
        self._covariance = cov
        if len(self._assets) < 2:
            return
        std = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(std, std)
        off_diagonal = corr[~np.eye(len(std), dtype=bool)]
        self.mean_correlation = float(off_diagonal.mean()) if np.isfinite(off_diagonal).all() else math.nan

    def override_regime(self, regime: Regime | None, now: int, by: str) -> None:
        """The operator fixes the regime (an emergency: the seed's manual override) until cleared with
        None; the change is kept in ``regimes`` like any other and sizes follow it at once."""
        self.override, self.override_by = regime, (by if regime is not None else None)
        current = regime if regime is not None else self._classify(now)
        if current is not self.regime or not self.regimes:
            self.regime = current
            self.regimes.append((now, current.value))

    def _classify(self, now: int) -> Regime:
        if self.override is not None:
            return self.override
        thresholds = self.settings.thresholds
        if self.mean_correlation > thresholds.crisis_correlation:
            return Regime.CRISIS
        if self.settings.method == "hmm":
            return self._hmm_regime(now)
        bars = len(self._closes[0])
        if bars < 2 * thresholds.period + 1:
            return Regime.NEUTRAL  # the indicators' warm-up
        correlation = np.full(bars, np.nan)
        correlation[-1] = self.mean_correlation
        # the regime models are imported when used: they bring scipy, arch and hmmlearn (seconds),
        # and this module is read with every config (risk_config)
        from spreadhawk.analytics.regime import classify_regimes  # noqa: PLC0415

        series = classify_regimes(
            np.array(self._highs[0]), np.array(self._lows[0]), np.array(self._closes[0]), correlation, thresholds
        )
        return series.regimes[-1]

    def _hmm_regime(self, now: int) -> Regime:
        settings = self.settings
        returns = self._returns()[:, 0]
        refit_ns = int(settings.hmm_refit_hours * 3600 * NS_PER_S)
        due = self._hmm_fitted_ns is None or now - self._hmm_fitted_ns >= refit_ns
        if due and len(returns) >= HMM_VOLATILITY_WINDOW + 20 * settings.hmm_states:
            from spreadhawk.analytics.regime import fit_hmm_regimes  # noqa: PLC0415 -- see _classify

            try:
                self._hmm = fit_hmm_regimes(returns, settings.hmm_states, HMM_VOLATILITY_WINDOW, settings.seed)
                self._hmm_fitted_ns = now
            except ValueError:
                pass  # flat prices: keep the previous model (or none) and try at the next bar
        if self._hmm is None:
            return Regime.NEUTRAL
        label = int(self._hmm.labels(returns)[-1])
        if label == 0:
            return Regime.RANGING
        return Regime.VOLATILE if label == self._hmm.states - 1 else Regime.NEUTRAL
