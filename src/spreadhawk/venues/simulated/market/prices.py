"""The price process: fair values of the risky assets in the quote stablecoin.

Per period (one minute by default, the resolution the GARCH was fitted at) a Markov chain picks
the regime, and each asset's conditional variance follows GARCH(1,1) driven by a Student-t shock
shared in scale by all assets (a multivariate t: assets tend to have their big minutes together).
Within the period the path is Gaussian at the ``step_ns`` grid, correlated through the Cholesky
factor of the regime's correlation matrix, so a period's increments add up exactly to the shock
the GARCH saw. On top: regime drift (in units of the asset's own vol, so trends are shared),
mean reversion toward the level at which a ranging or choppy regime began, and market-wide jumps
at Poisson times with correlated sizes. Everything is vectorised over steps; only the per-period
recursion (GARCH, reversion, regime chain: 1,440 iterations a day) is a Python loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spreadhawk.venues.simulated.market.paths import FairValuePaths, Regime

Floats = npt.NDArray[np.float64]

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
YEAR_NS = 365 * 24 * HOUR_NS


@dataclass(frozen=True, slots=True)
class AssetParams:
    symbol: str
    start_price: float
    annual_vol: float  # long-run vol of log returns: diffusion, jumps and regimes together
    garch_alpha: float
    garch_beta: float
    jump_size_sigmas: float  # sd of a jump in units of the asset's long-run sd per period


@dataclass(frozen=True, slots=True)
class RegimeParams:
    drift_sigmas_per_hour: float  # drift as a multiple of the asset's long-run hourly sd
    vol_multiplier: float
    correlation_target: float  # every pair is pulled toward this correlation ...
    correlation_weight: float  # ... by this much (0: base matrix, 1: all pairs at the target)
    reversion_per_hour: float  # pull toward the log price at which the regime began
    jump_multiplier: float


@dataclass(frozen=True, slots=True)
class PriceProcessParams:
    assets: tuple[AssetParams, ...]
    correlation: tuple[tuple[float, ...], ...]  # base correlation of the assets' shocks
    t_dof: float  # Student-t degrees of freedom of the per-period shocks (> 2)
    jump_rate_per_hour: float  # market-wide jump events per hour where jump_multiplier is 1
    regimes: tuple[RegimeParams, ...]  # indexed by Regime
    transition: tuple[tuple[float, ...], ...]  # regime Markov chain, one step per period
    quote: str = "USDT"  # the stablecoin all prices are in; its own price is fixed at 1
    step_ns: int = 100_000_000
    period_ns: int = MINUTE_NS
    initial_regime: Regime | None = None  # None: drawn from the chain's stationary distribution

    def __post_init__(self) -> None:
        n, r = len(self.assets), len(Regime)
        if self.period_ns % self.step_ns:
            raise ValueError(f"period_ns {self.period_ns} is not a multiple of step_ns {self.step_ns}")
        if self.t_dof <= 2:
            raise ValueError(f"t_dof must exceed 2 for a finite variance, got {self.t_dof}")
        for a in self.assets:
            if not (a.start_price > 0 and a.annual_vol > 0 and a.garch_alpha >= 0 and a.garch_beta >= 0):
                raise ValueError(f"asset {a.symbol}: prices and vols must be positive, GARCH terms >= 0")
            if a.garch_alpha + a.garch_beta >= 1:
                raise ValueError(f"asset {a.symbol}: GARCH alpha + beta must be < 1 (stationary)")
        _check_matrix("correlation", self.correlation, n)
        if len(self.regimes) != r:
            raise ValueError(f"need parameters for each of the {r} regimes, got {len(self.regimes)}")
        _check_matrix("transition", self.transition, r)
        for regime in range(r):
            np.linalg.cholesky(regime_correlation(self, regime))  # raises if not positive definite
        if np.any(diffusion_variance(self) <= 0):
            raise ValueError("jumps alone exceed the target variance of an asset; lower their rate or size")

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(a.symbol for a in self.assets)


def _check_matrix(name: str, rows: tuple[tuple[float, ...], ...], n: int) -> None:
    m = np.asarray(rows, dtype=np.float64)
    if m.shape != (n, n):
        raise ValueError(f"{name} must be {n}x{n}, got shape {m.shape}")
    if name == "transition" and not (np.all(m >= 0) and np.allclose(m.sum(axis=1), 1.0)):
        raise ValueError("transition rows must be probabilities summing to 1")
    if name == "correlation" and not (np.allclose(m, m.T) and np.allclose(np.diag(m), 1.0)):
        raise ValueError("correlation must be symmetric with a unit diagonal")


def regime_transitions(
    expected_minutes: tuple[float, ...], exits: tuple[tuple[float, ...], ...], period_ns: int = MINUTE_NS
) -> tuple[tuple[float, ...], ...]:
    """Per-period transition matrix from expected durations and where each regime goes when it ends
    (``exits[i]`` are weights over the other regimes; its diagonal is ignored)."""
    rows = []
    for i, (minutes, weights) in enumerate(zip(expected_minutes, exits, strict=True)):
        leave = period_ns / (minutes * MINUTE_NS)
        w = np.asarray(weights, dtype=np.float64)
        w[i] = 0.0
        row = leave * w / w.sum()
        row[i] = 1.0 - leave
        rows.append(tuple(float(x) for x in row))
    return tuple(rows)


def stationary_distribution(params: PriceProcessParams) -> Floats:
    p = np.asarray(params.transition, dtype=np.float64)
    values, vectors = np.linalg.eig(p.T)
    v = np.real(vectors[:, int(np.argmin(np.abs(values - 1.0)))])
    return np.asarray(v / v.sum(), dtype=np.float64)


def regime_correlation(params: PriceProcessParams, regime: int) -> Floats:
    """Convex mix of the base matrix and an equicorrelation matrix: positive definite if both are."""
    base = np.asarray(params.correlation, dtype=np.float64)
    rp = params.regimes[regime]
    n = len(base)
    target = np.full((n, n), rp.correlation_target)
    np.fill_diagonal(target, 1.0)
    return np.asarray((1 - rp.correlation_weight) * base + rp.correlation_weight * target, dtype=np.float64)


def diffusion_variance(params: PriceProcessParams) -> Floats:
    """Long-run GARCH variance per period (per asset) that makes the total match ``annual_vol``.

    Total variance = E[vol_multiplier^2] h + jump rate × E[jump_multiplier] × jump variance, the
    expectations taken over the stationary regime distribution.
    """
    pi = stationary_distribution(params)
    mult2 = float(pi @ np.array([r.vol_multiplier**2 for r in params.regimes]))
    jumps = float(pi @ np.array([r.jump_multiplier for r in params.regimes]))
    per_period = np.array([a.annual_vol**2 * params.period_ns / YEAR_NS for a in params.assets])
    sizes = np.array([a.jump_size_sigmas for a in params.assets])
    jump_var = params.jump_rate_per_hour * params.period_ns / HOUR_NS * jumps * sizes**2 * per_period
    return np.asarray((per_period - jump_var) / mult2, dtype=np.float64)


def _regime_chain(params: PriceProcessParams, periods: int, rng: np.random.Generator) -> npt.NDArray[np.int8]:
    cumulative = np.cumsum(np.asarray(params.transition, dtype=np.float64), axis=1)
    first = rng.random()  # drawn even when unused, so initial_regime does not shift later draws
    if params.initial_regime is None:
        state = int(np.searchsorted(np.cumsum(stationary_distribution(params)), first, side="right"))
    else:
        state = int(params.initial_regime)
    chain = np.empty(periods, dtype=np.int8)
    last = len(Regime) - 1
    for m, u in enumerate(rng.random(periods).tolist()):
        chain[m] = state
        state = min(int(np.searchsorted(cumulative[state], u, side="right")), last)
    return chain


def simulate_paths(params: PriceProcessParams, *, start_ns: int, hours: float, seed: int) -> FairValuePaths:
    """Fair-value paths on the ``step_ns`` grid; the same (params, seed) gives identical arrays.

    ``volatility`` is the conditional annualised vol of each period (GARCH × regime multiplier),
    known when the period begins: it excludes that period's t draw and jumps, the surprises.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    n = round(hours * HOUR_NS) // params.step_ns
    if n < 1:
        raise ValueError(f"{hours} hours is less than one step of {params.step_ns} ns")
    k = params.period_ns // params.step_ns
    periods = -(-n // k)
    a = len(params.assets)
    regime = _regime_chain(params, periods, rng)
    chol = np.stack([np.linalg.cholesky(regime_correlation(params, r)) for r in range(len(Regime))])

    # Shocks: one variance-mixing draw per period (t scale), Gaussian steps inside it.
    nu = params.t_dof
    mix = np.sqrt((nu - 2) / rng.chisquare(nu, periods))
    steps = rng.standard_normal((periods, k, a))
    for r in range(len(Regime)):
        sel = regime == r
        if sel.any():
            steps[sel] = steps[sel] @ chol[r].T
    shock = steps.sum(axis=1) * (mix / math.sqrt(k))[:, None]  # unit variance per period

    jump_at, jump_pos, jump_size, jump_sum = _jumps(params, regime, chol, k, rng)
    sigma, drift = _period_recursion(params, regime, shock, jump_sum)

    steps *= (sigma * mix[:, None] / math.sqrt(k))[:, None, :]
    steps += (drift / k)[:, None, :]
    np.add.at(steps, (jump_at, jump_pos), jump_size)
    increments = steps.reshape(periods * k, a)[: n - 1]
    log_moves = np.zeros((n, a))  # log price relative to the start, so step 0 is the start price exactly
    np.cumsum(increments, axis=0, out=log_moves[1:])

    per_year = math.sqrt(YEAR_NS / params.period_ns)
    step_period = np.arange(n) // k
    prices = {x.symbol: x.start_price * np.exp(log_moves[:, i]) for i, x in enumerate(params.assets)}
    vols = {x.symbol: (sigma[:, i] * per_year)[step_period] for i, x in enumerate(params.assets)}
    prices[params.quote] = np.ones(n)
    vols[params.quote] = np.zeros(n)
    ts = start_ns + np.arange(n, dtype=np.int64) * params.step_ns
    return FairValuePaths(ts, params.step_ns, prices, vols, regime[step_period])


def _jumps(
    params: PriceProcessParams, regime: npt.NDArray[np.int8], chol: Floats, k: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], Floats, Floats]:
    """Market-wide jumps: Poisson count per period, uniform step inside it, sizes correlated by regime."""
    periods, a = len(regime), len(params.assets)
    per_period = params.jump_rate_per_hour * params.period_ns / HOUR_NS
    multipliers = np.array([r.jump_multiplier for r in params.regimes])
    counts = rng.poisson(per_period * multipliers[regime])
    at = np.repeat(np.arange(periods), counts)
    pos = rng.integers(0, k, len(at))
    long_run_sd = np.array([x.annual_vol * math.sqrt(params.period_ns / YEAR_NS) for x in params.assets])
    sd = long_run_sd * np.array([x.jump_size_sigmas for x in params.assets])
    size = np.einsum("nij,nj->ni", chol[regime[at]], rng.standard_normal((len(at), a))) * sd
    total = np.zeros((periods, a))
    np.add.at(total, at, size)
    return at, pos, size, total


