"""Credentials whose secret parts cannot leak by accident (RELIABILITY.md S17).

Redaction is by allow-list: an ``ApiCredentials`` shows its exchange and account and nothing else,
whatever prints it (``repr``, ``str``, f-strings, ``%``-formatting in ``logging``, tracebacks that
render locals through ``repr``). The secret values come out only through ``Secret.reveal()``, so
every place that needs one is a grep away.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import NoReturn

MASK = "**********"


class Secret:
    """A string that never prints itself; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        # Constant time, so comparing against a guess does not time the length of the common prefix.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        raise TypeError("Secret is unhashable: a hash is a fingerprint of the secret")

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> NoReturn:
        # A pickle is a plaintext copy on disk or over a pipe; secrets travel only through the key store.
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """One exchange account's API credentials; ``passphrase`` is the third factor some venues (OKX,
    Coinbase, KuCoin) require."""

    exchange: str
    account: str
    api_key: Secret = field(repr=False)
    api_secret: Secret = field(repr=False)
    passphrase: Secret | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("api_key", "api_secret"):
            if not isinstance(getattr(self, name), Secret):
                raise TypeError(f"ApiCredentials.{name} must be a Secret")
        if self.passphrase is not None and not isinstance(self.passphrase, Secret):
            raise TypeError("ApiCredentials.passphrase must be a Secret or None")

    def fields(self) -> dict[str, Secret]:
        """The secret fields present, by their key store name."""
        out = {"api_key": self.api_key, "api_secret": self.api_secret}
        if self.passphrase is not None:
            out["passphrase"] = self.passphrase
        return out

    def __str__(self) -> str:
        return repr(self)

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __reduce__(self) -> NoReturn:
        raise TypeError("ApiCredentials cannot be pickled")
