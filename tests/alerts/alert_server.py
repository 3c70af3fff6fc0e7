"""A local stand-in for Telegram/Slack: a real HTTP server on 127.0.0.1, reached through apprise's
``json://`` URL. It answers 200 (``ok``), 429 with Telegram's flood-control body and a Retry-After
(``429``), or accepts the request and never answers (``hang``) until the test ends."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    payload: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.payload.get("title", ""))

    @property
    def body(self) -> str:
        return str(self.payload.get("message", ""))


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.received: list[Received] = []
        self.release = threading.Event()  # set at the end: hanging requests may finish

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, path: str = "alerts", auth: str = "") -> str:
        """An apprise URL for this server."""
        return f"json://{auth + '@' if auth else ''}127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.received)


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length else b"{}"
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"raw": raw.decode("utf-8", "replace")}
        self.server.received.append(Received(time.monotonic(), self.path, payload))
        mode = self.server.mode
        if mode == "hang":
            self.server.release.wait(60)  # accepted, read, never answered (until the test ends)
            return
        if mode == "429":
            body = b'{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5",'
            body += b'"parameters":{"retry_after":5}}'
            self.send_response(429)
            self.send_header("Retry-After", "5")
        else:
            body = b'{"ok":true}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``received``."""


@contextmanager
def stub_server(mode: str) -> Iterator[StubServer]:
    server = StubServer(mode)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
