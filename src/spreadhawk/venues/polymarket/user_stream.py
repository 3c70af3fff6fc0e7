"""The user channel client: our orders' and trades' events, with reconnect and a REST catch-up.

One session: connect to ``/ws/user``, subscribe with the API credentials and the markets' condition
ids, run the REST catch-up (trades and open orders, ``catch_up``), then hand every event to
``on_event`` while sending Polymarket's text ``PING`` keep-alive every ``ping_s``. A dropped socket,
a close by the server or a stalled one (no ``PONG`` or event for ``stall_s``) ends the session: the
next starts after a backoff and catches up again, so nothing missed while down is lost (fills are
deduplicated by trade id). Until the catch-up of the current session is done the stream is not
``live`` and the venue refuses submits (its view of the account may be behind).

A frame that is not JSON, or an event ``on_event`` cannot read (it raises ``ValueError``), is logged
in one line -- what is wrong, then the raw frame cut to 200 characters -- and skipped: it changes no
state and never ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

__all__ = ["UserChannel"]

log = logging.getLogger(__name__)

AUTH_REFUSED = 4001  # the emulator's (and our reading of Polymarket's) close code for bad credentials


class UserChannel:
    def __init__(
        self,
        name: str,
        url: str,
        subscription: Callable[[], dict[str, Any]],
        on_event: Callable[[dict[str, Any]], None],
        catch_up: Callable[[], Awaitable[None]],
        *,
        backoff: tuple[float, float] = (0.05, 2.0),
        ping_s: float = 10.0,
        stall_s: float = 30.0,
    ) -> None:
        self.name = name
        self.url = url
        self._subscription = subscription
        self._on_event = on_event
        self._catch_up = catch_up
        self._backoff = backoff
        self.ping_s = ping_s
        self.stall_s = stall_s
        self.state = "connecting"
        self.sessions = 0
        self.skipped = 0  # frames that could not be read

    @property
    def live(self) -> bool:
        return self.state == "live"

    @property
    def reconnects(self) -> int:
        return max(0, self.sessions - 1)

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._session()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code == AUTH_REFUSED:
                    log.error("venue %s: the user channel refused our credentials (close %s)", self.name, code)
                else:
                    log.warning("venue %s: user channel closed (%s); reconnecting", self.name, code)
            except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
                log.warning("venue %s: user channel: %s: %s; reconnecting", self.name, type(exc).__name__, exc)
            self.state = "reconnecting"
            delay = min(self._backoff[1], self._backoff[0] * 2 ** min(attempt, 30))
            attempt += 1
            await asyncio.sleep(delay)  # noqa: TID251 -- a reconnect backoff in real time

    async def _session(self) -> None:
        self.state = "connecting"
        async with websockets.connect(self.url, open_timeout=10, ping_interval=None) as socket:
            await socket.send(json.dumps(self._subscription()))
            self.sessions += 1
            self.state = "catching up"
            await self._catch_up()
            self.state = "live"
            pinger = asyncio.get_running_loop().create_task(self._ping(socket))
            try:
                while True:
                    frame = await asyncio.wait_for(socket.recv(), self.stall_s)
                    self._frame(frame if isinstance(frame, str) else frame.decode(errors="replace"))
            finally:
                pinger.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinger

    async def _ping(self, socket: Any) -> None:
        while True:
            await asyncio.sleep(self.ping_s)  # noqa: TID251 -- Polymarket's keep-alive, in real time
            await socket.send("PING")

    def _frame(self, frame: str) -> None:
        if frame == "PONG":
            return
        try:
            message = json.loads(frame)
        except json.JSONDecodeError:
            self._skip("not JSON", frame)
            return
        for event in message if isinstance(message, list) else [message]:
            if not isinstance(event, dict):
                self._skip("an event that is not an object", frame)
                continue
            try:
                self._on_event(event)
            except ValueError as exc:
                self._skip(str(exc), frame)

    def _skip(self, why: str, frame: str) -> None:
        self.skipped += 1
        log.error("venue %s: user channel message skipped: %s: %s", self.name, why, frame[:200])
