"""Numbers for display (#13): each kind rounded as a person reads it, worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from spreadhawk.cli.display import counters_tree, metric_text, number_text


def test_run_metrics_by_kind() -> None:
    assert metric_text("final_equity", "1305091.239623690220", "USDT") == "1,305,091.24 USDT"
    assert metric_text("pnl", "-4908.335376309780", "USDT") == "-4,908.34 USDT"
    assert metric_text("fees_paid", "0.0000123456789", "BTC") == "1.2345679e-05 BTC"  # not 0.00
    assert metric_text("total_return", -0.00374682) == "-0.37 %"
    assert metric_text("sharpe", -5.27342) == "-5.27"
    assert metric_text("cagr", None) == "n/a"
    assert metric_text("sharpe", float("nan")) == "n/a"
    assert metric_text("max_drawdown_duration_s", 77741.8) == "21 h 35 min"
    assert metric_text("wall_seconds", 182.383) == "3 min 02 s"
    assert metric_text("events_processed", 2687634) == "2,687,634"
    assert metric_text("turnover", 6.98499) == "6.98 x equity"


def test_strategy_counters_by_key() -> None:
    assert number_text("total_legging_loss", "689.5364624370621580810456222") == "689.54"
    assert number_text("realised_edge_bps", "7.36") == "7.36 bps"
    assert number_text("hedge_latency_ms_median", 5.0) == "5.0 ms"
    assert number_text("mean_transit_s", 1585.73) == "26 min 25 s"
    assert number_text("funding_rate_estimate", "0.00010783") == "0.0001078"
    assert number_text("ofi_return_correlation", -0.0479) == "-0.0479"
    assert number_text("shares_bought", "48000") == "48,000"
    assert number_text("halted", False) == "no"
    assert number_text("last_benefit_to_cost", None) == "n/a"
    assert number_text("total_slippage", "0E-9") == "0"


def test_counters_render_as_a_tree_without_raw_decimals() -> None:
    console = Console(width=100, record=True)
    console.print(
        counters_tree(
            "strategy counters",
            {"xarb": {"execution": {"units": 148}, "expected_net_edge": Decimal("2500.76668394328"), "fees": {}}},
        )
    )
    text = console.export_text()
    assert "expected_net_edge: 2,500.77" in text
    assert "units: 148" in text
    assert "fees: none" in text
    assert "2500.76668394328" not in text


def test_an_undefined_metric_says_why_and_a_short_run_s_ratios_say_so() -> None:
    day = {"cagr": None, "annualized_volatility": 0.17, "trades": 3}
    assert metric_text("cagr", None, "", day) == "n/a (the run is shorter than 7 days)"
    assert metric_text("calmar", None, "", day) == "n/a (no CAGR)"
    assert metric_text("sharpe", 63.49, "", day) == "63.49 (from under 7 days)"
    assert metric_text("annualized_volatility", 0.1703, "", day) == "17.03 % (from under 7 days)"
    assert metric_text("profit_factor", None, "", day) == "n/a (no losing trade)"
    assert metric_text("win_rate", None, "", {"trades": 0}) == "n/a (no closed trade)"
    month = {"cagr": 0.12, "annualized_volatility": 0.0, "trades": 0}
    assert metric_text("sharpe", None, "", month) == "n/a (the equity did not move)"
    assert metric_text("sharpe", 1.5, "", month) == "1.50"
