"""The key store file: exchange credentials sealed per field, in a JSON file only its owner can read.

Layout (``keys.json``)::

    {"format": "spreadhawk-keystore", "entries": [
      {"exchange": "binance", "account": "main", "created_ns": ..., "fields": {
        "api_key":    {"v": 1, "kdf": "scrypt", "kdf_params": {"n": 32768, "r": 8, "p": 1},
                       "salt": "<b64>", "nonce": "<b64>", "ct": "<b64>"},
        "api_secret": {...}}}]}

Exchange, account, field names and creation time are in clear so ``keys list`` needs no passphrase;
they are not secrets, and the names are bound to each ciphertext as associated data
(``exchange:account:field:v``), so editing them, or moving a blob to another entry, makes it fail to
open. A wrong passphrase and a damaged blob are indistinguishable to AES-GCM (both are a bad tag),
hence one message for both.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from spreadhawk.keystore.credentials import ApiCredentials, Secret
from spreadhawk.keystore.crypto import (
    KdfError,
    Sealed,
    default_params,
    derive_kek,
    kek_from_master,
    new_salt,
    open_sealed,
    seal,
)
from spreadhawk.keystore.oskeyring import SERVICE, USERNAME, KeyringBackend, KeyringUnavailableError, master_key

ENVELOPE_VERSION = 1
STORE_FORMAT = "spreadhawk-keystore"
STORE_ENV = "SPREADHAWK_KEYSTORE"
WRONG_PASSPHRASE = "wrong passphrase or damaged key store"
KEYRING = "keyring"  # the "kdf" of blobs whose KEK comes from the OS keyring's master key
_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")  # no ':' so the associated data stays unambiguous
_FIELDS = ("api_key", "api_secret", "passphrase")


class KeystoreError(Exception):
    """An expected failure; its message is one line that never contains a secret."""


class WrongPassphraseError(KeystoreError):
    def __init__(self) -> None:
        super().__init__(WRONG_PASSPHRASE)


@dataclass(frozen=True, slots=True)
class EntryInfo:
    """What ``keys list`` shows: never a secret, only which fields are stored."""

    exchange: str
    account: str
    fields: tuple[str, ...]
    created_ns: int


def default_store_path(environ: Mapping[str, str] = os.environ) -> Path:
    configured = environ.get(STORE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".spreadhawk" / "keys.json"


def check_name(kind: str, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise KeystoreError(f"{kind} must be 1-64 characters of letters, digits, '_', '.' or '-', got {value!r}")
    return value


def _aad(exchange: str, account: str, field: str, version: int) -> bytes:
    return f"{exchange}:{account}:{field}:{version}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise KeystoreError("damaged key store: a binary field is not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeystoreError("damaged key store: a binary field is not valid base64") from None


class KeyStore:
    """The credentials in one key store file. Writes are atomic (a temporary file replaced in one
    step), so a crash leaves the old file or the new one, never half of either."""

    def __init__(
        self,
        path: Path,
        *,
        kdf: str = "scrypt",
        kdf_params: Mapping[str, object] | None = None,
        keyring: KeyringBackend | None = None,
    ) -> None:
        """``kdf`` and ``kdf_params`` apply to blobs written from now on; stored blobs open with their
        own. ``kdf="keyring"`` seals under the OS keyring's master key (``keyring`` is then required)."""
        self.path = path
        self.kdf = kdf
        self.keyring = keyring
        if kdf_params is not None:
            self.kdf_params: dict[str, object] = dict(kdf_params)
        elif kdf == KEYRING:
            self.kdf_params = {"service": SERVICE, "username": USERNAME}
        else:
            try:
                self.kdf_params = dict(default_params(kdf))
            except KdfError as exc:
                raise KeystoreError(str(exc)) from None
        self._keks: dict[tuple[str, str, bytes], bytes] = {}
        self._entries: list[dict[str, Any]] = self._load()

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> list[dict[str, Any]]:
        # The mode is checked on the open descriptor, so the file checked is the file read.
        try:
            with self.path.open("rb") as handle:
                st = os.fstat(handle.fileno())
                self._check_private(st)
                raw = handle.read()
        except FileNotFoundError:
            return []  # created on the first add
        except OSError as exc:
            raise KeystoreError(f"cannot read key store {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise KeystoreError(f"damaged key store {self.path}: not a JSON document") from None
        if not isinstance(document, dict) or document.get("format") != STORE_FORMAT:
            raise KeystoreError(f"{self.path} is not a spreadhawk key store")
        entries = document.get("entries")
        if not isinstance(entries, list) or not all(self._well_formed(e) for e in entries):
            raise KeystoreError(f"damaged key store {self.path}: malformed entries")
        return entries

    def _check_private(self, st: os.stat_result) -> None:
        if not stat.S_ISREG(st.st_mode):
            raise KeystoreError(f"key store {self.path} is not a regular file")
        if st.st_mode & 0o077:
            mode = stat.S_IMODE(st.st_mode)
            raise KeystoreError(
                f"key store {self.path} has mode {mode:04o}; it must be readable by its owner only "
                f"(chmod 600 {self.path})"
            )

    @staticmethod
    def _well_formed(entry: object) -> bool:
        if not isinstance(entry, dict):
            return False
        fields = entry.get("fields")
        return (
            isinstance(entry.get("exchange"), str)
            and isinstance(entry.get("account"), str)
            and isinstance(entry.get("created_ns"), int)
            and isinstance(fields, dict)
            and {"api_key", "api_secret"} <= set(fields) <= set(_FIELDS)
            and all(isinstance(blob, dict) for blob in fields.values())
        )

    def _find(self, exchange: str, account: str) -> dict[str, Any] | None:
        return next((e for e in self._entries if e["exchange"] == exchange and e["account"] == account), None)

    def list(self) -> list[EntryInfo]:
        """Every entry's names and fields, sorted; needs no passphrase and decrypts nothing."""
        infos = (
            EntryInfo(e["exchange"], e["account"], tuple(f for f in _FIELDS if f in e["fields"]), e["created_ns"])
            for e in self._entries
        )
        return sorted(infos, key=lambda i: (i.exchange, i.account))

    @property
    def uses_keyring(self) -> bool:
        """Whether this store is sealed under the OS keyring (its first entry says; else the chosen KDF).
        A store holds one kind only, so one secret (passphrase or keyring item) opens all of it."""
        if self._entries:
            return bool(self._entries[0]["fields"]["api_key"].get("kdf") == KEYRING)
        return self.kdf == KEYRING

    def get(self, exchange: str, account: str, passphrase: Secret | None) -> ApiCredentials:
        entry = self._find(exchange, account)
        if entry is None:
            raise KeystoreError(f"no key for {exchange} account {account} in {self.path}")
        values = {name: Secret(self._open(entry, name, blob, passphrase)) for name, blob in entry["fields"].items()}
        return ApiCredentials(
            exchange, account, values["api_key"], values["api_secret"], passphrase=values.get("passphrase")
        )

    def _kek(
        self, passphrase: Secret | None, kdf: str, params: Mapping[str, object], salt: bytes, *, create: bool = False
    ) -> bytes:
        # One derivation per (parameters, salt) per store object: scrypt is slow on purpose.
        cache_key = (kdf, json.dumps(params, sort_keys=True), salt)
        if cache_key not in self._keks:
            try:
                if kdf == KEYRING:
                    kek = kek_from_master(self._master(params, create=create), salt)
                elif passphrase is None:
                    raise KeystoreError(f"key store {self.path} is sealed with a passphrase; none was given")
                else:
                    kek = derive_kek(passphrase.reveal().encode(), kdf, params, salt)
            except KdfError as exc:
                raise KeystoreError(f"damaged key store {self.path}: {exc}") from None
            self._keks[cache_key] = kek
        return self._keks[cache_key]

    def _master(self, params: Mapping[str, object], *, create: bool) -> bytes:
        service, username = params.get("service"), params.get("username")
        if set(params) != {"service", "username"} or not isinstance(service, str) or not isinstance(username, str):
            raise KeystoreError(f"damaged key store {self.path}: bad keyring parameters")
        if self.keyring is None:
            raise KeystoreError(f"key store {self.path} is sealed under the OS keyring, and no usable keyring is found")
        try:
            return master_key(self.keyring, service, username, create=create)
        except KeyringUnavailableError as exc:
            raise KeystoreError(str(exc)) from None

    def _open(self, entry: Mapping[str, Any], field: str, blob: Mapping[str, Any], passphrase: Secret | None) -> str:
        version, kdf, params = blob.get("v"), blob.get("kdf"), blob.get("kdf_params")
        if version != ENVELOPE_VERSION:
            raise KeystoreError(f"key store {self.path}: envelope version {version!r} is not supported")
        if not isinstance(kdf, str) or not isinstance(params, dict):
            raise KeystoreError(f"damaged key store {self.path}: envelope without KDF")
        kek = self._kek(passphrase, kdf, params, _unb64(blob.get("salt")))
        sealed = Sealed(_unb64(blob.get("nonce")), _unb64(blob.get("ct")))
        try:
            plain = open_sealed(kek, sealed, _aad(entry["exchange"], entry["account"], field, version))
        except InvalidTag:
            raise WrongPassphraseError from None
        try:
            return plain.decode()
        except UnicodeDecodeError:
            raise WrongPassphraseError from None

    def verify(self, passphrase: Secret | None) -> None:
        """Raise ``WrongPassphraseError`` unless ``passphrase`` opens a stored blob (no-op when empty),
        so one store never ends up holding entries under two passphrases."""
        if self._entries:
            entry = self._entries[0]
            self._open(entry, "api_key", entry["fields"]["api_key"], passphrase)

    # -- writing -------------------------------------------------------------------------------
    def add(
        self, credentials: ApiCredentials, passphrase: Secret | None, created_ns: int, *, replace: bool = False
    ) -> None:
        exchange = check_name("exchange", credentials.exchange)
        account = check_name("account", credentials.account)
        with self._locked():
            self._add(exchange, account, credentials, passphrase, created_ns, replace=replace)

    def _add(
        self,
        exchange: str,
        account: str,
        credentials: ApiCredentials,
        passphrase: Secret | None,
        created_ns: int,
        *,
        replace: bool,
    ) -> None:
        if self.uses_keyring != (self.kdf == KEYRING):
            sealed_with = "the OS keyring" if self.uses_keyring else "a passphrase"
            raise KeystoreError(f"key store {self.path} is sealed with {sealed_with}; add keys the same way")
        self.verify(passphrase)
        existing = self._find(exchange, account)
        if existing is not None and not replace:
            raise KeystoreError(f"{exchange} account {account} already has a key (remove it first, or --replace)")
        # One salt per entry: one derivation seals all its fields, each under its own random nonce.
        salt = new_salt()
        kek = self._kek(passphrase, self.kdf, self.kdf_params, salt, create=True)
        fields = {}
        for name, secret in credentials.fields().items():
            sealed = seal(kek, secret.reveal().encode(), _aad(exchange, account, name, ENVELOPE_VERSION))
            fields[name] = {
                "v": ENVELOPE_VERSION, "kdf": self.kdf, "kdf_params": dict(self.kdf_params),
                "salt": _b64(salt), "nonce": _b64(sealed.nonce), "ct": _b64(sealed.ct),
            }  # fmt: skip
        entry = {"exchange": exchange, "account": account, "created_ns": created_ns, "fields": fields}
        self._entries = [e for e in self._entries if e is not existing] + [entry]
        self._write()

    def remove(self, exchange: str, account: str, passphrase: Secret | None) -> None:
        """Remove an entry; the passphrase must open it, so a typo'd command cannot delete keys."""
        with self._locked():
            entry = self._find(exchange, account)
            if entry is None:
                raise KeystoreError(f"no key for {exchange} account {account} in {self.path}")
            self._open(entry, "api_key", entry["fields"]["api_key"], passphrase)
            self._entries = [e for e in self._entries if e is not entry]
            self._write()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock and re-read the file, so two commands changing the store at once
        apply one after the other instead of the second silently dropping the first's change."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise KeystoreError(f"cannot lock key store {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._entries = self._load()
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self) -> None:
        document = json.dumps({"format": STORE_FORMAT, "entries": self._entries}, indent=1, sort_keys=True)
        write_private(self.path, document.encode())


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the first byte: ``mkstemp`` creates the
    temporary file 0600 under a unique name (never chmod-ed after the fact, and two writers never share
    it), it is fsynced, then renamed over the old file."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise KeystoreError(f"cannot write key store {path}: {exc.strerror}") from None
