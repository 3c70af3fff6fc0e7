"""The OS keyring as an alternative key-encryption key source (RELIABILITY.md S14, S15).

The keyring holds one random 256-bit master key; each entry's KEK is HKDF(master, the entry's salt),
so the file keeps the same envelope as under a passphrase. ``keyring`` is not a dependency: it is
used only when importable with a real backend (macOS Keychain, Windows Credential Locker,
SecretService). Without one there is no keyring mode at all, and the fallback is the passphrase KEK,
never a plaintext file.

Caveat (S15): on macOS any script run by the same Python interpreter can read the item without a
prompt, so the keyring protects against other users and stolen disks, not against code you run.
That is why the CLI asks for it explicitly (``--keyring``) rather than preferring it silently.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
from typing import Protocol

from spreadhawk.keystore.crypto import KEY_BYTES

SERVICE = "spreadhawk"
USERNAME = "keystore-master-key"
# Backends that exist but store nothing, or store it in a plain file: not a keyring for our purpose.
_UNUSABLE = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt.file")


class KeyringBackend(Protocol):
    """The two calls of the ``keyring`` module we use; tests pass an in-memory one."""

    def get_password(self, service_name: str, username: str) -> str | None: ...

    def set_password(self, service_name: str, username: str, password: str) -> None: ...


class KeyringUnavailableError(Exception):
    pass


def os_keyring() -> KeyringBackend | None:
    """The ``keyring`` module if it is installed with a usable backend, else None."""
    try:
        module = importlib.import_module("keyring")
        backend = module.get_keyring()
    except Exception:  # a missing or broken keyring install (any error) means: no keyring
        return None
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if name.startswith(_UNUSABLE) or getattr(backend, "priority", 0) <= 0:
        return None
    keyring: KeyringBackend = module
    return keyring


def master_key(backend: KeyringBackend, service: str, username: str, *, create: bool) -> bytes:
    """The master key held in the keyring; with ``create``, a new random one when there is none."""
    stored = backend.get_password(service, username)
    if stored is None:
        if not create:
            raise KeyringUnavailableError(
                f"the OS keyring holds no master key for service {service!r}, user {username!r}; "
                "the store was sealed under another account or the item was deleted"
            )
        key = os.urandom(KEY_BYTES)
        backend.set_password(service, username, base64.b64encode(key).decode("ascii"))
        return key
    try:
        key = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyringUnavailableError(f"the OS keyring item {service}/{username} is not a spreadhawk master key")
    return key
