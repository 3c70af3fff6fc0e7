"""``spreadhawk risk RUN_ID``: tables for a stored run, one line and exit 2 for an unknown id, --json parses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cross_exchange_rebalancing_sim.toml"
# As tests/report/test_risk_report.py: half an hour, 10-second equity, a notional cap that denies.
OVERRIDES = (
    "data.0.hours=0.5",
    "run.equity_interval_s=10",
    "risk.enabled=true",
    "risk.max_order_notional=3000",
    "risk.max_asset_fraction=off",
    "risk.max_strategy_fraction=off",
    "risk.max_deployed_fraction=off",
)
runner = CliRunner()


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    """(db path, the backtest's result JSON) of one stored run."""
    db = str(tmp_path_factory.mktemp("risk-cli") / "runs.db")
    sets = [arg for o in OVERRIDES for arg in ("--set", o)]
    done = runner.invoke(app, ["backtest", str(EXAMPLE), *sets, "--json", "--db", db, "--no-report"])
    assert done.exit_code == 0, done.stderr
    return db, json.loads(done.stdout)


def test_risk_prints_the_tables(stored_run: tuple[str, dict[str, object]]) -> None:
    db, result = stored_run
    done = runner.invoke(app, ["risk", str(result["run_id"]), "--db", db])
    assert done.exit_code == 0, done.stderr
    out = done.stdout
    for title in ("denials (risk engine on)", "VaR / ES", "stress", "regimes of", "correlation of 3 instruments"):
        assert title in out
    denials = result["risk"]["denials"]  # type: ignore[index]
    for reason, count in denials.items():
        assert reason in out
        assert str(count) in out
    for scenario in ("BTC -50%", "BETA hacked", "GAMMA hacked", "USDT -10%"):
        assert scenario in out
    assert "effective bets" in out
    assert "Kupiec p" in out


def test_json_parses_and_agrees_with_the_result(stored_run: tuple[str, dict[str, object]]) -> None:
    db, result = stored_run
    done = runner.invoke(app, ["risk", str(result["run_id"]), "--db", db, "--json"])
    assert done.exit_code == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["run_id"] == result["run_id"]
    assert body["denials"] == result["risk"]["denials"]  # type: ignore[index]
    levels = body["var"]["levels"]
    assert set(levels) == {"0.95", "0.99"}
    assert {method for level in levels.values() for method in level["backtest"]} >= {"historical"}
    for confidence, level in levels.items():
        for backtest in level["backtest"].values():
            x, n = backtest["breaches"], backtest["observations"]
            assert 0 <= x <= n
            assert n > 0
            # Kupiec's proportion-of-failures test, written out: LR against chi-square with 1 degree
            lr, p = _kupiec(x, n, 1 - float(confidence))
            assert backtest["kupiec_lr"] == pytest.approx(lr, rel=1e-9, abs=1e-12)
            assert backtest["kupiec_p"] == pytest.approx(p, rel=1e-9, abs=1e-12)
    assert next(s["name"] for s in body["stress"]["scenarios"]) == "BTC -50%"
    assert sum(body["regimes"]["share"].values()) == pytest.approx(1.0)


def test_a_short_window_choice_is_honoured_and_a_too_long_one_is_explained(
    stored_run: tuple[str, dict[str, object]],
) -> None:
    db, result = stored_run
    done = runner.invoke(app, ["risk", str(result["run_id"]), "--db", db, "--json", "--window", "30"])
    assert json.loads(done.stdout)["var"]["window"] == 30
    done = runner.invoke(app, ["risk", str(result["run_id"]), "--db", db, "--json", "--window", "5000"])
    body = json.loads(done.stdout)
    assert "var" not in body
    assert body["notes"]["var"].startswith("not enough data")


def test_unknown_run_is_one_line_and_exit_2(stored_run: tuple[str, dict[str, object]]) -> None:
    db, _ = stored_run
    done = runner.invoke(app, ["risk", "no-such-run", "--db", db])
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"error: no run 'no-such-run' in {db} (see 'spreadhawk runs')"]


def _kupiec(breaches: int, observations: int, p: float) -> tuple[float, float]:
    """Kupiec (1995): LR = -2 ln[(1-p)^(n-x) p^x / ((1-x/n)^(n-x) (x/n)^x)], and its p-value
    P(chi2_1 > LR) = erfc(sqrt(LR / 2))."""

    def log_likelihood(q: float) -> float:
        out = 0.0
        if observations - breaches:
            out += (observations - breaches) * math.log(1 - q)
        if breaches:
            out += breaches * math.log(q)
        return out

    lr = max(0.0, -2 * (log_likelihood(p) - log_likelihood(breaches / observations)))
    return lr, math.erfc(math.sqrt(lr / 2))
