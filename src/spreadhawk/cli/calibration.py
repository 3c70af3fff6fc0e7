"""``spreadhawk calibration``: the binary fair-value model against real, resolved up/down markets
(``analytics.updown_calibration``): Brier score, log loss and reliability tables, the market's own
mid as the baseline, and what buying the model's edge would have earned after Polymarket's fees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from spreadhawk.cli.output import fail

console = Console()
LIGENGXIN = Path("polymarket_series") / "ligengxin_samples"
LADDER = Path("polymarket_series") / "houssem98_btc5m" / "ladder.jsonl"


def register(app: typer.Typer) -> None:
    app.command()(calibration)


def calibration(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="the shared/data folder")] = Path("../shared/data"),
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Score the binary fair-value model on the recorded, resolved BTC 5-minute up/down markets."""
    from spreadhawk.analytics.calibration import calibration as score  # noqa: PLC0415 (scikit-learn: seconds)
    from spreadhawk.analytics.updown_calibration import (  # noqa: PLC0415
        HORIZONS_S,
        chainlink_forecasts,
        edge_trades,
        ladder_forecasts,
        pair_sums,
    )
    from spreadhawk.data.readers._common import DataFormatError  # noqa: PLC0415
    from spreadhawk.data.readers.updown_series import (  # noqa: PLC0415
        read_ladder,
        read_reference_prices,
        read_settled_windows,
    )

    try:
        windows = read_settled_windows(data_dir / LIGENGXIN / "BTC-5m-markets-2026-06-08.jsonl.gz")
        times, prices = read_reference_prices(data_dir / LIGENGXIN / "BTCUSD-prices-2026-06-08.csv.gz")
        ladder = read_ladder(data_dir / LADDER)
    except (DataFormatError, OSError) as exc:
        fail(str(exc))
    chainlink = chainlink_forecasts(windows, times, prices)
    report: dict[str, Any] = {"chainlink": {"markets": len(windows), "by_horizon": {}}, "ladder": {}}
    for horizon in HORIZONS_S:
        chosen = [f for f in chainlink if f.seconds_left == horizon]
        report["chainlink"]["by_horizon"][horizon] = _scored(
            score([f.probability for f in chosen], [f.up_won for f in chosen])
        )
    forecasts = ladder_forecasts(ladder)
    priced = [f for f in forecasts if f.market_mid is not None]
    happened = [f.up_won for f in priced]
    report["ladder"] = {
        "windows": len(ladder),
        "model": _scored(score([f.probability for f in priced], happened)),
        "market_mid": _scored(score([f.market_mid or 0.0 for f in priced], happened)),
        "edge_trades": {str(edge): _trades(edge_trades(forecasts, edge)) for edge in (0.0, 0.02, 0.05)},
    }
    pairs = pair_sums(ladder)
    report["ladder"]["pair_sums"] = {
        "samples": pairs.samples,
        "median_sum": pairs.median,
        "below_one": pairs.below_one,
        "profitable_after_fees": pairs.profitable,
        "best_net_per_pair": max(pairs.net, default=0.0),
    }
    if as_json:
        typer.echo(json.dumps(report, sort_keys=True))
        return
    _print(report)


def _scored(result: Any) -> dict[str, Any]:
    return {
        "forecasts": result.count,
        "base_rate": round(result.base_rate, 4),
        "brier": round(result.brier, 4),
        "log_loss": round(result.log_loss, 4),
        "brier_skill": round(result.brier_skill_vs_base_rate, 3),
        "reliability": [
            [round(r.low, 1), round(r.high, 1), r.count, round(r.mean_forecast, 3), round(r.observed, 3)]
            for r in result.rows
        ],
    }


def _trades(result: Any) -> dict[str, Any]:
    return {
        "trades": result.trades,
        "won": result.won,
        "pnl": round(result.total, 3),
        "mean": round(result.mean, 4),
        "t": round(result.t_stat, 2),
    }


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"Chainlink day: {report['chainlink']['markets']} markets, the model at each horizon")
    for column in ("seconds left", "forecasts", "Up rate", "Brier", "log loss", "skill vs base rate"):
        table.add_column(column, justify="right")
    for horizon, s in report["chainlink"]["by_horizon"].items():
        table.add_row(
            str(horizon),
            str(s["forecasts"]),
            f"{s['base_rate']:.3f}",
            f"{s['brier']:.4f}",
            f"{s['log_loss']:.4f}",
            f"{s['brier_skill']:.3f}",
        )
    console.print(table)
    ladder = report["ladder"]
    table = Table(title=f"Book ladder: {ladder['windows']} windows, the model against the market's own mid")
    for column in ("forecast", "samples", "Brier", "log loss", "skill vs base rate"):
        table.add_column(column, justify="right")
    for name in ("model", "market_mid"):
        s = ladder[name]
        table.add_row(
            name.replace("_", " "),
            str(s["forecasts"]),
            f"{s['brier']:.4f}",
            f"{s['log_loss']:.4f}",
            f"{s['brier_skill']:.3f}",
        )
    console.print(table)
    table = Table(title="Reliability (ladder): forecast bin, samples, mean forecast, observed Up rate")
    for column in ("bin", "model n", "model mean", "model observed", "market n", "market mean", "market observed"):
        table.add_column(column, justify="right")
    model = {(r[0], r[1]): r for r in ladder["model"]["reliability"]}
    market = {(r[0], r[1]): r for r in ladder["market_mid"]["reliability"]}
    for key in sorted(set(model) | set(market)):
        m, k = model.get(key), market.get(key)
        table.add_row(
            f"{key[0]:.1f}-{key[1]:.1f}",
            *(["-", "-", "-"] if m is None else [str(m[2]), f"{m[3]:.3f}", f"{m[4]:.3f}"]),
            *(["-", "-", "-"] if k is None else [str(k[2]), f"{k[3]:.3f}", f"{k[4]:.3f}"]),
        )
    console.print(table)
    table = Table(title="Buying the model's edge (one share a window, first sample past the edge; after the taker fee)")
    for column in ("edge over ask + fee", "trades", "won", "PnL per share", "mean", "t"):
        table.add_column(column, justify="right")
    for edge, t in ladder["edge_trades"].items():
        table.add_row(edge, str(t["trades"]), str(t["won"]), f"{t['pnl']:+.3f}", f"{t['mean']:+.4f}", f"{t['t']:.2f}")
    console.print(table)
    p = ladder["pair_sums"]
    console.print(
        f"YES/NO pairs (ladder): {p['samples']} samples with both asks, median Up + Down ask {p['median_sum']:.3f}; "
        f"{p['below_one']} below 1, {p['profitable_after_fees']} still positive after the taker fee on both "
        f"sides (best {p['best_net_per_pair']:+.4f} a pair)"
    )
