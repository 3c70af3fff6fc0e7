"""RELIABILITY.md §4.2 scenario 24, orphaned protective orders, on the emulated Binance USD-M exchange.

A live node (key store, real ccxt ``binanceusdm``, signed REST, the listenKey user stream) runs
``protect_probe``: buy at market, protect the position with a reduce-only STOP_MARKET (an algo order
at the exchange), close the position at market without cancelling the stop. Pass criterion: no
stop remains on the exchange for the flat position, and no stop ever opens one.

Each seed draws the position size and the stop's distance and alternates between:

* ``runtime``: the engine's orphan guard cancels the stop as soon as the close fills;
* ``crash``: the node is SIGKILLed at ``after_close_before_protective_cancel`` -- the close is
  journaled, the stop still working -- and a new node on the same journal finds the orphan when it
  reconciles and cancels it before any strategy starts.

After each, every R4 invariant holds against the exchange's truth (``venues.emulator.invariants``).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_harness import CHEAP_KDF, FORK, KEY, PASSPHRASE, SECRET, EmulatorProcess, fork_start, session, truth, venues

from spreadhawk.domain.events import SubmitOrder
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine import crashpoints
from spreadhawk.engine.journal import JournalReader
from spreadhawk.keystore import ApiCredentials, KeyStore, Secret
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.live_node import build_live
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.emulator.invariants import violations
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data
PERP = "BINANCE:BTC/USDT:USDT"
CRASH_RUN_LIMIT_S = 30.0
SPEED = 2.0
# Seed: even runs close at runtime, odd ones crash between the close and the cancel; each draws the
# position size and the stop's distance. CI runs two; ``make soak`` more (SPREADHAWK_SOAK_ORPHAN_SEEDS).
SEEDS = int(os.environ.get("SPREADHAWK_SOAK_ORPHAN_SEEDS", "2"))
SHARED_DATA = Path()


def _emulator(shared_data: Path) -> BinanceEmulator:
    trading = TradingConfig((ApiKey(KEY, SECRET),), {"USDT": "100000"})
    return BinanceEmulator.from_data_dir(shared_data, Market.USDM, ["btcusdt"], speed=SPEED, trading=trading)


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[str]:
    global SHARED_DATA  # noqa: PLW0603 -- the config names the capture a backtest of it would read
    SHARED_DATA = shared_data
    with EmulatorProcess(lambda: _emulator(shared_data)) as process:
        yield process.http_url


def _config(tmp_path: Path, http_url: str, *, enter: bool, quantity: str, stop_bps: str) -> RunConfig:
    capture = SHARED_DATA / "hftbacktest" / "binance_usdm_futures" / "btcusdt_20240808.gz"
    keys = tmp_path / "keys.json"
    if not keys.exists():
        store = KeyStore(keys, kdf_params=CHEAP_KDF)
        store.add(ApiCredentials("binanceusdm", "emulator", Secret(KEY), Secret(SECRET)), Secret(PASSPHRASE), 1)
    text = f"""
[run]
valuation_currency = "USDT"

[[instruments]]
preset = "binance_usdm_btcusdt"

[[data]]  # what a backtest of this file would replay; live, the emulator replays it
format = "hftbacktest"
instrument = "{PERP}"
path = "{capture}"

[[live]]
venue = "BINANCE"
exchange = "binanceusdm"
instruments = ["{PERP}"]
host = "{http_url}"
account = "emulator"

[live_trading]
keystore = "{keys}"
cancel_on_exit = false
visibility_window_s = 1

