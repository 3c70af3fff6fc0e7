"""Delivery through apprise to a real HTTP server on 127.0.0.1 (``json://``): messages arrive with
their title and body, a burst is coalesced, the rate limit holds, failures are retried then dropped,
``close`` flushes, and the paper service wires it all (a refused start sends the differences)."""

from __future__ import annotations

import time
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from alert_server import StubServer, stub_server
from trading_loop import SPOT, T0

from spreadhawk.alerts import (
    Alert,
    AlertDispatcher,
    AlertKind,
    AlertSettings,
    ChannelLimits,
    Severity,
    attach_alerts,
    load_destinations,
)
from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance
from spreadhawk.domain.events import (
    Liquidity,
    OrderAccepted,
    OrderFilled,
    OrderSide,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.persistence import RunStore
from spreadhawk.risk.kill_switch import KillSwitchChanged
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.paper_service import PaperService
from spreadhawk.runtime.services import database_url
from spreadhawk.venues.recorded import RecordedFeed

D = Decimal


def dispatcher_to(server: StubServer, **limits: float) -> AlertDispatcher:
    channel = ChannelLimits(
        per_minute=limits.get("per_minute", 6000),
        burst=int(limits.get("burst", 10)),
        backoff_s=limits.get("backoff_s", 0.1),
        max_attempts=int(limits.get("max_attempts", 3)),
        send_timeout_s=2.0,
    )
    settings = AlertSettings(
        window_s=limits.get("window_s", 0.5), channel=channel, connect_timeout_s=1.0, read_timeout_s=1.0, poll_s=0.02
    )
    return AlertDispatcher.from_destinations(
        load_destinations({"SPREADHAWK_ALERTS_ALLOW_LOCAL": "1", "SPREADHAWK_ALERTS": server.url()}), settings
    )


def fill(n: int) -> OrderFilled:
    return OrderFilled(
        T0 + n,
        ClientOrderId(f"a.s-{n}"),
        f"v-{n}",
        f"t-{n}",
        SPOT.id,
        OrderSide.BUY,
        D("0.01"),
        D("100.5"),
        D("0.001"),
        "USDT",
        Liquidity.TAKER,
    )


def test_an_alert_arrives_with_its_title_and_body() -> None:
    with stub_server("ok") as server:
        dispatcher = dispatcher_to(server)
        engine = Engine([SPOT])
        router = attach_alerts(engine, dispatcher)
        engine.bus.publish(KillSwitchChanged(T0, True, "operator:alice", "exchange incident", flatten=True))
        (received,) = server.wait_for(1)
        router.close(2)
    assert received.title == "KILL SWITCH ENGAGED by operator:alice"
    assert received.body.startswith("exchange incident; every new order denied, positions flattened at market")
    assert received.payload["type"] == "failure"  # apprise's type for a critical alert
    assert received.path == "/alerts"
    assert dispatcher.stats().sent == 1


def test_a_burst_of_fills_becomes_a_few_messages() -> None:
    with stub_server("ok") as server:
        dispatcher = dispatcher_to(server, window_s=0.5)
        engine = Engine([SPOT])
        attach_alerts(engine, dispatcher)
        for n in range(50):
            engine.bus.publish(fill(n), key="s")
        received = server.wait_for(2)
        time.sleep(0.3)  # nothing more comes
        dispatcher.close(2)
        received = list(server.received)
    assert len(received) == 2  # the first at once, the other 49 as one digest after the window
    assert received[0].title == "fill X:BTC/USDT"
    assert received[0].body.startswith("BUY 0.01 at 100.5, fee 0.001 USDT (?, order a.s-0)")
    assert received[1].title == "49 fills on X:BTC/USDT"
    assert "... and 44 more; the last: fill X:BTC/USDT: BUY 0.01 at 100.5" in received[1].body
    assert received[1].at - received[0].at >= 0.4
    stats = dispatcher.stats()
    assert (stats.messages, stats.sent, stats.failed) == (2, 2, 0)


def test_the_rate_limit_holds_and_every_alert_is_carried() -> None:
    with stub_server("ok") as server:
        dispatcher = dispatcher_to(server, per_minute=300, burst=1, window_s=0.0)  # one message per 0.2 s
        dispatcher.start()
        started = time.monotonic()
        for n in range(40):  # 40 distinct keys over 2 s: 40 messages without a rate limit
            dispatcher.put_nowait(Alert(T0 + n, AlertKind.VENUE_MODE, Severity.WARNING, f"m{n}", "", f"k{n}"))
            time.sleep(0.05)
        dispatcher.close(3)
        elapsed = time.monotonic() - started
        received = list(server.received)
    gaps = [b.at - a.at for a, b in pairwise(received)]
    assert 5 <= len(received) <= 1 + 5 * elapsed  # the burst, then 5 a second; the backlog merged
    assert min(gaps) >= 0.15  # 0.2 s apart, less a little scheduling jitter
    assert dispatcher.stats().sent == len(received)
    assert sum(c.stats.alerts_sent for c in dispatcher.channels) == 40  # merged, never lost


def test_a_429_is_retried_with_backoff_then_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with stub_server("429") as server:
        dispatcher = dispatcher_to(server, backoff_s=0.2, max_attempts=3)
        dispatcher.start()
        dispatcher.put_nowait(Alert(T0, AlertKind.KILL_SWITCH, Severity.CRITICAL, "kill", "now", "kill_switch"))
        received = server.wait_for(3, timeout=5)
        time.sleep(0.2)
        dispatcher.close(1)
    assert len(received) == 3
    assert received[1].at - received[0].at >= 0.18  # 0.2 s, then 0.4 s
    assert received[2].at - received[1].at >= 0.38
    stats = dispatcher.stats()
    assert (stats.failed, stats.retried, stats.given_up, stats.sent) == (3, 2, 1, 0)
    assert "send failed (refused or unreachable, attempt 1 of 3); retrying in 0.2 s" in caplog.text
    assert "dropped 'kill' after 3 attempts" in caplog.text


def test_close_flushes_what_it_can_within_its_timeout() -> None:
    with stub_server("ok") as server:
        dispatcher = dispatcher_to(server, window_s=60)
        dispatcher.start()
        for n in range(5):  # the first goes at once, four are held for a minute-long window
            dispatcher.put_nowait(Alert(T0 + n, AlertKind.FILL, Severity.INFO, "fill", f"#{n}", "fill:x", "x"))
        started = time.monotonic()
        dispatcher.close(3)
        assert time.monotonic() - started < 3
        received = server.wait_for(2, timeout=1)
    assert [r.title for r in received] == ["fill", "4 fills on x"]
    assert not dispatcher.running


CONFIG = """
[run]
valuation_currency = "USDT"

[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "synthetic_two_venue"

[venues.BINANCE]
balances = { USDT = "10000" }

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
params = { instrument_id = "BINANCE:BTC/USDT" }
"""


def test_a_paper_node_that_refuses_to_trade_sends_its_differences_and_closes_the_dispatcher(tmp_path: Path) -> None:
    config_path = tmp_path / "paper.toml"
    config_path.write_text(CONFIG)
    journal = tmp_path / "paper.journal"
    market = SubmitOrder(
        11,
        ClientOrderId("a.BookProbe-1"),
        "BookProbe",
        InstrumentId("BINANCE:BTC/USDT"),
        OrderSide.BUY,
        OrderType.MARKET,
        D("0.01"),
        time_in_force=TimeInForce.GTC,
    )
    opening = AccountSnapshot(1, "BINANCE", (AssetBalance("USDT", D(10_000), D(10_000)),))
    cid = market.client_order_id
    records = (opening, market, OrderSubmitted(12, cid), OrderAccepted(13, cid, "v"))
    with Journal(journal, durability=Durability.SYNC_INTENTS) as writer:  # accepted; its fills never journaled
        for record in records:
            writer.append(record)
    store = RunStore(database_url(tmp_path / "runs.db"))
    with stub_server("ok") as server:
        dispatcher = dispatcher_to(server)
        try:
            outcome = PaperService(store).run(
                load_config(config_path),
                journal,
                lambda config, instruments: [RecordedFeed([])],
                lambda stop: stop.set(),
                alerts=dispatcher,
            )
        finally:
            store.close()
        (received,) = server.wait_for(1)
    assert outcome.differences
    assert received.title == "reconciliation: 1 difference(s); not trading"
    assert "a.BookProbe-1" in received.body
    assert received.payload["type"] == "failure"
    assert not dispatcher.running  # the node closed it
