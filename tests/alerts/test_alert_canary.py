"""A canary secret in an alert destination (a Telegram-like bot token in the path, a password in the
user part) appears in no log line, at any level, from any logger (apprise, urllib3, ours), and in no
error message, while the destination hangs, answers 429 or refuses connections; nor in what the CLI
prints when a destination is refused."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from alert_server import stub_server
from trading_loop import SPOT, T0
from typer.testing import CliRunner

from spreadhawk.alerts import (
    AlertConfigError,
    AlertDispatcher,
    AlertKind,
    AlertSettings,
    ChannelLimits,
    Severity,
    attach_alerts,
    load_destinations,
)
from spreadhawk.alerts.channel import Channel
from spreadhawk.alerts.coalesce import Message
from spreadhawk.alerts.notifier import AppriseNotifier
from spreadhawk.cli.main import app
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.kill_switch import KillSwitchChanged

TOKEN = "987654321:CANARYaaHdqTcvCH1vGWJxfSeof"  # the shape of a Telegram bot token
PASSWORD = "CANARYpw7731"
CANARIES = (TOKEN, TOKEN.split(":")[1], PASSWORD)


CONFIG = """
[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "synthetic_two_venue"

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
params = { instrument_id = "BINANCE:BTC/USDT" }
"""


def canary_url(port: int) -> str:
    return f"json://alice:{PASSWORD}@127.0.0.1:{port}/bot{TOKEN}/sendMessage"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text


def exercise(url: str) -> AlertDispatcher:
    settings = AlertSettings(
        window_s=0.1,
        channel=ChannelLimits(per_minute=6000, backoff_s=0.05, max_attempts=2, send_timeout_s=0.3),
        connect_timeout_s=0.5,
        read_timeout_s=0.5,
        poll_s=0.02,
    )
    dispatcher = AlertDispatcher.from_destinations(
        load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": url}), settings
    )
    engine = Engine([SPOT])
    attach_alerts(engine, dispatcher)
    engine.bus.publish(KillSwitchChanged(T0, True, "operator:alice", "test"))
    deadline = time.monotonic() + 5
    while dispatcher.stats().given_up < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    dispatcher.close(0.5)
    return dispatcher


@pytest.mark.parametrize("mode", ["hang", "429", "refused"])
def test_a_failing_destination_never_shows_its_secret(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything, from every logger (apprise logs request URLs at DEBUG)
    if mode == "refused":
        dispatcher = exercise(canary_url(free_port()))  # nothing listens there
    else:
        with stub_server(mode) as server:
            dispatcher = exercise(canary_url(server.port))
            assert server.received  # the request did reach the server
    stats = dispatcher.stats()
    assert stats.given_up + stats.timeouts >= 1
    assert stats.sent == 0
    assert "json://1***" in caplog.text  # the destination is named, masked
    assert_clean(caplog.text)
    assert_clean(repr(stats))
    assert_clean(repr(dispatcher.channels[0].name))


def test_an_exception_from_a_destination_shows_its_type_only(caplog: pytest.LogCaptureFixture) -> None:
    url = canary_url(free_port())
    real = AppriseNotifier(url)

    class Exploding:
        def notify(self, title: str, body: str, severity: Severity) -> bool:
            real.notify(title, body, severity)
            raise ConnectionError(f"cannot post to {url}")

    channel = Channel("json://1***", Exploding(), ChannelLimits(max_attempts=1), now=0.0)
    channel.offer(Message("t", "b", Severity.CRITICAL, AlertKind.KILL_SWITCH))
    channel.pump(0.0)
    sending = channel._sending
    assert sending is not None
    sending.thread.join(5)
    channel.pump(0.0)
    assert channel.stats.given_up == 1
    assert "ConnectionError" in caplog.text
    assert_clean(caplog.text)


def test_a_refused_destination_is_named_by_position_in_errors_and_on_the_command_line(tmp_path: Path) -> None:
    bad = f"telegramm://{TOKEN}/-100123"  # a misspelt scheme: apprise refuses it
    with pytest.raises(AlertConfigError) as raised:
        load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": f"json://127.0.0.1:9/x {bad}"})
    assert str(raised.value).startswith("SPREADHAWK_ALERTS entry 2 ")
    assert_clean(str(raised.value))

    config = tmp_path / "paper.toml"
    config.write_text(CONFIG)
    alerts = tmp_path / "alerts.txt"
    alerts.write_text(canary_url(9) + "\n")
    alerts.chmod(0o644)
    runner = CliRunner()
    world_readable = runner.invoke(app, ["paper", str(config), "--alerts", str(alerts), "--db", str(tmp_path / "r.db")])
    assert world_readable.exit_code == 2
    assert "has mode 0644; it must be readable by its owner only" in world_readable.output
    assert_clean(world_readable.output)
    invalid = runner.invoke(
        app,
        ["live", str(config), "--confirm-live", "--db", str(tmp_path / "r.db")],
        env={"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": bad},
    )
    assert invalid.exit_code == 2
    assert "alerts: SPREADHAWK_ALERTS entry 1 is not a URL apprise can send to" in invalid.output
    assert_clean(invalid.output)
