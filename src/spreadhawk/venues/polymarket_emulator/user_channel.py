"""The user channel ``/ws/user``: our orders' and trades' events, as Polymarket pushes them.

The client subscribes with ``{"auth": {"apiKey", "secret", "passphrase"}, "type": "user",
"markets": [condition ids]}`` (no markets = all); wrong credentials close the socket with code 4001
and reason ``Unauthorized``. Then ``order`` events (PLACEMENT / UPDATE / CANCELLATION) and ``trade``
events (MATCHED, MINED, CONFIRMED) of that API key's orders in those markets. A text ``PING`` is
answered ``PONG`` (Polymarket's keep-alive). ``drop_handler`` serves ``POST /emulator/user-channel/drop``:
every user-channel socket is closed (code 1012, "service restart"), as a network fault would, for
tests of the client's reconnect and catch-up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from spreadhawk.venues.polymarket_emulator.trading_auth import AuthError

if TYPE_CHECKING:
    from spreadhawk.venues.polymarket_emulator.trading_exchange import PolymarketTradingExchange

__all__ = ["UserSockets", "user_channel_handler"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class UserSockets:
    """The open user-channel sockets, so a fault can drop them."""

    def __init__(self) -> None:
        self.open: set[web.WebSocketResponse] = set()

    async def drop(self, request: web.Request) -> web.Response:
        del request
        dropped = len(self.open)
        for socket in list(self.open):
            await socket.close(code=1012, message=b"dropped by the emulator")
        return web.json_response({"dropped": dropped})


def _subscription(text: str) -> tuple[dict[str, str], list[str]] | None:
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return None
    auth, markets = message.get("auth") if isinstance(message, dict) else None, None
    if isinstance(message, dict):
        markets = message.get("markets", [])
    if not isinstance(auth, dict) or message.get("type") != "user" or not isinstance(markets, list):
        return None
    return {k: str(auth.get(k, "")) for k in ("apiKey", "secret", "passphrase")}, [str(m) for m in markets]


def user_channel_handler(exchange: PolymarketTradingExchange, sockets: UserSockets) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        first = await socket.receive()
        subscription = _subscription(first.data) if first.type is WSMsgType.TEXT else None
        if subscription is None:
            await socket.close(code=4000, message=b"invalid subscription")
            return socket
        auth, markets = subscription
        try:
            creds = exchange.auth.by_secret(auth["apiKey"], auth["secret"], auth["passphrase"])
        except AuthError:
            await socket.close(code=4001, message=b"Unauthorized")
            return socket
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def listener(api_key: str, event: dict[str, Any]) -> None:
            if api_key == creds.api_key and (not markets or event.get("market") in markets):
                queue.put_nowait(event)

        exchange.user_listeners.append(listener)
        sockets.open.add(socket)
        sender = asyncio.create_task(_send(socket, queue))
        try:
            async for message in socket:
                if message.type is WSMsgType.TEXT and message.data == "PING":
                    await socket.send_str("PONG")
        finally:
            sockets.open.discard(socket)
            exchange.user_listeners.remove(listener)
            sender.cancel()
        return socket

    return handler


async def _send(socket: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any]]) -> None:
    while not socket.closed:
        await socket.send_str(json.dumps(await queue.get()))
