"""The command line as a user meets it: results as JSON, stored runs, and one-line errors."""

from __future__ import annotations

import importlib.metadata
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.cli.output import redact

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
METRIC_KEYS = {
    "total_return", "cagr", "annualized_volatility", "sharpe", "sortino", "calmar", "max_drawdown",
    "max_drawdown_duration_s", "win_rate", "profit_factor", "expectancy", "exposure_time", "turnover",
    "fees_paid", "btc_correlation", "trades", "run_id", "orders", "fills", "events_processed", "wall_seconds",
}  # fmt: skip

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_demo_runs_stores_and_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "runs.db")
    reports = tmp_path / "reports"
    code, out, err = invoke(
        "demo", "--hours", "0.25", "--seed", "3", "--json", "--db", db, "--report-dir", str(reports)
    )
    assert code == 0, err
    first = json.loads(out)
    report = reports / f"{first['run_id']}.html"
    assert f"report: {report}" in err.replace("\n", "")
    assert report.stat().st_size < 1_000_000  # plotly is beside it, shared by the folder's reports
    assert len(list(reports.glob("plotly-*.min.js"))) == 1
    assert set(first) >= METRIC_KEYS
    assert first["events_processed"] > 10_000  # three venues, perpetuals and binaries for 15 minutes
    assert set(first["strategies"]) == {
        "xarb_btc",
        "xarb_eth",
        "sma_eth",
        "funding_btc",
        "binary_pairs",
        "binary_fair",
        "tri_alpha",
        "xmaker_btc",
        "funding_spread_btc",
        "binary_cross",
        "binary_flow",
    }
    assert first["risk"]["enabled"]  # the demo runs under the pre-trade risk engine
    # the strategies' PnLs add up to the account's exactly (largest-remainder shares, #11)
    total = sum((Decimal(row["pnl"]) for row in first["strategies"].values()), Decimal(0))
    assert total == Decimal(first["pnl_vs_holding"])
    code, out, _ = invoke("demo", "--hours", "0.25", "--seed", "3", "--json", "--db", db, "--no-report")
    second = json.loads(out)
    assert second["journal_sha256"] == first["journal_sha256"]
    assert second["final_equity"] == first["final_equity"]
    assert second["run_id"] != first["run_id"]  # same config and seed, stored as a second run
    code, out, _ = invoke("demo", "--hours", "0.25", "--seed", "4", "--json", "--db", db, "--no-report")
    assert json.loads(out)["journal_sha256"] != first["journal_sha256"]

    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal: each strategy name on one line
    code, out, _ = invoke("runs", "--db", db)
    assert code == 0
    assert first["run_id"] in out
    for name in ("CrossExchangeArb", "SmaCross", "FundingCapture", "BinaryPairArb", "TriangularArb", "BinaryOrderFlow"):
        assert name in out  # every strategy of the run, not only the last one
    assert "x2" in out  # two CrossExchangeArb
    code, out, _ = invoke("show", first["run_id"], "--db", db, "--json")
    assert code == 0
    assert json.loads(out)["result"]["final_equity"] == first["final_equity"]
    again = tmp_path / "again.html"
    code, out, err = invoke("report", first["run_id"], "--db", db, "--out", str(again))
    assert code == 0, err
    assert again.read_text(encoding="utf-8").count(first["run_id"]) >= 2
    alone = tmp_path / "alone" / "report.html"
    code, out, err = invoke("report", first["run_id"], "--db", db, "--out", str(alone), "--self-contained")
    assert code == 0, err
    assert alone.stat().st_size > 3_000_000  # plotly inside: no CDN at run time, no file beside it
    assert [p.name for p in alone.parent.iterdir()] == ["report.html"]
    code, _, err = invoke("report", "nope-0-0", "--db", db)
    assert code == 2
    assert "no run 'nope-0-0'" in err


def test_demo_prints_a_summary_per_strategy_and_the_report_path(tmp_path: Path) -> None:
    code, out, err = invoke("demo", "--hours", "0.25", "--db", str(tmp_path / "r.db"), "--report-dir", str(tmp_path))
    assert code == 0, err
    for strategy in ("xarb_btc", "xarb_eth", "sma_eth", "funding_btc", "binary_pairs", "binary_fair", "tri_alpha"):
        assert strategy in out
    assert "account: PnL" in out
    assert "report: " in out
    assert len(list(tmp_path.glob("*.html"))) == 1


