"""Calibration of the price process (returns) to the real recordings in ../shared/data.

``fit_return_params(shared_data)`` reads the minute bars, measures the stylised facts and fits a
GARCH(1,1)-t; ``params_from_calibration`` turns the result into ``PriceProcessParams``. The stored
``prices.CALIBRATED`` is the output of one such run (``tests/simulator/test_stylised_facts.py``
re-runs the fit and checks it still reproduces them).

Fitted values (``shared_data`` as published; 1-minute log returns of closes, only between
consecutive minutes; annualised with 525,600 minutes a year, as crypto trades around the clock):

===============================  =============  =============  =============  ==========================
value                            BTC-PERP       Coinbase BTC   Coinbase ETH   used in CALIBRATED as
===============================  =============  =============  =============  ==========================
one-minute returns               45,030         2,444          2,446
realised annual vol              0.7159         0.9385         1.0962         BTC 0.7159; ETH ×1.1681
excess kurtosis                  23.27          20.48          6.66           (stylised fact)
ACF of abs returns, lag 1/5/10   .325/.252/.236 .249/.082/.020 .249/.082/.035 (stylised fact)
share beyond 5 sample sds        0.384 %        0.409 %        0.368 %        (stylised fact)
GARCH alpha                      0.07341        0.3309         0.1018         all assets: BTC-PERP
GARCH beta                       0.9170         0.2904         0.7797         all assets: BTC-PERP
Student-t dof of residuals       4.721          2.471          2.624          t_dof: BTC-PERP
jumps per minute (see below)     0.000803       0.00157        0              ×60 = jump_rate_per_hour
jump size, conditional sds       7.525          7.300          -              jump_size_sigmas
BTC-ETH correlation              -              0.6252 (2,444 common minutes)  every pair
===============================  =============  =============  =============  ==========================

Sources: BTC-PERP = ``nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv`` (2021-12-31 23:01 →
2022-02-01 05:31, 31 days, no gaps). Coinbase = ``quantconnect_lean/crypto/coinbase/minute/
{btcusd,ethusd}/2018040{4,5}_trade.zip`` (2018-04-04 00:00 → 2018-04-05 23:59 bar opens; the 04-04
trade files stop at 16:47). Two days are too short to pin down a GARCH (see the Coinbase columns),
so every asset uses the BTC-PERP dynamics; the Coinbase pair, same venue and minutes, gives only
the ETH/BTC vol ratio (1.1681, applied to the BTC-PERP level) and the correlation. There is no SOL
recording: SOL vol = ETH vol × the same ratio and the SOL correlations equal BTC-ETH's; both are
assumptions, as are all regime parameters (``prices.REGIMES``, ``prices.TRANSITIONS``).

GARCH method: scipy is not a dependency, so (alpha, beta) maximise the Gaussian quasi-likelihood
(consistent for GARCH under fat-tailed innovations) on a log-spaced grid zoomed three times around
the best point, with variance targeting (omega = sample variance × (1 - alpha - beta)); the
Student-t degrees of freedom then maximise the t likelihood of the standardised residuals (golden
section). Jumps are the residuals beyond 5 conditional sds in excess of what that t predicts.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from spreadhawk.venues.simulated.market.prices import (
    CALIBRATED,
    MINUTE_NS,
    YEAR_NS,
    AssetParams,
    PriceProcessParams,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

BTC_PERP = "nautilus_trader/ohlcv/btc-perp-20211231-20220201_1m.csv"
COINBASE_DAYS = ("20180404", "20180405")
ACF_LAGS = 10
JUMP_SDS = 5.0


@dataclass(frozen=True, slots=True)
class Source:
    """Where a statistic came from: files (relative to shared data) and the time range of the returns."""

    files: tuple[str, ...]
    first_ns: int
    last_ns: int
    returns: int

    def describe(self) -> str:
        first, last = (pd.Timestamp(t, tz="UTC").strftime("%Y-%m-%d %H:%M") for t in (self.first_ns, self.last_ns))
        return f"{', '.join(self.files)} ({first} → {last} UTC, {self.returns:,} one-minute returns)"


@dataclass(frozen=True, slots=True)
class GarchFit:
    """GARCH(1,1)-t of one-minute returns: h[t+1] = omega + alpha r[t]^2 + beta h[t]."""

    alpha: float
    beta: float
    omega: float
    t_dof: float
    jump_rate_per_min: float  # residuals beyond JUMP_SDS in excess of the fitted t's prediction
    jump_size_sigmas: float  # rms size of those residuals, in conditional sds


@dataclass(frozen=True, slots=True)
class SeriesStats:
    source: Source
    annual_vol: float
    excess_kurtosis: float
    abs_acf: tuple[float, ...]  # autocorrelation of |r| at lags 1..ACF_LAGS
    beyond_5_sd: float  # share of returns farther than 5 sample sds from the mean
    garch: GarchFit


@dataclass(frozen=True, slots=True)
class ReturnCalibration:
    btc_perp: SeriesStats
    coinbase_btc: SeriesStats
    coinbase_eth: SeriesStats
    btc_eth_correlation: float
    correlation_source: Source


# --- stylised facts (also used on simulated paths by the tests) ---------------------------------


def annualised_vol(returns: Floats, period_ns: int = MINUTE_NS) -> float:
    return float(np.std(returns) * math.sqrt(YEAR_NS / period_ns))


def excess_kurtosis(returns: Floats) -> float:
    centred = returns - returns.mean()
    return float(np.mean(centred**4) / np.mean(centred**2) ** 2 - 3.0)


def abs_return_acf(returns: Floats, lags: int = ACF_LAGS) -> tuple[float, ...]:
    """Sample autocorrelation of |r - mean| at lags 1..lags (the usual biased estimator)."""
    a = np.abs(returns - returns.mean())
    a = a - a.mean()
    denom = float(np.dot(a, a))
    return tuple(float(np.dot(a[:-k], a[k:]) / denom) for k in range(1, lags + 1))


def beyond_sds(returns: Floats, sds: float = JUMP_SDS) -> float:
    centred = returns - returns.mean()
    return float(np.mean(np.abs(centred) > sds * centred.std()))


# --- GARCH(1,1)-t by grid-zoomed Gaussian QMLE (no scipy) --------------------------------------


def _garch_deviation(r2: Floats, s2: float, beta: float) -> Floats:
    """D[t] with h[t] = s2 + alpha * D[t] under variance targeting and h[0] = s2.

    Unrolling h[t] = s2 (1 - a - b) + a r2[t-1] + b h[t-1] gives h[t] = s2 + a (C[t] - s2 G[t]) with
    C[t] = sum_j b^j r2[t-1-j] and G[t] = (1 - b^t) / (1 - b): linear in alpha, so one FFT
    convolution per beta evaluates a whole column of alphas at once.
    """
    n = len(r2)
    size = 1 << math.ceil(math.log2(2 * n))
    decay = beta ** np.arange(n, dtype=np.float64)
    conv = np.fft.irfft(np.fft.rfft(r2, size) * np.fft.rfft(decay, size), size)[: n - 1]
    lagged = np.concatenate(([0.0], conv))
    return lagged - s2 * (1.0 - decay) / (1.0 - beta)


def _gaussian_loglik(r2: Floats, s2: float, alphas: Floats, beta: float) -> Floats:
    h = s2 + np.outer(alphas, _garch_deviation(r2, s2, beta))
    ok = (h > 0).all(axis=1)
    h = np.where(h > 0, h, 1.0)
    loglik = -0.5 * np.sum(np.log(h) + r2 / h, axis=1)
    return np.where(ok, loglik, -np.inf)


def _grid_search(r2: Floats, s2: float) -> tuple[float, float]:
    """Best (alpha, beta): alpha on a log grid, 1 - beta on a log grid, zoomed around the best cell."""
    log_a, log_b = (math.log(0.002), math.log(0.6)), (math.log(0.0005), math.log(0.6))
    best = (0.0, 0.0)
    for points in (25, 11, 11, 11):
        alphas = np.exp(np.linspace(*log_a, points))
        one_minus_betas = np.exp(np.linspace(*log_b, points))
        top = -np.inf
        for omb in one_minus_betas:
            lik = _gaussian_loglik(r2, s2, alphas, 1.0 - omb)
            lik[alphas + (1.0 - omb) >= 1.0] = -np.inf  # stationarity
            i = int(np.argmax(lik))
            if lik[i] > top:
                top, best = float(lik[i]), (float(alphas[i]), float(1.0 - omb))
        cell_a = (log_a[1] - log_a[0]) / (points - 1)
        cell_b = (log_b[1] - log_b[0]) / (points - 1)
        centre_a, centre_b = math.log(best[0]), math.log(1.0 - best[1])
        log_a, log_b = (centre_a - cell_a, centre_a + cell_a), (centre_b - cell_b, centre_b + cell_b)
    return best


def _t_loglik(z: Floats, nu: float) -> float:
    """Log likelihood of unit-variance Student-t(nu) residuals."""
    const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(math.pi * (nu - 2))
    return float(len(z) * const - (nu + 1) / 2 * np.sum(np.log1p(z * z / (nu - 2))))


def _fit_t_dof(z: Floats, low: float = 2.05, high: float = 60.0) -> float:
    """Golden-section search of the t likelihood over nu (unimodal in practice)."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    for _ in range(60):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if _t_loglik(z, c) > _t_loglik(z, d):
            b = d
        else:
            a = c
    return (a + b) / 2


