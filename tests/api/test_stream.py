"""The WebSocket stream of a running paper node, over a real socket: after its token, a client gets
PnL each second, every fill as it happens, and the alerts a person would be sent (here: the kill
switch engaged through the API)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from api_node import TOKENS, TRADE, NodeThread, node_config, tape

pytestmark = pytest.mark.real_data


@pytest.fixture
def node(shared_data: Path, tmp_path: Path) -> Iterator[NodeThread]:
    config = node_config(shared_data, tmp_path, trade_every=150)
    with NodeThread(config, tape(config, 20_000), tmp_path, per_second=2_000) as running:
        yield running


def test_the_stream_carries_fills_pnl_and_alerts(node: NodeThread) -> None:
    async def body() -> dict[str, list[dict[str, Any]]]:
        seen: dict[str, list[dict[str, Any]]] = {}
        uri = node.url.replace("http://", "ws://") + "/api/v1/stream"
        async with websockets.connect(uri, origin=websockets.Origin(node.url)) as socket:
            await socket.send(json.dumps({"token": TOKENS.read}))
            engaged = False
            deadline = asyncio.get_running_loop().time() + 20
            while asyncio.get_running_loop().time() < deadline:
                message = json.loads(await asyncio.wait_for(socket.recv(), 5))
                seen.setdefault(message["type"], []).append(message)
                if not engaged and len(seen.get("fill", [])) >= 2 and "pnl" in seen:
                    async with httpx.AsyncClient() as http:
                        answer = await http.post(
                            node.url + "/api/v1/kill-switch/engage", json={"reason": "stream test"}, headers=TRADE
                        )
                        assert answer.status_code == 200
                    engaged = True
                if any(a["kind"] == "kill_switch" for a in seen.get("alert", [])):
                    break
        return seen

    seen = asyncio.run(body())
    assert seen["hello"] == [{"type": "hello", "node": True}]
    assert {"equity", "pnl", "pnl_vs_holding", "strategies"} <= set(seen["pnl"][0])
    fill = seen["fill"][0]
    assert fill["instrument"] == "BINANCE:BTC/USDT"
    assert fill["strategy"] == "probe"
    (alert,) = [a for a in seen["alert"] if a["kind"] == "kill_switch"]
    assert alert["severity"] == "critical"
    assert "stream test" in alert["title"] + alert["body"]