def test_backtest_with_override_prints_one_json_object(shared_data: Path, tmp_path: Path) -> None:
    code, out, err = invoke(
        "backtest", str(EXAMPLES / "sma_cross_eth_btc.toml"), "--set", "strategy.params.fast=20",
        "--json", "--db", str(tmp_path / "r.db"), "--no-report",
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert set(body) >= METRIC_KEYS
    assert body["events_processed"] == 5760
    assert body["orders"] == body["fills"] > 0
    # progress in a log (stderr is not a terminal here): the phase, then the share of the data's
    # time replayed, rising to exactly 100 % and never past it
    progress = [line for line in err.splitlines() if line.startswith("progress: ")]
    assert progress[0] == "progress: reading the data ..."
    assert progress[1].startswith("progress: replaying 5,760 records, ")
    shares = [int(m[1]) for line in progress if (m := re.search(r"progress:\s+(\d+)% of the data replayed", line))]
    assert shares == sorted(shares)
    assert shares[-1] == 100


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


DEMO = (REPO / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml").read_text(encoding="utf-8")
DEMO_MARKET = REPO / "src/spreadhawk/runtime/presets/demo_market.toml"


@pytest.mark.parametrize(
    ("text", "overrides", "expected"),
    [
        (DEMO.replace("seed = 7", "sed = 7"), [], "unknown key 'run.sed'"),
        (DEMO.replace("seed = 7", 'seed = "x"'), [], "run.seed: Input should be a valid integer"),
        (DEMO, ["strategy.params.max_quantity=-1"], "strategy.params.max_quantity"),
        (DEMO, ["strategy.params.colour=1"], "unknown key 'strategy.params.colour'"),
        (DEMO, ["strategy.path=spreadhawk.nowhere:Nope"], "module 'spreadhawk.nowhere' not found"),
        (DEMO, ["strategy.path=spreadhawk.strategy.base:Nope"], "'Nope' is not a Strategy class"),
        (DEMO, ["strategy.path=nocolon"], "must look like 'package.module:Class'"),
        (DEMO, ["venues.SIMA.latency_ms=-5"], "venues.SIMA.latency_ms"),
        # a fee that would mint money (a negative taker fee) or one typed in percent
        (DEMO, ["instruments.0.taker_fee=-0.5"], "instruments.0.taker_fee: Input should be greater than or equal to 0"),
        (DEMO, ["instruments.1.taker_fee=5"], "instruments.1.taker_fee: Input should be less than or equal to 0.1"),
        (
            DEMO,
            ["instruments.1.maker_fee=-0.5"],
            "instruments.1.maker_fee: Input should be greater than or equal to -0.01",
        ),
        (DEMO, ["venues.SIMA.balances.USDT=1e308"], "balance of USDT must be a number from 0 to"),
        (DEMO, ["venues.SIMA.max_book_age_s=0"], "venues.SIMA.max_book_age_s: Input should be greater than 0"),
        (DEMO, ["venues.NOPE.latency_ms=5"], "venues.NOPE: no instrument is declared on venue 'NOPE'"),
        (DEMO, ["data.0.format=csv"], "data.0.format"),
        (DEMO, ["novalue"], "expected KEY=VALUE"),
        (DEMO, ['run.valuation_currency="EUR"'], "starts with no equity in EUR: deposit balances under [venues.NAME]"),
        (DEMO.replace("[run]", "[run\n"), [], "invalid TOML"),
        (
            DEMO.replace('format = "synthetic_two_venue"', 'format = "link_books"\npath = "missing.csv"').replace(
                'instruments = ["SIMA:BTC/USDT", "SIMB:BTC/USDT"]\nhours', 'instrument = "SIMA:BTC/USDT"\nhours'
            ),
            [],
            "data file not found",
        ),
    ],
)
def test_bad_config_is_one_line_naming_the_problem(
    tmp_path: Path, text: str, overrides: list[str], expected: str
) -> None:
    args = ["backtest", str(_config(tmp_path, text)), "--db", str(tmp_path / "r.db")]
    for override in overrides:
        args += ["--set", override]
    code, out, err = invoke(*args)
    assert code == 2
    assert "Traceback" not in out + err
    # in a log, progress comes first ("progress: reading the data ..."; a spinner on a terminal):
    # the error itself is one line
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("progress: ")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert expected in lines[0]
    code, out, _ = invoke("runs", "--db", str(tmp_path / "r.db"))  # nothing was stored
    assert (code, out.strip()) == (0, "no runs stored yet")


def test_missing_config_file_and_unknown_run(tmp_path: Path) -> None:
    code, _, err = invoke("backtest", str(tmp_path / "nope.toml"), "--db", str(tmp_path / "r.db"))
    assert code == 2
    assert "config file not found" in err
    code, _, err = invoke("show", "abc-0-0", "--db", str(tmp_path / "r.db"))
    assert code == 2
    assert "no run 'abc-0-0'" in err


def test_unwritable_database_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    code, _, err = invoke("runs", "--db", str(missing / "r.db"))
    assert code == 2
    assert f"the folder {missing} does not exist" in err.replace("\n", "")
    (tmp_path / "ro").mkdir(mode=0o500)
    (tmp_path / "ro" / "r.db").mkdir()  # a folder where the database file should be
    code, _, err = invoke("runs", "--db", str(tmp_path / "ro" / "r.db"))
    assert code == 2
    assert "cannot open run store" in err


def test_data_imported_to_the_catalog_replays_identically(shared_data: Path, tmp_path: Path) -> None:
    config = str(EXAMPLES / "cross_exchange_link_usdt.toml")
    catalog = tmp_path / "catalog"
    code, out, err = invoke("import", config, "--out", str(catalog), "--name", "link")
    assert code == 0, err
    assert "BINANCE:LINK/USDT" in out
    assert "HUOBI:LINK/USDT" in out
    assert "7,200" in out
    db = str(tmp_path / "r.db")
    cheap_fees = ["--set", "instruments.0.taker_fee=0.0001", "--set", "instruments.1.taker_fee=0.0001"]
    code, out, err = invoke("backtest", config, *cheap_fees, "--json", "--db", db, "--no-report")
    assert code == 0, err
    from_files = json.loads(out)
    from_catalog_args = []
    for i in (0, 1):
        for key, value in (("format", "catalog"), ("path", str(catalog)), ("kind", "book_snapshot")):
            from_catalog_args += ["--set", f"data.{i}.{key}={value}"]
    code, out, err = invoke("backtest", config, *cheap_fees, *from_catalog_args, "--json", "--db", db, "--no-report")
    assert code == 0, err
    from_catalog = json.loads(out)
    assert from_files["fills"] > 0
    assert from_catalog["journal_sha256"] == from_files["journal_sha256"]
    assert from_catalog["final_equity"] == from_files["final_equity"]


def test_simulated_session_written_to_the_catalog_replays_like_the_live_simulation(tmp_path: Path) -> None:
    out = tmp_path / "session"
    code, stdout, err = invoke("simulate", "--hours", "0.25", "--seed", "3", "--out", str(out))
    assert code == 0, err
    assert "replay: spreadhawk backtest" in stdout
    db = str(tmp_path / "r.db")
    code, stdout, err = invoke("backtest", str(out / "replay.toml"), "--json", "--db", db, "--no-report")
    assert code == 0, err
    replayed = json.loads(stdout)
    direct_args = ["--set", "data.0.hours=0.25", "--set", "run.seed=3", "--json", "--db", db, "--no-report"]
    code, stdout, err = invoke("backtest", str(DEMO_MARKET), *direct_args)
    assert code == 0, err
    direct = json.loads(stdout)
    assert replayed["events_processed"] == direct["events_processed"]
    assert replayed["fills"] == direct["fills"]
    assert replayed["final_equity"] == direct["final_equity"]


def test_version_seed_and_a_database_password_in_errors() -> None:
    code, out, _ = invoke("--version")
    assert (code, out.strip()) == (0, f"spreadhawk {importlib.metadata.version('spreadhawk')}")
    code, _, err = invoke("demo", "--seed", "-1", "--no-report")
    assert code == 2
    assert "--seed must be 0 or more, got -1" in err  # the user's flag, not an internal field
    code, out, err = invoke("runs", "--db", "postgresql://trader:hunter2@127.0.0.1:1/runs")
    assert code == 2
    assert "hunter2" not in out + err
    assert "postgresql://trader:***@127.0.0.1:1/runs" in err


def test_redact_hides_url_passwords_and_password_parameters() -> None:
    text = "OperationalError: connect to postgresql+psycopg://me:s3cr%40t@db:5432/x failed (password=s3cr@t; user=me)"
    assert (
        redact(text)
        == "OperationalError: connect to postgresql+psycopg://me:***@db:5432/x failed (password=***; user=me)"
    )
    assert (
        redact("sqlite:////tmp/runs.db and redis://cache:6379/0") == "sqlite:////tmp/runs.db and redis://cache:6379/0"
    )


def test_a_report_that_cannot_be_written_hides_no_result(shared_data: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the report folder should be")
    db = str(tmp_path / "r.db")
    code, out, err = invoke("backtest", str(EXAMPLES / "sma_cross_eth_btc.toml"), "--json", "--db", db,
                            "--report-dir", str(blocked))  # fmt: skip
    assert code == 2
    run_id = json.loads(out)["run_id"]  # the results, printed before the error
    assert "cannot write the report: " in err
    assert f"the run is stored: spreadhawk report {run_id} --out FILE" in err
    assert run_id in invoke("runs", "--db", db)[1]


def test_help_shows_config_sections_as_written() -> None:
    code, out, _ = invoke("import", "--help")
    assert code == 0
    assert "[[data]]" in out
