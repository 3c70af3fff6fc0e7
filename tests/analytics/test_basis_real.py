"""Basis and funding on real recordings (../shared/data), and ``spreadhawk.analytics.basis`` on
synthetic series with known answers.

Real-data tests assert consistency only (the market decides the figures) and print the figures;
run with ``-s`` to see them. They are summarised in docs/funding_real_data.md.
"""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from spreadhawk.analytics.basis import (
    ar1_coefficient,
    basis_series,
    funding_carry,
    longest_sign_run,
    sample_asof,
)
from spreadhawk.data.readers import iter_hftbacktest, read_freqtrade_funding
from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt, binance_usdm_xrpusdt
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSnapshot, FundingRate, MarkPrice
from spreadhawk.domain.orderbook import OrderBook

STEP_NS = 100_000_000  # sample mids every 100 ms
HOUR_NS = 3_600_000_000_000


# --------------------------------------------------------------------------- synthetic, known answers
def test_sample_asof_takes_the_latest_value_at_or_before_each_time() -> None:
    out = sample_asof([10, 20, 20, 40], [1.0, 2.0, 3.0, 4.0], [5, 10, 19, 20, 39, 40, 100])
    assert np.isnan(out[0])
    assert out[1:].tolist() == [1.0, 1.0, 3.0, 3.0, 4.0, 4.0]


def test_sample_asof_rejects_unsorted_or_mismatched_input() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        sample_asof([2, 1], [1.0, 2.0], [3])
    with pytest.raises(ValueError, match="length"):
        sample_asof([1, 2], [1.0], [3])


def test_basis_series_constant_premium() -> None:
    spot = [100.0, 200.0, 50.0, 100.0]
    perp = [s * 1.001 for s in spot]  # 10 bps everywhere
    stats = basis_series(spot, perp, round_trip_fee_bps=9.0)
    assert stats.samples == 4
    assert stats.mean_bps == pytest.approx(10.0)
    assert stats.std_bps == pytest.approx(0.0, abs=1e-9)
    assert stats.p5_bps == pytest.approx(10.0)
    assert stats.p95_bps == pytest.approx(10.0)
    assert stats.share_above_fees == 1.0
    assert basis_series(spot, perp, round_trip_fee_bps=11.0).share_above_fees == 0.0


def test_basis_series_quantiles_share_and_nan_dropping() -> None:
    basis_bps = np.arange(-50.0, 51.0)  # -50 .. 50 bps, 101 values
    spot = np.full(basis_bps.size, 1000.0)
    perp = spot * (1 + basis_bps / 10_000)
    spot_nan = np.concatenate([[np.nan], spot])  # a sample before the spot book was valid
    perp_nan = np.concatenate([[1000.0], perp])
    stats = basis_series(spot_nan, perp_nan, round_trip_fee_bps=30.5)  # off the grid: no float ties
    assert stats.samples == 101
    assert stats.mean_bps == pytest.approx(0.0, abs=1e-9)
    assert stats.std_bps == pytest.approx(float(np.std(basis_bps)))
    assert (stats.p5_bps, stats.p50_bps, stats.p95_bps) == pytest.approx((-45.0, 0.0, 45.0))
    assert (stats.min_bps, stats.max_bps) == pytest.approx((-50.0, 50.0))
    assert stats.share_above_fees == pytest.approx(40 / 101)  # |b| > 30: 31..50 on each side


def test_basis_series_half_life_of_an_ar1_process() -> None:
    rng = np.random.default_rng(7)
    phi, n = 0.9, 50_000
    x = np.empty(n)
    x[0] = 0.0
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    spot = np.full(n, 50_000.0)
    perp = spot * (1 + (5.0 + x) / 10_000)  # basis = 5 bps + AR(1) noise
    stats = basis_series(spot, perp, sample_interval_s=0.1)
    assert stats.ar1_phi is not None
    assert stats.half_life_samples is not None
    assert stats.ar1_phi == pytest.approx(phi, abs=0.01)
    expected = math.log(0.5) / math.log(phi)  # 6.58 samples
    assert stats.half_life_samples == pytest.approx(math.log(0.5) / math.log(stats.ar1_phi))
    assert stats.half_life_samples == pytest.approx(expected, rel=0.1)
    assert stats.half_life_s == pytest.approx(stats.half_life_samples * 0.1)
    assert stats.mean_bps == pytest.approx(5.0, abs=0.2)


