"""One stored run as one self-contained HTML file: charts, metrics, per-strategy PnL, costs, config.

Plotly's bundled JavaScript is inlined once; no CDN, web font or image by URL, so a report opens
offline and still renders years later. A Content-Security-Policy forbids any network load: if
something external slips in, the browser refuses it and logs an error the browser test catches.
Run text (ids, config, counters) is escaped. Series are cut to about ``MAX_POINTS`` points, so a
month of 1-second equity stays a few MB beside the ~4.8 MB bundle. The stored result
(``record.config["result"]``) may lack ``strategies``, ``costs`` and ``series`` (older runs):
the section then shows a note instead of a chart.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.persistence import RunRecord
from spreadhawk.report.risk import risk_figures

MAX_POINTS = 20_000  # per line series; longer ones are decimated (see _decimate)
MAX_MARKERS = 5_000  # fills marked per instrument; beyond it every k-th fill, said in a note
MAX_PRICE_CHARTS = 12  # instruments charted (most fills first); the rest are listed in a table
PERCENT_METRICS = frozenset(
    {"total_return", "cagr", "annualized_volatility", "max_drawdown", "win_rate", "exposure_time"}
)
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_BUY, _SELL, _LINE = "#1a9850", "#d73027", "#4c72b0"
# Inline scripts and styles only. Plotly draws SVG and builds its styles at run time. data:/blob:
# are what its "download as png" button uses. Nothing may come from the network.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'"
)
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1200px; padding: 1rem 2rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { border-bottom: 1px solid #ddd; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { padding: .2rem .8rem; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; padding: 1rem; overflow-x: auto; font-size: .85rem; }
.note { color: #666; font-style: italic; } .chart { margin: .5rem 0 1.5rem; } nav a { margin-right: 1rem; }
"""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Section = tuple[str, str, str]  # (anchor id, heading, body html)


def render_report(record: RunRecord) -> str:
    """The whole report as one HTML document (UTF-8 text, about 5 MB: mostly plotly)."""
    result: dict[str, Any] = dict(record.config.get("result") or {})
    ccy = str(result.get("valuation_currency", ""))
    sections: list[Section] = [
        ("summary", "Summary", _summary(record, result)),
        ("metrics", "Metrics", _metrics(record)),
        ("equity", "Equity and drawdown", _equity(record, ccy)),
        ("trades", "Trades on price", _trades(record, result)),
        ("strategies", "PnL by strategy", _strategies(result, ccy)),
        ("costs", "Fees and costs", _costs(record, result, ccy)),
        ("counters", "Strategy counters", _counters(result)),
        ("risk", "Risk", _risk(record, ccy)),
        ("config", "Config", _config(record)),
    ]
    nav = " ".join(f'<a href="#{anchor}">{_e(title)}</a>' for anchor, title, _ in sections)
    body = "\n".join(f'<section id="{a}">\n<h2>{_e(t)}</h2>\n{b}\n</section>' for a, t, b in sections)
    title = f"spreadhawk run {record.run_id}"
    # The library goes in <head>: each chart's inline script calls Plotly.newPlot as it is parsed.
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n"
        f'<script type="text/javascript">{get_plotlyjs()}</script>\n</head>\n<body>\n'
        f"<h1>{_e(title)}</h1>\n<p>{_e(record.strategy)}</p>\n<nav>{nav}</nav>\n{body}\n</body>\n</html>\n"
    )


