"""Numbers as a person reads them (#13): rounded by what they are, never in the stored results.

Money to cents with thousands separators (8 significant digits when under one unit: a fee of
0.00001234 BTC is not 0.00); returns, drawdowns and shares of time as percentages; ratios to two
decimals; durations in hours and minutes; counts with separators. The exact values stay in
``--json`` and the run store. Strategy counters are nested mappings of such values: their keys say
what they are (``..._bps``, ``..._ms``, ``..._s``, ``...rate``, ``...correlation``), and any other
decimal is read as an amount.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.tree import Tree

__all__ = ["counters_tree", "metric_text", "number_text", "undefined_reason"]

_MONEY = frozenset({"initial_equity", "final_equity", "pnl", "pnl_vs_holding", "fees_paid", "expectancy"})
_PERCENT = frozenset({"total_return", "cagr", "annualized_volatility", "max_drawdown", "win_rate", "exposure_time"})
_RATIO = frozenset({"sharpe", "sortino", "calmar", "profit_factor", "btc_correlation"})
_COUNT = frozenset({"trades", "orders", "fills", "events_processed"})
_ANNUALISED = frozenset({"sharpe", "sortino", "annualized_volatility"})


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def undefined_reason(key: str, result: Mapping[str, Any]) -> str:  # noqa: PLR0911 -- one per metric
    """Why a run metric is undefined (``analytics.metrics`` decides; this says it in words)."""
    if key == "cagr":
        return f"the run is shorter than {_min_days()} days"
    if key == "calmar":
        return "no CAGR" if result.get("cagr") is None else "no drawdown"
    if key in ("sharpe", "annualized_volatility"):
        return "the equity did not move" if result.get("annualized_volatility") == 0 else "too few equity samples"
    if key == "sortino":
        return "no losing period"
    if key in ("win_rate", "expectancy"):
        return "no closed trade"
    if key == "profit_factor":
        return "no losing trade" if result.get("trades") else "no closed trade"
    if key == "btc_correlation":
        return "no BTC price to compare with"
    return "undefined"


def money_text(value: Any, currency: str = "") -> str:
    number = _decimal(value)
    if number is None:
        return "n/a"
    suffix = f" {currency}" if currency else ""
    if number and abs(number) < 1:
        return f"{float(number):.8g}{suffix}"
    return f"{number:,.2f}{suffix}"


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min {int(seconds % 60):02d} s"


def metric_text(  # noqa: PLR0911 -- one return per kind
    key: str, value: Any, currency: str = "", result: Mapping[str, Any] | None = None
) -> str:
    """One run metric for display; undefined: ``n/a``, and why when the run's ``result`` is given."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return f"n/a ({undefined_reason(key, result)})" if result is not None else "n/a"
    if key in _MONEY:
        return money_text(value, currency)
    if key in _PERCENT:
        short = key in _ANNUALISED and result is not None and result.get("cagr") is None
        return f"{float(value) * 100:.2f} %" + (f" (from under {_min_days()} days)" if short else "")
    if key in _RATIO:
        short = key in _ANNUALISED and result is not None and result.get("cagr") is None
        # a year extrapolated from hours or days: a number, but not one to compare runs by
        return f"{float(value):.2f} (from under {_min_days()} days)" if short else f"{float(value):.2f}"
    if key in _COUNT:
        return f"{int(value):,}"
    if key == "turnover":
        return f"{float(value):.2f} x equity"
    if key.endswith("_s") or key == "wall_seconds":
        return duration_text(float(value))
    return number_text(key, value)


def number_text(key: str, value: Any) -> str:  # noqa: PLR0911 -- one return per kind
    """A strategy counter: its key says what kind of number it is (see the module docstring)."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    number = _decimal(value)
    if number is None:
        return str(value)
    name = key.lower()
    if name.endswith("bps"):
        return f"{float(number):.2f} bps"
    if name.endswith("_ms") or "_ms_" in name:
        return f"{float(number):,.1f} ms"
    if name.endswith("_s"):
        return duration_text(float(number))
    if any(word in name for word in ("rate", "correlation", "beta", "ratio", "to_cost")):
        return f"{float(number):.4g}"
    if number == number.to_integral_value() and abs(number) < 10**15:
        return f"{int(number):,}"
    return money_text(number)


def counters_tree(title: str, counters: Mapping[str, Any]) -> Tree:
    """Nested counters as a tree, keys sorted, leaves formatted by ``number_text``."""
    tree = Tree(title)
    _add(tree, counters)
    return tree


def _add(tree: Tree, counters: Mapping[str, Any]) -> None:
    for key in sorted(counters):
        value = counters[key]
        if isinstance(value, Mapping):
            if not value:
                tree.add(f"{key}: none")
                continue
            _add(tree.add(key), value)
        elif isinstance(value, list):
            tree.add(f"{key}: {', '.join(str(item) for item in value) or 'none'}")
        else:
            tree.add(f"{key}: {number_text(key, value)}")


def _min_days() -> int:
    """The shortest run whose ratios are annualised without a warning (``analytics.metrics``: numpy,
    so imported when a result is shown, not when the CLI starts)."""
    from spreadhawk.analytics.metrics import MIN_CAGR_DAYS  # noqa: PLC0415

    return MIN_CAGR_DAYS