def test_no_half_life_without_mean_reversion() -> None:
    assert ar1_coefficient([1.0, 1.0, 1.0]) is None
    assert ar1_coefficient([1.0, 2.0]) is None
    alternating = basis_series([100.0] * 6, [100.1, 99.9] * 3)  # phi < 0
    assert alternating.ar1_phi is not None
    assert alternating.ar1_phi < 0
    assert alternating.half_life_samples is None
    assert alternating.half_life_s is None


def test_basis_series_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="length"):
        basis_series([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="no aligned"):
        basis_series([np.nan], [1.0])
    with pytest.raises(ValueError, match="positive"):
        basis_series([0.0], [1.0])


def test_longest_sign_run() -> None:
    assert longest_sign_run([]) == (0, 0)
    assert longest_sign_run([1, 2, -1, -2, -3, 0, 4]) == (3, -1)
    assert longest_sign_run([1, 1, 0, 1, 1, 1]) == (3, 1)  # zero breaks a run
    assert longest_sign_run([0, 0]) == (0, 0)


def test_funding_carry_known_answer() -> None:
    rates = [Decimal("0.0001")] * 6 + [Decimal("-0.0002"), Decimal("0.0003"), Decimal(0)]
    short = funding_carry(rates, round_trip_fees="0.0003", periods_per_year=1095)
    assert short.periods == 9
    assert short.cumulative == Decimal("0.0007")
    assert short.net == Decimal("0.0004")
    assert short.annualised == Decimal("0.0007") * 1095 / 9
    assert short.net_annualised == Decimal("0.0004") * 1095 / 9
    assert (short.negative_periods, short.positive_periods, short.zero_periods) == (1, 7, 1)
    assert (short.longest_run, short.longest_run_sign) == (6, 1)
    assert short.breakeven_periods == 4  # 0.0003 / (0.0007 / 9) = 3.86
    long = funding_carry(rates, side="long")
    assert long.cumulative == -short.cumulative
    assert long.breakeven_periods is None  # a long pays on average
    assert funding_carry([0.0001, 0.0002]).cumulative == Decimal("0.0003")  # floats taken by repr


def test_funding_carry_empty_and_bad_side() -> None:
    empty = funding_carry([], round_trip_fees=Decimal("0.001"))
    assert empty.cumulative == 0
    assert empty.net == Decimal("-0.001")
    assert empty.longest_run == 0
    with pytest.raises(ValueError, match="side"):
        funding_carry([Decimal(1)], side="flat")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- real: 2024-08-08 spot vs USD-M
def _mids(path: Path, inst: Instrument) -> tuple[np.ndarray, np.ndarray, int]:
    """(times, mids, updates applied while invalid) of the book rebuilt from a capture."""
    book = OrderBook(inst.id)
    times: list[int] = []
    mids: list[float] = []
    invalid = 0
    tick = float(inst.tick_size)
    for record in iter_hftbacktest(path, inst):
        if not isinstance(record, BookSnapshot | BookDeltas):
            continue
        book.apply(record)
        if not book.is_valid:
            invalid += 1
            continue
        mid = book.mid_ticks()
        assert mid is not None
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is not None
        assert ask is not None
        assert bid[0] < ask[0]
        times.append(record.ts_ns)
        mids.append(mid * tick)
    return np.asarray(times, dtype=np.int64), np.asarray(mids), invalid


def test_spot_perp_basis_2024_captures(shared_data: Path) -> None:
    spot_inst, perp_inst = binance_spot_btcusdt(), binance_usdm_btcusdt()
    spot_t, spot_m, spot_bad = _mids(shared_data / "hftbacktest/binance_spot/btcusdt_20240808.gz", spot_inst)
    perp_t, perp_m, perp_bad = _mids(shared_data / "hftbacktest/binance_usdm_futures/btcusdt_20240808.gz", perp_inst)
    # the common window, on a 100 ms grid, starting once both books are valid
    start, end = max(spot_t[0], perp_t[0]), min(spot_t[-1], perp_t[-1])
    grid = np.arange(start - start % STEP_NS + STEP_NS, end + 1, STEP_NS)
    spot, perp = sample_asof(spot_t, spot_m, grid), sample_asof(perp_t, perp_m, grid)
    assert not np.isnan(spot).any()
    assert not np.isnan(perp).any()
    fees_bps = float(2 * (spot_inst.taker_fee + perp_inst.taker_fee) * 10_000)  # 2 × (10 + 5) = 30
    stats = basis_series(spot, perp, round_trip_fee_bps=fees_bps, sample_interval_s=STEP_NS / 1e9)
    print(
        f"\n2024-08-08 BTCUSDT basis (USD-M / spot - 1), {stats.samples} samples of 100 ms "
        f"({(end - start) / 1e9:.0f} s): mean {stats.mean_bps:.2f} bps, std {stats.std_bps:.2f}, "
        f"p5/p50/p95 {stats.p5_bps:.2f}/{stats.p50_bps:.2f}/{stats.p95_bps:.2f}, "
        f"min/max {stats.min_bps:.2f}/{stats.max_bps:.2f}; AR(1) phi {stats.ar1_phi:.3f}, "
        f"half-life {stats.half_life_s} s; share |basis| > {fees_bps:.0f} bps fees: {stats.share_above_fees:.3f}; "
        f"updates while invalid: spot {spot_bad}, perp {perp_bad}"
    )
    assert stats.samples > 3000  # ~5.8 min of overlap
    assert abs(stats.mean_bps) < 50
    assert stats.std_bps > 0
    assert stats.min_bps <= stats.p5_bps <= stats.p50_bps <= stats.p95_bps <= stats.max_bps
    assert 0.0 <= stats.share_above_fees <= 1.0
    assert stats.share_above_fees == float(np.mean(np.abs((perp / spot - 1) * 10_000) > fees_bps))


# --------------------------------------------------------------------------- real: XRP funding history
def test_xrp_funding_carry_of_a_constant_short(shared_data: Path) -> None:
    pd = pytest.importorskip("pandas")
    path = shared_data / "freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather"
    records = read_freqtrade_funding(path, binance_usdm_xrpusdt())
    rates = [r.rate for r in records]
    # fees of one round trip of a spot long + perp short: (spot 0.1 % + XRP perp 0.04 %) × 2
    fees = 2 * (Decimal("0.001") + binance_usdm_xrpusdt().taker_fee)
    carry = funding_carry(rates, round_trip_fees=fees)
    print(
        f"\nXRP/USDT:USDT funding, {carry.periods} periods of 8 h: a constant short received "
        f"{float(carry.cumulative) * 100:.4f} % of notional ({float(carry.annualised) * 100:.2f} %/yr), "
        f"mean {float(carry.mean_per_period) * 1e4:.3f} bps/period; one round trip costs "
        f"{float(fees) * 100:.2f} % -> net {float(carry.net) * 100:.4f} % "
        f"({float(carry.net_annualised) * 100:.2f} %/yr), "
        f"breakeven after {carry.breakeven_periods} periods; {carry.negative_periods} negative periods, "
        f"longest run {carry.longest_run} of sign {carry.longest_run_sign:+d}"
    )
    frame = pd.read_feather(path)
    manual = sum((Decimal(repr(float(x))) for x in frame["open"]), Decimal(0))
    assert carry.periods == len(frame) == 91
    assert carry.cumulative == manual
    assert carry.negative_periods == int((frame["open"] < 0).sum())
    assert carry.positive_periods == int((frame["open"] > 0).sum())
    assert carry.negative_periods + carry.positive_periods + carry.zero_periods == 91
    assert 1 <= carry.longest_run <= 91
    assert carry.longest_run_sign in (-1, 1)
    assert carry.net == carry.cumulative - fees
    assert carry.annualised == carry.cumulative * 1095 / 91
    assert funding_carry(rates, side="long").cumulative == -carry.cumulative


# --------------------------------------------------------------------------- real: 2023 funding estimates
INTEREST = Decimal("0.0001")  # Binance USD-M interest rate per 8 h (0.03 % a day)
CLAMP = Decimal("0.0005")


def binance_funding_formula(premium: Decimal) -> Decimal:
    """Binance USD-M: F = P + clamp(I - P, -0.05 %, +0.05 %), I = 0.01 % per 8 h."""
    return premium + min(max(INTEREST - premium, -CLAMP), CLAMP)


def test_binance_funding_formula_itself() -> None:
    assert binance_funding_formula(Decimal("0.0002")) == INTEREST  # |I - P| within the clamp: F = I
    assert binance_funding_formula(Decimal("-0.0005")) == Decimal(0)  # I - P = 0.06 % clamped to 0.05 %
    assert binance_funding_formula(Decimal("0.001")) == Decimal("0.0005")


def test_2023_funding_estimate_vs_premium(shared_data: Path) -> None:
    """Binance's streamed estimate ``r`` against the formula applied to (mark - index) / index.

    Binance's premium index is built from impact bid/ask prices (not the mark) and averaged over
    the whole 8-hour period with increasing weights; the capture shows only the last 100 s of the
    period ending 00:00 and the first 7 minutes of the next. Before 00:00 the instantaneous
    premium stands in for the period's average; after it, the weighted running average of the
    per-update premium since 00:00 does. The residual says how good a proxy mark/index is.
    """
    inst = binance_usdm_btcusdt()
    folder = shared_data / "hftbacktest/binance_usdm_futures"
    marks: dict[int, MarkPrice] = {}
    estimates: list[FundingRate] = []
    for record in iter_hftbacktest([folder / "btcusdt_20230404.dat.gz", folder / "btcusdt_20230405.dat.gz"], inst):
        if isinstance(record, MarkPrice):
            marks[record.ts_ns] = record
        elif isinstance(record, FundingRate) and record.ts_ns < record.funding_ts_ns:  # not the settlement
            estimates.append(record)
    assert len(marks) > 500
    assert len(estimates) > 500
    assert all(e.ts_ns < e.funding_ts_ns for e in estimates)  # the stream gives estimates only
    funding_times = sorted({e.funding_ts_ns for e in estimates})
    assert len(funding_times) == 2
    assert funding_times[1] - funding_times[0] == 8 * HOUR_NS

    premiums = {ts: (m.mark - m.index) / m.index for ts, m in marks.items() if m.index}
    residuals: dict[int, list[float]] = {t: [] for t in funding_times}
    weighted, weights = Decimal(0), 0
    for e in estimates:
        premium = premiums[e.ts_ns]  # each estimate comes with the mark of the same update
        if e.funding_ts_ns == funding_times[0]:
            proxy = premium
        else:  # (1·P1 + 2·P2 + … + n·Pn) / (1 + … + n) since the period began
            weights += 1
            weighted += weights * premium
            proxy = weighted / (weights * (weights + 1) // 2)
        residuals[e.funding_ts_ns].append(float(e.rate - binance_funding_formula(proxy)))

    for t in funding_times:
        res = np.asarray(residuals[t]) * 10_000
        rates = [float(e.rate) * 10_000 for e in estimates if e.funding_ts_ns == t]
        prem = [float(premiums[e.ts_ns]) * 10_000 for e in estimates if e.funding_ts_ns == t]
        print(
            f"\n2023 estimates for funding at {np.datetime64(t, 'ns')}: {res.size} updates, r "
            f"{min(rates):.3f}..{max(rates):.3f} bps, premium (mark-index)/index {min(prem):.2f}..{max(prem):.2f} bps "
            f"(mean {np.mean(prem):.2f}); residual r - formula: mean {res.mean():+.3f} bps, "
            f"mean |.| {np.abs(res).mean():.3f} bps, max |.| {np.abs(res).max():.3f} bps"
        )
        # approximately: within 1 bp of notional per 8 h (the clamp alone spans 10 bps)
        assert np.abs(res).mean() < 1.0
    for e in estimates:  # the clamp bounds every estimate to premium ± 0.05 % around I
        assert abs(e.rate) < Decimal("0.0075")  # Binance's BTCUSDT cap (±0.75 % at the time)
