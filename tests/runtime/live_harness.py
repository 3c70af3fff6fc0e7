"""Shared by the live-trading tests: the emulator with its keys, a key store holding them, a config of
``examples/live_binance_emulator.toml`` pointed at the emulator, a session of a live node, the truth.

Crash tests need the emulator in a process of its own (the node under test is SIGKILLed in a forked
child): ``EmulatorProcess`` serves it from a fork and tells the parent its address.
"""

from __future__ import annotations

import asyncio
import gc
import json
import multiprocessing
import urllib.request
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.keystore import ApiCredentials, KeyStore, Secret
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.live_node import LiveNode, build_live
from spreadhawk.runtime.live_venues import PASSPHRASE_ENV, ccxt_venues, keystore_credentials
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.emulator import BinanceEmulator, Market, capture_paths, load_capture
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "live_binance_emulator.toml"
KEY, SECRET = "live-test-key", "live-test-secret"
WITHDRAWING_KEY, WITHDRAWING_SECRET = "withdrawing-key", "withdrawing-secret"
PASSPHRASE = "live test passphrase"
CHEAP_KDF = {"n": 2**10, "r": 8, "p": 1}
START = {"USDT": "100000", "BTC": "1"}
SESSION_S = 6.0
TRADE_OFTEN = ("strategies.0.params.trade_every=1000",)
SPEED = 5.0  # with trade_every 1000, a probe order every second or so
FORK = multiprocessing.get_context("fork")


def fork_start(process: multiprocessing.process.BaseProcess) -> None:
    """Start a forked process with the parent's objects frozen out of the garbage collector: a
    child's first collection would otherwise touch (and copy) every page of the test process."""
    gc.freeze()
    try:
        process.start()
    finally:
        gc.unfreeze()


def make_keystore(path: Path) -> None:
    store = KeyStore(path, kdf_params=CHEAP_KDF)
    for account, key, secret in (("emulator", KEY, SECRET), ("withdrawing", WITHDRAWING_KEY, WITHDRAWING_SECRET)):
        store.add(ApiCredentials("binance", account, Secret(key), Secret(secret)), Secret(PASSPHRASE), 1)


def live_config(http_url: str, keys: Path, *overrides: str) -> RunConfig:
    settings = [f'live.0.host="{http_url}"', f'live_trading.keystore="{keys}"', "run.journal=''", *TRADE_OFTEN]
    return load_config(EXAMPLE, [*settings, *overrides])


def venues(config: RunConfig, instruments: dict[InstrumentId, Instrument]) -> dict[str, CcxtVenue]:
    return ccxt_venues(config, instruments, keystore_credentials(config, {PASSPHRASE_ENV: PASSPHRASE}))


async def session(config: RunConfig, journal: Path, seconds: float = SESSION_S) -> LiveNode:
    node = build_live(config, journal, live_feeds, venues)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    await node.run(stop)
    return node


def truth(http_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{http_url}/emulator/truth", timeout=10) as response:
        return dict(json.loads(response.read()))


async def fetch_truth(http_url: str) -> dict[str, Any]:
    """The truth, from inside the loop that serves the emulator (a blocking read would deadlock)."""
    async with aiohttp.ClientSession() as http, http.get(f"{http_url}/emulator/truth") as response:
        return dict(await response.json())


def emulator(shared_data: Path, speed: float = SPEED) -> BinanceEmulator:
    keys = (ApiKey(KEY, SECRET), ApiKey(WITHDRAWING_KEY, WITHDRAWING_SECRET, enable_withdrawals=True))
    trading = TradingConfig(keys, START)
    return BinanceEmulator.from_data_dir(shared_data, Market.SPOT, ["btcusdt"], speed=speed, trading=trading)


def loaded_emulator(shared_data: Path) -> Callable[[], BinanceEmulator]:
    """Load the capture once; each call makes a fresh emulator (its own account) over it."""
    captures = [load_capture(p) for p in capture_paths(shared_data, Market.SPOT, ["btcusdt"])]
    keys = (ApiKey(KEY, SECRET), ApiKey(WITHDRAWING_KEY, WITHDRAWING_SECRET, enable_withdrawals=True))
    info = shared_data / "cryptofeed" / "sample_data"

    def make() -> BinanceEmulator:
        trading = TradingConfig(keys, START)
        return BinanceEmulator(captures, market=Market.SPOT, exchange_info=info, speed=SPEED, trading=trading)

    return make


def _serve(make: Callable[[], BinanceEmulator], address: Connection) -> None:
    async def serve() -> None:
        async with make() as running:
            address.send(running.http_url)
            await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(serve())


class EmulatorProcess:
    """An emulator in a forked process of its own, for as long as the ``with`` block lasts (forked:
    it shares the parent's loaded capture, so starting one costs little)."""

    def __init__(self, make: Callable[[], BinanceEmulator]) -> None:
        receive, send = FORK.Pipe(duplex=False)
        self._receive = receive
        self._process = FORK.Process(target=_serve, args=(make, send), daemon=True)
        self.http_url = ""

    def __enter__(self) -> EmulatorProcess:
        fork_start(self._process)
        if not self._receive.poll(60):
            self._process.kill()
            raise RuntimeError("the emulator process did not start within 60 s")
        self.http_url = str(self._receive.recv())
        return self

    def __exit__(self, *_exc: object) -> None:
        self._process.terminate()
        self._process.join(10)


def person(http_url: str) -> Any:
    """Someone else on the same account: a plain (synchronous) ccxt client with the same key."""
    import ccxt

    from spreadhawk.venues.ccxt.urls import local_urls

    options = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
               "fetchMargins": False}  # fmt: skip
    settings = {"apiKey": KEY, "secret": SECRET, "urls": local_urls("binance", http_url), "options": options}
    client = ccxt.binance(settings)  # type: ignore[attr-defined]
    client.load_markets()
    return client
