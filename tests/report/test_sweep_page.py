"""The sweep's HTML page: a chart per parameter (categories for non-numbers), the ranking in the
caller's order, points without an objective left out and said so, text escaped, plotly beside it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from spreadhawk.report.sweep_html import write_sweep_page


def test_the_page_charts_each_parameter_and_ranks_the_points(tmp_path: Path) -> None:
    rows = [
        {"index": 2, "run_id": "b-2-0", "params": {"p.fast": 10, "p.venues": ["A", "B"]}, "objective": Decimal("3.5")},
        {"index": 0, "run_id": "<a>-1-0", "params": {"p.fast": 5, "p.venues": ["A"]}, "objective": Decimal("-1.25")},
        {"index": 1, "run_id": "c-1-0", "params": {"p.fast": 7, "p.venues": ["B"]}, "objective": None},
    ]
    path = write_sweep_page(tmp_path / "out/sweep.html", "sweep <x>", "pnl", rows)
    page = path.read_text(encoding="utf-8")
    assert "<title>sweep &lt;x&gt;</title>" in page
    assert "pnl against p.fast" in page
    assert "pnl against p.venues" in page
    assert '"type":"category"' in page.replace(" ", "")  # the lists are categories, not numbers
    assert "1 points have no pnl and are not drawn" in page
    assert "&lt;a&gt;-1-0" in page
    assert "<a>-1-0" not in page
    ranking = page[page.index("Points by pnl") :]
    assert ranking.index("b-2-0") < ranking.index("&lt;a&gt;-1-0")  # best first, as given
    assert "c-1-0" not in ranking
    assert len(list((tmp_path / "out").glob("plotly-*.min.js"))) == 1


def test_a_sweep_without_any_objective_says_so(tmp_path: Path) -> None:
    rows = [{"index": 0, "run_id": "a-1-0", "params": {"p.fast": 5}, "objective": None}]
    page = write_sweep_page(tmp_path / "s.html", "s", "sharpe", rows, self_contained=True).read_text(encoding="utf-8")
    assert "no point has a sharpe" in page
    assert not list(tmp_path.glob("plotly-*.min.js"))  # inside the page
