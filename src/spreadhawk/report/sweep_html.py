"""A sweep's HTML page: the objective against each swept parameter, by point, and the ranking.

Plotly comes as for a run's report (``html.write_page``): shared beside the page, never from a CDN.
The caller gives plain rows, best first (this layer does not know the runtime's types): ``index``,
``run_id``, ``params`` (key path -> value) and ``objective`` (a number, or None when the run has none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from spreadhawk.report.charts import plot
from spreadhawk.report.format import escape, note, table
from spreadhawk.report.html import page, write_page

__all__ = ["write_sweep_page"]

TOP_ROWS = 50  # the ranking table's length; the charts show every point
_COLOUR = "#4c72b0"


def write_sweep_page(
    path: Path, title: str, objective: str, rows: Sequence[Mapping[str, Any]], *, self_contained: bool = False
) -> Path:
    return write_page(path, lambda src: page(title, _body(objective, rows), src), self_contained)


def _body(objective: str, rows: Sequence[Mapping[str, Any]]) -> str:
    valued = [r for r in rows if r["objective"] is not None]
    if not valued:
        return note(f"no point has a {objective} (runs without trades have no Sharpe, for one)")
    keys = list(rows[0]["params"])
    charts = [_by_point(objective, sorted(valued, key=lambda r: int(r["index"])))]
    charts += [_against(objective, key, valued, n) for n, key in enumerate(keys)]
    ranked = valued  # the caller's order: best first
    header = ["rank", "point", "run id", objective, *keys]
    body = [
        [rank, r["index"], r["run_id"], r["objective"], *(_text(r["params"][k]) for k in keys)]
        for rank, r in enumerate(ranked[:TOP_ROWS], 1)
    ]
    more = note(f"{len(ranked) - TOP_ROWS} more points in the run store") if len(ranked) > TOP_ROWS else ""
    missing = len(rows) - len(valued)
    gap = note(f"{missing} points have no {objective} and are not drawn") if missing else ""
    return "\n".join([*charts, gap, f"<h2>Points by {escape(objective)}, best first</h2>", table(header, body), more])


def _by_point(objective: str, rows: Sequence[Mapping[str, Any]]) -> str:
    fig = go.Figure(
        go.Scatter(
            x=[r["index"] for r in rows],
            y=[float(r["objective"]) for r in rows],
            mode="markers",
            marker={"color": _COLOUR},
            text=[escape(r["run_id"]) for r in rows],
        )
    )
    fig.update_layout(title=f"{objective} by point (in the order they were run)")
    return plot(fig, "sweep-by-point", 360, time_axis=False)


def _against(objective: str, key: str, rows: Sequence[Mapping[str, Any]], n: int) -> str:
    values = [r["params"][key] for r in rows]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    fig = go.Figure(
        go.Scatter(
            x=values if numeric else [_text(v) for v in values],
            y=[float(r["objective"]) for r in rows],
            mode="markers",
            marker={"color": _COLOUR, "opacity": 0.6},
            text=[escape(r["run_id"]) for r in rows],
        )
    )
    fig.update_layout(title=f"{objective} against {key}")
    if not numeric:
        fig.update_xaxes(type="category")
    return plot(fig, f"sweep-param-{n}", 360, time_axis=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
