"""The dashboard in Debian's headless Chromium (driven by playwright), against a paper node that
trades on the real BTCUSDT capture as the test watches: it loads, PnL and the trades update live
from the stream, and its kill-switch button halts trading end to end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from api_node import READ, TOKENS, NodeThread, node_config, tape

pytestmark = pytest.mark.real_data
CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} not found: make test installs Debian's chromium (make browser)"
)


@pytest.fixture
def node(shared_data: Path, tmp_path: Path) -> Iterator[NodeThread]:
    config = node_config(shared_data, tmp_path, trade_every=150)
    # ~25 s of market at 1,000 records a second: the page sees fills and PnL move while it is open
    with NodeThread(config, tape(config, 25_000), tmp_path, per_second=1_000) as running:
        yield running


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not reached within {timeout} s")


@needs_chromium
def test_the_dashboard_follows_the_node_and_its_kill_switch_halts_trading(node: NodeThread) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(node.url + "/")
        page.fill("#token", TOKENS.trade)
        page.click("#login-form button")
        page.wait_for_selector("#connection:has-text('live')", timeout=15_000)
        page.wait_for_selector("#equity-chart .main-svg", timeout=15_000)  # plotly, from the node itself
        assert page.text_content("#mode") == "paper"
        # PnL moves as the market does, and trades arrive, without reloading the page
        seen_pnl = {page.text_content("#pnl")}

        def pnl_moved() -> bool:
            seen_pnl.add(page.text_content("#pnl"))
            return len(seen_pnl) >= 3

        _wait(pnl_moved)
        _wait(lambda: page.locator("#fills tbody tr").count() >= 3)
        assert page.locator("#strategies tbody tr").count() == 1
        assert page.text_content("#kill-state") == "off"
        page.click("#kill")
        page.wait_for_selector("#kill-state:has-text('ON')", timeout=10_000)
        assert "from the dashboard" in (page.text_content("#kill-why") or "")
        assert page.text_content("#trading") == "not trading"
        browser.close()
    assert problems == []
    with httpx.Client(base_url=node.url, headers=READ) as api:
        status = api.get("/api/v1/status").json()
        assert status["kill_switch"]["engaged"] is True
        assert status["kill_switch"]["by"].startswith("api:trade@127.0.0.1")
        fills = status["fills"]
        denied = api.get("/api/v1/risk/limits").json()["denials"].get("kill_switch", 0)
        # the market goes on; the probe keeps trying; nothing passes
        _wait(lambda: api.get("/api/v1/risk/limits").json()["denials"].get("kill_switch", 0) > denied + 2)
        assert api.get("/api/v1/status").json()["fills"] == fills
        metrics = api.get("/metrics").text
        assert 'spreadhawk_orders_total{status="accepted",venue="BINANCE"}' not in metrics  # nothing left resting
