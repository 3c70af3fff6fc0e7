"""``spreadhawk live`` on the local Binance emulator: real signed orders through ccxt, keys from the
encrypted key store, checked against the emulator's ground truth (``/emulator/truth``).

Two sessions on one journal: the first trades and stops without cancelling (its resting bid stays
open at the exchange); the second resumes, finds that order open on both sides, reconciles cleanly,
trades on, and on stop cancels everything: the exchange holds no open order of ours, every order
and fill the exchange has is the engine's (no client order id twice), and the balances agree to the
last unit. A key that allows withdrawals is refused before anything is sent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_harness import EXAMPLE, emulator, fetch_truth, live_config, make_keystore, session
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.runtime.live_node import KeyPermissionError, LiveNode

pytestmark = pytest.mark.real_data


def test_live_sessions_trade_resume_and_cancel_on_exit_against_the_exchange_truth(
    shared_data: Path, tmp_path: Path
) -> None:
    keys, journal = tmp_path / "keys.json", tmp_path / "live.journal"
    make_keystore(keys)

    async def scenario() -> tuple[LiveNode, LiveNode, dict[str, Any], dict[str, Any]]:
        async with emulator(shared_data) as running:
            first = await session(live_config(running.http_url, keys, "live_trading.cancel_on_exit=false"), journal)
            between = await fetch_truth(running.http_url)
            second = await session(live_config(running.http_url, keys), journal)
            return first, second, between, await fetch_truth(running.http_url)

    first, second, between, truth = asyncio.run(asyncio.wait_for(scenario(), timeout=90))

    # the first session traded, and left its resting bid open at the exchange (cancel_on_exit off)
    assert first.differences == []
    assert first.stopped
    assert len(first.engine.fills) >= 3
    left = [o for o in between["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]
    assert [o["clientOrderId"] for o in left] == [
        cid for cid, o in first.engine.orders.items() if o.status is OrderStatus.ACCEPTED
    ]
    assert len(left) == 1
    assert left[0]["type"] == "LIMIT_MAKER"

    # the second resumed, found that order open on both sides, and traded on under a new id prefix
    assert second.restored is not None
    assert second.differences == []
    assert second.stopped
    assert left[0]["clientOrderId"] in second.engine.orders
    new_orders = set(second.engine.orders) - set(first.engine.orders)
    assert len(new_orders) >= 2
    assert {c.split(".")[0] for c in new_orders}.isdisjoint({c.split(".")[0] for c in first.engine.orders})

    # cancel on exit: nothing of ours is open at the exchange, nothing is left open in the engine
    assert second.left_open == []
    assert [o for o in truth["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")] == []
    assert not [o for o in second.engine.orders.values() if o.is_open]

    # every exchange order is one the engine sent, each client id once; every trade booked once
    ids = Counter(o["clientOrderId"] for o in truth["orders"])
    assert max(ids.values()) == 1
    assert set(ids) <= set(second.engine.orders)
    booked = Counter(f.trade_id for f in second.engine.fills)
    assert max(booked.values()) == 1
    assert set(booked) == {str(t["id"]) for t in truth["trades"]}
    for order in truth["orders"]:
        ours = second.engine.orders[order["clientOrderId"]]
        assert ours.filled_quantity == Decimal(order["executedQty"]), order["clientOrderId"]

    # balances: the engine's ledger equals the exchange's, exactly
    exchange = {a: Decimal(b["free"]) + Decimal(b["locked"]) for a, b in truth["balances"].items()}
    ledger = second.engine.portfolio.ledger.venue_balances("BINANCE")
    assert {a: v for a, v in exchange.items() if v} == {a: v for a, v in ledger.items() if v}


def test_a_key_that_allows_withdrawals_is_refused_before_anything_is_sent(shared_data: Path, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    make_keystore(keys)

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with emulator(shared_data) as running:
            config = live_config(running.http_url, keys, 'live.0.account="withdrawing"')
            with pytest.raises(KeyPermissionError) as refused:
                await session(config, tmp_path / "live.journal", seconds=3)
            return str(refused.value), await fetch_truth(running.http_url)

    message, truth = asyncio.run(asyncio.wait_for(scenario(), timeout=30))
    assert "allows withdrawals" in message
    assert truth["orders"] == []


def test_live_refuses_to_start_without_the_confirmation_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["live", str(EXAMPLE), "--db", str(tmp_path / "runs.db")])
    assert result.exit_code == 2
    assert "--confirm-live" in result.output
    assert not (tmp_path / "runs.db").exists()