[[strategies]]
path = "protect_probe:ProtectProbe"
id = "protect"
params = {{ instrument_id = "{PERP}", quantity = "{quantity}", stop_bps = "{stop_bps}", enter = {str(enter).lower()} }}
"""
    path = tmp_path / "orphans.toml"
    path.write_text(text)
    return load_config(path)


def _crash_child(config: RunConfig, journal: Path) -> None:
    crashpoints.arm("after_close_before_protective_cancel")

    async def trade() -> None:
        from live_harness import venues

        from spreadhawk.runtime.live_node import build_live
        from spreadhawk.runtime.paper_service import live_feeds

        node = build_live(config, journal, live_feeds, venues)
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(CRASH_RUN_LIMIT_S, stop.set)
        await node.run(stop)

    asyncio.run(trade())
    os._exit(0)  # not crashed: the parent sees exit code 0 and fails the test


def _ours(full: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    orders = [o for o in full["orders"] if str(o["clientOrderId"]).startswith(prefixes)]
    ids = {o["orderId"] for o in orders}
    algo = [o for o in full["algoOrders"] if str(o["clientAlgoId"]).startswith(prefixes)]
    trades = [t for t in full["trades"] if t["orderId"] in ids]
    return {**full, "orders": orders, "algoOrders": algo, "trades": trades}


@pytest.mark.parametrize("seed", range(SEEDS))
def test_no_stop_outlives_its_position(exchange: str, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    when = ("runtime", "crash")[seed % 2]
    size = {"quantity": f"0.0{rng.randint(2, 9)}", "stop_bps": str(rng.randint(40, 150))}
    journal = tmp_path / "live.journal"
    prefixes: tuple[str, ...] = ()
    if when == "crash":
        child = FORK.Process(target=_crash_child, args=(_config(tmp_path, exchange, enter=True, **size), journal))
        fork_start(child)
        child.join(CRASH_RUN_LIMIT_S + 30)
        assert child.exitcode == -signal.SIGKILL, f"the node was not killed after the close ({child.exitcode})"
        crashed = [r for r in JournalReader(journal) if isinstance(r, SubmitOrder)]
        assert len(crashed) == 3  # entry, stop, exit: the exit filled and the stop's cancel never left
        stranded = [o for o in truth(exchange)["algoOrders"] if o["algoStatus"] == "NEW"]
        assert len(stranded) == 1  # the orphan, on the exchange while the node is down
        prefixes = (crashed[0].client_order_id.split("protect")[0],)
        dry = build_live(_config(tmp_path, exchange, enter=False, **size), journal, live_feeds, venues)
        asyncio.run(dry.look())  # a dry run sends nothing: it says what a start would cancel
        assert [line for line in dry.explained if "would be cancelled" in line] == [
            f"protective order {crashed[1].client_order_id} would be cancelled: its position is closed"
        ]
        assert [o["algoStatus"] for o in truth(exchange)["algoOrders"]] == ["NEW"]
        node = asyncio.run(session(_config(tmp_path, exchange, enter=False, **size), journal, seconds=3.0))
        assert any("protective order" in line for line in node.explained), node.explained  # found reconciling
    else:
        node = asyncio.run(session(_config(tmp_path, exchange, enter=True, **size), journal, seconds=6.0))
    assert node.differences == [], node.differences
    prefixes = (*prefixes, node.engine.order_ids.prefix)

    full = _ours(truth(exchange), prefixes)
    stops = full["algoOrders"]
    assert len(stops) == 1
    assert stops[0]["algoStatus"] == "CANCELED", stops  # no stop left for a flat position
    assert full["positions"]["BTCUSDT"]["positionAmt"] == "0.00000000"
    engine_orders = sorted(node.engine.orders.values(), key=lambda o: o.ts_init)
    assert [o.status for o in engine_orders] == [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.FILLED]
    assert node.engine.portfolio.position(engine_orders[0].instrument_id).quantity == 0
    found = violations(full, node.engine, "BINANCE", prefixes, JournalReader(journal))
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("fault", ["commit_then_503_unknown", "commit_then_drop_response"])
def test_a_stop_whose_placement_went_unanswered_is_looked_up_never_sent_twice(
    exchange: str, tmp_path: Path, fault: str
) -> None:
    """Scenario 3 for a conditional order: the exchange commits the stop-loss and its answer is lost
    (a 503, a dropped connection). The node looks it up by its client id on the algo endpoint, finds
    it working, and goes on (the probe closes, the orphan guard cancels the stop): one stop at the
    exchange, never a second."""
    armed = {"kind": fault, "path": "/fapi/v1/algoOrder"}
    with urllib.request.urlopen(
        urllib.request.Request(
            f"{exchange}/emulator/order_fault",
            data=json.dumps(armed).encode(),
            headers={"Content-Type": "application/json"},
        )
    ) as answer:
        assert answer.status == 200
    journal = tmp_path / "live.journal"
    config = _config(tmp_path, exchange, enter=True, quantity="0.03", stop_bps="80")
    node = asyncio.run(session(config, journal, seconds=8.0))
    assert node.differences == [], node.differences
    prefixes = (node.engine.order_ids.prefix,)
    full = _ours(truth(exchange), prefixes)
    assert [o["algoStatus"] for o in full["algoOrders"]] == ["CANCELED"]  # exactly one stop, not left working
    stop = sorted(node.engine.orders.values(), key=lambda o: o.ts_init)[1]
    assert stop.is_protective
    reports = [
        type(r).__name__ for r in JournalReader(journal) if getattr(r, "client_order_id", None) == stop.client_order_id
    ]
    assert "OrderStatusUnknown" in reports  # the lost answer was noticed, then resolved by the look-up
    assert reports.index("OrderStatusUnknown") < reports.index("OrderAccepted")
    found = violations(full, node.engine, "BINANCE", prefixes, JournalReader(journal))
    assert found == [], "\n".join(found)
