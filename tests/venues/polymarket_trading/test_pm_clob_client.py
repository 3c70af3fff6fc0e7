"""py-clob-client 0.34.6 itself, signing with its own order builder, against the trading emulator.

Every endpoint the adapter does not exercise on its own: orders built and signed by ``create_order``
(its random salt, its float rounding), ``get_orders``, ``cancel_orders``, ``cancel_all``,
``get_trades``, ``get_balance_allowance`` for a token and ``update_balance_allowance``. The client is
synchronous: it runs in a thread, the emulator on the test's event loop.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pm_trading_harness import SOL_UP, WALLET_KEY, exchange_for, serve, sol_book
from py_clob_client.client import ClobClient  # type: ignore[import-untyped]
from py_clob_client.clob_types import (  # type: ignore[import-untyped]
    AssetType,
    BalanceAllowanceParams,
    OrderArgs,
    OrderType,
)

pytestmark = pytest.mark.real_data


def _session(host: str) -> dict[str, Any]:
    client = ClobClient(host, chain_id=137, key=WALLET_KEY)
    client.set_api_creds(client.create_or_derive_api_creds())
    seen: dict[str, Any] = {}
    rest = [client.create_order(OrderArgs(SOL_UP, 0.45, 10, "BUY")) for _ in range(3)]  # below the 0.48 ask
    seen["placed"] = [client.post_order(order, OrderType.GTC) for order in rest]
    seen["open"] = client.get_orders()
    ids = [answer["orderID"] for answer in seen["placed"]]
    seen["cancel_one"] = client.cancel_orders(ids[:1])
    seen["cancel_all"] = client.cancel_all()
    taker = client.create_order(OrderArgs(SOL_UP, 0.48, 20, "BUY"))
    seen["taken"] = client.post_order(taker, OrderType.FOK)
    seen["trades"] = client.get_trades()
    params = BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=SOL_UP)
    seen["shares"] = client.get_balance_allowance(params)
    seen["update"] = client.update_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
    return seen


def test_py_clob_clients_own_orders_and_calls_are_answered_in_polymarkets_format(shared_data: Path) -> None:
    async def scenario() -> dict[str, Any]:
        exchange = exchange_for(shared_data)
        exchange.on_market_message(sol_book(shared_data, "up"))
        runner, where = await serve(exchange)
        try:
            exchange.fund(ClobClient("http://x", chain_id=137, key=WALLET_KEY).get_address(), Decimal(100))
            return await asyncio.wait_for(asyncio.to_thread(_session, f"http://{where}"), 20)
        finally:
            await runner.cleanup()

    seen = asyncio.run(scenario())
    assert [a["status"] for a in seen["placed"]] == ["live", "live", "live"]
    assert {a["success"] for a in seen["placed"]} == {True}
    assert sorted(o["id"] for o in seen["open"]) == sorted(a["orderID"] for a in seen["placed"])
    assert {(o["price"], o["original_size"], o["status"]) for o in seen["open"]} == {("0.45", "10", "LIVE")}
    first, *others = [a["orderID"] for a in seen["placed"]]
    assert seen["cancel_one"] == {"canceled": [first], "not_canceled": {}}
    assert sorted(seen["cancel_all"]["canceled"]) == sorted(others)
    # 20 at 0.48 for 9.6 USDC; the client read the market's 700 bps from /fee-rate and signed it
    assert (seen["taken"]["status"], seen["taken"]["makingAmount"], seen["taken"]["takingAmount"]) == (
        "matched",
        "9.60",
        "20",
    )
    (trade,) = seen["trades"]
    assert (trade["side"], trade["size"], trade["price"], trade["trader_side"]) == ("BUY", "20", "0.48", "TAKER")
    assert trade["taker_order_id"] == seen["taken"]["orderID"]
    assert seen["shares"]["balance"] == "20000000"  # 20 shares, 6 decimals
    # 100 - 9.6 - fee 20 * 0.07 * 0.48 * 0.52 (0.34944) = 90.05056 USDC
    assert seen["update"]["balance"] == "90050560"
