"""The report's "Risk" section: the figures of ``report.risk`` as tables and plotly charts.

Charts go through ``report.charts`` (``plot``: no bundle per chart, the page loads plotly once;
``line``: SVG scatter, decimated), so they obey the same CSP and size budget. Every plot
container holds at least one scatter trace: the browser test counts ``g.trace`` groups, and a
heatmap alone draws none, so the correlation heat-map carries its values as a text trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from spreadhawk.analytics.regime_table import Regime
from spreadhawk.report.charts import line, plot, utc
from spreadhawk.report.format import FOLD_ROWS, folded, money, note, table
from spreadhawk.report.risk import (
    MIN_COVERAGE,
    CorrelationFigures,
    FloatArray,
    IntArray,
    RegimeFigures,
    RiskFigures,
    StressFigures,
    VarFigures,
)

_REGIME_COLOURS = {
    Regime.TRENDING: "rgba(26, 152, 80, 0.25)",
    Regime.RANGING: "rgba(69, 117, 180, 0.25)",
    Regime.VOLATILE: "rgba(253, 174, 97, 0.35)",
    Regime.CRISIS: "rgba(215, 48, 39, 0.35)",
    Regime.NEUTRAL: "rgba(180, 180, 180, 0.15)",
}
MAX_LISTED = 20  # instruments named in a note; the rest are counted
_VAR_STYLE = {  # (method, level) -> (colour, dash)
    ("historical", 0.95): ("#fdae61", "solid"),
    ("historical", 0.99): ("#d73027", "solid"),
    ("student_t", 0.95): ("#abd9e9", "dash"),
    ("student_t", 0.99): ("#4575b4", "dash"),
}


def risk_section(figures: RiskFigures, equity: tuple[tuple[int, Any], ...], ccy: str) -> str:
    parts = [_limits(figures), "<h3>Value at risk and expected shortfall</h3>"]
    parts.append(_var(figures.var) if figures.var else note(f"VaR: {figures.notes.get('var', 'n/a')}"))
    parts.append("<h3>Stress scenarios</h3>")
    parts.append(_stress(figures.stress, ccy) if figures.stress else note(f"stress: {figures.notes.get('stress')}"))
    parts.append("<h3>Regimes</h3>")
    if figures.regimes:
        parts.append(_regimes(figures.regimes, equity, ccy))
    else:
        parts.append(note(f"regimes: {figures.notes.get('regimes')}"))
    parts.append("<h3>Correlation of the instruments' 1-minute returns</h3>")
    if figures.correlation:
        parts.append(_correlation(figures.correlation))
    else:
        parts.append(note(f"correlation: {figures.notes.get('correlation')}"))
    return "".join(parts)


def _limits(figures: RiskFigures) -> str:
    parts = ["<h3>Denials and limits hit</h3>"]
    if not figures.enabled:
        parts.append(note("the run had no risk engine ([risk] enabled = false): no pre-trade limits applied"))
    if figures.denials:
        rows = [(reason, count) for reason, count in sorted(figures.denials.items())]
        rows.append(("total", sum(figures.denials.values())))
        parts.append(table(("denial reason", "orders denied"), rows))
    elif figures.enabled:
        parts.append(note("no order was denied"))
    if figures.records:
        keys = ("ts_ns", "what", "subject", "state", "reason", "by")
        rows2 = [[_when(r.get("ts_ns")), *(str(r.get(k, "")) for k in keys[1:])] for r in figures.records]
        changes = table(("time", "what", "subject", "state", "reason", "by"), rows2)
        parts.append(folded(f"{len(rows2)} changes of the risk state", changes) if len(rows2) > FOLD_ROWS else changes)
    elif figures.enabled:
        parts.append(note("no breaker tripped and no strategy was paused"))
    if figures.kill_switch:
        switch = [(k, _when(v) if k.endswith("ts_ns") else str(v)) for k, v in sorted(figures.kill_switch.items())]
        parts.append(table(("kill switch", "value"), switch))
    return "".join(parts)


def _var(var: VarFigures) -> str:
    header = ("level", "method", "VaR now", "ES now", "breaches", "breach rate", "expected", "Kupiec LR", "Kupiec p")
    rows = []
    for lv in var.levels:
        for method, (value, es) in lv.now.items():
            b = lv.backtests[method]
            rows.append(
                (
                    f"{lv.level:.0%}",
                    method,
                    _pct(value),
                    _pct(es),
                    f"{b.breaches} / {b.observations}",
                    _pct(b.breach_rate),
                    _pct(b.expected_rate),
                    f"{b.likelihood_ratio:.3f}",
                    f"{b.p_value:.3f}",
                )
            )
    explained = note(
        f"returns of the equity curve over {var.horizon_s:,.0f} s ({len(var.returns):,} returns); one-step "
        f"forecasts from the trailing {var.window} returns; a breach is a return below -VaR; a small Kupiec p "
        "rejects the model's breach rate"
    )
    fig = go.Figure()
    fig.add_trace(line(var.ts, var.returns * 100, "return", "#999999"))
    for (method, level), series in var.forecasts.items():
        colour, dash = _VAR_STYLE[(method, level)]
        trace = line(var.ts, -series * 100, f"-VaR {level:.0%} {method}", colour)
        trace.line.dash = dash
        fig.add_trace(trace)
    es99 = var.rolling_es[max(var.rolling_es)]
    fig.add_trace(line(var.ts, -es99 * 100, f"-ES {max(var.rolling_es):.0%} historical", "#762a83"))
    for level, colour in ((0.95, "#fdae61"), (0.99, "#d73027")):
        forecast = var.forecasts[("historical", level)]
        with np.errstate(invalid="ignore"):
            breached = var.returns < -forecast
        if breached.any():
            fig.add_trace(_breaches(var.ts[breached], var.returns[breached] * 100, level, colour))
    fig.update_layout(title="Equity returns, VaR and ES (negative: losses)", yaxis_title="%", showlegend=True)
    return table(header, rows) + explained + plot(fig, "fig-risk-var", 420)


def _breaches(ts: IntArray, ys: FloatArray, level: float, colour: str) -> go.Scatter:
    marker = {"color": colour, "symbol": "x", "size": 8}
    return go.Scatter(x=utc(ts), y=ys, name=f"breach of {level:.0%} historical VaR", mode="markers", marker=marker)


def _stress(stress: StressFigures, ccy: str) -> str:
    rows = [
        (s.name, money(str(s.pnl)), _pct(float(s.pnl / stress.value)) if stress.value else "n/a", s.description)
        for s in stress.scenarios
    ]
    parts = [table(("scenario", f"PnL {ccy}", "of value", "assumption"), rows)]
    parts.append(note(f"final balances worth {money(str(stress.value))} {ccy} at the final prices; negative = loss"))
    parts.extend(note(text) for text in stress.notes)
    return "".join(parts)


def _regimes(regimes: RegimeFigures, equity: tuple[tuple[int, Any], ...], ccy: str) -> str:
    fig = go.Figure()
    ts = regimes.bar_ts
    for regime in Regime:
        present = np.array([r is regime for r in regimes.regimes], dtype=np.float64)
        if not present.any():
            continue
        # Only the points where the indicator changes (and the last): with a step line that is exact.
        keep = np.flatnonzero(np.concatenate(([True], np.diff(present) != 0)))
        keep = np.unique(np.concatenate((keep, [len(present) - 1])))
        fig.add_trace(
            go.Scatter(
                x=utc(ts[keep]),
                y=present[keep],
                name=regime.value,
                mode="lines",
                line={"width": 0, "shape": "hv"},
                fill="tozeroy",
                fillcolor=_REGIME_COLOURS[regime],
                yaxis="y2",
                hoverinfo="name",
            )
        )
    eq_ts = np.array([t for t, _ in equity], dtype=np.int64)
    eq = np.array([float(e) for _, e in equity], dtype=np.float64)
    fig.add_trace(line(eq_ts, eq, "equity", "#4c72b0"))
    fig.update_layout(
        title=f"Equity with the regime of {regimes.reference} (1-minute bars) shaded",
        yaxis_title=ccy,
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        showlegend=True,
    )
    shares = regimes.shares()
    rows = [(name, f"{share:.1%}") for name, share in shares.items()]
    explained = note("the indicators' warm-up (about 2 × 14 bars) counts as neutral")
    return plot(fig, "fig-risk-regimes", 400) + table(("regime", "share of bars"), rows) + explained


def _correlation(c: CorrelationFigures) -> str:
    names = c.instruments
    fig = go.Figure(
        go.Heatmap(z=c.matrix, x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu", reversescale=True, name="corr")
    )
    xs = [x for _ in names for x in names]
    ys = [y for y in names for _ in names]
    text = [f"{v:.2f}" for v in c.matrix.ravel()]
    colours = ["white" if abs(v) > 0.5 else "black" for v in c.matrix.ravel()]  # readable on dark and pale cells
    fig.add_trace(
        go.Scatter(x=xs, y=ys, text=text, textfont={"color": colours}, mode="text", hoverinfo="skip", showlegend=False)
    )
    fig.update_layout(title=f"Correlation of 1-minute log returns ({c.bars:,} bars)", yaxis={"autorange": "reversed"})
    s = c.summary
    rows = [
        ("mean pairwise correlation", f"{s.mean_correlation:.3f}"),
        ("variance share of the first factor", f"{s.first_factor_share:.1%}"),
        ("effective number of independent bets", f"{s.effective_bets:.2f} of {len(names)}"),
    ]
    height = 260 + 30 * len(names)
    parts = [plot(fig, "fig-risk-correlation", height, time_axis=False), table(("measure", "value"), rows)]
    if c.left_out:
        shown = ", ".join(c.left_out[:MAX_LISTED]) + (
            f" and {len(c.left_out) - MAX_LISTED} more" if len(c.left_out) > MAX_LISTED else ""
        )
        parts.append(note(f"left out (priced in less than {MIN_COVERAGE:.0%} of the minutes, or flat): {shown}"))
    return "".join(parts)


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value * 100:.4f} %"


def _when(ts_ns: object) -> str:
    if not isinstance(ts_ns, int):
        return str(ts_ns)
    return str(np.datetime64(ts_ns // 1_000_000, "ms")).replace("T", " ") + " UTC"
