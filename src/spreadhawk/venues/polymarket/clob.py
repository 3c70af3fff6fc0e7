"""py-clob-client, off the event loop: every call of the synchronous client runs in an executor.

``ClobClient`` is blocking (httpx); the engine's loop must never wait on it, so each call goes to a
thread pool and is awaited. Its errors become ``PolymarketApiError`` (HTTP status and Polymarket's
``error`` text), one line each; 401 becomes ``PolymarketAuthError``, which names the likely cause.
No credential ever appears in a message.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from py_clob_client.client import ClobClient  # type: ignore[import-untyped]
from py_clob_client.clob_types import ApiCreds, RequestArgs  # type: ignore[import-untyped]
from py_clob_client.exceptions import PolyApiException  # type: ignore[import-untyped]
from py_clob_client.headers.headers import create_level_2_headers  # type: ignore[import-untyped]
from py_clob_client.http_helpers.helpers import post  # type: ignore[import-untyped]

from spreadhawk.venues.circuit import CircuitBreaker, CircuitOpen

__all__ = ["REDEEM_PATH", "AsyncClob", "PolymarketApiError", "PolymarketAuthError", "PolymarketCircuitOpenError"]

T = TypeVar("T")
UNAUTHORIZED = 401
SERVER_ERROR = 500
REDEEM_PATH = "/emulator/redeem"  # the emulator's stand-in for redeeming on chain (see venue.redeem)


class PolymarketApiError(Exception):
    """The CLOB answered with an error (``status`` None: no answer at all)."""

    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(f"polymarket: HTTP {status}: {message}" if status else f"polymarket: no answer: {message}")
        self.status = status
        self.message = message


class PolymarketAuthError(PolymarketApiError):
    """401: the CLOB refused our credentials."""


class PolymarketCircuitOpenError(PolymarketApiError, CircuitOpen):
    """Refused here, not sent: the client's breaker is open after requests that got no answer (a
    definite rejection for an order, unlike a lost answer)."""

    def __init__(self, message: str) -> None:
        PolymarketApiError.__init__(self, None, message)

    def __str__(self) -> str:
        return f"polymarket: not sent: {self.message}"


def _error(exc: PolyApiException) -> PolymarketApiError:
    detail = exc.error_msg.get("error", exc.error_msg) if isinstance(exc.error_msg, dict) else exc.error_msg
    if exc.status_code == UNAUTHORIZED:
        why = f"{detail}: the CLOB refused our credentials (wrong wallet key, API key, secret or passphrase)"
        return PolymarketAuthError(UNAUTHORIZED, why)
    return PolymarketApiError(exc.status_code, str(detail))


class AsyncClob:
    """A ``ClobClient`` whose calls are awaited from the event loop."""

    def __init__(
        self,
        host: str,
        chain_id: int,
        key: str,
        creds: ApiCreds | None,
        signature_type: int,
        funder: str,
        breaker: CircuitBreaker | None = None,
    ):
        self.client = ClobClient(
            host, chain_id=chain_id, key=key, creds=creds, signature_type=signature_type, funder=funder
        )
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="polymarket-clob")
        # seed 004's breaker: 5 requests in a row with no answer (network, timeout, 5xx) open it for
        # 30 s (nothing is sent, the venue HALTED), then 3 answered trials close it
        self.breaker = breaker or CircuitBreaker(host, open_error=PolymarketCircuitOpenError)

    async def call(self, method: Callable[..., T], *args: Any) -> T:
        self.breaker.before_request()
        loop = asyncio.get_running_loop()
        try:
            answer = await loop.run_in_executor(self._pool, functools.partial(method, *args))
        except PolyApiException as exc:
            error = _error(exc)
            if error.status is None or error.status >= SERVER_ERROR:
                self.breaker.on_failure(str(error)[:200])
            else:
                self.breaker.on_success()  # an answer, even a refusal: the connection works
            raise error from None
        self.breaker.on_success()
        return answer

    async def authenticate(self) -> None:
        """L1: create (or derive) the API credentials when none were given."""
        if self.client.creds is None:
            creds = await self.call(self.client.create_or_derive_api_creds)
            if creds is None:
                raise PolymarketAuthError(
                    UNAUTHORIZED, "no API credentials from /auth: the wallet signature was refused"
                )
            self.client.set_api_creds(creds)

    @property
    def creds(self) -> ApiCreds:
        return self.client.creds

    async def post_l2(self, path: str, body: dict[str, Any]) -> Any:
        """An L2-signed POST of an endpoint py-clob-client does not know (the emulator's redeem)."""
        serialized = json.dumps(body, separators=(",", ":"))
        args = RequestArgs(method="POST", request_path=path, body=body, serialized_body=serialized)
        headers = create_level_2_headers(self.client.signer, self.client.creds, args)
        return await self.call(post, f"{self.client.host}{path}", headers, serialized)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
