"""What every command prints on failure: one line on stderr naming the problem, exit code 2, never a
traceback, and never a secret -- a password in a database URL (``postgresql://user:pw@host/db``)
comes back from the driver in its own messages as well as from the user's ``--db``."""

from __future__ import annotations

import re
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["errors", "fail", "redact"]

errors = Console(stderr=True)

# scheme://user:password@  ->  scheme://user:***@
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)")
# key=value forms drivers echo: password=..., pwd=...
_PASSWORD_PARAM = re.compile(r"\b(password|passwd|pwd)=([^\s&;'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the passwords of URLs and ``password=`` parameters replaced by ``***``."""
    return _PASSWORD_PARAM.sub(r"\1=***", _URL_PASSWORD.sub(r"\1***\3", text))


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[red]error:[/red] {escape(redact(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