def t_tail(nu: float, sds: float) -> float:
    """P(|T| > sds) for a unit-variance Student-t(nu), integrated numerically (u = 1/x keeps it finite)."""
    scale = math.sqrt((nu - 2) / nu)  # T = scale * t_nu
    cut = sds / scale
    u = np.linspace(0.0, 1.0 / cut, 4001)[1:]
    x = 1.0 / u
    log_pdf = (
        math.lgamma((nu + 1) / 2)
        - math.lgamma(nu / 2)
        - 0.5 * math.log(nu * math.pi)
        - (nu + 1) / 2 * np.log1p(x * x / nu)
    )
    integrand = np.exp(log_pdf) / (u * u)
    integrand = np.concatenate(([0.0], integrand))  # the density times x^2 vanishes as x -> inf for nu > 1
    trapezoid = float(integrand.sum() - 0.5 * (integrand[0] + integrand[-1])) / cut / 4000
    return 2.0 * trapezoid


def fit_garch(returns: Floats) -> GarchFit:
    r = returns - returns.mean()
    r2 = r * r
    s2 = float(r2.mean())
    alpha, beta = _grid_search(r2, s2)
    h = s2 + alpha * _garch_deviation(r2, s2, beta)
    z = r / np.sqrt(h)
    nu = _fit_t_dof(z)
    exceed = np.abs(z) > JUMP_SDS
    excess = float(exceed.mean()) - t_tail(nu, JUMP_SDS)
    rate = max(0.0, excess)
    size = math.sqrt(float(np.mean(z[exceed] ** 2))) if rate > 0 else 0.0
    return GarchFit(alpha, beta, s2 * (1 - alpha - beta), nu, rate, size)


