"""``spreadhawk paper CONFIG --api`` as a user runs it: two emulator processes replaying the real
Binance captures, the paper node in a third, and its API and dashboard on a port of its own; the
node trades, the API shows it, the kill switch engaged over the API halts it, and the node stops
cleanly at the end of its --duration with the API gone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from api_node import free_port

pytestmark = pytest.mark.real_data
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "paper_binance_emulator.toml"
SPREADHAWK = [sys.executable, "-c", "from spreadhawk.cli.main import run; run()"]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@contextmanager
def _emulator(shared_data: Path, market: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [*SPREADHAWK, "emulate", "--market", market, "--port", str(port), "--speed", "10",
         "--data-dir", str(shared_data)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        path = "/api/v3/time" if market == "spot" else "/fapi/v1/time"
        _until(lambda: _healthy(url + path), 60, f"the {market} emulator did not start")
        yield url
    finally:
        process.terminate()
        process.wait(30)


def test_paper_with_api_serves_the_running_node(shared_data: Path, tmp_path: Path) -> None:
    port, tokens = free_port(), tmp_path / "tokens.json"
    with _emulator(shared_data, "spot") as spot, _emulator(shared_data, "usdm") as usdm:
        node = subprocess.Popen(
            [*SPREADHAWK, "paper", str(EXAMPLE), "--clock", "exchange", "--duration", "25",
             "--journal", str(tmp_path / "p.journal"), "--db", str(tmp_path / "runs.db"),
             "--set", f'live.0.host="{spot}"', "--set", f'live.1.host="{usdm}"', "--set", "run.journal=''",
             "--set", "risk.enabled=true", "--set", 'risk.max_asset_fraction="off"',
             "--set", 'risk.max_strategy_fraction="off"', "--set", 'risk.max_deployed_fraction="off"',
             "--api", "--api-port", str(port), "--api-tokens", str(tokens), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            _until(lambda: _healthy(url + "/health"), 60, "the node's API did not start")
            secrets = json.loads(tokens.read_text())
            read = {"Authorization": f"Bearer {secrets['read']}"}
            trade = {"Authorization": f"Bearer {secrets['trade']}"}
            _until(lambda: httpx.get(url + "/api/v1/status", headers=read).json()["fills"] >= 2, 20, "no fills")
            status = httpx.get(url + "/api/v1/status", headers=read).json()
            assert status["mode"] == "paper"
            assert status["trading"] is True
            assert {s["id"] for s in status["strategies"]} == {"funding_btcusdt", "probe"}
            assert httpx.get(url + "/").status_code == 200  # the dashboard
            engaged = httpx.post(url + "/api/v1/kill-switch/engage", json={"reason": "test"}, headers=trade)
            assert engaged.status_code == 200, engaged.text
            fills = httpx.get(url + "/api/v1/status", headers=read).json()["fills"]
            denied = httpx.get(url + "/api/v1/risk/limits", headers=read).json()["denials"]
            time.sleep(3)  # the probe keeps trying on the moving market
            later = httpx.get(url + "/api/v1/risk/limits", headers=read).json()["denials"]
            assert later.get("kill_switch", 0) > denied.get("kill_switch", 0)
            assert httpx.get(url + "/api/v1/status", headers=read).json()["fills"] == fills
        finally:
            out, err = node.communicate(timeout=90)
    assert node.returncode == 0, err[-2000:]
    assert f"API and dashboard on {url}/" in err
    assert not _healthy(url + "/health")  # the API stopped with the node
    result = json.loads(out)
    assert result["fills"] >= 2
    assert secrets["trade"] not in out + err
