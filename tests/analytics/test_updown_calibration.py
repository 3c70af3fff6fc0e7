"""The binary fair-value model scored on real, resolved up/down markets (#12): the scores are the
textbook formulas (recomputed here by hand), the forecasts come from the real series, and the
finding -- the market's own mid forecasts better than the model, and buying the model's edge does
not pay after Polymarket's fee -- is what ``spreadhawk calibration`` reports."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spreadhawk.analytics.calibration import calibration
from spreadhawk.analytics.updown_calibration import (
    HORIZONS_S,
    Forecast,
    chainlink_forecasts,
    edge_trades,
    fee_per_share,
    ladder_forecasts,
    pair_sums,
)
from spreadhawk.cli.main import app
from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.updown_series import read_ladder, read_reference_prices, read_settled_windows

SERIES = "polymarket_series"


def test_the_scores_are_the_textbook_formulas() -> None:
    p = [0.1, 0.3, 0.35, 0.6, 0.8, 0.95, 1.0, 0.0]
    y = [False, True, False, True, True, True, True, False]
    scored = calibration(p, y, bins=4)
    brier = sum((pi - yi) ** 2 for pi, yi in zip(p, y, strict=True)) / len(p)
    clipped = [min(max(pi, 1e-6), 1 - 1e-6) for pi in p]
    loss = -sum(math.log(c) if yi else math.log(1 - c) for c, yi in zip(clipped, y, strict=True)) / len(p)
    assert scored.brier == pytest.approx(brier, rel=1e-12)
    assert scored.log_loss == pytest.approx(loss, rel=1e-12)
    assert scored.clipped == 2
    assert scored.base_rate == 5 / 8
    # bins of 0.25: [0, .25) {0.1, 0.0}; [.25, .5) {0.3, 0.35}; [.5, .75) {0.6}; [.75, 1] {0.8, 0.95, 1.0}
    assert [(r.count, r.observed) for r in scored.rows] == [(2, 0.0), (2, 0.5), (1, 1.0), (3, 1.0)]
    assert [r.mean_forecast for r in scored.rows] == pytest.approx([0.05, 0.325, 0.6, (0.8 + 0.95 + 1.0) / 3])
    assert scored.brier_skill_vs_base_rate == pytest.approx(1 - brier / (5 / 8 * 3 / 8))
    with pytest.raises(ValueError, match="probabilities"):
        calibration([1.2], [True])


def test_the_fee_and_the_edge_trades_by_hand() -> None:
    assert fee_per_share(0.5) == pytest.approx(0.07 * 0.25)
    assert fee_per_share(0.9) == pytest.approx(0.07 * 0.09)
    forecasts = [
        # window a: Up priced 0.55, asked 0.50 + a 0.0175 fee: an edge of 0.0325, bought at 60 s
        Forecast("a", 60, 0.55, True, up_ask=0.50, down_ask=0.51),
        Forecast("a", 30, 0.90, True, up_ask=0.60, down_ask=0.41),  # a later sample of a traded window
        # window b: Down priced 0.7 by the model, asked 0.6: bought, and Down won
        Forecast("b", 60, 0.30, False, up_ask=0.41, down_ask=0.60),
        # window c: no token beats its ask plus fee
        Forecast("c", 60, 0.50, True, up_ask=0.50, down_ask=0.50),
    ]
    result = edge_trades(forecasts)
    a = 1 - 0.50 - 0.07 * 0.25
    b = 1 - 0.60 - 0.07 * 0.24
    assert result.trades == 2
    assert result.won == 2
    assert result.pnl == pytest.approx((a, b))
    # with 5 c asked for: a's first sample (edge 0.0325) is passed over, its second (0.283) bought
    stricter = edge_trades(forecasts, min_edge=0.05)
    assert stricter.pnl == pytest.approx((1 - 0.60 - 0.07 * 0.24, b))


def test_the_real_series_give_the_reported_figures(shared_data: Path) -> None:
    base = shared_data / SERIES
    windows = read_settled_windows(base / "ligengxin_samples" / "BTC-5m-markets-2026-06-08.jsonl.gz")
    times, prices = read_reference_prices(base / "ligengxin_samples" / "BTCUSD-prices-2026-06-08.csv.gz")
    assert len(windows) == 288  # 292 markets, 4 without a strike
    assert sum(w.up_won for w in windows) == 134
    forecasts = chainlink_forecasts(windows, times, prices)
    briers = []
    for horizon in HORIZONS_S:
        chosen = [f for f in forecasts if f.seconds_left == horizon]
        briers.append(calibration([f.probability for f in chosen], [f.up_won for f in chosen]).brier)
    assert briers == sorted(briers, reverse=True)  # the nearer the close, the better the forecast
    assert briers[-1] < 0.05  # 10 s before the close
    assert 0.10 < briers[0] < 0.25  # 120 s before; 0.25 is always saying 50 %
    ladder = read_ladder(base / "houssem98_btc5m" / "ladder.jsonl")
    assert (len(ladder), sum(w.up_won for w in ladder)) == (203, 92)
    priced = [f for f in ladder_forecasts(ladder) if f.market_mid is not None]
    # the Brier scores, recomputed by hand from the same samples
    model = sum((f.probability - f.up_won) ** 2 for f in priced) / len(priced)
    market = sum((f.market_mid - f.up_won) ** 2 for f in priced if f.market_mid is not None) / len(priced)
    assert calibration([f.probability for f in priced], [f.up_won for f in priced]).brier == pytest.approx(model)
    assert market < model  # the finding: the market's own mid forecasts better than the model
    trades = edge_trades(ladder_forecasts(ladder), min_edge=0.02)
    assert trades.trades > 100
    assert trades.mean < 0  # and buying the model's edge loses after the fee


def test_the_command_reports_it(shared_data: Path) -> None:
    done = CliRunner().invoke(app, ["calibration", "--data-dir", str(shared_data), "--json"])
    assert done.exit_code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["chainlink"]["markets"] == 288
    assert report["ladder"]["model"]["forecasts"] == report["ladder"]["market_mid"]["forecasts"]
    assert report["ladder"]["market_mid"]["brier"] < report["ladder"]["model"]["brier"]


def test_a_bad_line_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ladder.jsonl"
    path.write_text('{"window_ts": 1, "slug": "x", "open_px": 1, "winner": "UP", "samples": []}\n{"window_ts": 2}\n')
    with pytest.raises(DataFormatError, match=r"ladder.jsonl: line 2: missing field 'samples'"):
        read_ladder(path)
    done = CliRunner().invoke(app, ["calibration", "--data-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert "Traceback" not in done.output


def test_pair_sums_on_the_ladder_after_the_fee(shared_data: Path) -> None:
    """YES/NO pairs on the 203 windows' book samples, recomputed here from the raw lines in exact
    decimals: how often Up ask + Down ask < 1, and how often that survives 0.07 x p(1-p) a share on
    each side. (Measured: 756 paired samples, median sum 1.01; 10 below 1, 4 still positive after the
    fees, the best +0.053 a pair at 0.02 + 0.92, 20 s before a close.)"""
    path = shared_data / "polymarket_series" / "houssem98_btc5m" / "ladder.jsonl"
    totals, nets = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        for sample in json.loads(line)["samples"]:
            up, down = (sample.get(side) or {} for side in ("up", "down"))
            if up.get("ask") is None or down.get("ask") is None:
                continue
            a, b = Decimal(str(up["ask"])), Decimal(str(down["ask"]))
            totals.append(a + b)
            nets.append(1 - a - b - Decimal("0.07") * a * (1 - a) - Decimal("0.07") * b * (1 - b))
    found = pair_sums(read_ladder(path))
    assert found.samples == len(totals) == 756
    assert found.below_one == sum(1 for t in totals if t < 1) == 10
    assert found.profitable == sum(1 for n in nets if n > 0) == 4
    assert max(found.net) == pytest.approx(float(max(nets)), abs=1e-12)
    assert found.median == pytest.approx(float(sorted(totals)[len(totals) // 2]), abs=0.005)
