"""RELIABILITY.md scenario 16 -- the kill switch under stress -- on a live node (real ccxt, signed
REST, the user stream) against the Binance emulator, engaged through the API while the probe's bid
rests at the exchange and the user stream is stalled (partitioned): within 2 s no order of ours is
open at the exchange and new orders are denied locally; a restarted node finds the switch still on
(fail-closed) and sends nothing; only the trade token's explicit resume lets it trade again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from live_harness import emulator, fetch_truth, live_config, make_keystore, venues

from spreadhawk.api.app import ApiSettings, create_app
from spreadhawk.api.auth import ApiTokens
from spreadhawk.api.node_api import control_for
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.runtime.config import RunConfig
from spreadhawk.runtime.live_node import LiveNode, build_live
from spreadhawk.runtime.paper_service import live_feeds

pytestmark = pytest.mark.real_data
TOKENS = ApiTokens("r" * 40, "t" * 40)
READ = {"Authorization": f"Bearer {TOKENS.read}"}
TRADE = {"Authorization": f"Bearer {TOKENS.trade}"}
BTC = InstrumentId("BINANCE:BTC/USDT")
KILL_WITHIN_S = 2.0


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        assert loop.time() < deadline, what
        await asyncio.sleep(0.05)  # noqa: TID251 (the test waits on the emulator in wall time)


def _ours_open(truth: dict[str, Any]) -> list[str]:
    return [o["clientOrderId"] for o in truth["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")]


class Session:
    """A live node, its API in front of it (in-process, the node's loop), until ``close``."""

    def __init__(self, config: RunConfig, journal: Path) -> None:
        self.node: LiveNode = build_live(config, journal, live_feeds, venues)
        control = control_for(self.node, "live", journal)
        app = create_app(TOKENS, control=control, settings=ApiSettings())
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")
        self.stop = asyncio.Event()
        self.run = asyncio.create_task(self.node.run(self.stop))

    async def started(self) -> bool:
        assert not self.run.done(), self.run
        return self.node.started

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.run, 30)
        await self.client.aclose()


def test_kill_switch_over_the_api_under_stress_and_across_a_restart(shared_data: Path, tmp_path: Path) -> None:
    keys, journal = tmp_path / "keys.json", tmp_path / "live.journal"
    make_keystore(keys)

    async def body() -> None:
        async with emulator(shared_data) as exchange, aiohttp.ClientSession() as http:
            url = exchange.http_url
            config = live_config(
                url, keys, "risk.enabled=true", f'risk.kill_switch_db="sqlite:///{tmp_path / "kill.db"}"',
                'risk.max_asset_fraction="off"', 'risk.max_strategy_fraction="off"',
                'risk.max_deployed_fraction="off"',
                # the emulator replays 2024's books under today's wall clock: their age would read as
                # two years (a real exchange stamps them now)
                'risk.stale_reduced_s="off"', 'risk.stale_hedge_only_s="off"',
            )  # fmt: skip

            async def resting() -> bool:
                return bool(_ours_open(await fetch_truth(url)))

            first = Session(config, journal)
            await _until(first.started, 30, "the node did not reconcile and start")
            await _until(
                resting,
                30,
                f"no bid rested: {first.node.risk.denials if first.node.risk else None} "
                f"{[(o.client_order_id, o.status.value) for o in first.node.engine.orders.values()][-5:]}",
            )
            async with http.post(f"{url}/emulator/stream_fault", json={"kind": "stall"}) as answer:
                assert answer.status == 200  # the user stream is partitioned: it stays open and says nothing
            loop = asyncio.get_running_loop()
            engaged_at = loop.time()
            engage = await first.client.post(
                "/api/v1/kill-switch/engage", json={"reason": "stress", "flatten": False}, headers=TRADE
            )
            assert engage.status_code == 200, engage.text

            async def none_open() -> bool:
                return not _ours_open(await fetch_truth(url))

            late = f"orders still open at the exchange {KILL_WITHIN_S} s after the kill"
            await _until(none_open, KILL_WITHIN_S, late)
            assert loop.time() - engaged_at < KILL_WITHIN_S
            probe = first.node.strategies[-1]
            assert probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.002")).status is OrderStatus.DENIED
            await first.close()

            # a restart, as after a crash: the switch is read back on, nothing is sent
            placed = len((await fetch_truth(url))["orders"])
            second = Session(config, journal)
            await _until(second.started, 30, "the restarted node did not start")
            status = (await second.client.get("/api/v1/status", headers=READ)).json()
            assert status["kill_switch"]["engaged"] is True
            assert status["trading"] is False
            await asyncio.sleep(3)  # noqa: TID251 (the market moves on; the probe would have traded)
            assert len((await fetch_truth(url))["orders"]) == placed
            refused = await second.client.post("/api/v1/kill-switch/resume", json={"reason": "x"}, headers=READ)
            assert refused.status_code == 403
            resumed = await second.client.post("/api/v1/kill-switch/resume", json={"reason": "ok"}, headers=TRADE)
            assert resumed.status_code == 200

            async def trading_again() -> bool:
                return len((await fetch_truth(url))["orders"]) > placed

            await _until(trading_again, 20, "no order after the resume")
            await second.close()

    asyncio.run(asyncio.wait_for(body(), 180))
