"""User-data stream faults of the emulator, read off plain websockets (a listenKey stream and a
signed WebSocket-API subscription) while the real ccxt REST client trades."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_exchange import KEY, SECRET, SYMBOL, _client, _emulator, run

from spreadhawk.venues.emulator import BinanceEmulator
from spreadhawk.venues.emulator.faults import FaultError
from spreadhawk.venues.emulator.stream_faults import StreamFault, StreamFaultKind

pytestmark = pytest.mark.real_data

QUIET_S = 0.3  # how long "nothing more arrives" is watched for


@dataclass
class Rig:
    emulator: BinanceEmulator
    exchange: Any  # ccxt REST client
    http: aiohttp.ClientSession
    ws: aiohttp.ClientWebSocketResponse  # the listenKey stream

    async def arm(self, **fault: Any) -> None:
        async with self.http.post(f"{self.emulator.http_url}/emulator/stream_fault", json=fault) as response:
            assert response.status == 200, await response.text()

    async def market_buy(self, cid: str) -> dict[str, Any]:
        order: dict[str, Any] = await self.exchange.create_order(
            SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": cid}
        )
        return order


async def _texts(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[str]:
    return [await asyncio.wait_for(ws.receive_str(), 2.0) for _ in range(n)]


async def _reports(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    """The next ``n`` executionReports (balance updates skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < n:
        event = json.loads(await asyncio.wait_for(ws.receive_str(), 2.0))
        event = event.get("event", event)  # the WebSocket API wraps events
        if event["e"] == "executionReport":
            found.append(event)
    return found


async def _silent(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Nothing but balance updates for QUIET_S; the socket still open."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + QUIET_S
    while (left := deadline - loop.time()) > 0:
        try:
            text = await asyncio.wait_for(ws.receive_str(), left)
        except TimeoutError:
            break
        assert "outboundAccountPosition" in text, text
    assert not ws.closed


@asynccontextmanager
async def rig(shared_data: Path) -> AsyncIterator[Rig]:
    emulator = _emulator(shared_data)
    async with emulator, _client(emulator) as exchange, aiohttp.ClientSession() as http:
        headers = {"X-MBX-APIKEY": KEY}
        async with http.post(f"{emulator.http_url}/api/v3/userDataStream", headers=headers) as r:
            listen_key = (await r.json())["listenKey"]
        async with http.ws_connect(f"{emulator.ws_url}/{listen_key}") as ws:
            yield Rig(emulator, exchange, http, ws)


async def _subscribe(http: aiohttp.ClientSession, emulator: BinanceEmulator) -> aiohttp.ClientWebSocketResponse:
    """A signed WebSocket-API subscription (params signed sorted by name, as the WebSocket API does)."""
    ws = await http.ws_connect(f"{emulator.ws_url}-api/v3")
    params: dict[str, Any] = {"apiKey": KEY, "timestamp": 1}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    await ws.send_json({"id": "sub", "method": "userDataStream.subscribe.signature", "params": params})
    assert "subscriptionId" in json.loads(await ws.receive_str())["result"]
    return ws


async def _subscriptions(ws: aiohttp.ClientWebSocketResponse) -> list[Any]:
    await ws.send_json({"id": "hb", "method": "session.subscriptions"})
    while True:
        answer = json.loads(await asyncio.wait_for(ws.receive_str(), QUIET_S))
        if answer.get("id") == "hb":
            result: list[Any] = answer["result"]
            return result


def test_duplicate_reorder_delay_and_unknown_fields_change_the_next_reports(shared_data: Path) -> None:
    async def scenario() -> None:
        async with rig(shared_data) as r:
            await r.arm(kind="duplicate", count=2)
            await r.market_buy("dup-1")
            assert [e["x"] for e in await _reports(r.ws, 4)] == ["NEW", "NEW", "TRADE", "TRADE"]

            await r.arm(kind="reorder")  # the NEW ack is held back until the trade has gone out
            await r.market_buy("reo-1")
            assert [(e["c"], e["x"]) for e in await _reports(r.ws, 2)] == [("reo-1", "TRADE"), ("reo-1", "NEW")]

            await r.arm(kind="delay", ms=400, count=1)
            loop = asyncio.get_running_loop()
            sent = loop.time()
            await r.market_buy("late-1")
            assert [e["x"] for e in await _reports(r.ws, 2)] == ["NEW", "TRADE"]
            assert loop.time() - sent >= 0.4

            await r.arm(kind="unknown_fields", count=2)
            await r.market_buy("new-1")
            reports = await _reports(r.ws, 2)
            assert all("newFeature" in e and e["c"] == "new-1" for e in reports)

    run(scenario)


def test_bad_messages_are_sent_as_is(shared_data: Path) -> None:
    async def scenario() -> None:
        async with rig(shared_data) as r:
            await r.arm(kind="malformed_json")
            await r.arm(kind="missing_fields")
            await r.arm(kind="wrong_types")
            await r.arm(kind="unknown_symbol")
            malformed, missing, wrong, stranger = await _texts(r.ws, 4)
            with pytest.raises(json.JSONDecodeError):
                json.loads(malformed)
            assert "t" not in json.loads(missing)
            assert json.loads(wrong)["l"] == "one"
            assert json.loads(stranger)["s"] == "NOSUCHUSDT"
            truth = await r.exchange.fetch_my_trades(SYMBOL)
            assert truth == []  # none of them is a trade of the exchange

    run(scenario)


def test_expired_listen_key_says_so_and_then_nothing_follows_on_an_open_socket(shared_data: Path) -> None:
    async def scenario() -> None:
        async with rig(shared_data) as r:
            await r.arm(kind="expire")
            expired = json.loads((await _texts(r.ws, 1))[0])
            assert expired["e"] == "listenKeyExpired"
            await r.market_buy("after-expiry")
            await _silent(r.ws)

    run(scenario)


def test_terminated_subscription_and_stall_on_the_websocket_api(shared_data: Path) -> None:
    async def scenario() -> None:
        async with rig(shared_data) as r:
            api = await _subscribe(r.http, r.emulator)
            assert await _subscriptions(api) == [{"subscriptionId": 0}]
            await r.arm(kind="terminate")
            ended = json.loads(await asyncio.wait_for(api.receive_str(), 2.0))
            assert ended == {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": ended["event"]["E"]}}
            await r.market_buy("after-end")
            assert await _subscriptions(api) == []  # the session says the subscription is gone
            await _silent(api)
            await api.close()

            stalled = await _subscribe(r.http, r.emulator)
            await r.arm(kind="stall")
            await r.market_buy("stalled")
            with pytest.raises(TimeoutError):  # no event, and no answer either
                await _subscriptions(stalled)
            assert not stalled.closed
            fresh = await _subscribe(r.http, r.emulator)  # a connection opened later is healthy
            assert await _subscriptions(fresh) != []
            await stalled.close()
            await fresh.close()

    run(scenario)


def test_stream_fault_specs_are_checked() -> None:
    assert StreamFault.from_mapping({"kind": "delay", "ms": 5}) == StreamFault(StreamFaultKind.DELAY, ms=5)
    for bad, message in (
        ({"kind": "delay"}, "ms must be"),
        ({"kind": "duplicate", "count": 0}, "count must be"),
        ({"kind": "teleport"}, "unknown stream fault kind"),
        ({"kind": "stall", "seconds": 1}, "unknown stream fault field"),
    ):
        with pytest.raises(FaultError, match=message):
            StreamFault.from_mapping(bad)
