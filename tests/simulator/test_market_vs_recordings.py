"""The simulated ALPHA BTC/USDT book against the Binance BTCUSDT spot recording it was fitted to.

Both books are sampled the same way (``calibration_venues.book_samples``: the state every 100 ms,
ten levels a side), over the 6-minute recording and one simulated hour (seed 0, the calibrated price
process). Acceptance band: every quantile (p10, p50, p90) of the spread in bps and of the
top-of-book size in USDT (bid and ask pooled) within a factor of ``FACTOR`` = 2.5 of the recording's.

The lead-lag test measures the simulated ALPHA/BETA pair exactly as ``calibration_venues`` measured
the Binance/Huobi LINK recording (1 s mids, return cross-correlation, residual noise): it recovers
a lag of 192 ms (fitted: 193), noise 0.87 bps (0.868) with a 44 s half-life (43.8).

Measured (recording -> simulation, ratio):
spread p10/p50/p90 0.00162/0.00162/0.00162 -> 0.00166/0.00167/0.00167 bps (1.03, 1.03, 1.03: one tick);
touch p10/p50/p90 11,840/126,135/286,414 -> 18,557/94,086/520,103 USDT (1.57, 0.75, 1.82).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spreadhawk.data.readers import iter_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.market import BookDeltas, BookSnapshot, MarketData, TradeTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.simulated.market.calibration_venues import (
    BookSamples,
    Quantiles,
    book_samples,
    fit_book,
    fit_lead_lag,
    fit_link_pair,
)
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.venues import ALPHA_SPOT, BETA_SPOT, DEFAULT_VENUES, venue

FACTOR = 2.5
S = 1_000_000_000
pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def recording(shared_data: Path) -> list[MarketData]:
    return list(iter_hftbacktest(shared_data / "hftbacktest/binance_spot/btcusdt_20240808.gz", binance_spot_btcusdt()))


@pytest.fixture(scope="module")
def recorded(recording: list[MarketData]) -> BookSamples:
    return book_samples(recording, binance_spot_btcusdt())


@pytest.fixture(scope="module")
def simulated() -> BookSamples:
    config = MarketSimulatorConfig(
        hours=1, seed=0, assets=("BTC",), perps=False, binaries=False, venues=DEFAULT_VENUES[:1]
    )
    sim = MarketSimulator(config)
    (inst,) = sim.instruments()
    assert inst.id == "ALPHA:BTC/USDT"
    return book_samples(sim, inst)


def _within(simulated: Quantiles, recorded: Quantiles) -> list[str]:
    failures = []
    for name in ("p10", "p50", "p90"):
        ratio = getattr(simulated, name) / getattr(recorded, name)
        if not 1 / FACTOR <= ratio <= FACTOR:
            failures.append(
                f"{name}: simulated {getattr(simulated, name):.6g} vs recorded {getattr(recorded, name):.6g}"
            )
    return failures


def test_spread_quantiles_are_within_the_band(recorded: BookSamples, simulated: BookSamples) -> None:
    assert _within(Quantiles.of(simulated.spread_bps), Quantiles.of(recorded.spread_bps)) == []


def test_top_of_book_depth_quantiles_are_within_the_band(recorded: BookSamples, simulated: BookSamples) -> None:
    assert _within(Quantiles.of(simulated.touch_notional), Quantiles.of(recorded.touch_notional)) == []


def test_the_simulated_book_has_the_recorded_shape(recorded: BookSamples, simulated: BookSamples) -> None:
    """Beyond the touch: level spacing and the size of the levels behind it, within the same band."""
    rec, sim = fit_book(recorded, "recording"), fit_book(simulated, "simulation")
    assert 1 / FACTOR <= sim.level_spacing_bps / rec.level_spacing_bps <= FACTOR
    behind = Quantiles.of(recorded.notional[:, :, 1:].ravel()), Quantiles.of(simulated.notional[:, :, 1:].ravel())
    assert 1 / FACTOR <= behind[1].p50 / behind[0].p50 <= FACTOR


def test_default_venues_carry_the_fitted_values(
    recording: list[MarketData], recorded: BookSamples, shared_data: Path
) -> None:
    """The numbers written into venues.py are today's fit (to 1 %), so the comments citing it are true."""
    unit = float(binance_spot_btcusdt().size_increment * binance_spot_btcusdt().tick_size)
    trades = [r for r in recording if isinstance(r, TradeTick)]
    alpha = fit_book(recorded, "binance", trades, unit=unit)
    assert venue("ALPHA").spot is ALPHA_SPOT
    assert alpha.trade_notional is not None
    pairs = [
        (ALPHA_SPOT.touch_notional, alpha.touch_median),
        (ALPHA_SPOT.touch_sigma, alpha.touch_sigma),
        (ALPHA_SPOT.level_notional, alpha.level_notional),
        (ALPHA_SPOT.level_growth, alpha.level_growth),
        (ALPHA_SPOT.level_sigma, alpha.level_sigma),
        (ALPHA_SPOT.level_spacing_bps, alpha.level_spacing_bps),
        (2 * ALPHA_SPOT.half_spread_bps, alpha.spread_bps.p50),
        (ALPHA_SPOT.trade_notional, alpha.trade_notional),
    ]
    binance, huobi, lead_lag = fit_link_pair(shared_data)
    pairs += [
        (BETA_SPOT.half_spread_bps, huobi.spread_median_bps / 2),
        (BETA_SPOT.spread_sigma, huobi.spread_sigma),
        (BETA_SPOT.level_spacing_bps, huobi.level_spacing_bps),
        (BETA_SPOT.touch_notional / ALPHA_SPOT.touch_notional, huobi.touch_median / binance.touch_median),
        (venue("BETA").lag_ms, lead_lag.lag_ms),
        (venue("BETA").noise_bps, lead_lag.noise_bps),
        (venue("BETA").noise_half_life_s, lead_lag.noise_half_life_s),
    ]
    assert [(written, fitted) for written, fitted in pairs if abs(written / fitted - 1) > 0.01] == []


def test_the_simulated_pair_shows_the_recorded_lead_lag() -> None:
    config = MarketSimulatorConfig(
        hours=2, seed=1, assets=("BTC",), perps=False, binaries=False, venues=DEFAULT_VENUES[:2]
    )
    sim = MarketSimulator(config)
    books = {inst.id: OrderBook(inst.id) for inst in sim.instruments()}
    mids: list[list[float]] = []
    next_ns = config.start_ns + S
    for record in sim:
        while record.ts_ns >= next_ns:  # mids once a second, as the LINK recording has them
            mids.append([float(book.mid_ticks() or 0) for book in books.values()])
            next_ns += S
        if isinstance(record, BookSnapshot | BookDeltas):
            books[record.instrument_id].apply(record)
    alpha, beta = (np.array(column) for column in zip(*mids, strict=True))
    fit = fit_lead_lag(alpha, beta)
    beta_profile = venue("BETA")
    assert beta_profile.lag_ms / 2 < fit.lag_ms < beta_profile.lag_ms * 2
    assert beta_profile.noise_bps / 2 < fit.noise_bps < beta_profile.noise_bps * 2
    assert beta_profile.noise_half_life_s / 2 < fit.noise_half_life_s < beta_profile.noise_half_life_s * 2
