"""``spreadhawk serve`` as a user starts it: a real process, the stored runs over the API, a clean
stop on SIGINT; and the refusals that keep the API private."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from api_node import free_port
from typer.testing import CliRunner

from spreadhawk.cli.main import app

SPREADHAWK = [sys.executable, "-c", "from spreadhawk.cli.main import run; run()"]


def test_serve_shows_the_stored_runs_and_stops_on_sigint(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    runner = CliRunner()
    done = runner.invoke(app, ["demo", "--hours", "0.25", "--db", str(db), "--no-report", "--json"])
    assert done.exit_code == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    port, tokens = free_port(), tmp_path / "tokens.json"
    env = {**os.environ, "COLUMNS": "200"}
    server = subprocess.Popen(
        [*SPREADHAWK, "serve", "--db", str(db), "--api-port", str(port), "--api-tokens", str(tokens)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert time.monotonic() < deadline, "spreadhawk serve did not answer within 60 s"
            assert server.poll() is None, "spreadhawk serve exited"
            time.sleep(0.2)
        read = {"Authorization": f"Bearer {json.loads(tokens.read_text())['read']}"}
        runs = httpx.get(f"{url}/api/v1/runs", headers=read).json()
        assert [r["run_id"] for r in runs] == [run_id]
        report = httpx.get(f"{url}/api/v1/runs/{run_id}/report", headers=read, timeout=60)
        assert report.status_code == 200
        assert '<script type="text/javascript" src="/static/plotly.min.js"></script>' in report.text
        assert httpx.get(f"{url}/static/plotly.min.js").status_code == 200
        assert httpx.get(f"{url}/api/v1/status", headers=read).status_code == 503  # no node behind it
        assert httpx.get(f"{url}/api/v1/runs").status_code == 401
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "API tokens created in" in err
    assert json.loads(tokens.read_text())["read"] not in err  # the tokens are never printed


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health").status_code == 200
    except httpx.TransportError:
        return False


def test_serve_refuses_a_public_bind_without_tls_and_a_weak_token_file(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["serve", "--db", str(tmp_path / "r.db"), "--api-host", "0.0.0.0"])
    assert done.exit_code == 2
    assert "without TLS" in done.stderr
    weak = tmp_path / "tokens.json"
    weak.write_text(json.dumps({"read": "super-secret", "trade": "t" * 40}))
    weak.chmod(0o600)
    done = runner.invoke(app, ["serve", "--db", str(tmp_path / "r.db"), "--api-tokens", str(weak)])
    assert done.exit_code == 2
    assert "a default or shorter than 32" in done.stderr
