"""R2 fault proxy (RELIABILITY.md §4.1): an asyncio TCP proxy on 127.0.0.1 in front of the emulator.

A client (ccxt, REST and websockets alike) is pointed at the proxy's port; every byte goes through
two pumps per connection (client -> exchange "requests", exchange -> client "responses"), and each
pump asks the proxy's *current* mode before it forwards a chunk, so switching the mode acts on the
connections already open as well as on new ones.

===============  ==========================================================================
``pass``         bytes go through untouched
``delay``        every chunk is held ``ms`` milliseconds before it is forwarded (order kept)
``blackhole``    a partition: connections are accepted, nothing is forwarded either way;
                 the bytes are held, not lost, and flow again when the mode changes (as TCP
                 would retransmit them after a partition heals) unless a side gives up first
``drop_responses`` one-way loss: requests reach the exchange, its answers are discarded
``reset``        every connection is closed with a TCP RST (SO_LINGER 0), new ones at once
``close_after``  a connection is closed (FIN) after ``nbytes`` more bytes, counted both ways
===============  ==========================================================================

Use it in-process: ``async with FaultProxy(port_of_emulator) as proxy: proxy.set(ProxyMode.RESET)``,
or from outside through the emulator (``spreadhawk emulate --proxy-port``): ``control_routes`` adds
``POST /emulator/proxy`` (``{"mode": "delay", "ms": 200}``) and ``GET /emulator/proxy``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any

from aiohttp import web

__all__ = ["FaultProxy", "ProxyMode", "ProxySetting", "control_routes"]

log = logging.getLogger(__name__)

_CHUNK = 65536


class ProxyMode(StrEnum):
    PASS = "pass"
    DELAY = "delay"
    BLACKHOLE = "blackhole"
    DROP_RESPONSES = "drop_responses"
    RESET = "reset"
    CLOSE_AFTER = "close_after"


@dataclass(frozen=True, slots=True)
class ProxySetting:
    mode: ProxyMode = ProxyMode.PASS
    ms: int = 0  # delay
    nbytes: int = 0  # close_after

    def __post_init__(self) -> None:
        if self.mode is ProxyMode.DELAY and self.ms <= 0:
            raise ValueError("delay: ms must be a positive number of milliseconds")
        if self.mode is ProxyMode.CLOSE_AFTER and self.nbytes < 0:
            raise ValueError("close_after: nbytes must be >= 0")


class _Link:
    """One proxied connection: the client's stream pair and the exchange's."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.writers = (client, upstream)
        self.budget: int | None = None  # close_after: bytes left
        self.closed = asyncio.Event()

    def reset(self) -> None:
        """Abort both sides with an RST: SO_LINGER 0 makes close() discard and send RST, not FIN."""
        for writer in self.writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        self.closed.set()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
        self.closed.set()


class FaultProxy:
    """Forwards ``host:port`` (0: a free port) to ``upstream_host:upstream_port`` under a switchable mode."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1", host: str = "127.0.0.1",
                 port: int = 0) -> None:  # fmt: skip
        self.upstream = (upstream_host, upstream_port)  # settable until a connection needs it
        self._host, self._requested_port = host, port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._setting = ProxySetting()
        self._changed = asyncio.Condition()
        self.port = 0
        self.accepted = 0  # connections accepted since start (tests wait on reconnects with it)

    # --- control ------------------------------------------------------------------------
    @property
    def setting(self) -> ProxySetting:
        return self._setting

    def set(self, mode: ProxyMode | str, *, ms: int = 0, nbytes: int = 0) -> None:
        """Switch the mode now, for open connections and new ones."""
        self._setting = ProxySetting(ProxyMode(mode), ms, nbytes)
        log.info("fault proxy :%d -> %s", self.port, self._setting)
        for link in list(self._links):
            self._apply(link)
        self._tasks_notify()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._links)

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self._host, self._requested_port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- connections --------------------------------------------------------------------
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError as exc:
            log.warning("fault proxy: upstream %s:%d unreachable (%s)", *self.upstream, exc)
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        self._apply(link)
        pumps = [
            self._spawn(self._pump(link, reader, up_writer, response=False)),
            self._spawn(self._pump(link, up_reader, writer, response=True)),
        ]
        try:
            await link.closed.wait()
        finally:
            self._links.discard(link)
            for pump in pumps:
                pump.cancel()

    def _apply(self, link: _Link) -> None:
        """What a mode does at once to an open connection."""
        mode = self._setting.mode
        if mode is ProxyMode.RESET:
            link.reset()
        elif mode is ProxyMode.CLOSE_AFTER:
            link.budget = self._setting.nbytes
            if link.budget == 0:
                link.close()
        else:
            link.budget = None

    async def _pump(self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    response: bool) -> None:  # fmt: skip
        try:
            while data := await reader.read(_CHUNK):
                await self._forward(link, data, writer, response=response)
                if link.closed.is_set():
                    return
        except (ConnectionError, OSError):
            pass
        if not link.closed.is_set():
            link.close()  # one side hung up: so does the other (FIN), as a plain proxy would

    async def _forward(self, link: _Link, data: bytes, writer: asyncio.StreamWriter, *, response: bool) -> None:
        async with self._changed:  # a partition holds the bytes until the mode changes
            await self._changed.wait_for(lambda: self._setting.mode is not ProxyMode.BLACKHOLE)
        setting = self._setting
        if setting.mode is ProxyMode.DELAY:
            await asyncio.sleep(setting.ms / 1000)  # a network delay, in real time
        elif setting.mode is ProxyMode.DROP_RESPONSES and response:
            return
        elif setting.mode is ProxyMode.RESET:
            return  # the link is being reset
        if link.budget is not None:
            data = data[: link.budget]
            link.budget -= len(data)
        writer.write(data)
        await writer.drain()
        if link.budget == 0:
            link.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work, name="fault-proxy")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _tasks_notify(self) -> None:
        """Wake the pumps held by a partition (from sync code: through a task)."""

        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        with contextlib.suppress(RuntimeError):  # no running loop: nothing can be waiting
            self._spawn(notify())


def control_routes(proxy: FaultProxy) -> Callable[[web.Application], None]:
    """What adds ``GET/POST /emulator/proxy`` to an app (the emulator's: its port is never proxied)."""

    def describe() -> dict[str, Any]:
        setting = proxy.setting
        return {"mode": str(setting.mode), "ms": setting.ms, "nbytes": setting.nbytes, "port": proxy.port}

    async def show(request: web.Request) -> web.Response:
        return web.json_response(describe())

    async def switch(request: web.Request) -> web.Response:
        try:
            raw = await request.json()
            if not isinstance(raw, dict) or set(raw) - {"mode", "ms", "nbytes"}:
                raise ValueError("expected a JSON object with mode, and ms or nbytes")
            proxy.set(str(raw.get("mode")), ms=int(raw.get("ms", 0)), nbytes=int(raw.get("nbytes", 0)))
        except (ValueError, TypeError) as exc:  # ValueError covers malformed JSON and unknown modes
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(describe())

    def add(app: web.Application) -> None:
        app.router.add_get("/emulator/proxy", show)
        app.router.add_post("/emulator/proxy", switch)

    return add
