"""The key store file: round trip, tampering, wrong passphrase, file mode, stored KDF parameters (S14)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.keystore import (
    WRONG_PASSPHRASE,
    ApiCredentials,
    KeyStore,
    KeystoreError,
    Secret,
    WrongPassphraseError,
    default_store_path,
)

CHEAP = {"n": 2**10, "r": 8, "p": 1}
PASS = Secret("correct horse battery staple")
CANARY = "CANARYSECRET-0c4be2"


def creds(account: str = "main", secret: str = CANARY) -> ApiCredentials:
    return ApiCredentials("binance", account, Secret("key-" + account), Secret(secret))


def new_store(path: Path, params: dict[str, int] | None = None) -> KeyStore:
    return KeyStore(path, kdf_params=params or CHEAP)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    store = new_store(tmp_path / "sub" / "keys.json")
    store.add(creds(), PASS, created_ns=1_700_000_000_000_000_000)
    return store.path


def document(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def rewrite(path: Path, change: Any) -> None:
    doc = document(path)
    change(doc["entries"][0])
    path.write_text(json.dumps(doc))
    path.chmod(0o600)


def test_round_trip_and_list(path: Path) -> None:
    store = new_store(path)
    got = store.get("binance", "main", PASS)
    assert got.api_key.reveal() == "key-main"
    assert got.api_secret.reveal() == CANARY
    assert got.passphrase is None
    [info] = store.list()
    assert (info.exchange, info.account, info.fields, info.created_ns) == (
        "binance", "main", ("api_key", "api_secret"), 1_700_000_000_000_000_000,
    )  # fmt: skip


def test_the_envelope_is_versioned_and_the_secret_is_not_in_clear(path: Path) -> None:
    raw = path.read_bytes()
    assert CANARY.encode() not in raw
    assert base64.b64encode(CANARY.encode()) not in raw
    blob = document(path)["entries"][0]["fields"]["api_secret"]
    assert set(blob) == {"v", "kdf", "kdf_params", "salt", "nonce", "ct"}
    assert blob["v"] == 1
    assert blob["kdf"] == "scrypt"
    assert len(base64.b64decode(blob["nonce"])) == 12


def test_a_third_field_round_trips(tmp_path: Path) -> None:
    store = new_store(tmp_path / "k.json")
    store.add(ApiCredentials("okx", "a", Secret("k"), Secret("s"), Secret("p")), PASS, created_ns=1)
    got = new_store(store.path).get("okx", "a", PASS)
    assert got.passphrase is not None
    assert got.passphrase.reveal() == "p"
    assert new_store(store.path).list()[0].fields == ("api_key", "api_secret", "passphrase")


def test_wrong_passphrase_is_a_clean_error(path: Path) -> None:
    with pytest.raises(WrongPassphraseError) as caught:
        new_store(path).get("binance", "main", Secret("wrong"))
    assert str(caught.value) == WRONG_PASSPHRASE
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_second_entry_must_use_the_same_passphrase(path: Path) -> None:
    with pytest.raises(WrongPassphraseError):
        new_store(path).add(creds("other"), Secret("another passphrase"), created_ns=2)
    assert [i.account for i in new_store(path).list()] == ["main"]


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


TAMPERS = {
    "ct": lambda e: e["fields"]["api_secret"].update(ct=_flip_b64(e["fields"]["api_secret"]["ct"])),
    "nonce": lambda e: e["fields"]["api_secret"].update(nonce=_flip_b64(e["fields"]["api_secret"]["nonce"])),
    "short nonce": lambda e: e["fields"]["api_secret"].update(nonce=base64.b64encode(b"1234").decode()),
    "salt": lambda e: e["fields"]["api_secret"].update(salt=_flip_b64(e["fields"]["api_secret"]["salt"])),
    "account (AAD)": lambda e: e.update(account="other"),
    "swapped fields (AAD)": lambda e: e.update(
        fields={"api_key": e["fields"]["api_secret"], "api_secret": e["fields"]["api_key"]}
    ),
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_tampering_is_a_clean_error(path: Path, tamper: Any) -> None:
    rewrite(path, tamper)
    store = new_store(path)
    account = store.list()[0].account
    with pytest.raises(WrongPassphraseError):
        store.get("binance", account, PASS)


def test_a_changed_envelope_version_is_refused(path: Path) -> None:
    rewrite(path, lambda e: e["fields"]["api_secret"].update(v=2))
    with pytest.raises(KeystoreError, match="envelope version 2"):
        new_store(path).get("binance", "main", PASS)


def test_a_weakened_kdf_is_refused(path: Path) -> None:
    rewrite(path, lambda e: e["fields"]["api_secret"].update(kdf_params={"n": 2, "r": 1, "p": 1}))
    with pytest.raises(KeystoreError, match="damaged key store"):
        new_store(path).get("binance", "main", PASS)


def test_kdf_parameters_are_stored_and_honoured(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    new_store(path).add(creds("old"), PASS, created_ns=1)
    new_store(path, {"n": 2**11, "r": 8, "p": 2}).add(creds("new"), PASS, created_ns=2)  # raised later
    entries = {e["account"]: e for e in document(path)["entries"]}
    assert entries["old"]["fields"]["api_secret"]["kdf_params"] == CHEAP
    assert entries["new"]["fields"]["api_secret"]["kdf_params"] == {"n": 2**11, "r": 8, "p": 2}
    # A store opened with yet other defaults still opens both blobs with what each recorded.
    reader = new_store(path, {"n": 2**12, "r": 8, "p": 1})
    assert reader.get("binance", "old", PASS).api_secret.reveal() == CANARY
    assert reader.get("binance", "new", PASS).api_secret.reveal() == CANARY
    # And the recorded parameters are the ones used: other parameters give another key, which fails.
    rewrite(path, lambda e: e["fields"]["api_secret"].update(kdf_params={"n": 2**11, "r": 8, "p": 1}))
    with pytest.raises(WrongPassphraseError):
        new_store(path).get("binance", "old", PASS)


def test_the_file_is_created_0600_in_a_0700_folder(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not list(path.parent.glob(".*.tmp"))
    lock = path.with_name(".keys.json.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.stat().st_size == 0


def test_the_mode_holds_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = new_store(tmp_path / "k.json")
        store.add(creds(), PASS, created_ns=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_wider_mode_is_refused_at_open(path: Path, mode: int) -> None:
    path.chmod(mode)
    with pytest.raises(KeystoreError, match=f"mode {mode:04o}.*chmod 600"):
        new_store(path)


def test_remove_needs_the_passphrase(path: Path) -> None:
    store = new_store(path)
    store.add(creds("other"), PASS, created_ns=2)
    with pytest.raises(WrongPassphraseError):
        new_store(path).remove("binance", "other", Secret("wrong"))
    new_store(path).remove("binance", "other", PASS)
    assert [i.account for i in new_store(path).list()] == ["main"]
    with pytest.raises(KeystoreError, match="no key for binance account other"):
        new_store(path).remove("binance", "other", PASS)


def test_duplicates_need_replace(path: Path) -> None:
    with pytest.raises(KeystoreError, match="already has a key"):
        new_store(path).add(creds(), PASS, created_ns=2)
    new_store(path).add(creds(secret="rotated"), PASS, created_ns=2, replace=True)
    store = new_store(path)
    assert len(store.list()) == 1
    assert store.get("binance", "main", PASS).api_secret.reveal() == "rotated"


@pytest.mark.parametrize("name", ["", "bin:ance", "a b", "x" * 65, "ümlaut"])
def test_names_that_would_blur_the_associated_data_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(KeystoreError, match="must be 1-64 characters"):
        new_store(tmp_path / "k.json").add(ApiCredentials(name, "a", Secret("k"), Secret("s")), PASS, created_ns=1)


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "other"}', '{"format": "spreadhawk-keystore"}'])
def test_a_damaged_file_is_a_clean_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeystoreError):
        new_store(path)


def test_default_path() -> None:
    assert default_store_path({}) == Path.home() / ".spreadhawk" / "keys.json"
    assert default_store_path({"SPREADHAWK_KEYSTORE": "/x/k.json"}) == Path("/x/k.json")


def test_an_unwritable_place_is_a_clean_error(tmp_path: Path) -> None:
    store = new_store(tmp_path / "home" / "keys.json")  # nothing there yet: an empty store
    (tmp_path / "home").write_text("")  # then a file takes the folder's place
    with pytest.raises(KeystoreError, match="cannot lock key store"):
        store.add(creds(), PASS, created_ns=1)
    assert [p.name for p in tmp_path.iterdir()] == ["home"]


def test_a_folder_in_place_of_the_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "keys.json").mkdir()
    with pytest.raises(KeystoreError, match="cannot read key store"):
        new_store(tmp_path / "keys.json")


def test_two_writers_do_not_lose_each_others_changes(path: Path) -> None:
    first, second = new_store(path), new_store(path)  # both read the file with one entry
    first.add(creds("a"), PASS, created_ns=2)
    second.add(creds("b"), PASS, created_ns=3)  # re-reads under the lock: "a" survives
    assert [i.account for i in new_store(path).list()] == ["a", "b", "main"]
    first.remove("binance", "b", PASS)
    assert [i.account for i in new_store(path).list()] == ["a", "main"]
