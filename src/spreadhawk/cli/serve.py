"""``spreadhawk serve``: the API and dashboard over the run store alone (no running node): stored
runs, their metrics and their reports. A node serves the same API with its live state through
``spreadhawk paper|live --api``."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from spreadhawk.cli.api_options import (
    ApiHost,
    ApiHosts,
    ApiOrigins,
    ApiPort,
    ApiTlsCert,
    ApiTlsKey,
    ApiTokensFile,
    api_options,
)
from spreadhawk.cli.output import fail

errors = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    db: Annotated[
        str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
    ] = "spreadhawk.db",
    host: ApiHost = "127.0.0.1",
    port: ApiPort = 8470,
    tls_cert: ApiTlsCert = None,
    tls_key: ApiTlsKey = None,
    allow_host: ApiHosts = None,
    cors_origin: ApiOrigins = None,
    tokens: ApiTokensFile = None,
) -> None:
    """Serve the stored runs over the API (and the dashboard) until Ctrl-C."""
    from spreadhawk.api.app import create_app  # noqa: PLC0415 (fastapi: seconds)
    from spreadhawk.api.server import ApiServer  # noqa: PLC0415
    from spreadhawk.cli.main import _store  # noqa: PLC0415 (main imports this module)

    options = api_options(host, port, tls_cert, tls_key, allow_host, cors_origin, tokens)
    with _store(db) as store:
        server = ApiServer(create_app(options.tokens, store=store, settings=options.settings), options.listen)
        errors.print(f"serving the run store {escape(str(db))} on {options.listen.url}", highlight=False)

        async def run() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, server.stop)
            await server.serve()

        try:
            asyncio.run(run())
        except OSError as exc:
            fail(f"cannot serve on {options.listen.url}: {exc.strerror or exc}")
