"""The R2 fault proxy over real loopback sockets: an upstream that records what reaches it and
echoes it back, a client, and the proxy between them, switched at run time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.venues.emulator.fault_proxy import FaultProxy, ProxyMode, control_routes

QUIET_S = 0.2  # how long "nothing arrives" is watched for


@dataclass
class Rig:
    proxy: FaultProxy
    received: bytearray = field(default_factory=bytearray)  # every byte that reached the upstream

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.proxy.port)

    async def until(self, done: Callable[[], bool], what: str) -> None:
        async with asyncio.timeout(2.0):
            while not done():
                await asyncio.sleep(0.005)  # noqa: TID251 -- real sockets, in real time
        assert done(), what


@asynccontextmanager
async def rig() -> AsyncIterator[Rig]:
    received = bytearray()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(4096):
                received.extend(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    upstream = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with upstream:
        port = upstream.sockets[0].getsockname()[1]
        async with FaultProxy(port) as proxy:
            yield Rig(proxy, received)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 10.0)

    asyncio.run(bounded())


async def _nothing_arrives(reader: asyncio.StreamReader) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), QUIET_S)


def test_pass_and_delay_apply_to_an_open_connection() -> None:
    async def scenario() -> None:
        async with rig() as r:
            reader, writer = await r.connect()
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
            r.proxy.set(ProxyMode.DELAY, ms=150)  # the same connection, now slow both ways
            loop = asyncio.get_running_loop()
            sent = loop.time()
            writer.write(b"slow")
            assert await reader.readexactly(4) == b"slow"
            assert loop.time() - sent >= 0.3  # 150 ms out and 150 ms back
            writer.close()

    run(scenario)


def test_blackhole_holds_bytes_both_ways_until_it_heals() -> None:
    async def scenario() -> None:
        async with rig() as r:
            reader, writer = await r.connect()
            writer.write(b"a")
            assert await reader.readexactly(1) == b"a"
            r.proxy.set(ProxyMode.BLACKHOLE)
            writer.write(b"held")
            await _nothing_arrives(reader)
            assert bytes(r.received) == b"a"  # the request did not reach the exchange either
            late_reader, late_writer = await r.connect()  # a new connection is accepted, and dead too
            late_writer.write(b"new")
            await _nothing_arrives(late_reader)
            r.proxy.set(ProxyMode.PASS)
            assert await reader.readexactly(4) == b"held"  # delivered after the partition, not lost
            assert await late_reader.readexactly(3) == b"new"
            writer.close()
            late_writer.close()

    run(scenario)


def test_drop_responses_lets_the_request_reach_the_exchange_and_loses_the_answer() -> None:
    async def scenario() -> None:
        async with rig() as r:
            r.proxy.set(ProxyMode.DROP_RESPONSES)
            reader, writer = await r.connect()
            writer.write(b"order")
            await r.until(lambda: bytes(r.received) == b"order", "the request at the exchange")
            await _nothing_arrives(reader)
            r.proxy.set(ProxyMode.PASS)
            writer.write(b"x")
            assert await reader.readexactly(1) == b"x"  # the lost answer stays lost
            writer.close()

    run(scenario)


def test_reset_aborts_open_connections_with_rst_and_new_ones_at_once() -> None:
    async def scenario() -> None:
        async with rig() as r:
            reader, writer = await r.connect()
            writer.write(b"a")
            assert await reader.readexactly(1) == b"a"
            r.proxy.set(ProxyMode.RESET)
            with pytest.raises(ConnectionResetError):  # an RST, not an orderly FIN (that would be b"")
                await reader.read(1)
            reader2, writer2 = await r.connect()
            with pytest.raises(ConnectionResetError):
                await reader2.read(1)
            writer.close()
            writer2.close()
            r.proxy.set(ProxyMode.PASS)
            reader3, writer3 = await r.connect()
            writer3.write(b"ok")
            assert await reader3.readexactly(2) == b"ok"
            writer3.close()

    run(scenario)


def test_close_after_n_bytes_counts_both_ways_then_closes() -> None:
    async def scenario() -> None:
        async with rig() as r:
            reader, writer = await r.connect()
            r.proxy.set(ProxyMode.CLOSE_AFTER, nbytes=6)
            writer.write(b"abcd")  # 4 bytes out, then only 2 of the echo come back
            assert await reader.read() == b"ab"  # then an orderly close (EOF)
            await r.until(lambda: r.proxy.connections == 0, "the link closed")
            writer.close()

    run(scenario)


def test_bad_settings_are_refused() -> None:
    async def scenario() -> None:
        async with rig() as r:
            with pytest.raises(ValueError, match="ms must be"):
                r.proxy.set(ProxyMode.DELAY)
            with pytest.raises(ValueError, match="teleport"):
                r.proxy.set("teleport")
            assert r.proxy.setting.mode is ProxyMode.PASS

    run(scenario)


def test_the_control_routes_switch_the_proxy_and_refuse_bad_settings() -> None:
    async def scenario() -> None:
        async with rig() as r:
            control = web.Application()
            control_routes(r.proxy)(control)
            runner = web.AppRunner(control)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}/emulator/proxy"
            try:
                async with aiohttp.ClientSession() as http:
                    async with http.post(base, json={"mode": "delay", "ms": 50}) as response:
                        assert response.status == 200
                        assert (await response.json())["mode"] == "delay"
                    assert r.proxy.setting.mode is ProxyMode.DELAY
                    for bad in ({"mode": "teleport"}, {"mode": "delay"}, {"mode": "pass", "seconds": 1}, [1]):
                        async with http.post(base, json=bad) as response:
                            assert response.status == 400, bad
                    async with http.get(base) as response:
                        assert (await response.json())["ms"] == 50  # unchanged by the refused ones
            finally:
                await runner.cleanup()

    run(scenario)


def test_emulate_offers_a_proxy_port() -> None:
    assert "--proxy-port" in CliRunner().invoke(app, ["emulate", "--help"]).output
