"""RELIABILITY.md §4.2 scenario 15: activity on the account that this node did not make.

While the node is down, a person places a resting order and a market order on the same account
(another client, the same key). The restarted node detects both: without the operator's
acknowledgement it refuses to trade and names them; with it, it trades beside them, books the
person's fill (balances equal the exchange's), and never cancels the person's order (cancel-on-exit
cancels only its own). A manual trade while it runs halts new orders (denied, with the reason).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_harness import (
    EmulatorProcess,
    live_config,
    loaded_emulator,
    make_keystore,
    person,
    truth,
    venues,
)

from spreadhawk.domain.orders import OrderStatus
from spreadhawk.runtime.live_node import LiveNode, build_live
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.venues.emulator import BinanceEmulator
from spreadhawk.venues.emulator.invariants import violations

pytestmark = pytest.mark.real_data


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[str]:
    make: Callable[[], BinanceEmulator] = loaded_emulator(shared_data)
    with EmulatorProcess(make) as process:
        yield process.http_url


def _manual_orders(client: Any, tag: str) -> None:
    bid = Decimal(str(client.fetch_order_book("BTC/USDT", 5)["bids"][0][0]))
    low = (bid * Decimal("0.9")).quantize(Decimal("0.01"))
    client.create_order("BTC/USDT", "limit", "buy", 0.001, float(low), {"newClientOrderId": f"{tag}-open"})
    client.create_order("BTC/USDT", "market", "buy", 0.001, None, {"newClientOrderId": f"{tag}-fill"})


async def _session(config: Any, journal: Path, seconds: float, *, acknowledge: bool, during: Any = None) -> LiveNode:
    """``seconds`` of trading, counted from when the node has reconciled and started (on a loaded
    machine start-up takes seconds, and a manual order placed before it had reconciled would be one
    of the differences it refuses to start with); ``during`` runs halfway through."""
    node = build_live(config, journal, live_feeds, venues, acknowledge_external=acknowledge)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def clock_the_session() -> None:
        waited = 0.0
        while not node.started and waited < 60.0:  # a refused node ends its run by itself
            await asyncio.sleep(0.05)  # noqa: TID251 (the session runs in wall time against the emulator)
            waited += 0.05
        if during is not None and node.started:
            await asyncio.sleep(seconds / 2)  # noqa: TID251
            await loop.run_in_executor(None, during)
            await asyncio.sleep(seconds / 2)  # noqa: TID251
        else:
            await asyncio.sleep(seconds)  # noqa: TID251
        stop.set()

    timer = loop.create_task(clock_the_session())
    with contextlib.suppress(Exception):
        await node.run(stop)
    timer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await timer
    return node


def test_external_orders_are_detected_refused_or_acknowledged_and_never_cancelled(
    exchange: str, tmp_path: Path
) -> None:
    keys, journal = tmp_path / "keys.json", tmp_path / "live.journal"
    make_keystore(keys)
    config = live_config(exchange, keys)
    someone = person(exchange)

    first = asyncio.run(_session(config, journal, 3.0, acknowledge=False))
    assert first.differences == []
    _manual_orders(someone, "manual")  # while the node is down

    refused = asyncio.run(_session(config, journal, 3.0, acknowledge=False))
    text = "\n".join(refused.differences)
    assert "manual-open" in text
    assert "manual-fill" in text
    assert "--acknowledge-external" in text
    assert not refused.stopped  # never traded
    assert not [cid for cid in refused.engine.orders if cid.startswith(refused.engine.order_ids.prefix)]

    while_running = lambda: _manual_orders(someone, "live")  # noqa: E731
    third = asyncio.run(_session(config, journal, 8.0, acknowledge=True, during=while_running))
    assert third.differences == []
    assert any("manual-open" in line and "acknowledged" in line for line in third.explained)
    after = truth(exchange)
    status = {o["clientOrderId"]: o["status"] for o in after["orders"]}
    assert status["manual-open"] == "NEW"  # the person's order: not cancelled by cancel-on-exit
    assert status["live-open"] == "NEW"
    # the manual trade while running halted new orders: every order decided after it was denied
    assert third.halted_by is not None
    assert "live-fill" in third.halted_by
    reports = {r.client_order_id for r in third.engine.external_reports}
    assert {"live-fill", "manual-fill"} <= reports
    denied = [o for o in third.engine.orders.values() if o.status is OrderStatus.DENIED]
    assert denied, "no order was decided after the manual trade: the halt was not exercised"
    prefixes = tuple({cid.split(".")[0] + "." for cid in third.engine.orders if "." in cid})
    mine = {**after, "orders": [o for o in after["orders"] if "." in o["clientOrderId"]]}
    found = violations(mine, third.engine, "BINANCE", prefixes)
    assert found == [], "\n".join(found)


def test_with_the_risk_engine_on_a_manual_trade_stops_entries_and_lets_exits_out(exchange: str, tmp_path: Path) -> None:
    """Scenario 15's "halts new entries": every venue goes HEDGE_ONLY. The probe alternates buys
    and sells of BTC while the account holds BTC, so after the person's trade its sells (which reduce
    the holding) still go out and fill, and its buys are denied as hedge-only."""
    keys, journal = tmp_path / "keys.json", tmp_path / "live.journal"
    make_keystore(keys)
    config = live_config(exchange, keys, "risk.enabled=true")
    someone = person(exchange)
    node = asyncio.run(
        _session(config, journal, 8.0, acknowledge=False, during=lambda: _manual_orders(someone, "risk"))
    )
    assert node.differences == []
    assert node.halted_by is not None
    assert "risk-fill" in node.halted_by
    assert "only risk-reducing" in node.halted_by
    assert node.engine.halt_reason == "the node is stopping"  # not halted outright: exits still go out
    after = [o for o in node.engine.orders.values() if o.ts_init > _external_ts(node)]
    denied = [o for o in after if o.status is OrderStatus.DENIED]
    exits = [o for o in after if o.status is OrderStatus.FILLED]
    assert denied, "no entry was decided after the manual trade: hedge-only was not exercised"
    assert all(str(o.side) == "buy" for o in denied), denied
    assert all("hedge" in o.reason for o in denied), [o.reason for o in denied]
    assert exits, "no exit was decided after the manual trade"
    assert all(str(o.side) == "sell" for o in exits), exits


def _external_ts(node: LiveNode) -> int:
    return min(r.ts_ns for r in node.engine.external_reports if r.client_order_id == "risk-fill")
