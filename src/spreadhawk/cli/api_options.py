"""The options every command that serves the API shares (``serve``, ``paper --api``, ``live --api``),
and turning them into the API's settings: where to listen, TLS, extra Host names, CORS origins and
the token file. Bad values are one-line errors naming the option."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from spreadhawk.cli.output import fail

if TYPE_CHECKING:
    from spreadhawk.api.node_api import NodeApiOptions
    from spreadhawk.persistence.run_store import RunStore

errors = Console(stderr=True)

ApiHost = Annotated[str, typer.Option("--api-host", help="address to listen on (loopback by default; others need TLS)")]
ApiPort = Annotated[int, typer.Option("--api-port", help="port of the API and dashboard")]
ApiTlsCert = Annotated[Path | None, typer.Option("--api-tls-cert", help="TLS certificate (PEM) for the API")]
ApiTlsKey = Annotated[Path | None, typer.Option("--api-tls-key", help="TLS private key (PEM) for the API")]
ApiHosts = Annotated[
    list[str] | None, typer.Option("--api-allow-host", help="another Host name the API answers (repeatable)")
]
ApiOrigins = Annotated[
    list[str] | None, typer.Option("--api-cors-origin", help="a web origin allowed to call the API (repeatable)")
]
ApiTokensFile = Annotated[
    Path | None,
    typer.Option("--api-tokens", help="token file (default ~/.spreadhawk/api_tokens.json, or $SPREADHAWK_API_TOKENS)"),
]


def api_options(
    host: str,
    port: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    extra_hosts: list[str] | None,
    origins: list[str] | None,
    tokens_file: Path | None,
) -> NodeApiOptions:
    """The API's settings, checked; the tokens made on first use (their file is said, never a token)."""
    from spreadhawk.api.app import ApiSettings  # noqa: PLC0415 (fastapi: only when the API is asked for)
    from spreadhawk.api.auth import TokenError, default_tokens_path, load_or_create_tokens  # noqa: PLC0415
    from spreadhawk.api.node_api import NodeApiOptions  # noqa: PLC0415
    from spreadhawk.api.server import ApiBindError, Listen, check_listen  # noqa: PLC0415
    from spreadhawk.keystore.store import KeystoreError  # noqa: PLC0415

    listen = Listen(host, port, tls_cert, tls_key)
    try:
        check_listen(listen)
    except ApiBindError as exc:
        fail(str(exc))
    path = tokens_file or default_tokens_path()
    try:
        tokens, created = load_or_create_tokens(path)
    except (TokenError, KeystoreError) as exc:
        fail(str(exc))
    if created:
        errors.print(
            f"API tokens created in {escape(str(path))} (mode 600): 'read' for the dashboard, 'trade' for commands",
            highlight=False,
            soft_wrap=True,
        )
    settings = ApiSettings(bind_host=host, extra_hosts=list(extra_hosts or []), cors_origins=list(origins or []))
    return NodeApiOptions(tokens, listen, settings)


ApiFlag = Annotated[bool, typer.Option("--api", help="serve the API and dashboard while the node runs")]


def node_companion(mode: str, journal: Path, store: RunStore, options: NodeApiOptions) -> Callable[[Any], Any]:
    """What runs beside the node for its session: its API (see ``runtime.paper_service.Companion``)."""

    def start(node: Any) -> Any:
        from spreadhawk.api.node_api import control_for, node_api  # noqa: PLC0415

        control = control_for(node, mode, journal)  # before the node's first message: the scanner sees it all
        errors.print(f"API and dashboard on {options.listen.url}/", highlight=False)
        return node_api(control, store, options)

    return start
