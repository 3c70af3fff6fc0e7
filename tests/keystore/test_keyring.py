"""The OS keyring as KEK source (S14, S15): used only with a real backend, never a plaintext fallback."""

from __future__ import annotations

import base64
import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

import spreadhawk.cli.keys as keys_cli
from spreadhawk.cli.main import app
from spreadhawk.keystore import ApiCredentials, KeyStore, KeystoreError, Secret
from spreadhawk.keystore.oskeyring import SERVICE, USERNAME, os_keyring

CANARY = "CANARYSECRET-keyring-61f0"
runner = CliRunner()


class MemoryKeyring:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service_name: str, username: str) -> str | None:
        return self.items.get((service_name, username))

    def set_password(self, service_name: str, username: str, password: str) -> None:
        self.items[(service_name, username)] = password


def creds(account: str = "main") -> ApiCredentials:
    return ApiCredentials("binance", account, Secret("k"), Secret(CANARY))


def test_round_trip_without_a_passphrase(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    path = tmp_path / "keys.json"
    KeyStore(path, kdf="keyring", keyring=ring).add(creds(), None, created_ns=1)
    KeyStore(path, kdf="keyring", keyring=ring).add(creds("sub"), None, created_ns=2)
    assert list(ring.items) == [(SERVICE, USERNAME)]  # one master key, made once
    store = KeyStore(path, keyring=ring)
    assert store.uses_keyring
    assert store.get("binance", "sub", None).api_secret.reveal() == CANARY
    raw = path.read_bytes()
    assert CANARY.encode() not in raw
    assert ring.items[(SERVICE, USERNAME)].encode() not in raw  # the master key stays in the keyring
    blob = json.loads(raw)["entries"][0]["fields"]["api_secret"]
    assert blob["kdf"] == "keyring"
    assert set(blob) == {"v", "kdf", "kdf_params", "salt", "nonce", "ct"}


def test_without_the_keyring_or_its_item_it_is_a_clean_error(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    path = tmp_path / "keys.json"
    KeyStore(path, kdf="keyring", keyring=ring).add(creds(), None, created_ns=1)
    with pytest.raises(KeystoreError, match="no usable keyring"):
        KeyStore(path).get("binance", "main", Secret("a passphrase does not help"))
    with pytest.raises(KeystoreError, match="holds no master key"):
        KeyStore(path, keyring=MemoryKeyring()).get("binance", "main", None)
    other = MemoryKeyring()
    other.set_password(SERVICE, USERNAME, base64.b64encode(b"\1" * 32).decode())
    with pytest.raises(KeystoreError, match="wrong passphrase or damaged key store"):
        KeyStore(path, keyring=other).get("binance", "main", None)


def test_one_store_is_sealed_one_way_only(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    path = tmp_path / "keys.json"
    KeyStore(path, kdf="keyring", keyring=ring).add(creds(), None, created_ns=1)
    with pytest.raises(KeystoreError, match="sealed with the OS keyring"):
        KeyStore(path, kdf_params={"n": 2**10, "r": 8, "p": 1}).add(creds("x"), Secret("p"), created_ns=2)
    other = tmp_path / "other.json"
    KeyStore(other, kdf_params={"n": 2**10, "r": 8, "p": 1}).add(creds(), Secret("p"), created_ns=1)
    with pytest.raises(KeystoreError, match="sealed with a passphrase"):
        KeyStore(other, kdf="keyring", keyring=ring).add(creds("x"), None, created_ns=2)
    with pytest.raises(KeystoreError, match="none was given"):
        KeyStore(other).get("binance", "main", None)


def _fake_keyring_module(monkeypatch: pytest.MonkeyPatch, backend_module: str, priority: float) -> None:
    backend_class = type("Backend", (), {"priority": priority, "__module__": backend_module})
    module = types.ModuleType("keyring")
    module.get_keyring = backend_class  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)


def test_os_keyring_needs_a_real_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # not installed: import fails
    assert os_keyring() is None
    _fake_keyring_module(monkeypatch, "keyring.backends.fail", 0)
    assert os_keyring() is None
    _fake_keyring_module(monkeypatch, "keyrings.alt.file", 1)  # a file beside the store is not a keyring
    assert os_keyring() is None
    _fake_keyring_module(monkeypatch, "keyring.backends.SecretService", 5)
    assert os_keyring() is sys.modules["keyring"]


def test_cli_keyring_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = str(tmp_path / "keys.json")
    monkeypatch.setattr(keys_cli, "os_keyring", lambda: None)
    done = runner.invoke(app, ["keys", "add", "binance", "--keyring", "--store", store], input="k\ns\n", env={})
    assert done.exit_code == 2
    assert done.stderr.startswith("error: no usable OS keyring")
    assert not (tmp_path / "keys.json").exists()  # and no plaintext fallback

    ring = MemoryKeyring()
    monkeypatch.setattr(keys_cli, "os_keyring", lambda: ring)
    done = runner.invoke(app, ["keys", "add", "binance", "--keyring", "--store", store], input=f"k\n{CANARY}\n", env={})
    assert done.exit_code == 0, done.stderr
    # Later commands follow the store: no --keyring, and no passphrase asked.
    done = runner.invoke(app, ["keys", "add", "okx", "--store", store], input=f"k\n{CANARY}\n", env={})
    assert done.exit_code == 0, done.stderr
    done = runner.invoke(app, ["keys", "remove", "okx", "--store", store], env={})
    assert done.exit_code == 0, done.stderr
    assert CANARY not in done.stdout + done.stderr
    assert KeyStore(Path(store), keyring=ring).get("binance", "main", None).api_secret.reveal() == CANARY
