"""``spreadhawk keys``: canary secrets go into the encrypted store and nowhere else (S14, S17)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import spreadhawk.cli.keys as keys_cli
from spreadhawk.cli.main import app
from spreadhawk.keystore import KeyStore, Secret, crypto
from spreadhawk.keystore.crypto import argon2id_available

CANARY_KEY = "CANARYKEY-71c3e0aa"
CANARY_SECRET = "CANARYSECRET-d94b1f27"
CANARY_API_PASS = "CANARYAPIPASS-5e60"
CANARY_STORE_PASS = "CANARYSTOREPASS-2b8d"
CANARIES = (CANARY_KEY, CANARY_SECRET, CANARY_API_PASS, CANARY_STORE_PASS)

runner = CliRunner()


def forms(canary: str) -> list[bytes]:
    """The canary as text and in the encodings a careless writer might use."""
    raw = canary.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(raw)[:-2], binascii.hexlify(raw), canary.lower().encode()]


def assert_clean(text: str | bytes) -> None:
    data = text.encode() if isinstance(text, str) else text
    for canary in CANARIES:
        for form in forms(canary):
            assert form not in data, f"{canary} leaked"


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log record emitted anywhere while a command runs, formatted with its arguments."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


def keys(store: Path, *args: str, stdin: str = "", passphrase: str | None = CANARY_STORE_PASS) -> tuple[int, str]:
    env = {"SPREADHAWK_KEYSTORE_PASSPHRASE": passphrase} if passphrase is not None else {}
    done = runner.invoke(app, ["keys", *args, "--store", str(store)], input=stdin, env=env)
    assert not isinstance(done.exception, Exception) or isinstance(done.exception, SystemExit), done.exception
    return done.exit_code, done.stdout + done.stderr


def test_canary_secrets_appear_only_encrypted_in_the_store(tmp_path: Path, logs: list[str]) -> None:
    store = tmp_path / "home" / "keys.json"
    outputs: list[str] = []

    def run(expected: int, *args: str, **kwargs: str | None) -> str:
        code, out = keys(store, *args, **kwargs)  # type: ignore[arg-type]
        assert code == expected, out
        outputs.append(out)
        return out

    secrets = f"{CANARY_KEY}\n{CANARY_SECRET}\n{CANARY_API_PASS}\n"
    assert "stored binance account main" in run(
        0, "add", "binance", "--account", "main", "--with-passphrase", stdin=secrets
    )
    run(0, "add", "bybit", "--account", "sub1", stdin=f"{CANARY_KEY}\n{CANARY_SECRET}\n")
    assert "already has a key" in run(2, "add", "binance", "--account", "main", stdin=secrets)
    assert "wrong passphrase" in run(2, "add", "okx", "--account", "a", stdin=secrets, passphrase="not it")
    assert "no API secret given" in run(2, "add", "okx", "--account", "a", stdin=f"{CANARY_KEY}\n")
    assert "must be 1-64 characters" in run(2, "add", "bin:ance", stdin=secrets)
    listed = run(0, "list")
    assert "binance" in listed
    assert "passphrase" in listed
    assert "bybit" in listed
    rows = json.loads(run(0, "list", "--json"))
    assert [(r["exchange"], r["account"], r["fields"]) for r in rows] == [
        ("binance", "main", ["api_key", "api_secret", "passphrase"]),
        ("bybit", "sub1", ["api_key", "api_secret"]),
    ]
    assert "wrong passphrase" in run(2, "remove", "bybit", "--account", "sub1", passphrase="not it")
    assert "removed bybit account sub1" in run(0, "remove", "bybit", "--account", "sub1")
    assert "no key for bybit" in run(2, "remove", "bybit", "--account", "sub1")

    for out in outputs:
        assert_clean(out)
    assert_clean("\n".join(logs))
    # The store holds the secrets, but only as ciphertext; and no other file (a stray temporary) does.
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [".keys.json.lock", "keys.json"]
    assert (store.parent / ".keys.json.lock").read_bytes() == b""
    assert_clean(store.read_bytes())
    reread = KeyStore(store).get("binance", "main", Secret(CANARY_STORE_PASS))
    assert reread.api_secret.reveal() == CANARY_SECRET


def test_wrong_passphrase_is_one_line_and_exit_2(tmp_path: Path) -> None:
    store = tmp_path / "keys.json"
    assert keys(store, "add", "binance", stdin="k\ns\n")[0] == 0
    code, out = keys(store, "remove", "binance", passphrase="wrong")
    assert code == 2
    assert out == "error: wrong passphrase or damaged key store\n"


def test_a_world_readable_store_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "keys.json"
    assert keys(store, "add", "binance", stdin="k\ns\n")[0] == 0
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    store.chmod(0o644)
    for args in (("list",), ("add", "okx"), ("remove", "binance")):
        code, out = keys(store, *args, stdin="k\ns\n")
        assert code == 2
        assert out.startswith("error: key store")
        assert "mode 0644" in out
        assert out.count("\n") == 1


def test_no_passphrase_without_a_terminal_is_a_clean_error(tmp_path: Path) -> None:
    code, out = keys(tmp_path / "keys.json", "add", "binance", stdin="k\ns\n", passphrase=None)
    assert code == 2
    assert out == "error: no passphrase: set SPREADHAWK_KEYSTORE_PASSPHRASE or run in a terminal to be asked\n"


def test_prompts_hide_what_is_typed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_cli, "_interactive", lambda: True)
    store = tmp_path / "keys.json"
    typed = f"{CANARY_STORE_PASS}\n{CANARY_STORE_PASS}\n{CANARY_KEY}\n{CANARY_SECRET}\n"
    done = runner.invoke(app, ["keys", "add", "binance", "--store", str(store)], input=typed, env={})
    assert done.exit_code == 0, done.stdout + done.stderr
    assert "Repeat for confirmation" in done.stderr  # a new store asks twice for its passphrase
    assert_clean(done.stdout + done.stderr)
    assert_clean(store.read_bytes())


def test_no_option_takes_a_secret_from_argv() -> None:
    """By allow-list: every parameter that takes a value is one of these; the rest are on/off flags."""
    # typer carries its own copy of click, so the groups are reached by attribute, not by class.
    group = typer.main.get_command(app).commands["keys"]  # type: ignore[attr-defined]
    assert set(group.commands) == {"add", "list", "remove"}
    for sub in group.commands.values():
        valued = {p.name for p in sub.params if not getattr(p, "is_flag", False)}
        assert valued <= {"exchange", "account", "store", "kdf"}, (sub.name, valued)


def test_a_real_process_leaks_nothing(tmp_path: Path) -> None:
    """The same flow in a subprocess: real stdout/stderr, real stdin, nothing of pytest's capture."""
    store = tmp_path / "keys.json"
    env = {"SPREADHAWK_KEYSTORE": str(store), "SPREADHAWK_KEYSTORE_PASSPHRASE": CANARY_STORE_PASS, "PATH": ""}
    command = [sys.executable, "-c", "from spreadhawk.cli.main import run; run()", "keys"]

    def run(*args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [*command, *args], input=stdin.encode(), capture_output=True, env={**env, **extra}, timeout=60, check=False
        )

    done = [
        run("add", "binance", stdin=f"{CANARY_KEY}\n{CANARY_SECRET}\n"),
        run("list"),
        run("remove", "binance", SPREADHAWK_KEYSTORE_PASSPHRASE="wrong"),
    ]
    assert [d.returncode for d in done] == [0, 0, 2]
    assert done[2].stderr == b"error: wrong passphrase or damaged key store\n"
    for d in done:
        assert_clean(d.stdout + d.stderr)
    assert_clean(store.read_bytes())


def test_argon2id_from_the_cli_and_a_bad_kdf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "keys.json"
    assert keys(store, "add", "binance", "--kdf", "pbkdf2", stdin="k\ns\n") == (
        2, "error: --kdf must be scrypt or argon2id, got 'pbkdf2'\n",
    )  # fmt: skip
    if argon2id_available():
        assert keys(store, "add", "binance", "--kdf", "argon2id", stdin="k\ns\n")[0] == 0
        blob = json.loads(store.read_text())["entries"][0]["fields"]["api_secret"]
        assert (blob["kdf"], blob["kdf_params"]) == (
            "argon2id",
            {"memory_cost": 19 * 1024, "iterations": 2, "lanes": 1},
        )
        assert keys(store, "remove", "binance")[0] == 0
    monkeypatch.setattr(crypto, "argon2id_available", lambda: False)
    code, out = keys(store, "add", "okx", "--kdf", "argon2id", stdin="k\ns\n")
    assert (code, out.count("\n")) == (2, 1)
    assert "not provided by this cryptography" in out
