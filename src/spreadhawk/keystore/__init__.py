"""Encrypted storage of exchange API credentials (RELIABILITY.md S14, S15, S17).

Imports only the standard library, ``cryptography`` and the domain, so the runtime (which will read
keys to trade) and the CLI (which manages them) can both use it.
"""

from spreadhawk.keystore.credentials import ApiCredentials, Secret
from spreadhawk.keystore.store import (
    WRONG_PASSPHRASE,
    EntryInfo,
    KeyStore,
    KeystoreError,
    WrongPassphraseError,
    default_store_path,
)

__all__ = [
    "WRONG_PASSPHRASE",
    "ApiCredentials",
    "EntryInfo",
    "KeyStore",
    "KeystoreError",
    "Secret",
    "WrongPassphraseError",
    "default_store_path",
]
