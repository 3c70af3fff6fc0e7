"""One stored run as one HTML report: charts, metrics, per-strategy PnL, costs, risk, config.

Plotly's JavaScript (~4.7 MB) is most of a report's weight, so by default the reports of a folder
share one copy of it: ``write_report`` puts ``plotly-<version>.min.js`` beside the report (once,
checked byte for byte) and the page loads it by relative path, which keeps a report well under
1 MB (90 MB for 15 runs before). ``self_contained=True`` inlines it instead: one file to mail.
Either way nothing comes from a CDN, a web font or an image by URL, so a report opens offline and
still renders years later. A Content-Security-Policy forbids any network load: if something
external slips in, the browser refuses it and logs an error the browser test catches. Run text
(ids, config, counters) is escaped. Series are cut to about ``MAX_POINTS`` points. The stored
result (``record.config["result"]``) may lack ``strategies``, ``costs`` and ``series`` (older
runs): the section then shows a note instead of a chart.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.persistence import RunRecord
from spreadhawk.report.charts import MAX_POINTS, line, markers, plot
from spreadhawk.report.format import FOLD_ROWS, as_float, escape, flatten, folded, metric, money, note, table, utc_time
from spreadhawk.report.risk import risk_figures
from spreadhawk.report.risk_html import risk_section
from spreadhawk.report.windows import active_window

__all__ = ["MAX_POINTS", "page", "plotly_file_name", "render_report", "write_page", "write_report"]

MAX_MARKERS = 5_000  # fills marked per instrument; beyond it every k-th fill, said in a note
MAX_PRICE_CHARTS = 12  # instruments charted (most fills first); the rest are listed in a table
_BUY, _SELL, _LINE = "#1a9850", "#d73027", "#4c72b0"
# Inline scripts and styles, and the shared plotly file beside the report ('self': a file:// page
# may load files of its own folder in Chromium; ``file:`` for browsers that give each file its own
# origin). Plotly draws SVG and builds its styles at run time; data:/blob: are what its "download
# as png" button uses. Nothing may come from the network.
_CSP = (
    "default-src 'none'; script-src 'self' file: 'unsafe-inline'; style-src 'unsafe-inline'; "
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
details > summary { cursor: pointer; color: #444; margin: .5rem 0; }
.note { color: #666; font-style: italic; } .chart { margin: .5rem 0 1.5rem; } nav a { margin-right: 1rem; }
"""

Section = tuple[str, str, str]  # (anchor id, heading, body html)


def plotly_file_name() -> str:
    """The shared bundle's name: versioned, so reports written by another plotly keep their own."""
    return f"plotly-{get_plotlyjs_version()}.min.js"


def render_report(record: RunRecord, *, plotly_src: str | None = None) -> str:
    """The whole report as one HTML document. ``plotly_src``: the bundle's path relative to the
    report (see ``write_report``); None inlines the bundle (a self-contained page, ~5 MB)."""
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
    nav = " ".join(f'<a href="#{anchor}">{escape(title)}</a>' for anchor, title, _ in sections)
    body = "\n".join(f'<section id="{a}">\n<h2>{escape(t)}</h2>\n{b}\n</section>' for a, t, b in sections)
    title = f"spreadhawk run {record.run_id}"
    return page(title, f"<p>{escape(record.strategy)}</p>\n<nav>{nav}</nav>\n{body}", plotly_src)


def write_report(record: RunRecord, path: Path, *, self_contained: bool = False) -> Path:
    """Write the report of ``record`` to ``path`` (parent folders created) and return ``path``.
    Unless ``self_contained``, plotly goes beside it as ``plotly_file_name()``, shared by every
    report of that folder; a copy that differs from this plotly's (damaged, cut short) is replaced."""
    return write_page(path, lambda plotly_src: render_report(record, plotly_src=plotly_src), self_contained)


def write_page(path: Path, render: Callable[[str | None], str], self_contained: bool = False) -> Path:
    """Write the page ``render(plotly_src)`` gives (see ``render_report`` for ``plotly_src``) to
    ``path``, with plotly beside it, or inside it when ``self_contained``; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if self_contained:
        _write_atomically(path, render(None))
        return path
    bundle = path.parent / plotly_file_name()
    library = get_plotlyjs()
    if not bundle.is_file() or bundle.read_text(encoding="utf-8", errors="replace") != library:
        _write_atomically(bundle, library)
    _write_atomically(path, render(bundle.name))
    return path


def page(title: str, body: str, plotly_src: str | None) -> str:
    """An HTML document: ``body`` under ``title``, the report's style and CSP, plotly in <head>."""
    if plotly_src is None:
        library = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    else:
        library = f'<script type="text/javascript" src="{escape(plotly_src)}"></script>'
    # The library goes in <head>: each chart's inline script calls Plotly.newPlot as it is parsed.
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n{library}\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or a second run writing the same shared bundle) sees the old file or the new one,
    never half of one."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)  # a report to read, not a secret: mkstemp's 0600 would hide it
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- sections
def _summary(record: RunRecord, result: Mapping[str, Any]) -> str:
    run = (record.config.get("config") or {}).get("run") or {}
    created = utc_time(record.created_ns)
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
    rows += [(key, money(result.get(key))) for key in ("initial_equity", "final_equity", "pnl", "pnl_vs_holding")]
    rows += [
        ("orders", len(record.orders)),
        ("fills", len(record.fills)),
        ("events processed", f"{record.events_processed:,}"),
        ("wall time", f"{record.wall_seconds:.3f} s"),
        ("journal sha256", result.get("journal_sha256", "n/a")),
    ]
    return table(None, rows)