# --- reading the recordings (plain floats: statistics need no exact decimals) -------------------


def _minute_returns(ts_ns: Ints, close: Floats) -> tuple[Ints, Floats]:
    """(end time, log return) of every pair of consecutive one-minute closes; gaps are skipped."""
    consecutive = np.diff(ts_ns) == MINUTE_NS
    return ts_ns[1:][consecutive], np.diff(np.log(close))[consecutive]


def _read_btc_perp(shared_data: Path) -> tuple[Ints, Floats]:
    frame = pd.read_csv(shared_data / BTC_PERP)
    ts = pd.to_datetime(frame["timestamp"], utc=True).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return _minute_returns(ts, frame["close"].to_numpy(dtype=np.float64))


def _lean_files(symbol: str) -> tuple[str, ...]:
    return tuple(f"quantconnect_lean/crypto/coinbase/minute/{symbol}/{day}_trade.zip" for day in COINBASE_DAYS)


def _read_lean_trades(shared_data: Path, files: Sequence[str]) -> tuple[Ints, Floats]:
    """Lean minute trade bars: header-less CSV, ms since midnight, open, high, low, close, volume."""
    times: list[Ints] = []
    returns: list[Floats] = []
    for name in files:
        midnight = int(pd.Timestamp(Path(name).name[:8], tz="UTC").value)
        with zipfile.ZipFile(shared_data / name) as archive, archive.open(archive.namelist()[0]) as raw:
            frame = pd.read_csv(raw, header=None)
        ts = midnight + frame[0].to_numpy(dtype=np.int64) * 1_000_000
        t, r = _minute_returns(ts, frame[4].to_numpy(dtype=np.float64))
        times.append(t)
        returns.append(r)
    return np.concatenate(times), np.concatenate(returns)


