"""The API's guards (RELIABILITY.md §5): bearer tokens with two scopes (S3, S4), a Host allow-list
against DNS rebinding and a CORS allow-list (S7), a cap on request bodies (S10), and the rule that a
non-loopback bind needs TLS (S1).

Tokens travel in the ``Authorization`` header only. A request without one, or with an unknown one,
gets 401; a read token on a state change gets 403. Every route needs a token except ``/health`` and
the dashboard's static files (which carry no data: the page asks for a token before it reads any).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from spreadhawk.api.auth import ApiTokens, Scope

__all__ = ["MAX_BODY_BYTES", "BodyLimit", "Caller", "FailedTokens", "allowed_hosts", "is_loopback", "require"]

MAX_BODY_BYTES = 64 * 1024  # the largest command is a few hundred bytes
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


class Caller:
    """Who made a request: the scope their token grants and where they came from (for the audit)."""

    def __init__(self, scope: Scope, client: str) -> None:
        self.scope = scope
        self.client = client

    @property
    def who(self) -> str:
        return f"api:{self.scope.value}@{self.client}"


_BEARER = HTTPBearer(auto_error=False, description="the read token, or the trade token for state changes")
MAX_FAILURES = 20  # wrong or missing tokens per client per window, then 429 until the window passes
FAILURE_WINDOW_S = 60.0


class FailedTokens:
    """Guessing a token is made slow (S5): a client that presents more than ``MAX_FAILURES`` wrong
    tokens in ``FAILURE_WINDOW_S`` is refused with 429, whatever it presents, until its oldest failure
    leaves the window. Wall time (``time.monotonic``): this guards the API, no trading decision reads it."""

    def __init__(self, limit: int = MAX_FAILURES, now: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._now = now
        self._failures: dict[str, deque[float]] = {}

    def wait_s(self, client: str) -> float:
        """How long ``client`` must wait before presenting a token again (0: it may now)."""
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        now = self._now()
        while failures and failures[0] <= now - FAILURE_WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        return failures[0] + FAILURE_WINDOW_S - now if len(failures) >= self.limit else 0.0

    def failed(self, client: str) -> None:
        self._failures.setdefault(client, deque()).append(self._now())
        if len(self._failures) > 10_000:  # a flood of addresses must not grow this without bound
            self._failures.pop(next(iter(self._failures)))


def require(tokens: ApiTokens, needed: Scope, failures: FailedTokens) -> Callable[..., Caller]:
    """A FastAPI dependency: the caller, when their bearer token grants ``needed`` (declared as an
    HTTP bearer scheme, so the OpenAPI document says what each operation needs)."""

    def check(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_BEARER)) -> Caller:  # noqa: B008
        client = request.client.host if request.client is not None else "?"
        wait = failures.wait_s(client)
        if wait > 0:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS, "too many wrong tokens", {"Retry-After": str(math.ceil(wait))}
            )
        presented = credentials.credentials if credentials is not None else ""
        granted = tokens.scope_of(presented) if presented else None
        if granted is None:
            failures.failed(client)
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "a valid bearer token is needed", {"WWW-Authenticate": "Bearer"}
            )
        if needed is Scope.TRADE and granted is not Scope.TRADE:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the trade token; the read token only reads")
        return Caller(granted, client)

    return check


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: list[str] | None = None) -> list[str]:
    """Host headers the API answers: the loopback names, the bound address, and what the operator adds."""
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"]
    if bind_host not in hosts and bind_host not in ("0.0.0.0", "::"):
        hosts.append(bind_host)
    return hosts + list(extra or [])


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, whether it says its length or streams it."""

    def __init__(self, app: App, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLargeError:
            await _too_large(send, self.limit)


class _BodyTooLargeError(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body over {limit} bytes"}}'.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
