"""``spreadhawk keys add|list|remove``: exchange API credentials in the encrypted key store.

Secrets never come from the command line (argv is visible in ``ps`` and shell history): the API key
and secret are read from hidden prompts in a terminal, or one per line from stdin when piped; the
store passphrase from ``SPREADHAWK_KEYSTORE_PASSPHRASE`` or a hidden prompt. Nothing here prints,
logs or puts into an error message a secret value: errors are the key store's own one-line messages.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from spreadhawk.keystore import KeyStore, Secret
    from spreadhawk.keystore.oskeyring import KeyringBackend

PASSPHRASE_ENV = "SPREADHAWK_KEYSTORE_PASSPHRASE"

keys_app = typer.Typer(
    no_args_is_help=True, help="Exchange API keys, encrypted at rest (AES-256-GCM under your passphrase)."
)
errors = Console(stderr=True)
console = Console()

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="key store file (default: $SPREADHAWK_KEYSTORE, else ~/.spreadhawk/keys.json)",
        show_default=False,
    ),
]
AccountOption = Annotated[str, typer.Option("--account", help="account name at the exchange, e.g. main or sub1")]


def register(app: typer.Typer) -> None:
    """Add the ``keys`` command group to ``app``."""
    app.add_typer(keys_app, name="keys")


def _fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def os_keyring() -> KeyringBackend | None:
    from spreadhawk.keystore.oskeyring import os_keyring as find  # noqa: PLC0415 (fast CLI start)

    return find()


def _open(store: Path | None, kdf: str = "scrypt") -> KeyStore:
    from spreadhawk.keystore import KeyStore, KeystoreError, default_store_path  # noqa: PLC0415 (fast CLI start)

    try:
        return KeyStore(store or default_store_path(), kdf=kdf, keyring=os_keyring())
    except KeystoreError as exc:
        _fail(str(exc))


def _interactive() -> bool:
    return sys.stdin.isatty()


def _passphrase(keystore: KeyStore, *, confirm: bool) -> Secret | None:
    """From the environment, else a hidden prompt; never an option (it would sit in shell history).
    None for a store sealed under the OS keyring."""
    from spreadhawk.keystore import Secret  # noqa: PLC0415

    if keystore.uses_keyring:
        return None
    value = os.environ.get(PASSPHRASE_ENV)
    if value is None:
        if not _interactive():
            _fail(f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal to be asked")
        value = typer.prompt("key store passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        _fail("the key store passphrase must not be empty")
    return Secret(value)


def _read_secret(label: str) -> Secret:
    from spreadhawk.keystore import Secret  # noqa: PLC0415

    if _interactive():
        value = typer.prompt(label, hide_input=True, err=True)
    else:
        line = sys.stdin.readline()
        value = line.strip()
    if not value:
        _fail(f"no {label} given (type it at the prompt, or pipe one value per line)")
    return Secret(value)


@keys_app.command("add")
def add(
    exchange: Annotated[str, typer.Argument(help="exchange id as ccxt names it, e.g. binance")],
    account: AccountOption = "main",
    store: StoreOption = None,
    with_passphrase: Annotated[
        bool, typer.Option("--with-passphrase", help="also read the API passphrase some venues use (OKX, KuCoin)")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="overwrite an existing key (rotation)")] = False,
    kdf: Annotated[str, typer.Option("--kdf", help="scrypt, or argon2id where cryptography provides it")] = "scrypt",
    keyring: Annotated[
        bool,
        typer.Option(
            "--keyring",
            help="seal a new store under a master key in the OS keyring instead of a passphrase (see the "
            "S15 caveat: on macOS any script run by the same Python can read it)",
        ),
    ] = False,
) -> None:
    """Store an API key and secret: hidden prompts in a terminal, else one value per line on stdin."""
    from spreadhawk.engine.clock import WallClock  # noqa: PLC0415
    from spreadhawk.keystore import ApiCredentials, KeystoreError  # noqa: PLC0415
    from spreadhawk.keystore.crypto import argon2id_available  # noqa: PLC0415

    if kdf not in ("scrypt", "argon2id"):
        _fail(f"--kdf must be scrypt or argon2id, got {kdf!r}")
    if kdf == "argon2id" and not argon2id_available():
        _fail("--kdf argon2id: not provided by this cryptography/OpenSSL; use scrypt")
    if keyring and os_keyring() is None:
        _fail("no usable OS keyring (the keyring package with a real backend); leave out --keyring to use a passphrase")
    keystore = _open(store, kdf)
    if keyring or keystore.uses_keyring:  # an existing keyring store keeps being sealed that way
        keystore = _open(store, "keyring")
    passphrase = _passphrase(keystore, confirm=not keystore.list())  # a new store: ask twice, a typo locks it
    try:
        keystore.verify(passphrase)  # before the user types secrets a wrong passphrase would reject
        fields = [_read_secret("API key"), _read_secret("API secret")]
        extra = _read_secret("API passphrase") if with_passphrase else None
        credentials = ApiCredentials(exchange, account, fields[0], fields[1], extra)
        keystore.add(credentials, passphrase, WallClock().now_ns(), replace=replace)
    except KeystoreError as exc:
        _fail(str(exc))
    console.print(
        f"stored {escape(exchange)} account {escape(account)} in {escape(str(keystore.path))}",
        highlight=False,
        soft_wrap=True,
    )


@keys_app.command("list")
def list_keys(
    store: StoreOption = None, as_json: Annotated[bool, typer.Option("--json", help="print one JSON array")] = False
) -> None:
    """List stored keys: exchange, account, fields present, created time. Never the secrets, so no
    passphrase is needed."""
    infos = _open(store).list()
    rows: list[dict[str, Any]] = [
        {
            "exchange": i.exchange,
            "account": i.account,
            "fields": list(i.fields),
            "created": datetime.fromtimestamp(i.created_ns / 1e9, tz=UTC).isoformat(timespec="seconds"),
        }
        for i in infos
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        console.print("no keys stored yet (spreadhawk keys add EXCHANGE --account NAME)")
        return
    table = Table("exchange", "account", "fields", "created (UTC)")
    for r in rows:
        table.add_row(r["exchange"], r["account"], ", ".join(r["fields"]), r["created"])
    console.print(table)


@keys_app.command("remove")
def remove(
    exchange: Annotated[str, typer.Argument(help="exchange id, as listed by 'spreadhawk keys list'")],
    account: AccountOption = "main",
    store: StoreOption = None,
) -> None:
    """Remove a stored key; the passphrase must open it."""
    from spreadhawk.keystore import KeystoreError  # noqa: PLC0415

    keystore = _open(store)
    try:
        keystore.remove(exchange, account, _passphrase(keystore, confirm=False))
    except KeystoreError as exc:
        _fail(str(exc))
    console.print(f"removed {escape(exchange)} account {escape(account)}", highlight=False, soft_wrap=True)