def write_report(record: RunRecord, path: Path) -> Path:
    """Write ``render_report(record)`` to ``path`` (parent folders created) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(record), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- sections
def _summary(record: RunRecord, result: Mapping[str, Any]) -> str:
    run = (record.config.get("config") or {}).get("run") or {}
    created = datetime.fromtimestamp(record.created_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    rows: list[tuple[str, object]] = [
        ("run id", record.run_id),
        ("name", run.get("name") or "n/a"),
        ("strategy", record.strategy),
        ("status", record.status.value),
        ("seed", record.seed),
        ("config hash", record.config_hash),
        ("created", created),
        ("valuation currency", result.get("valuation_currency", "n/a")),
    ]
    rows += [(key, _money(result.get(key))) for key in ("initial_equity", "final_equity", "pnl", "pnl_vs_holding")]
    rows += [
        ("orders", len(record.orders)),
        ("fills", len(record.fills)),
        ("events processed", f"{record.events_processed:,}"),
        ("wall time", f"{record.wall_seconds:.3f} s"),
        ("journal sha256", result.get("journal_sha256", "n/a")),
    ]
    return _table(None, rows)


def _metrics(record: RunRecord) -> str:
    if not record.metrics:
        return _note("no metrics were stored for this run")
    return _table(("metric", "value"), [(name, _metric(name, v)) for name, v in record.metrics.items()])


def _equity(record: RunRecord, ccy: str) -> str:
    if not record.equity:
        return _note("no equity curve was stored for this run")
    ts = np.array([t for t, _ in record.equity], dtype=np.int64)
    eq = np.array([float(e) for _, e in record.equity], dtype=np.float64)
    peak = np.maximum.accumulate(eq)
    # Underwater curve in percent, 0 at a new high. The `where` guard avoids a 0/0 while the
    # account holds nothing.
    drawdown = (np.divide(eq, peak, out=np.ones_like(eq), where=peak > 0) - 1.0) * 100.0
    equity_fig = go.Figure(_line(ts, eq, "equity", _LINE))
    equity_fig.update_layout(title="Equity", yaxis_title=ccy)
    dd_fig = go.Figure(_line(ts, drawdown, "drawdown", _SELL, fill="tozeroy"))
    dd_fig.update_layout(title="Drawdown from the running peak", yaxis_title="%")
    return _plot(equity_fig, "fig-equity", 380) + _plot(dd_fig, "fig-drawdown", 260)


def _trades(record: RunRecord, result: Mapping[str, Any]) -> str:
    strategy_of = {o.client_order_id: o.strategy_id for o in record.orders}
    prices: Mapping[str, Any] = (result.get("series") or {}).get("prices") or {}
    by_instrument: dict[str, list[OrderFilled]] = defaultdict(list)
    for fill in record.fills:
        by_instrument[fill.instrument_id].append(fill)
    parts = []
    if not record.fills:
        parts.append(_note("no fills: nothing was traded"))
        # Still worth a look: the prices the strategy saw and found no trade in.
        by_instrument.update((iid, []) for iid in prices)
    elif not prices:
        parts.append(_note("no price series was recorded for this run: each line joins the fill prices"))
    ranked = sorted(by_instrument.items(), key=lambda item: (-len(item[1]), item[0]))
    charted, listed = ranked[:MAX_PRICE_CHARTS], ranked[MAX_PRICE_CHARTS:]
    for i, (iid, fills) in enumerate(sorted(charted)):
        step = max(1, -(-len(fills) // MAX_MARKERS))  # ceil: at most MAX_MARKERS markers
        if step > 1:
            parts.append(_note(f"{iid}: {len(fills):,} fills, every {step}th is marked"))
        fig = _price_figure(fills, prices.get(iid), step, strategy_of)
        fig.update_layout(title=f"{iid}: {len(fills):,} fills", yaxis_title="price")
        parts.append(_plot(fig, f"fig-price-{i}", 420))
    if listed:
        parts.append(_note(f"{len(listed)} more instruments traded (fewest fills): listed, not charted"))
        rows = "".join(f"<tr><td>{html.escape(iid)}</td><td>{len(fills):,}</td></tr>" for iid, fills in sorted(listed))
        parts.append(f"<table><tr><th>instrument</th><th>fills</th></tr>{rows}</table>")
    return "".join(parts)


def _price_figure(
    fills: Sequence[OrderFilled],
    series: Sequence[Sequence[float]] | None,
    step: int,
    strategy_of: Mapping[ClientOrderId, str],
) -> go.Figure:
    fig = go.Figure()
    if series:
        ts = np.array([p[0] for p in series], dtype=np.int64)
        ys = np.array([p[1] for p in series], dtype=np.float64)
    else:
        ts = np.array([f.ts_ns for f in fills], dtype=np.int64)
        ys = np.array([float(f.price) for f in fills], dtype=np.float64)
    fig.add_trace(_line(ts, ys, "price" if series else "fill price", _LINE))
    for side, colour, symbol in ((OrderSide.BUY, _BUY, "triangle-up"), (OrderSide.SELL, _SELL, "triangle-down")):
        marked = [f for f in fills[::step] if f.side is side]
        if marked:
            fig.add_trace(_markers(marked, side.value, colour, symbol, strategy_of))
    return fig


def _strategies(result: Mapping[str, Any], ccy: str) -> str:
    strategies: Mapping[str, Any] = result.get("strategies") or {}
    if not strategies:
        return _note("no per-strategy breakdown was recorded for this run")
    items = sorted(strategies.items())
    pnl = [_float(d.get("pnl")) for _, d in items]
    colours = [_BUY if v >= 0 else _SELL for v in pnl]
    # A fixed bar width: plotly would stretch a lone strategy's bar across the whole chart.
    bars = go.Figure(go.Bar(x=[s for s, _ in items], y=pnl, marker_color=colours, name="pnl", width=0.4))
    bars.update_layout(title="PnL by strategy", yaxis_title=ccy)
    rows = [
        (s, _money(d.get("pnl")), _money(d.get("fees")), d.get("fills", "n/a"), d.get("trades", "n/a"))
        for s, d in items
    ]
    parts = [
        _plot(bars, "fig-strategy-pnl", 320, time_axis=False),
        _table(("strategy", f"pnl {ccy}", f"fees {ccy}", "fills", "trades"), rows),
    ]
    curves: Mapping[str, Any] = (result.get("series") or {}).get("strategy_equity") or {}
    if curves:
        fig = go.Figure()
        for i, (sid, points) in enumerate(sorted(curves.items())):
            ts = np.array([p[0] for p in points], dtype=np.int64)
            ys = np.array([p[1] for p in points], dtype=np.float64)
            fig.add_trace(_line(ts, ys, sid, None if i else _LINE))
        fig.update_layout(title="PnL attributed to each strategy, over time", yaxis_title=ccy, showlegend=True)
        parts.append(_plot(fig, "fig-strategy-equity", 380))
    else:
        parts.append(_note("no per-strategy PnL series was recorded for this run"))
    return "".join(parts)


def _costs(record: RunRecord, result: Mapping[str, Any], ccy: str) -> str:
    paid: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [maker, taker] fills
    for fill in record.fills:
        paid[fill.fee_currency] += fill.fee
        counts[fill.fee_currency][fill.liquidity is not Liquidity.MAKER] += 1
    parts = ["<h3>Fees paid on fills, by currency</h3>"]
    if paid:
        rows = [(c, _money(str(paid[c])), counts[c][0], counts[c][1]) for c in sorted(paid)]
        parts.append(_table(("currency", "fees", "maker fills", "taker fills"), rows))
    else:
        parts.append(_note("no fills, no fees"))
    parts.append(f"<h3>Costs in the valuation currency ({_e(ccy)})</h3>")
    costs: Mapping[str, Any] = result.get("costs") or {}
    if costs:
        labels = {
            "fees": "trading fees (paid)",
            "funding": "funding payments (net received)",
            "settlement": "binary settlements (net received)",
        }
        # The known costs first, in a fixed order, then anything newer the engine reports.
        keys = [k for k in labels if k in costs] + sorted(set(costs) - set(labels))
        parts.append(_table(("cost", ccy), [(labels.get(k, k), _money(costs[k])) for k in keys]))
        parts.append(_note("fees are amounts paid; funding and settlements are net amounts credited to the account"))
    else:
        fees = result.get("fees_paid", record.metrics.get("fees_paid"))
        parts.append(_table(("cost", ccy), [("trading fees (paid)", _metric("fees_paid", fees))]))
        parts.append(_note("funding payments and settlements were not recorded for this run"))
    return "".join(parts)


def _counters(result: Mapping[str, Any]) -> str:
    per_strategy = {sid: d["stats"] for sid, d in (result.get("strategies") or {}).items() if d.get("stats")}
    # "strategy_stats" repeats the per-strategy counters (one strategy: its counters; several:
    # keyed by id), so it is shown only for runs stored before the per-strategy breakdown.
    sources = per_strategy or ({"run": result["strategy_stats"]} if result.get("strategy_stats") else {})
    parts = [
        f"<h3>{_e(sid)}</h3>" + _table(("counter", "value"), _flatten(stats)) for sid, stats in sorted(sources.items())
    ]
    return "".join(parts) or _note("the strategy reported no counters")


def _risk(record: RunRecord, ccy: str) -> str:
    # risk_html draws with this module's chart helpers: importing it at the top would be circular.
    from spreadhawk.report.risk_html import risk_section  # noqa: PLC0415

    return risk_section(risk_figures(record), record.equity, ccy)


def _config(record: RunRecord) -> str:
    config = record.config.get("config")
    if config is None:  # a record not written by BacktestService: show what there is, minus the result
        config = {k: v for k, v in record.config.items() if k != "result"}
    return f"<pre>{_e(json.dumps(config, indent=2, sort_keys=True))}</pre>"


# --------------------------------------------------------------------------- charts
def _plot(fig: go.Figure, div_id: str, height: int, *, time_axis: bool = True) -> str:
    margin = {"l": 70, "r": 20, "t": 50, "b": 40}
    fig.update_layout(height=height, template="plotly_white", margin=margin, xaxis_title="UTC" if time_axis else None)
    div: str = pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOT_CONFIG, default_height=height
    )
    return f'<div class="chart">{div}</div>\n'


def _line(ts: IntArray, ys: FloatArray, name: str, colour: str | None, fill: str | None = None) -> go.Scatter:
    ts, ys = _decimate(ts, ys)
    # go.Scatter, never Scattergl: SVG needs no WebGL, which headless browsers may lack.
    return go.Scatter(x=_utc(ts), y=ys, name=name, mode="lines", line={"color": colour, "width": 1.5}, fill=fill)


def _markers(
    fills: Sequence[OrderFilled], side: str, colour: str, symbol: str, strategy_of: Mapping[ClientOrderId, str]
) -> go.Scatter:
    # Plotly reads hover text as a subset of HTML: escape the parts, keep the <br> separators.
    text = [
        "<br>".join(
            _e(part)
            for part in (
                f"{side} {f.quantity} @ {f.price}",
                f"fee {f.fee} {f.fee_currency} ({f.liquidity.value})",
                f"strategy {strategy_of.get(f.client_order_id, '?')}, order {f.client_order_id}",
            )
        )
        for f in fills
    ]
    return go.Scatter(
        x=_utc(np.array([f.ts_ns for f in fills], dtype=np.int64)),
        y=np.array([float(f.price) for f in fills], dtype=np.float64),
        name=side,
        mode="markers",
        marker={"color": colour, "symbol": symbol, "size": 9, "line": {"width": 0.5, "color": "#333"}},
        text=text,
        hovertemplate="%{x}<br>%{text}<extra></extra>",
    )


def _decimate(ts: IntArray, ys: FloatArray, limit: int = MAX_POINTS) -> tuple[IntArray, FloatArray]:
    """At most about ``limit`` points. Each bucket keeps its lowest and its highest point, plus the
    first and last point of the series. A plain stride could skip the deepest drawdown or a price
    spike that a fill hit; min/max buckets keep them on the chart."""
    n = len(ys)
    if n <= limit:
        return ts, ys
    size = -(-n // (limit // 2))  # ceil
    buckets = -(-n // size)
    pad = buckets * size - n  # < size, so every bucket holds at least one real point
    lo = np.concatenate([ys, np.full(pad, np.inf)]).reshape(buckets, size).argmin(axis=1)
    hi = np.concatenate([ys, np.full(pad, -np.inf)]).reshape(buckets, size).argmax(axis=1)
    offsets = np.arange(buckets, dtype=np.int64) * size
    keep = np.unique(np.concatenate([lo + offsets, hi + offsets, np.array([0, n - 1], dtype=np.int64)]))
    return ts[keep], ys[keep]


def _utc(ts_ns: IntArray) -> npt.NDArray[np.datetime64]:
    # Naive datetime64 read as UTC: plotly.js has no time zones, and millisecond text is shorter
    # in the file than nanosecond text.
    return (ts_ns // 1_000_000).astype("datetime64[ms]")


# --------------------------------------------------------------------------- formatting
def _table(header: Sequence[str] | None, rows: Iterable[Sequence[object]]) -> str:
    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i else ''}>{_e(str(v))}</td>" for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _metric(name: str, value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if name in PERCENT_METRICS:
        return f"{value * 100:.2f} %"
    if name.endswith("_s"):
        return _duration(float(value))
    return f"{value:,}" if isinstance(value, int) else f"{value:.6g}"


def _duration(seconds: float) -> str:
    text = f"{seconds:,.0f} s"
    if seconds < 60:
        return text
    days, rest = divmod(int(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{rest // 60}m" if rest >= 60 else ""]
    return f"{text} ({' '.join(p for p in parts if p)})"


def _money(value: object) -> str:
    """An exact decimal string, cut to 8 decimal places for reading (8 = satoshi precision)."""
    if value is None:
        return "n/a"
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{amount:,.8f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:  # a malformed figure draws as zero; the table beside it shows the text
        return 0.0


def _flatten(stats: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested counters as dotted rows: {"skipped": {"x": 3}} -> ("skipped.x", "3")."""
    rows: list[tuple[str, str]] = []
    for key, value in sorted(stats.items()):
        if isinstance(value, Mapping):
            rows += _flatten(value, f"{prefix}{key}.")
        else:
            rows.append((f"{prefix}{key}", _metric(key, value)))
    return rows