def _stats(files: tuple[str, ...], ts: Ints, returns: Floats) -> SeriesStats:
    return SeriesStats(
        source=Source(files, int(ts[0]), int(ts[-1]), len(returns)),
        annual_vol=annualised_vol(returns),
        excess_kurtosis=excess_kurtosis(returns),
        abs_acf=abs_return_acf(returns),
        beyond_5_sd=beyond_sds(returns),
        garch=fit_garch(returns),
    )


def fit_return_params(shared_data: Path) -> ReturnCalibration:
    """Stylised facts and GARCH-t fits of BTC-PERP (31 days) and Coinbase BTC/ETH (2 days)."""
    perp_ts, perp_r = _read_btc_perp(shared_data)
    btc_files, eth_files = _lean_files("btcusd"), _lean_files("ethusd")
    btc_ts, btc_r = _read_lean_trades(shared_data, btc_files)
    eth_ts, eth_r = _read_lean_trades(shared_data, eth_files)
    common, i_btc, i_eth = np.intersect1d(btc_ts, eth_ts, assume_unique=True, return_indices=True)
    correlation = float(np.corrcoef(btc_r[i_btc], eth_r[i_eth])[0, 1])
    return ReturnCalibration(
        btc_perp=_stats((BTC_PERP,), perp_ts, perp_r),
        coinbase_btc=_stats(btc_files, btc_ts, btc_r),
        coinbase_eth=_stats(eth_files, eth_ts, eth_r),
        btc_eth_correlation=correlation,
        correlation_source=Source(btc_files + eth_files, int(common[0]), int(common[-1]), len(common)),
    )


def params_from_calibration(cal: ReturnCalibration, template: PriceProcessParams = CALIBRATED) -> PriceProcessParams:
    """The fitted values placed into ``template`` (start prices, regimes and steps are kept)."""
    perp = cal.btc_perp
    ratio = cal.coinbase_eth.annual_vol / cal.coinbase_btc.annual_vol
    vols = {"BTC": perp.annual_vol, "ETH": perp.annual_vol * ratio, "SOL": perp.annual_vol * ratio * ratio}
    assets = tuple(
        AssetParams(
            symbol=a.symbol,
            start_price=a.start_price,
            annual_vol=vols.get(a.symbol, a.annual_vol),
            garch_alpha=perp.garch.alpha,
            garch_beta=perp.garch.beta,
            jump_size_sigmas=perp.garch.jump_size_sigmas,
        )
        for a in template.assets
    )
    rho = cal.btc_eth_correlation
    n = len(assets)
    correlation = tuple(tuple(1.0 if i == j else rho for j in range(n)) for i in range(n))
    return PriceProcessParams(
        assets=assets,
        correlation=correlation,
        t_dof=perp.garch.t_dof,
        jump_rate_per_hour=perp.garch.jump_rate_per_min * 60,
        regimes=template.regimes,
        transition=template.transition,
        quote=template.quote,
        step_ns=template.step_ns,
        period_ns=template.period_ns,
        initial_regime=template.initial_regime,
    )
