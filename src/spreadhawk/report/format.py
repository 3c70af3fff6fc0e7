"""How the report writes figures and tables: escaped text, money cut to 8 decimals, percentages,
durations, UTC times, and long tables folded away under a summary line."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

FOLD_ROWS = 25  # a table longer than this is folded (see folded)
PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "annualized_volatility", "max_drawdown", "win_rate", "exposure_time"}
)


def table(header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> str:
    head = "<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i else ''}>{escape(str(v))}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def folded(summary: str, body: str) -> str:
    """``body`` hidden under a one-line ``summary`` the reader clicks to open: a long list must not
    push the charts and figures below it out of sight."""
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def utc_time(ts_ns: int) -> str:
    """A time to the second, in UTC, said so (nanoseconds since the epoch are not for reading)."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def metric(name: str, value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if name in PERCENT_METRICS:
        return f"{value * 100:.2f} %"
    if name.endswith("_s"):
        return duration(float(value))
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"


def duration(seconds: float) -> str:
    text = f"{seconds:,.0f} s"
    if seconds < 60:
        return text
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{rest // 60}m" if rest >= 60 else ""]
    return f"{text} ({' '.join(p for p in parts if p)})"


def money(value: object) -> str:
    """An exact decimal string, cut to 8 decimal places for reading (8 = satoshi precision)."""
    if value is None:
        return "n/a"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{amount:,.8f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def as_float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:  # a malformed figure draws as zero; the table beside it shows the text
        return 0.0


def flatten(stats: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested counters as dotted rows: {"skipped": {"x": 3}} -> ("skipped.x", "3")."""
    rows: list[tuple[str, str]] = []
    for key, value in sorted(stats.items()):
        if isinstance(value, Mapping):
            rows += flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", metric(key, value)))
    return rows