def _period_recursion(
    params: PriceProcessParams, regime: npt.NDArray[np.int8], shock: Floats, jump_sum: Floats
) -> tuple[Floats, Floats]:
    """Per-period sd (GARCH × regime multiplier) and drift, looping over periods.

    The drift includes the convexity terms (-h/2 and the jump compensator) so that the fair price
    itself, not its log, is a martingale when a regime has neither trend nor mean reversion.
    """
    periods, a = shock.shape
    h_bar = diffusion_variance(params)
    alpha = np.array([x.garch_alpha for x in params.assets])
    beta = np.array([x.garch_beta for x in params.assets])
    omega = h_bar * (1 - alpha - beta)
    long_run_sd = np.array([x.annual_vol * math.sqrt(params.period_ns / YEAR_NS) for x in params.assets])
    hours = params.period_ns / HOUR_NS
    mult = [r.vol_multiplier for r in params.regimes]
    trend = [r.drift_sigmas_per_hour * math.sqrt(hours) * long_run_sd for r in params.regimes]
    revert = [r.reversion_per_hour * hours for r in params.regimes]
    jump_rate = params.jump_rate_per_hour * hours
    jump_var = (long_run_sd * np.array([x.jump_size_sigmas for x in params.assets])) ** 2
    compensator = [jump_rate * r.jump_multiplier * (np.exp(jump_var / 2) - 1) for r in params.regimes]

    sigma, drift = np.empty((periods, a)), np.empty((periods, a))
    h = h_bar.copy()
    x = np.zeros(a)  # log price relative to the start: reversion needs only differences
    anchor = x.copy()
    previous = -1
    for m, r in enumerate(regime.tolist()):
        if r != previous:
            anchor, previous = x.copy(), r
        sd = np.sqrt(h) * mult[r]
        d = trend[r] - revert[r] * (x - anchor) - 0.5 * sd * sd - compensator[r]
        sigma[m], drift[m] = sd, d
        x = x + sd * shock[m] + d + jump_sum[m]
        h = omega + (alpha * shock[m] ** 2 + beta) * h
    return sigma, drift


