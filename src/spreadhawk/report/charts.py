"""How the report draws: plotly figures as inline divs (never a bundle per chart), SVG lines cut to
about ``MAX_POINTS`` points, fill markers with escaped hover text, times as UTC.

The page (``report.html``) loads plotly once; every chart here calls ``Plotly.newPlot`` from its
own inline script as the page is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
import plotly.io as pio

from spreadhawk.domain.events import OrderFilled
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.report.format import escape

__all__ = ["MAX_POINTS", "FloatArray", "IntArray", "decimate", "line", "markers", "plot", "utc"]

MAX_POINTS = 20_000  # per line series; longer ones are decimated (see decimate)
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def plot(fig: go.Figure, div_id: str, height: int, *, time_axis: bool = True) -> str:
    margin = {"l": 70, "r": 20, "t": 50, "b": 40}
    fig.update_layout(height=height, template="plotly_white", margin=margin, xaxis_title="UTC" if time_axis else None)
    div: str = pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOT_CONFIG, default_height=height
    )
    return f'<div class="chart">{div}</div>\n'


def line(ts: IntArray, ys: FloatArray, name: str, colour: str | None, fill: str | None = None) -> go.Scatter:
    ts, ys = decimate(ts, ys)
    # go.Scatter, never Scattergl: SVG needs no WebGL, which headless browsers may lack.
    return go.Scatter(x=utc(ts), y=ys, name=name, mode="lines", line={"color": colour, "width": 1.5}, fill=fill)


def markers(
    fills: Sequence[OrderFilled], side: str, colour: str, symbol: str, strategy_of: Mapping[ClientOrderId, str]
) -> go.Scatter:
    # Plotly reads hover text as a subset of HTML: escape the parts, keep the <br> separators.
    text = [
        "<br>".join(
            escape(part)
            for part in (
                f"{side} {f.quantity} @ {f.price}",
                f"fee {f.fee} {f.fee_currency} ({f.liquidity.value})",
                f"strategy {strategy_of.get(f.client_order_id, '?')}, order {f.client_order_id}",
            )
        )
        for f in fills
    ]
    return go.Scatter(
        x=utc(np.array([f.ts_ns for f in fills], dtype=np.int64)),
        y=np.array([float(f.price) for f in fills], dtype=np.float64),
        name=side,
        mode="markers",
        marker={"color": colour, "symbol": symbol, "size": 9, "line": {"width": 0.5, "color": "#333"}},
        text=text,
        hovertemplate="%{x}<br>%{text}<extra></extra>",
    )


def decimate(ts: IntArray, ys: FloatArray, limit: int = MAX_POINTS) -> tuple[IntArray, FloatArray]:
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


def utc(ts_ns: IntArray) -> npt.NDArray[np.datetime64]:
    # Naive datetime64 read as UTC: plotly.js has no time zones, and millisecond text is shorter
    # in the file than nanosecond text.
    return (ts_ns // 1_000_000).astype("datetime64[ms]")
