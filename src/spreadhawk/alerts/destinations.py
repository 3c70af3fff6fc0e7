"""Where alerts go: apprise URLs from ``SPREADHAWK_ALERTS`` and/or a private file (``--alerts FILE``).

Every URL is checked through apprise at startup; a bad one is a one-line error naming where it was
(``SPREADHAWK_ALERTS entry 2``), never what it says.

No request may be aimed inside the machine or its network (RELIABILITY.md §5, S12: a webhook URL is
a server-side request): a destination whose host is a loopback, private, link-local or reserved
address -- ``json://127.0.0.1/...``, the cloud metadata address 169.254.169.254 -- is refused unless
``SPREADHAWK_ALERTS_ALLOW_LOCAL=1`` says a local relay is meant (the tests' stub servers are).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from spreadhawk.alerts.secrets import AlertConfigError, describe, protect, read_private, split_urls

ENV_VAR = "SPREADHAWK_ALERTS"
ALLOW_LOCAL_VAR = "SPREADHAWK_ALERTS_ALLOW_LOCAL"


@dataclass(frozen=True, slots=True)
class Destination:
    """One apprise URL (a secret: not in ``repr``) and where it was given."""

    url: str = field(repr=False)
    origin: str  # "SPREADHAWK_ALERTS entry 1", "alerts file entry 3"

    @property
    def described(self) -> str:
        return f"{describe(self.url)} ({self.origin})"

    def __str__(self) -> str:
        return self.described


def load_destinations(environ: Mapping[str, str], path: Path | None = None) -> list[Destination]:
    """The destinations named by ``environ[SPREADHAWK_ALERTS]`` and the file ``path``, each once,
    each valid; none when neither is given."""
    found: list[Destination] = []
    for number, url in enumerate(split_urls(environ.get(ENV_VAR, "")), start=1):
        found.append(Destination(url, f"{ENV_VAR} entry {number}"))
    if path is not None:
        for number, url in enumerate(split_urls(read_private(path)), start=1):
            found.append(Destination(url, f"alerts file entry {number}"))
        if not any(d.origin.startswith("alerts file") for d in found):
            raise AlertConfigError(f"alerts file {path} names no destination")
    for destination in found:
        protect(destination.url)  # before anything could log it
    if environ.get(ALLOW_LOCAL_VAR) != "1":
        _refuse_inside(found)
    if found:
        from spreadhawk.alerts.notifier import is_valid  # noqa: PLC0415 (apprise loads slowly)

        for destination in found:
            if not is_valid(destination.url):
                raise AlertConfigError(
                    f"{destination.origin} is not a URL apprise can send to "
                    "(check its scheme and the fields that service needs)"
                )
    unique: dict[str, Destination] = {}
    for destination in found:
        unique.setdefault(destination.url, destination)
    return list(unique.values())


def _refuse_inside(found: list[Destination]) -> None:
    for destination in found:
        if _inside(destination.url):
            raise AlertConfigError(
                f"{destination.origin} points inside this machine or its network (a loopback, private or "
                f"link-local address): refused; set {ALLOW_LOCAL_VAR}=1 if a local relay is meant"
            )


def _inside(url: str) -> bool:
    """Whether ``url``'s host is an address inside the machine or its network (names are not
    resolved: a host name is an outside service's, as apprise's own services are)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local or address.is_reserved