# --- the calibrated default ---------------------------------------------------------------------
# Regimes are design choices (a month of minute bars cannot identify a five-state chain): trends
# last one to two hours, ranging markets longer, choppy spells and crises tens of minutes; a crisis
# triples the volatility, brings eight times the jumps and pulls every correlation toward 0.95.
REGIMES = (
    RegimeParams(0.73, 0.9, 0.0, 0.0, 0.0, 0.5),  # TREND_UP: offsets the down drifts (no long-run trend)
    RegimeParams(-0.8, 1.2, 0.9, 0.3, 0.0, 1.0),  # TREND_DOWN: sell-offs are more correlated
    RegimeParams(0.0, 0.7, 0.0, 0.0, 3.0, 0.5),  # RANGING: reverts with a ~14 min half-life
    RegimeParams(0.0, 1.3, 0.0, 0.0, 10.0, 1.5),  # CHOPPY: noisier, reverts within ~4 min
    RegimeParams(-1.0, 3.0, 0.95, 0.8, 0.0, 8.0),  # CRISIS
)
TRANSITIONS = regime_transitions(
    (120.0, 90.0, 180.0, 45.0, 30.0),
    (
        (0.0, 0.25, 0.40, 0.30, 0.05),
        (0.25, 0.0, 0.30, 0.30, 0.15),
        (0.35, 0.35, 0.0, 0.25, 0.05),
        (0.30, 0.30, 0.30, 0.0, 0.10),
        (0.10, 0.30, 0.10, 0.50, 0.0),
    ),
)
# Fitted values: ``calibration.fit_return_params`` on ../shared/data, mapped by
# ``calibration.params_from_calibration`` (the calibration module documents the whole table).
# BTC-PERP = nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv (45,030 one-minute returns,
# 2021-12-31 → 2022-02-01); Coinbase = quantconnect_lean/.../{btcusd,ethusd}/2018040{4,5}_trade.zip.
_ALPHA = 0.07341  # GARCH alpha, Gaussian QMLE on BTC-PERP (used for every asset: the longest series)
_BETA = 0.9170  # GARCH beta, same fit
_JUMP = 7.525  # rms of BTC-PERP residuals beyond 5 conditional sds, in sds
_RHO = 0.6252  # BTC-ETH correlation of Coinbase one-minute returns, 2,444 common minutes; SOL pairs assumed equal
CALIBRATED = PriceProcessParams(
    assets=(
        AssetParams("BTC", 60_000.0, 0.7159, _ALPHA, _BETA, _JUMP),  # vol: BTC-PERP realised
        # vol: BTC-PERP × 1.1681, the Coinbase ETH/BTC vol ratio on the same minutes (1.0962 / 0.9385)
        AssetParams("ETH", 3_000.0, 0.8363, _ALPHA, _BETA, _JUMP),
        # no SOL recording: ETH vol × the same ratio again (assumption: SOL is to ETH as ETH is to BTC)
        AssetParams("SOL", 150.0, 0.9768, _ALPHA, _BETA, _JUMP),
    ),
    correlation=((1.0, _RHO, _RHO), (_RHO, 1.0, _RHO), (_RHO, _RHO, 1.0)),
    t_dof=4.721,  # Student-t ML on the BTC-PERP GARCH residuals
    # 0.000803 per minute: BTC-PERP residuals beyond 5 sds (0.231 %) minus the 0.151 % the t(4.72) predicts
    jump_rate_per_hour=0.04817,
    regimes=REGIMES,
    transition=TRANSITIONS,
)
