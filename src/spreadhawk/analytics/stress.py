"""Named stress scenarios as PnL on the balances held per venue: BTC crash (other assets by their beta),
correlations to 0.95 (VaR re-computed under the stressed covariance), an exchange hack, a stablecoin depeg.

Inputs are exact: ``balances[venue][asset]`` in units of the asset (Decimal, negative = owed) and
``prices[asset]``, the value of one unit in the *valuation numeraire* (Decimal). The numeraire must
be outside the scenarios (USD, not USDT): a USDT depeg valued in USDT would show up as every other
asset rising. Outputs are Decimal PnL in that numeraire (negative = loss). Statistics that come
from float estimates (betas, covariances) are converted to Decimal at the boundary, rounded to
``STAT_QUANTUM``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

Balances = Mapping[str, Mapping[str, Decimal]]
Prices = Mapping[str, Decimal]

STAT_QUANTUM = Decimal("0.000001")
PEGGED_ASSETS = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI", "TUSD", "FDUSD"})
STABLECOINS = ("USDT", "USDC")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """One scenario's PnL impact (negative = loss) and what was assumed."""

    name: str
    pnl: Decimal
    description: str


def asset_totals(balances: Balances) -> dict[str, Decimal]:
    """Units of each asset summed over all venues."""
    totals: dict[str, Decimal] = {}
    for holdings in balances.values():
        for asset, quantity in holdings.items():
            totals[asset] = totals.get(asset, ZERO) + quantity
    return totals


def _price(prices: Prices, asset: str) -> Decimal:
    if asset not in prices:
        raise ValueError(f"no price for {asset!r}: every asset held needs a price in the valuation numeraire")
    return prices[asset]


def exposures(balances: Balances, prices: Prices) -> dict[str, Decimal]:
    """Value of each asset across venues (units × price)."""
    return {asset: quantity * _price(prices, asset) for asset, quantity in asset_totals(balances).items()}


def portfolio_value(balances: Balances, prices: Prices) -> Decimal:
    return sum(exposures(balances, prices).values(), ZERO)


def _to_decimal(value: float) -> Decimal:
    if not math.isfinite(value):
        raise ValueError(f"statistic is not finite: {value}")
    return Decimal(repr(value)).quantize(STAT_QUANTUM)


def betas_to(returns: pd.DataFrame, benchmark: str = "BTC") -> dict[str, Decimal]:
    """OLS beta of each column's returns on the benchmark column's: ``cov(r_i, r_b) / var(r_b)``."""
    if benchmark not in returns.columns:
        raise ValueError(f"benchmark {benchmark!r} is not among the return columns {list(returns.columns)}")
    clean = returns.dropna()
    benchmark_variance = float(clean[benchmark].var())
    if len(clean) < 3 or benchmark_variance == 0:
        raise ValueError("need at least 3 common returns with a moving benchmark to estimate betas")
    return {
        str(column): _to_decimal(float(clean[column].cov(clean[benchmark])) / benchmark_variance)
        for column in clean.columns
    }


def btc_crash(
    balances: Balances,
    prices: Prices,
    betas: Mapping[str, Decimal],
    shock: Decimal = Decimal("-0.5"),
    btc: str = "BTC",
    pegged: Iterable[str] = PEGGED_ASSETS,
) -> ScenarioResult:
    """BTC moves by ``shock``; every other asset by ``beta × shock`` (floored at -100 %); pegged assets do not move.

    Every asset held other than BTC and the pegged ones needs a beta (a missing one is an error, not zero)."""
    pegged_set = set(pegged)
    pnl = ZERO
    for asset, value in exposures(balances, prices).items():
        if asset == btc:
            beta = Decimal(1)
        elif asset in pegged_set:
            beta = ZERO
        elif asset in betas:
            beta = betas[asset]
        else:
            raise ValueError(f"no beta to {btc} for {asset!r}; estimate it with betas_to() or list it as pegged")
        move = max(beta * shock, Decimal(-1))
        pnl += value * move
    return ScenarioResult(f"{btc} {shock:+.0%}", pnl, f"{btc} {shock:+.0%}, other assets by their beta to {btc}")