def _metrics(record: RunRecord) -> str:
    if not record.metrics:
        return note("no metrics were stored for this run")
    return table(("metric", "value"), [(name, metric(name, v)) for name, v in record.metrics.items()])


def _equity(record: RunRecord, ccy: str) -> str:
    if not record.equity:
        return note("no equity curve was stored for this run")
    ts = np.array([t for t, _ in record.equity], dtype=np.int64)
    eq = np.array([float(e) for _, e in record.equity], dtype=np.float64)
    peak = np.maximum.accumulate(eq)
    # Underwater curve in percent, 0 at a new high. The `where` guard avoids a 0/0 while the
    # account holds nothing.
    drawdown = (np.divide(eq, peak, out=np.ones_like(eq), where=peak > 0) - 1.0) * 100.0
    equity_fig = go.Figure(line(ts, eq, "equity", _LINE))
    equity_fig.update_layout(title="Equity", yaxis_title=ccy)
    dd_fig = go.Figure(line(ts, drawdown, "drawdown", _SELL, fill="tozeroy"))
    dd_fig.update_layout(title="Drawdown from the running peak", yaxis_title="%")
    return plot(equity_fig, "fig-equity", 380) + plot(dd_fig, "fig-drawdown", 260)


def _trades(record: RunRecord, result: Mapping[str, Any]) -> str:
    strategy_of = {o.client_order_id: o.strategy_id for o in record.orders}
    prices: Mapping[str, Any] = (result.get("series") or {}).get("prices") or {}
    by_instrument: dict[str, list[OrderFilled]] = defaultdict(list)
    for fill in record.fills:
        by_instrument[fill.instrument_id].append(fill)
    parts = []
    if not record.fills:
        parts.append(note("no fills: nothing was traded"))
        # Still worth a look: the prices the strategy saw and found no trade in.
        by_instrument.update((iid, []) for iid in prices)
    elif not prices:
        parts.append(note("no price series was recorded for this run: each line joins the fill prices"))
    ranked = sorted(by_instrument.items(), key=lambda item: (-len(item[1]), item[0]))
    charted, listed = ranked[:MAX_PRICE_CHARTS], ranked[MAX_PRICE_CHARTS:]
    for i, (iid, fills) in enumerate(sorted(charted)):
        step = max(1, -(-len(fills) // MAX_MARKERS))  # ceil: at most MAX_MARKERS markers
        if step > 1:
            parts.append(note(f"{iid}: {len(fills):,} fills, every {step}th is marked"))
        fig, window = _price_figure(fills, prices.get(iid), step, strategy_of)
        fig.update_layout(title=f"{iid}: {len(fills):,} fills", yaxis_title="price")
        if window is not None:
            parts.append(note(f"{iid}: charted over its active window, {utc_time(window[0])} to {utc_time(window[1])}"))
        parts.append(plot(fig, f"fig-price-{i}", 420))
    if listed:
        summary = f"{len(listed)} more instruments traded (fewest fills): listed, not charted"
        rows = [(iid, f"{len(fills):,}") for iid, fills in sorted(listed)]
        parts.append(folded(summary, table(("instrument", "fills"), rows)))
    return "".join(parts)


def _price_figure(
    fills: Sequence[OrderFilled],
    series: Sequence[Sequence[float]] | None,
    step: int,
    strategy_of: Mapping[ClientOrderId, str],
) -> tuple[go.Figure, tuple[int, int] | None]:
    """The price line with the fills marked on it, cut to the instrument's active window (returned;
    None: the whole run is shown)."""
    fig = go.Figure()
    window = None
    if series:
        ts = np.array([p[0] for p in series], dtype=np.int64)
        ys = np.array([p[1] for p in series], dtype=np.float64)
        window = active_window(ts, ys, [f.ts_ns for f in fills])
        if window is not None:
            inside = (ts >= window[0]) & (ts <= window[1])
            ts, ys = ts[inside], ys[inside]
    else:
        ts = np.array([f.ts_ns for f in fills], dtype=np.int64)
        ys = np.array([float(f.price) for f in fills], dtype=np.float64)
    fig.add_trace(line(ts, ys, "price" if series else "fill price", _LINE))
    for side, colour, symbol in ((OrderSide.BUY, _BUY, "triangle-up"), (OrderSide.SELL, _SELL, "triangle-down")):
        marked = [f for f in fills[::step] if f.side is side]
        if marked:
            fig.add_trace(markers(marked, side.value, colour, symbol, strategy_of))
    return fig, window


def _strategies(result: Mapping[str, Any], ccy: str) -> str:
    strategies: Mapping[str, Any] = result.get("strategies") or {}
    if not strategies:
        return note("no per-strategy breakdown was recorded for this run")
    items = sorted(strategies.items())
    pnl = [as_float(d.get("pnl")) for _, d in items]
    colours = [_BUY if v >= 0 else _SELL for v in pnl]
    # A fixed bar width: plotly would stretch a lone strategy's bar across the whole chart.
    bars = go.Figure(go.Bar(x=[s for s, _ in items], y=pnl, marker_color=colours, name="pnl", width=0.4))
    bars.update_layout(title="PnL by strategy", yaxis_title=ccy)
    rows = [
        (s, money(d.get("pnl")), money(d.get("fees")), d.get("fills", "n/a"), d.get("trades", "n/a")) for s, d in items
    ]
    parts = [
        plot(bars, "fig-strategy-pnl", 320, time_axis=False),
        table(("strategy", f"pnl {ccy}", f"fees {ccy}", "fills", "trades"), rows),
    ]
    curves: Mapping[str, Any] = (result.get("series") or {}).get("strategy_equity") or {}
    if curves:
        fig = go.Figure()
        for i, (sid, points) in enumerate(sorted(curves.items())):
            ts = np.array([p[0] for p in points], dtype=np.int64)
            ys = np.array([p[1] for p in points], dtype=np.float64)
            fig.add_trace(line(ts, ys, sid, None if i else _LINE))
        fig.update_layout(title="PnL attributed to each strategy, over time", yaxis_title=ccy, showlegend=True)
        parts.append(plot(fig, "fig-strategy-equity", 380))
    else:
        parts.append(note("no per-strategy PnL series was recorded for this run"))
    return "".join(parts)


def _costs(record: RunRecord, result: Mapping[str, Any], ccy: str) -> str:
    paid: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # [maker, taker] fills
    for fill in record.fills:
        paid[fill.fee_currency] += fill.fee
        counts[fill.fee_currency][fill.liquidity is not Liquidity.MAKER] += 1
    parts = ["<h3>Fees paid on fills, by currency</h3>"]
    if paid:
        rows = [(c, money(str(paid[c])), counts[c][0], counts[c][1]) for c in sorted(paid)]
        parts.append(table(("currency", "fees", "maker fills", "taker fills"), rows))
    else:
        parts.append(note("no fills, no fees"))
    parts.append(f"<h3>Costs in the valuation currency ({escape(ccy)})</h3>")
    costs: Mapping[str, Any] = result.get("costs") or {}
    if costs:
        labels = {
            "fees": "trading fees (paid)",
            "funding": "funding payments (net received)",
            "settlement": "binary settlements (net received)",
        }
        # The known costs first, in a fixed order, then anything newer the engine reports.
        keys = [k for k in labels if k in costs] + sorted(set(costs) - set(labels))
        parts.append(table(("cost", ccy), [(labels.get(k, k), money(costs[k])) for k in keys]))
        parts.append(note("fees are amounts paid; funding and settlements are net amounts credited to the account"))
    else:
        fees = result.get("fees_paid", record.metrics.get("fees_paid"))
        parts.append(table(("cost", ccy), [("trading fees (paid)", metric("fees_paid", fees))]))
        parts.append(note("funding payments and settlements were not recorded for this run"))
    return "".join(parts)


def _counters(result: Mapping[str, Any]) -> str:
    per_strategy = {sid: d["stats"] for sid, d in (result.get("strategies") or {}).items() if d.get("stats")}
    # "strategy_stats" repeats the per-strategy counters (one strategy: its counters; several:
    # keyed by id), so it is shown only for runs stored before the per-strategy breakdown.
    sources = per_strategy or ({"run": result["strategy_stats"]} if result.get("strategy_stats") else {})
    parts = []
    for sid, stats in sorted(sources.items()):
        rows = flatten(stats)
        counters = table(("counter", "value"), rows)
        parts.append(f"<h3>{escape(sid)}</h3>")
        parts.append(folded(f"{len(rows)} counters", counters) if len(rows) > FOLD_ROWS else counters)
    return "".join(parts) or note("the strategy reported no counters")


def _risk(record: RunRecord, ccy: str) -> str:
    return risk_section(risk_figures(record), record.equity, ccy)


def _config(record: RunRecord) -> str:
    config = record.config.get("config")
    if config is None:  # a record not written by BacktestService: show what there is, minus the result
        config = {k: v for k, v in record.config.items() if k != "result"}
    text = json.dumps(config, indent=2, sort_keys=True)
    lines = text.count("\n") + 1
    shown = f"<pre>{escape(text)}</pre>"
    return folded(f"the run's config ({lines} lines)", shown) if lines > 2 * FOLD_ROWS else shown
