"""Serving the API: inside a node's event loop (``paper|live --api``) or on its own (``serve``).

The node's loop runs the engine, the feeds and the API's handlers; uvicorn is one more task in it.
Signals stay the node's: uvicorn's own handlers would take Ctrl-C and SIGTERM away from the node's
orderly stop (journal flushed, orders cancelled), so they are not installed.

Binding beyond loopback is refused unless TLS is configured (RELIABILITY.md §5, S1): a token sent
in clear over a network is a token given away.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from spreadhawk.api.security import is_loopback

__all__ = ["ApiBindError", "ApiServer", "Listen", "check_listen"]


class ApiBindError(ValueError):
    """The API cannot listen as asked (one line)."""


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8470
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_cert is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def check_listen(listen: Listen) -> None:
    if not 0 < listen.port < 65_536:
        raise ApiBindError(f"--api-port must be in 1..65535, got {listen.port}")
    if (listen.tls_cert is None) != (listen.tls_key is None):
        raise ApiBindError("--api-tls-cert and --api-tls-key go together")
    for path in (listen.tls_cert, listen.tls_key):
        if path is not None and not path.is_file():
            raise ApiBindError(f"TLS file not found: {path}")
    if not is_loopback(listen.host) and listen.tls_cert is None:
        raise ApiBindError(
            f"refusing to serve the API on {listen.host} without TLS: bind 127.0.0.1 (the default), or give "
            "--api-tls-cert and --api-tls-key"
        )


class _NodeOwnedSignals(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the node handles SIGINT/SIGTERM (see the module docstring)


class ApiServer:
    """uvicorn serving ``app`` on ``listen``; ``await serve()`` until ``stop()``."""

    def __init__(self, app: FastAPI, listen: Listen) -> None:
        check_listen(listen)
        config = uvicorn.Config(
            app,
            host=listen.host,
            port=listen.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            ssl_certfile=str(listen.tls_cert) if listen.tls_cert is not None else None,
            ssl_keyfile=str(listen.tls_key) if listen.tls_key is not None else None,
            ws_max_size=64 * 1024,
            lifespan="on",
        )
        self.listen = listen
        self.server = _NodeOwnedSignals(config)

    async def serve(self) -> None:
        await self.server.serve()

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self) -> None:
        self.server.should_exit = True
