"""The HTML report: every section, self-contained, escaped, small, and it renders in headless Chromium."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from spreadhawk.domain.events import Liquidity, OrderFilled, OrderSide, OrderType, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.persistence import RunRecord, RunStore
from spreadhawk.report import render_report, write_report
from spreadhawk.report.charts import decimate
from spreadhawk.report.html import plotly_file_name
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.services import BacktestService

CHROMIUM = Path("/usr/bin/chromium")
SECTIONS = ("summary", "metrics", "equity", "trades", "strategies", "costs", "counters", "risk", "config")
T0 = 1_704_067_200_000_000_000  # 2024-01-01 00:00 UTC
MINUTE = 60_000_000_000
EVIL = "<script>alert('x')</script>&"  # must come out as text, never as markup
BTC = InstrumentId("SIMA:BTC/USDT")
ETH = InstrumentId("SIMB:ETH/USDT")
METRICS: dict[str, float | int | None] = {
    "total_return": 0.0123,
    "cagr": None,
    "sharpe": 1.5,
    "max_drawdown": 0.02,
    "max_drawdown_duration_s": 3_700.0,
    "win_rate": 0.5,
    "trades": 3,
    "fees_paid": 1.25,
}


# --------------------------------------------------------------------------- records
def _order(cid: str, strategy: str, iid: InstrumentId, side: OrderSide) -> Order:
    return Order(
        client_order_id=ClientOrderId(cid),
        strategy_id=strategy,
        instrument_id=iid,
        side=side,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.1"),
        price=None,
        time_in_force=TimeInForce.IOC,
        post_only=False,
        quote_quantity=None,
        reduce_only=False,
        ts_init=T0,
        status=OrderStatus.FILLED,
    )


def _fill(i: int, order: Order, price: str, liquidity: Liquidity = Liquidity.TAKER) -> OrderFilled:
    return OrderFilled(
        ts_ns=T0 + (10 + i * 30) * MINUTE,
        client_order_id=order.client_order_id,
        venue_order_id=f"v{i}",
        trade_id=f"t{i}",
        instrument_id=order.instrument_id,
        side=order.side,
        quantity=order.quantity,
        price=Decimal(price),
        fee=Decimal("0.25"),
        fee_currency="BNB" if i == 3 else "USDT",
        liquidity=liquidity,
    )


def _series(n: int, start: float, step: float) -> list[list[float]]:
    return [[T0 + i * MINUTE, start + step * np.sin(i / 20)] for i in range(n)]


def synthetic_record(*, full: bool = True, equity_points: int = 300) -> RunRecord:
    """Two strategies on two instruments. ``full=False``: a result without the optional keys."""
    orders = (
        _order("a-1", EVIL, BTC, OrderSide.BUY),
        _order("a-2", EVIL, BTC, OrderSide.SELL),
        _order("b-1", "basis", ETH, OrderSide.SELL),
        _order("b-2", "basis", ETH, OrderSide.BUY),
    )
    fills = tuple(
        _fill(i, o, p, Liquidity.MAKER if i == 0 else Liquidity.TAKER)
        for i, (o, p) in enumerate(zip(orders, ("42000", "42100.5", "2300", "2290"), strict=True))
    )
    equity = tuple(
        (T0 + i * MINUTE, Decimal(100_000) + Decimal(i % 37) - Decimal(i // 3)) for i in range(equity_points)
    )
    result: dict[str, Any] = {
        "run_id": "abc123def4567890-7-0",
        "valuation_currency": "USDT",
        "initial_equity": "100000",
        "final_equity": "99950.5",
        "pnl": "-49.5",
        "pnl_vs_holding": "12.25",
        "journal_sha256": "f" * 64,
        "fees_paid": 1.25,
        "strategy_stats": {"decisions": 1200, "skipped": {"no_balance": 3}},
    }
    if full:
        result["strategies"] = {
            EVIL: {"pnl": "30.5", "fees": "0.5", "fills": 2, "trades": 1, "stats": {"signals": 4}},
            "basis": {"pnl": "-80", "fees": "0.75", "fills": 2, "trades": 1, "stats": {"rolls": 2}},
        }
        result["costs"] = {"fees": "1.25", "funding": "-3.5", "settlement": "17"}
        result["series"] = {
            "prices": {BTC: _series(200, 42_000, 150), ETH: _series(200, 2_300, 10)},
            "strategy_equity": {EVIL: _series(200, 50_000, 30), "basis": _series(200, 50_000, -40)},
        }
    return RunRecord(
        run_id="abc123def4567890-7-0",
        created_ns=T0,
        strategy="tests.report:TwoStrategies",
        config={
            "config": {"run": {"name": EVIL, "seed": 7}, "strategy": {"params": {"edge_bps": 3.5}}},
            "result": result,
        },
        config_hash="abc123def4567890",
        seed=7,
        metrics=METRICS,
        orders=orders,
        fills=fills,
        equity=equity,
        events_processed=12_345,
        wall_seconds=0.5,
    )


@pytest.fixture(scope="module")
def demo_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunRecord]:
    """A real run: the demo preset, half an hour of the synthetic market, stored and read back.

    Half an hour rather than six minutes: the shorter market gives the arbitrage no fill to mark
    (the run still takes about 0.1 s)."""
    preset = resources.files("spreadhawk.runtime.presets").joinpath("demo_cross_exchange.toml")
    db = tmp_path_factory.mktemp("report") / "runs.db"
    with resources.as_file(preset) as path, RunStore(f"sqlite:///{db}") as store:
        outcome = BacktestService(store).run(load_config(path, ["data.0.hours=0.5"]))
        record = store.get_run(outcome.run_id)
        assert record is not None
        yield record


def _outside_plotly(html: str) -> str:
    bundle = get_plotlyjs()
    assert html.count(bundle) == 1, "plotly's bundle is inlined exactly once"
    return html.replace(bundle, "")


def _figure_ids(html: str) -> list[str]:
    return re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', html)


# --------------------------------------------------------------------------- content
@pytest.mark.parametrize("full", [True, False])
def test_synthetic_report_has_every_section_metric_and_identity(full: bool) -> None:
    record = synthetic_record(full=full)
    html = render_report(record)
    page = _outside_plotly(html)
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    for name in METRICS:
        assert f"<td>{name}</td>" in page
    assert "<td class=num>n/a</td>" in page  # cagr is None
    assert "<td class=num>1.23 %</td>" in page  # total_return as a percentage
    assert "3,700 s (1h 1m)" in page
    for text in ("abc123def4567890-7-0", "tests.report:TwoStrategies", "abc123def4567890", "edge_bps"):
        assert text in page
    assert "<td>seed</td><td class=num>7</td>" in page
    assert "<td>BNB</td><td class=num>0.25</td><td class=num>0</td><td class=num>1</td>" in page  # fees by currency
    assert ("<td>signals</td>" in page) is full  # per-strategy counters, when recorded
    assert ("skipped.no_balance" in page) is not full  # else the run's
    ids = _figure_ids(html)
    if full:
        assert ids == [
            "fig-equity",
            "fig-drawdown",
            "fig-price-0",
            "fig-price-1",
            "fig-strategy-pnl",
            "fig-strategy-equity",
            "fig-risk-var",
            "fig-risk-regimes",
            "fig-risk-correlation",
        ]
        assert "<td>funding payments (net received)</td><td class=num>-3.5</td>" in page
        assert "<td>binary settlements (net received)</td><td class=num>17</td>" in page
        assert "<td>rolls</td>" in page  # per-strategy counters
        assert "no price series" not in page
    else:  # the optional keys are absent: notes instead of charts, and no crash
        assert ids == ["fig-equity", "fig-drawdown", "fig-price-0", "fig-price-1", "fig-risk-var"]
        for note in (
            "no per-strategy breakdown",
            "funding payments and settlements were not recorded",
            "no price series",
        ):
            assert note in page


def test_run_text_is_escaped_everywhere() -> None:
    page = _outside_plotly(render_report(synthetic_record()))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in page  # tables and config
    assert "\\u003cscript\\u003e" in page  # plotly escapes the same text inside the figure JSON


def test_report_is_self_contained() -> None:
    html = render_report(synthetic_record())
    # The bundle sits in a plain inline <script>; its own code mentions URLs (links in the
    # modebar, map tiles we never use), so the checks below look at everything else.
    assert f'<script type="text/javascript">{get_plotlyjs()}</script>' in html
    page = _outside_plotly(html)
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"https?://", page)  # stricter still: no URL at all
    assert "Content-Security-Policy" in page


def test_real_demo_run(demo_record: RunRecord, tmp_path: Path) -> None:
    path = write_report(demo_record, tmp_path / "nested" / "report.html", self_contained=True)
    html = path.read_text(encoding="utf-8")
    page = _outside_plotly(html)
    assert demo_record.run_id in page
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    for name in demo_record.metrics:
        assert f"<td>{name}</td>" in page
    assert {"fig-equity", "fig-drawdown", "fig-price-0", "fig-price-1"} <= set(_figure_ids(html))
    assert "cross_exchange_arb" in page
    if "costs" in demo_record.config["result"]:  # funding and settlements appear once the engine reports them
        assert "<td>funding payments (net received)</td>" in page
        assert "<td>binary settlements (net received)</td>" in page
    assert path.stat().st_size < 6_000_000
    assert not (path.parent / plotly_file_name()).exists()  # self-contained: nothing beside it


def test_reports_of_a_folder_share_one_plotly_file_and_stay_under_a_megabyte(
    demo_record: RunRecord, tmp_path: Path
) -> None:
    first = write_report(demo_record, tmp_path / "a.html")
    bundle = tmp_path / plotly_file_name()
    assert bundle.read_text(encoding="utf-8") == get_plotlyjs()
    written = bundle.stat().st_mtime_ns
    second = write_report(synthetic_record(), tmp_path / "b.html")
    assert bundle.stat().st_mtime_ns == written  # the same bundle, not written again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html", plotly_file_name()]
    for report in (first, second):
        html = report.read_text(encoding="utf-8")
        assert get_plotlyjs()[:2_000] not in html  # not inlined
        assert f'<script type="text/javascript" src="{plotly_file_name()}"></script>' in html
        assert report.stat().st_size < 1_000_000, report.stat().st_size
    assert re.fullmatch(r"plotly-\d+\.\d+\.\d+\.min\.js", plotly_file_name())  # versioned


def test_a_damaged_shared_plotly_file_is_replaced(tmp_path: Path) -> None:
    bundle = tmp_path / plotly_file_name()
    bundle.write_text(get_plotlyjs()[:1_000], encoding="utf-8")  # cut short, say by a full disk
    write_report(synthetic_record(), tmp_path / "r.html")
    assert bundle.read_text(encoding="utf-8") == get_plotlyjs()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_run_without_fills_still_shows_the_prices_it_saw() -> None:
    page = _outside_plotly(render_report(replace(synthetic_record(), fills=(), orders=())))
    assert "no fills: nothing was traded" in page
    assert [i for i in _figure_ids(page) if i.startswith("fig-price")] == ["fig-price-0", "fig-price-1"]
    assert "0 fills" in page


def test_long_series_are_decimated_and_keep_their_extremes() -> None:
    n = 200_000
    ts = np.arange(n, dtype=np.int64) * MINUTE
    ys = np.random.default_rng(1).normal(size=n).cumsum()
    kept_ts, kept_ys = decimate(ts, ys, limit=20_000)
    assert len(kept_ys) <= 20_002
    assert kept_ys.min() == ys.min()
    assert kept_ys.max() == ys.max()
    assert kept_ts[0] == ts[0]
    assert kept_ts[-1] == ts[-1]
    assert np.all(np.diff(kept_ts) > 0)
    _, short_ys = decimate(ts[:100], ys[:100], limit=20_000)
    assert len(short_ys) == 100


def test_a_long_run_stays_small() -> None:
    html = render_report(synthetic_record(equity_points=300_000))
    assert len(html.encode()) < 10_000_000


# --------------------------------------------------------------------------- browser
class _PlotScan(HTMLParser):
    """Per plotly graph div of the rendered DOM: how many svg.main-svg and trace groups it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: dict[str, dict[str, int]] = {}
        self._current: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        if self._current is None:
            if tag == "div" and "plotly-graph-div" in classes:
                self._current, self._depth = attr.get("id") or f"anon-{len(self.plots)}", 1
                self.plots[self._current] = {"main_svg": 0, "traces": 0}
            return
        self._depth += tag == "div"
        counts = self.plots[self._current]
        counts["main_svg"] += tag == "svg" and "main-svg" in classes
        counts["traces"] += tag == "g" and "trace" in classes

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self._current = None


needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the browser test",
)


def _open_in_chromium(report: Path, profile: Path) -> tuple[list[str], dict[str, dict[str, int]]]:
    """Load the report headless; return the page's console lines and what each plot container holds."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # root in containers and CI
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        # Virtual time runs the page's timers and promises to completion before the DOM is dumped.
        "--virtual-time-budget=5000",
        "--dump-dom",
        report.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # With --enable-logging=stderr every console message of a page is one INFO:CONSOLE line
    # ending with "source: <url> (<line>)". The line does not carry the level (log/warn/error),
    # so the callers allow none from the report: a healthy report logs nothing. That covers
    # uncaught exceptions, console.error and CSP refusals of an external load.
    messages = [line for line in done.stderr.splitlines() if "CONSOLE" in line and report.as_uri() in line]
    scan = _PlotScan()
    scan.feed(done.stdout)
    return messages, scan.plots


@needs_chromium
@pytest.mark.parametrize(("source", "self_contained"), [("synthetic", True), ("demo", False), ("synthetic", False)])
def test_report_renders_in_headless_chromium(
    source: str, self_contained: bool, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    record = synthetic_record() if source == "synthetic" else request.getfixturevalue("demo_record")
    report = write_report(record, tmp_path / "report.html", self_contained=self_contained)
    expected = _figure_ids(report.read_text(encoding="utf-8"))
    messages, plots = _open_in_chromium(report, tmp_path / "profile")
    assert messages == []
    assert list(plots) == expected
    empty = {name: counts for name, counts in plots.items() if not counts["main_svg"] or not counts["traces"]}
    assert empty == {}, "plotly drew nothing in these containers"


@needs_chromium
def test_a_report_whose_shared_plotly_file_is_gone_draws_nothing(tmp_path: Path) -> None:
    """The shared file is what draws the charts: without it the browser check fails."""
    report = write_report(synthetic_record(), tmp_path / "report.html")
    (tmp_path / plotly_file_name()).unlink()
    messages, plots = _open_in_chromium(report, tmp_path / "profile")
    assert any("Plotly is not defined" in m for m in messages), messages
    assert all(counts["traces"] == 0 for counts in plots.values())


@needs_chromium
def test_the_browser_check_sees_errors_and_empty_plots(tmp_path: Path) -> None:
    """The check above can fail: a script error and a container plotly never filled are both seen."""
    html = render_report(synthetic_record(full=False))
    broken = '<div id="fig-never" class="plotly-graph-div"></div><script>null.boom;</script></body>'
    report = tmp_path / "broken.html"
    report.write_text(html.replace("</body>", broken), encoding="utf-8")
    messages, plots = _open_in_chromium(report, tmp_path / "profile")
    assert len(messages) == 1
    assert "Uncaught TypeError" in messages[0]
    assert plots["fig-never"] == {"main_svg": 0, "traces": 0}
    assert plots["fig-equity"]["traces"] == 1


def test_many_traded_instruments_chart_the_busiest_and_list_the_rest() -> None:
    orders: list[Order] = []
    fills: list[OrderFilled] = []
    for n in range(20):  # instrument n traded n + 1 times
        iid = InstrumentId(f"PREDICT:M{n:02d}-YES")
        for k in range(n + 1):
            order = _order(f"o{n}-{k}", "pairs", iid, OrderSide.BUY)
            orders.append(order)
            fills.append(replace(_fill(len(fills), order, "0.4"), trade_id=f"t{n}-{k}"))
    record = replace(synthetic_record(), orders=tuple(orders), fills=tuple(fills))
    page = _outside_plotly(render_report(record))
    charts = [i for i in _figure_ids(page) if i.startswith("fig-price")]
    assert len(charts) == 12
    assert "8 more instruments traded" in page
    assert "PREDICT:M19-YES: 20 fills" in page  # the busiest is charted
    assert "<td>PREDICT:M00-YES</td><td class=num>1</td>" in page  # the quietest is listed


def _traces(html: str, div_id: str) -> list[dict[str, Any]]:
    """The data plotly is handed for one chart (its ``Plotly.newPlot`` call's second argument)."""
    start = html.index(f'"{div_id}",') + len(f'"{div_id}",')
    data, _ = json.JSONDecoder().raw_decode(html[start:].lstrip())
    assert isinstance(data, list)
    return data


def test_a_binary_market_is_charted_over_its_active_window_not_the_whole_day() -> None:
    """A 15-minute market in a day-long run: its price exists from 10:00, moves until 10:15, then
    stays at its last mark to midnight (a settled book still marks). The chart starts at 10:00 and
    ends at 10:16, the first sample after the last move; the day-long BTC line stays whole."""
    market = InstrumentId("PREDICT:BTC-UP-1000-YES")
    opened = T0 + 600 * MINUTE  # 10:00
    moving = [0.50, 0.52, 0.55, 0.53, 0.58, 0.61, 0.60, 0.64, 0.70, 0.72, 0.75, 0.80, 0.85, 0.90, 0.95, 0.99]
    flat = [0.99] * (1440 - 600 - len(moving))  # 10:16 to 23:59
    series = [[opened + i * MINUTE, p] for i, p in enumerate(moving + flat)]
    order = _order("p-1", "pairs", market, OrderSide.BUY)
    fill = replace(_fill(0, order, "0.55"), ts_ns=opened + 2 * MINUTE)
    record = synthetic_record()
    result = record.config["result"]
    btc_day = [[T0 + i * MINUTE, 42_000 + (i % 7)] for i in range(1440)]
    result = {**result, "series": {**result["series"], "prices": {BTC: btc_day, market: series}}}
    record = replace(
        record,
        orders=(*record.orders, order),
        fills=(*record.fills, fill),
        config={**record.config, "result": result},
    )
    html = render_report(record, plotly_src="plotly.js")
    # charted in instrument order: PREDICT:..., SIMA:BTC/USDT, SIMB:ETH/USDT
    assert f'"text":"{market}: 1 fills"' in html[html.index('"fig-price-0",') : html.index('"fig-price-1",')]
    price_line = _traces(html, "fig-price-0")[0]
    assert price_line["x"][0] == "2024-01-01T10:00:00"
    assert price_line["x"][-1] == "2024-01-01T10:16:00"
    assert len(price_line["x"]) == 17
    assert f"{market}: charted over its active window, 2024-01-01 10:00:00 UTC to 2024-01-01 10:16:00 UTC" in html
    btc_line = _traces(html, "fig-price-1")[0]
    assert (btc_line["x"][0], btc_line["x"][-1]) == ("2024-01-01T00:00:00", "2024-01-01T23:59:00")
    assert f"{BTC}: charted over" not in html


def test_long_lists_are_folded_and_times_are_utc() -> None:
    orders: list[Order] = []
    fills: list[OrderFilled] = []
    for n in range(40):  # 28 instruments beyond the 12 charted
        iid = InstrumentId(f"PREDICT:M{n:02d}-YES")
        order = _order(f"o{n}", "pairs", iid, OrderSide.BUY)
        orders.append(order)
        fills.append(replace(_fill(n, order, "0.4"), trade_id=f"t{n}"))
    record = synthetic_record()
    result = dict(record.config["result"])
    result["strategies"] = {"pairs": {"pnl": "1", "stats": {f"counter_{i:02d}": i for i in range(30)}}}
    engaged = T0 + 90 * MINUTE + 1_500_000_000  # 01:30:01.5
    result["risk"] = {"enabled": True, "denials": {}, "kill_switch": {"ts_ns": engaged, "engaged": True, "by": "op"}}
    record = replace(record, orders=tuple(orders), fills=tuple(fills), config={**record.config, "result": result})
    page = _outside_plotly(render_report(record))
    listed = page.index("<details><summary>28 more instruments traded (fewest fills): listed, not charted</summary>")
    assert page.index("<td>PREDICT:M39-YES</td>", listed) < page.index("</details>", listed)  # ties: by name
    assert "<details><summary>30 counters</summary>" in page
    assert "<td>ts_ns</td><td class=num>2024-01-01 01:30:01.500 UTC</td>" in page
    assert str(engaged) not in page
