"""A canary API key and secret put in the key store appear nowhere they must not (issue #10).

``spreadhawk live`` trades on the emulator with the canary credentials, with every logger at DEBUG
written to a file (ccxt logs request headers at DEBUG: the API key rides in ``X-MBX-APIKEY``); a
dry run prints its plan as JSON; a second canary key that allows withdrawals is refused. Then every
artefact is searched for either canary value: the log file, the journal, the run database, the CLI's
output and error text, the key store file itself (encrypted: not in plaintext).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from live_harness import EXAMPLE, FORK, SPEED, TRADE_OFTEN, EmulatorProcess
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.keystore import ApiCredentials, KeyStore, Secret
from spreadhawk.venues.emulator import BinanceEmulator, Market, capture_paths, load_capture
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data
CANARY_KEY = "CANARYKEY0c4be2d7f1"
CANARY_SECRET = "CANARYSECRET9a51e0b3c6"
WITHDRAWING_KEY, WITHDRAWING_SECRET = "CANARYKEYW7d2e", "CANARYSECRETW4f81"
PASSPHRASE = "canary store passphrase"
CANARIES = (CANARY_KEY, CANARY_SECRET, WITHDRAWING_KEY, WITHDRAWING_SECRET)
assert FORK is not None  # the harness's fork context: the emulator runs in a process of its own


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[str]:
    captures = [load_capture(p) for p in capture_paths(shared_data, Market.SPOT, ["btcusdt"])]
    keys = (ApiKey(CANARY_KEY, CANARY_SECRET), ApiKey(WITHDRAWING_KEY, WITHDRAWING_SECRET, enable_withdrawals=True))
    info = shared_data / "cryptofeed" / "sample_data"

    def make() -> BinanceEmulator:
        trading = TradingConfig(keys, {"USDT": "100000", "BTC": "1"})
        return BinanceEmulator(captures, market=Market.SPOT, exchange_info=info, speed=SPEED, trading=trading)

    with EmulatorProcess(make) as process:
        yield process.http_url


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """Every logger at DEBUG, into a file (as a user chasing a problem would run it)."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def test_canary_credentials_appear_in_no_log_journal_database_or_output(
    exchange: str, tmp_path: Path, debug_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "keys.json"
    keys = KeyStore(store, kdf_params={"n": 2**10, "r": 8, "p": 1})
    keys.add(ApiCredentials("binance", "canary", Secret(CANARY_KEY), Secret(CANARY_SECRET)), Secret(PASSPHRASE), 1)
    allows_withdrawals = ApiCredentials("binance", "withdrawing", Secret(WITHDRAWING_KEY), Secret(WITHDRAWING_SECRET))
    keys.add(allows_withdrawals, Secret(PASSPHRASE), 1)
    monkeypatch.setenv("SPREADHAWK_KEYSTORE_PASSPHRASE", PASSPHRASE)
    db, journal = tmp_path / "runs.db", tmp_path / "live.journal"
    common = ["--set", f'live.0.host="{exchange}"', "--set", f'live_trading.keystore="{store}"']
    common += ["--set", TRADE_OFTEN[0], "--db", str(db)]
    canary = [*common, "--set", 'live.0.account="canary"']
    invoke: Callable[..., str] = _runner()

    plan = invoke("live", str(EXAMPLE), "--dry-run", "--json", *canary, "--journal", str(tmp_path / "dry.journal"))
    assert '"differences": []' in plan
    live = ["live", str(EXAMPLE), "--confirm-live"]
    traded = invoke(*live, "--duration", "4", "--json", *canary, "--journal", str(journal))
    assert '"traded": true' in traded
    withdrawing = [*common, "--set", 'live.0.account="withdrawing"', "--journal", str(tmp_path / "w.journal")]
    refused = invoke(*live, "--duration", "2", *withdrawing, code=2)
    assert "allows withdrawals" in refused

    log_text = debug_log.read_text()
    assert "X-MBX-APIKEY" in log_text  # ccxt did log its request headers: the redaction is what is tested
    artefacts = {
        "debug log": log_text.encode(),
        "journal": journal.read_bytes(),
        "run database": db.read_bytes(),
        "dry-run output": plan.encode(),
        "live output": traded.encode(),
        "refusal output": refused.encode(),
        "key store file": store.read_bytes(),
    }
    for where, content in artefacts.items():
        for value in CANARIES:
            assert value.encode() not in content, f"{value} found in the {where}"


def _runner() -> Callable[..., str]:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        text = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exit_code == code, f"exit {result.exit_code}: {text}\n{result.exception!r}"
        return text

    return invoke
