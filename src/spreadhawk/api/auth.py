"""Who may read and who may act: two bearer tokens, ``read`` (the dashboard, every GET) and
``trade`` (every state change: kill switch, strategy toggles, limits, regime override).

There is no default secret (RELIABILITY.md §5, S2). The tokens are generated on first use (32
random bytes each, URL-safe) into a file only its owner can read (``~/.spreadhawk/api_tokens.json``,
or ``$SPREADHAWK_API_TOKENS``); a file readable by others, a token shorter than 32 characters or a
well-known default ("super-secret", "changeme", ...) is refused, and the API does not start.
Tokens are compared in constant time and travel in the ``Authorization`` header (never in a URL,
which access logs keep); the WebSocket sends its token in its first message.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from spreadhawk.keystore.store import write_private

__all__ = ["TOKENS_ENV", "ApiTokens", "Scope", "TokenError", "default_tokens_path", "load_or_create_tokens"]

TOKENS_ENV = "SPREADHAWK_API_TOKENS"
MIN_TOKEN_CHARS = 32
KNOWN_DEFAULTS = frozenset(
    {"super-secret", "secret", "changeme", "change-me", "password", "admin", "token", "test", "spreadhawk"}
)


class TokenError(ValueError):
    """The API's tokens cannot be used (one line, never the token itself)."""


class Scope(StrEnum):
    READ = "read"
    TRADE = "trade"


@dataclass(frozen=True, repr=False)
class ApiTokens:
    read: str
    trade: str

    def __repr__(self) -> str:  # never print a token, whatever prints this
        return "ApiTokens(read=***, trade=***)"

    def scope_of(self, presented: str) -> Scope | None:
        """The scope ``presented`` grants (trade includes read), or None. Constant time for each token."""
        if secrets.compare_digest(presented.encode(), self.trade.encode()):
            return Scope.TRADE
        if secrets.compare_digest(presented.encode(), self.read.encode()):
            return Scope.READ
        return None


def default_tokens_path() -> Path:
    configured = os.environ.get(TOKENS_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".spreadhawk" / "api_tokens.json"


def load_or_create_tokens(path: Path) -> tuple[ApiTokens, bool]:
    """The tokens in ``path`` (created with fresh random tokens if absent); True when just created."""
    if not path.exists():
        tokens = ApiTokens(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        write_private(path, json.dumps({"read": tokens.read, "trade": tokens.trade}, indent=2).encode())
        return tokens, True
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise TokenError(f"{path} can be read by other users (mode {mode & 0o777:o}): chmod 600 {path}")
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TokenError(f"cannot read the API tokens in {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise TokenError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}): delete it to make new tokens") from None
    if not isinstance(document, dict):
        raise TokenError(f"{path} must hold an object with 'read' and 'trade' tokens")
    tokens = ApiTokens(_checked(document, "read", path), _checked(document, "trade", path))
    if secrets.compare_digest(tokens.read, tokens.trade):
        raise TokenError(f"{path}: the read and trade tokens must differ")
    return tokens, False


def _checked(document: dict[str, object], scope: str, path: Path) -> str:
    token = document.get(scope)
    if not isinstance(token, str):
        raise TokenError(f"{path}: no '{scope}' token")
    if token.strip().lower() in KNOWN_DEFAULTS or len(token) < MIN_TOKEN_CHARS:
        raise TokenError(f"{path}: the '{scope}' token is a default or shorter than {MIN_TOKEN_CHARS} characters")
    return token
