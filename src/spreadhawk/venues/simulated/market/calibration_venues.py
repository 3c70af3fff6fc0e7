"""Fit the venue microstructure to the real recordings in ``shared/data``.

What is measured, and from which file (paths relative to ``shared/data``):

* **Spread and depth** of a deep, leading venue: Binance BTCUSDT spot and USD-M perpetual,
  ``hftbacktest/binance_spot/btcusdt_20240808.gz`` and ``hftbacktest/binance_usdm_futures/btcusdt_20240808.gz``
  (6 minutes of diff-depth streams each, rebuilt into an ``OrderBook``).
* **Spread and depth of a second-tier venue relative to Binance**: the LINK/USDT books of Binance and
  Huobi recorded together (``defi_arbitrage_link_usdt/orderbook_{bnc,hb}.csv``, 2 hours, 1 s, 10 levels).
* **Lead-lag** between those two venues: cross-correlation of their 1 s mid returns at lags -5..5 s,
  and the residual mid difference (its slow, mean-reverting part is the venue's own price noise).
* **Basis and funding**: Binance BTCUSDT ``markPriceUpdate`` (mark vs index) in
  ``hftbacktest/binance_usdm_futures/btcusdt_2023040{4,5}.dat.gz``, and a month of realised 8 h funding
  of XRP/USDT:USDT (``freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather``).

Books are sampled on a fixed time grid (``sample_ms``), so a quantile is a share of *time*, not of
messages (busy moments would otherwise count more). The same sampler (``book_samples``) measures the
simulator's books in the tests, so recording and simulation are compared like for like.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from spreadhawk.data.readers import iter_hftbacktest, read_freqtrade_funding, read_link_books
from spreadhawk.data.readers.instruments import (
    binance_link_usdt,
    binance_spot_btcusdt,
    binance_usdm_btcusdt,
    binance_usdm_xrpusdt,
    huobi_link_usdt,
)
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, FundingRate, MarketData, MarkPrice, TradeTick
from spreadhawk.domain.orderbook import OrderBook

FloatArray = npt.NDArray[np.float64]
LEVELS = 10
_DECILES = tuple(p / 10 for p in range(1, 10))
_Z = np.array([NormalDist().inv_cdf(p) for p in _DECILES])


@dataclass(frozen=True, slots=True)
class Quantiles:
    p10: float
    p50: float
    p90: float

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Quantiles:
        p10, p50, p90 = np.percentile(np.asarray(values, dtype=np.float64), [10, 50, 90])
        return cls(float(p10), float(p50), float(p90))


@dataclass(frozen=True, slots=True)
class BookSamples:
    """One row per grid time at which the book was valid with ``LEVELS`` levels on each side.

    ``dist_bps[:, side, i]`` is level i's distance from its touch in bps of the mid and
    ``notional[:, side, i]`` its size in quote currency (side 0 bids, 1 asks; level 0 is the touch).
    """

    ts_ns: npt.NDArray[np.int64]  # the grid time of each row
    spread_ticks: FloatArray
    spread_bps: FloatArray
    dist_bps: FloatArray
    notional: FloatArray
    duration_s: float

    @property
    def touch_notional(self) -> FloatArray:
        """Bid and ask touch sizes pooled (quote currency)."""
        return self.notional[:, :, 0].ravel()

    def between(self, start_ns: int, end_ns: int) -> BookSamples:
        """The rows sampled in ``[start_ns, end_ns)``."""
        keep = (self.ts_ns >= start_ns) & (self.ts_ns < end_ns)
        return BookSamples(
            self.ts_ns[keep],
            self.spread_ticks[keep],
            self.spread_bps[keep],
            self.dist_bps[keep],
            self.notional[keep],
            (end_ns - start_ns) / 1e9,
        )


@dataclass(frozen=True, slots=True)
class BookFit:
    """Spread and depth profile of one recorded book (quote notional, bps of the mid)."""

    source: str
    samples: int
    spread_bps: Quantiles
    spread_ticks: Quantiles
    spread_median_bps: float  # lognormal fitted to the spread deciles (sigma 0 for a tick-bound book)
    spread_sigma: float
    touch_notional: Quantiles
    touch_median: float  # lognormal fitted to the touch deciles by least squares on their logs
    touch_sigma: float
    level_spacing_bps: float  # median mean gap between the levels behind the touch
    level_notional: float  # fitted median notional of the first level behind the touch
    level_growth: float  # factor per level further out
    level_sigma: float  # log dispersion around the per-level medians
    trade_rate_per_s: float | None = None
    trade_notional: float | None = None  # lognormal median and sigma of one print (quote notional)
    trade_sigma: float | None = None


@dataclass(frozen=True, slots=True)
class LeadLagFit:
    """Binance vs Huobi LINK/USDT mids. ``correlations[i]`` is corr(binance return at t, huobi at t + lag_s[i])."""

    lags_s: tuple[int, ...]
    correlations: tuple[float, ...]
    lag_ms: float  # > 0: Huobi follows Binance by this much (interpolated from the lag 0 and ±1 s correlations)
    residual_bps: Quantiles  # huobi mid - binance mid, bps
    noise_bps: float  # standard deviation of the slow, mean-reverting part of that difference
    noise_half_life_s: float


@dataclass(frozen=True, slots=True)
class FundingFit:
    realised_rate: Quantiles  # XRP 8 h realised funding rates
    realised_mean: float
    realised_std: float
    realised_positive_share: float
    interest_share: float  # rates exactly at Binance's 0.01 % interest: premium inside the clamp zone
    interval_h: float
    btc_basis_bps: Quantiles  # (mark - index) / index, Binance BTCUSDT 2023-04-04/05
    btc_estimate_mean: float  # mean funding estimate in the same stream


@dataclass(frozen=True, slots=True)
class VenueCalibration:
    binance_btc_spot: BookFit
    binance_btc_usdm: BookFit
    binance_link: BookFit
    huobi_link: BookFit
    lead_lag: LeadLagFit
    funding: FundingFit


# --------------------------------------------------------------------------- sampling
def book_samples(
    records: Iterable[MarketData], instrument: Instrument, *, sample_ms: int = 100, start_ns: int | None = None
) -> BookSamples:
    """Sample the book rebuilt from ``records`` every ``sample_ms`` (state just before each grid time)."""
    book = OrderBook(instrument.id)
    tick = float(instrument.tick_size)
    unit = float(instrument.size_increment * instrument.contract_size)
    step = sample_ms * 1_000_000
    rows: list[tuple[int, float, list[float], list[float]]] = []
    stamps: list[int] = []
    next_ns = start_ns
    first = last = None
    for record in records:
        if record.instrument_id != instrument.id or not isinstance(record, BookDeltas | BookSnapshot):
            continue
        ts = record.ts_ns
        if next_ns is None:
            next_ns = ts + step
        while ts >= next_ns:
            row = _sample(book, tick, unit)
            if row is not None:
                rows.append(row)
                stamps.append(next_ns)
            next_ns += step
        book.apply(record)
        first = ts if first is None else first
        last = ts
    if not rows:
        raise ValueError(f"no valid {LEVELS}-level book of {instrument.id} to sample")
    spreads = np.array([r[0] for r in rows], dtype=np.float64)
    mids = np.array([r[1] for r in rows])
    dist = np.array([r[2] for r in rows]).reshape(len(rows), 2, LEVELS)
    notional = np.array([r[3] for r in rows]).reshape(len(rows), 2, LEVELS)
    duration = ((last or 0) - (first or 0)) / 1e9
    return BookSamples(np.array(stamps, dtype=np.int64), spreads, spreads * tick / mids * 1e4, dist, notional, duration)


def _sample(book: OrderBook, tick: float, unit: float) -> tuple[int, float, list[float], list[float]] | None:
    if not book.is_valid:
        return None
    bids, asks = book.levels(BookSide.BID, LEVELS), book.levels(BookSide.ASK, LEVELS)
    if len(bids) < LEVELS or len(asks) < LEVELS:
        return None
    mid = (bids[0][0] + asks[0][0]) / 2 * tick
    to_bps = tick / mid * 1e4
    dist = [(bids[0][0] - p) * to_bps for p, _ in bids] + [(p - asks[0][0]) * to_bps for p, _ in asks]
    notional = [s * unit * p * tick for p, s in bids] + [s * unit * p * tick for p, s in asks]
    return asks[0][0] - bids[0][0], mid, dist, notional


def lognormal_fit(values: npt.ArrayLike) -> tuple[float, float]:
    """(median, sigma) of the lognormal whose deciles best match those of ``values`` (least squares in logs).

    Fitting the deciles rather than the moments keeps a few huge levels from deciding the shape.
    """
    logs = np.log(np.percentile(np.asarray(values, dtype=np.float64), [100 * p for p in _DECILES]))
    sigma = float(np.dot(_Z, logs - logs.mean()) / np.dot(_Z, _Z))
    return float(math.exp(logs.mean())), sigma


def fit_book(samples: BookSamples, source: str, trades: list[TradeTick] | None = None, *, unit: float = 0.0) -> BookFit:
    touch_median, touch_sigma = lognormal_fit(samples.touch_notional)
    spread_median, spread_sigma = lognormal_fit(samples.spread_bps)
    behind = samples.notional[:, :, 1:].reshape(-1, LEVELS - 1)  # both sides pooled, levels 1..9
    medians = np.median(behind, axis=0)
    slope, intercept = np.polyfit(np.arange(LEVELS - 1), np.log(medians), 1)
    residual = np.log(behind) - np.log(medians)
    spacing = (samples.dist_bps[:, :, -1] - samples.dist_bps[:, :, 1]) / (LEVELS - 2)
    fit = BookFit(
        source=source,
        samples=len(samples.spread_ticks),
        spread_bps=Quantiles.of(samples.spread_bps),
        spread_ticks=Quantiles.of(samples.spread_ticks),
        spread_median_bps=spread_median,
        spread_sigma=spread_sigma,
        touch_notional=Quantiles.of(samples.touch_notional),
        touch_median=touch_median,
        touch_sigma=touch_sigma,
        level_spacing_bps=float(np.median(spacing)),
        level_notional=float(math.exp(intercept)),
        level_growth=float(math.exp(slope)),
        level_sigma=float(residual.std()),
    )
    if not trades:
        return fit
    # ``unit`` converts size units x price ticks to quote currency.
    median, sigma = lognormal_fit(np.array([t.size * t.price * unit for t in trades], dtype=np.float64))
    span = (trades[-1].ts_ns - trades[0].ts_ns) / 1e9
    return replace(fit, trade_rate_per_s=len(trades) / span, trade_notional=median, trade_sigma=sigma)


def fit_hftbacktest(path: Path, instrument: Instrument, *, sample_ms: int = 100) -> BookFit:
    records = list(iter_hftbacktest(path, instrument))
    trades = [r for r in records if isinstance(r, TradeTick)]
    samples = book_samples(records, instrument, sample_ms=sample_ms)
    unit = float(instrument.size_increment * instrument.contract_size * instrument.tick_size)
    return fit_book(samples, str(path), trades, unit=unit)


# --------------------------------------------------------------------------- the LINK pair
def fit_link_pair(data: Path) -> tuple[BookFit, BookFit, LeadLagFit]:
    """Binance and Huobi LINK/USDT books, and the lead-lag between them."""
    folder = data / "defi_arbitrage_link_usdt"
    mids = []
    fits = []
    for inst, name in ((binance_link_usdt(), "orderbook_bnc.csv"), (huobi_link_usdt(), "orderbook_hb.csv")):
        books = read_link_books(folder / name, inst)
        tick = float(inst.tick_size)
        mids.append(np.array([(b.bids[0][0] + b.asks[0][0]) / 2 * tick for b in books]))
        # One full snapshot a second: sampling every second reads each row once.
        fits.append(fit_book(book_samples(books, inst, sample_ms=1000), str(folder / name)))
    return fits[0], fits[1], fit_lead_lag(mids[0], mids[1])


def fit_lead_lag(binance_mid: FloatArray, huobi_mid: FloatArray, max_lag_s: int = 5) -> LeadLagFit:
    rb, rh = np.diff(np.log(binance_mid)), np.diff(np.log(huobi_mid))
    lags = tuple(range(-max_lag_s, max_lag_s + 1))
    corr = tuple(_lag_corr(rb, rh, lag) for lag in lags)
    c0, c_plus, c_minus = corr[max_lag_s], corr[max_lag_s + 1], corr[max_lag_s - 1]
    # A venue that shows the other's price delta seconds late (0 < delta < 1) has 1 s returns
    # overlapping the leader's same-second return for 1 - delta and the previous one for delta.
    lag_ms = 1000 * c_plus / (c0 + c_plus) if c_plus >= c_minus else -1000 * c_minus / (c0 + c_minus)
    residual = (huobi_mid - binance_mid) / binance_mid * 1e4
    # Autocorrelation of the difference = w * exp(-tau / theta) beyond the fast (spread-rounding) part;
    # two lags fix w (the slow share of the variance) and theta.
    rho10, rho30 = _lag_corr(residual, residual, 10), _lag_corr(residual, residual, 30)
    theta = 20 / math.log(rho10 / rho30)
    weight = min(1.0, rho10 * math.exp(10 / theta))
    return LeadLagFit(
        lags_s=lags,
        correlations=corr,
        lag_ms=lag_ms,
        residual_bps=Quantiles.of(residual),
        noise_bps=float(math.sqrt(weight) * residual.std()),
        noise_half_life_s=theta * math.log(2),
    )


def _lag_corr(a: FloatArray, b: FloatArray, lag: int) -> float:
    if lag >= 0:
        return float(np.corrcoef(a[: len(a) - lag], b[lag:])[0, 1])
    return float(np.corrcoef(a[-lag:], b[: len(b) + lag])[0, 1])


# --------------------------------------------------------------------------- funding and basis
def fit_funding(data: Path) -> FundingFit:
    realised = read_freqtrade_funding(
        data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather", binance_usdm_xrpusdt()
    )
    rates = np.array([float(r.rate) for r in realised])
    interval_h = float(np.median(np.diff([r.ts_ns for r in realised]))) / 3.6e12
    folder = data / "hftbacktest/binance_usdm_futures"
    paths = [folder / "btcusdt_20230404.dat.gz", folder / "btcusdt_20230405.dat.gz"]
    basis: list[float] = []
    estimates: list[float] = []
    for record in iter_hftbacktest(paths, binance_usdm_btcusdt()):
        if isinstance(record, MarkPrice) and record.index:
            basis.append(float((record.mark - record.index) / record.index) * 1e4)
        elif isinstance(record, FundingRate):
            estimates.append(float(record.rate))
    return FundingFit(
        realised_rate=Quantiles.of(rates),
        realised_mean=float(rates.mean()),
        realised_std=float(rates.std()),
        realised_positive_share=float((rates > 0).mean()),
        interest_share=float(np.isclose(rates, 0.0001, rtol=0, atol=1e-12).mean()),
        interval_h=interval_h,
        btc_basis_bps=Quantiles.of(basis),
        btc_estimate_mean=float(np.mean(estimates)),
    )


def calibrate_venues(data: Path) -> VenueCalibration:
    """Every fit above from ``data`` (the ``shared/data`` folder); about 6 s, mostly reading captures."""
    binance_link, huobi_link, lead_lag = fit_link_pair(data)
    hft = data / "hftbacktest"
    return VenueCalibration(
        binance_btc_spot=fit_hftbacktest(hft / "binance_spot/btcusdt_20240808.gz", binance_spot_btcusdt()),
        binance_btc_usdm=fit_hftbacktest(hft / "binance_usdm_futures/btcusdt_20240808.gz", binance_usdm_btcusdt()),
        binance_link=binance_link,
        huobi_link=huobi_link,
        lead_lag=lead_lag,
        funding=fit_funding(data),
    )


if __name__ == "__main__":  # pragma: no cover - prints the fit for the docs: python -m ...calibration_venues DATA
    import sys
    from dataclasses import asdict
    from pprint import pprint

    pprint(asdict(calibrate_venues(Path(sys.argv[1]))), width=120, sort_dicts=False)