def exchange_hack(balances: Balances, prices: Prices, venue: str) -> ScenarioResult:
    """Every positive balance on ``venue`` is lost; debts to the venue (negative balances) are still owed —
    the conservative reading (a bankrupt exchange's estate pursues its debtors)."""
    if venue not in balances:
        raise ValueError(f"unknown venue {venue!r}; balances are held on {sorted(balances)}")
    lost = sum((quantity * _price(prices, asset) for asset, quantity in balances[venue].items() if quantity > 0), ZERO)
    return ScenarioResult(f"{venue} hacked", -lost, f"all positive balances on {venue} lost")


def stablecoin_depeg(
    balances: Balances, prices: Prices, coin: str = "USDT", shock: Decimal = Decimal("-0.10")
) -> ScenarioResult:
    """``coin`` loses ``shock`` of its value on every venue (negative balances gain)."""
    units = asset_totals(balances).get(coin, ZERO)
    pnl = units * _price(prices, coin) * shock if units else ZERO
    return ScenarioResult(f"{coin} {shock:+.0%}", pnl, f"{coin} depegs by {shock:+.0%} on every venue")


@dataclass(frozen=True, slots=True)
class CorrelationStress:
    """Parametric normal VaR (positive loss) of the positions under the estimated and the stressed covariance."""

    base_var: Decimal
    stressed_var: Decimal
    stressed_covariance: npt.NDArray[np.float64]


def stressed_covariance(covariance: npt.ArrayLike, correlation: float = 0.95) -> npt.NDArray[np.float64]:
    """The covariance with every volatility kept and every pairwise correlation set to ``correlation``."""
    matrix = np.asarray(covariance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or (np.diag(matrix) < 0).any():
        raise ValueError(f"need a square covariance matrix with non-negative variances, got shape {matrix.shape}")
    if not -1.0 <= correlation <= 1.0:
        raise ValueError(f"correlation must be in [-1, 1], got {correlation}")
    volatility = np.sqrt(np.diag(matrix))
    target = np.full(matrix.shape, correlation)
    np.fill_diagonal(target, 1.0)
    return np.asarray(np.outer(volatility, volatility) * target, dtype=np.float64)


def correlation_stress(
    positions: Mapping[str, Decimal], covariance: pd.DataFrame, correlation: float = 0.95, level: float = 0.99
) -> CorrelationStress:
    """Re-compute the parametric VaR of ``positions`` (value per asset) with every correlation at ``correlation``.

    ``covariance`` is labelled by asset (per-period returns); an asset held without a row is an error."""
    assets = [asset for asset, value in positions.items() if value != 0]
    missing = [asset for asset in assets if asset not in covariance.index]
    if missing:
        raise ValueError(f"no covariance for {missing}; pegged assets can be left out of the positions")
    weights = np.array([float(positions[asset]) for asset in assets])
    base = covariance.loc[assets, assets].to_numpy(dtype=np.float64)
    stressed = stressed_covariance(base, correlation)
    z = -float(stats.norm.ppf(1.0 - level))

    def var_of(matrix: npt.NDArray[np.float64]) -> Decimal:
        return _to_decimal(z * math.sqrt(max(float(weights @ matrix @ weights), 0.0)))

    return CorrelationStress(var_of(base), var_of(stressed), stressed)


def standard_scenarios(
    balances: Balances,
    prices: Prices,
    betas: Mapping[str, Decimal],
    covariance: pd.DataFrame | None = None,
    level: float = 0.99,
) -> list[ScenarioResult]:
    """The issue's named scenarios: BTC -50 %, correlations to 0.95 (if a covariance is given; reported as the
    stressed VaR loss), the loss of each venue, USDT and USDC -10 %."""
    results = [btc_crash(balances, prices, betas)]
    if covariance is not None:
        positions = {asset: value for asset, value in exposures(balances, prices).items() if asset not in PEGGED_ASSETS}
        stressed = correlation_stress(positions, covariance, 0.95, level)
        results.append(
            ScenarioResult(
                "correlations 0.95",
                -stressed.stressed_var,
                f"{level:.0%} parametric VaR with all correlations at 0.95 (base VaR {stressed.base_var})",
            )
        )
    results.extend(exchange_hack(balances, prices, venue) for venue in sorted(balances))
    results.extend(stablecoin_depeg(balances, prices, coin) for coin in STABLECOINS)
    return results
