"""The Binance emulator: REST and websocket in Binance's formats, depth consistent with the replay, faults,
ccxt (the real library) loading its markets. Every loop is bounded in time."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.data.readers import iter_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.emulator import BinanceEmulator, Fault, FaultError, FaultKind, Market, parse_fault
from spreadhawk.venues.emulator.captures import RawBook, StreamKind, load_capture

TIMEOUT_S = 10.0


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


# --- no data needed -------------------------------------------------------------------------
def test_fault_specs_parse_and_bad_ones_say_what_is_wrong() -> None:
    assert parse_fault("gap:count=5,after=200,symbol=btcusdt") == Fault(FaultKind.GAP, "BTCUSDT", 200, 5)
    assert parse_fault("freeze:seconds=1.5") == Fault(FaultKind.FREEZE, seconds=1.5)
    assert parse_fault("drop") == Fault(FaultKind.DROP)
    for spec, message in [
        ("explode", "unknown fault kind 'explode'"),
        ("delay", "seconds must be a positive number"),
        ("gap:count=0", "count >= 1"),
        ("gap:count=x", "count must be an integer"),
        ("drop:after", "expected key=value"),
        ("drop:colour=red", "unknown fault field(s): colour"),
    ]:
        with pytest.raises(FaultError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_fault(spec)


def test_raw_book_applies_diffs_and_answers_depth_in_binance_strings() -> None:
    book = RawBook({"lastUpdateId": 10, "bids": [["100.10", "1.0"], ["99.00", "2.0"]], "asks": [["100.20", "3.0"]]})
    book.apply({"e": "depthUpdate", "E": 1, "U": 5, "u": 9, "b": [["100.10", "0"]], "a": []})  # contained: skipped
    assert book.depth(5)["bids"][0] == ["100.10", "1.0"]
    book.apply({"e": "depthUpdate", "E": 2, "U": 11, "u": 12, "b": [["100.10", "0.00"], ["99.50", "4"]], "a": []})
    assert book.depth(5) == {
        "lastUpdateId": 12,
        "bids": [["99.50", "4"], ["99.00", "2.0"]],
        "asks": [["100.20", "3.0"]],
    }
    assert book.depth(1)["bids"] == [["99.50", "4"]]


# --- on the real captures ---------------------------------------------------------------------
def _offline(path: Path, update_ids: set[int]) -> dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]]:
    """Top 10 levels of the capture replayed offline (reader + domain OrderBook) at each update id."""
    instrument = binance_spot_btcusdt()
    book = OrderBook(instrument.id)
    found = {}
    for record in iter_hftbacktest(path, instrument):
        if isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
            if book.is_valid and book.sequence in update_ids:
                found[book.sequence] = (book.levels(BookSide.BID, 10), book.levels(BookSide.ASK, 10))
                if len(found) == len(update_ids):
                    break
    return found


def _ticks(levels: list[list[str]]) -> list[tuple[int, int]]:
    instrument = binance_spot_btcusdt()
    return [(instrument.ticks(p), instrument.units(q)) for p, q in levels]


@pytest.mark.real_data
def test_serves_binance_rest_and_streams_depth_diffs_to_a_plain_websocket_client(shared_data: Path) -> None:
    emulator = BinanceEmulator.from_data_dir(shared_data, Market.SPOT, ["btcusdt"], speed=0)
    diffs: list[dict[str, Any]] = []
    depth: dict[str, Any] = {}

    async def scenario() -> None:
        async with emulator, aiohttp.ClientSession() as http:
            base = emulator.http_url
            async with http.get(f"{base}/api/v3/exchangeInfo") as r:
                info = await r.json()
            assert r.status == 200
            assert any(s["symbol"] == "BTCUSDT" for s in info["symbols"])
            async with http.get(f"{base}/api/v3/time") as r:
                assert "serverTime" in await r.json()
            async with http.get(f"{base}/api/v3/ping") as r:
                assert await r.json() == {}
            async with http.get(f"{base}/api/v3/depth", params={"symbol": "NOPE"}) as r:
                assert (r.status, (await r.json())["code"]) == (400, -1121)
            async with http.get(f"{base}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "5"}) as r:
                first = await r.json()
            assert first["lastUpdateId"] == 50093239218  # before the replay: the recorded snapshot
            assert len(first["bids"]) == 5
            async with http.ws_connect(f"{emulator.ws_url}/1") as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 7}))
                assert json.loads(await ws.receive_str()) == {"result": None, "id": 7}
                while len(diffs) < 200:
                    diffs.append(json.loads(await ws.receive_str()))
                await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 8}))
                # Stop the replay so the book holds still, then read the depth at its position.
                await emulator.replay.stop()
                async with http.get(f"{base}/api/v3/depth", params={"symbol": "BTCUSDT", "limit": "1000"}) as r:
                    depth.update(await r.json())
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bogus"], "id": 9}))
                answers: dict[int, Any] = {}
                for _ in range(10_000):  # diffs already in flight come first
                    message = json.loads(await ws.receive_str())
                    if "id" in message:
                        answers[message["id"]] = message
                    if len(answers) == 2:
                        break
                assert answers[8] == {"result": None, "id": 8}
                error = answers[9]
                assert "invalid stream name 'btcusdt@bogus'" in error["error"]["msg"]

    run(scenario)
    # Binance's own diff objects, with their exchange times, contiguous ids (spot), as recorded.
    assert all(d["e"] == "depthUpdate" and d["s"] == "BTCUSDT" and isinstance(d["E"], int) for d in diffs)
    assert diffs[0]["U"] == 50093239189
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(diffs))
    # The depth answer is the book at the replay position, equal to the capture replayed offline.
    last = emulator.replay.books["BTCUSDT"].last_update_id
    assert depth["lastUpdateId"] == last >= diffs[-1]["u"]
    offline = _offline(shared_data / "hftbacktest/binance_spot/btcusdt_20240808.gz", {last})
    assert (_ticks(depth["bids"][:10]), _ticks(depth["asks"][:10])) == offline[last]


@pytest.mark.real_data
def test_faults_change_what_is_sent_and_the_control_endpoint_arms_them(shared_data: Path) -> None:
    emulator = BinanceEmulator.from_data_dir(shared_data, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False)
    received: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with emulator, aiohttp.ClientSession() as http:
            base = emulator.http_url
            async with http.post(f"{base}/emulator/fault", json={"kind": "explode"}) as r:
                assert r.status == 400
                assert "unknown fault kind 'explode'" in (await r.json())["error"]
            for fault in ({"kind": "drop", "after": 3}, {"kind": "duplicate", "after": 3}, {"kind": "gap", "count": 4}):
                async with http.post(f"{base}/emulator/fault", json=fault) as r:
                    assert r.status == 200
            emulator.inject(Fault(FaultKind.REORDER, "BTCUSDT", after=3))
            async with http.ws_connect(emulator.ws_url) as ws:
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1}))
                assert json.loads(await ws.receive_str()) == {"result": None, "id": 1}
                async with http.post(f"{base}/emulator/start") as r:
                    assert r.status == 200
                while len(received) < 30:
                    received.append(json.loads(await ws.receive_str()))
            async with http.get(f"{base}/emulator/status") as r:
                status = await r.json()
        assert [f["kind"] for f in status["fired"]] == ["gap", "drop", "duplicate", "reorder"]

    run(scenario)
    capture = load_capture(shared_data / "hftbacktest/binance_spot/btcusdt_20240808.gz")
    recorded = [m.data for m in capture.messages if m.kind is StreamKind.DEPTH][:40]
    fired = {f.fault.kind: f.update_id for f in emulator.replay.fired}
    sent = [d["u"] for d in received]
    ids = [d["u"] for d in recorded]
    # gap fired on the first diff: 4 diffs never sent; drop on the 4th diff after arming.
    assert fired[FaultKind.GAP] == ids[0]
    assert not set(ids[:4]) & set(sent)
    assert fired[FaultKind.DROP] not in sent
    assert sent.count(fired[FaultKind.DUPLICATE]) == 2
    reordered = sent.index(fired[FaultKind.REORDER])
    assert sent[reordered - 1] > fired[FaultKind.REORDER]  # its successor went first


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("market", "exchange_id", "symbol"), [("spot", "binance", "BTC/USDT"), ("usdm", "binanceusdm", "BTC/USDT:USDT")]
)
def test_ccxt_loads_markets_and_fetches_the_book_from_the_emulator(
    shared_data: Path, market: str, exchange_id: str, symbol: str
) -> None:
    emulator = BinanceEmulator.from_data_dir(shared_data, Market(market), ["BTCUSDT"], speed=0, autostart=False)

    async def scenario() -> None:
        async with emulator:
            options = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}} if market == "spot" else {}
            exchange = getattr(ccxtpro, exchange_id)({"urls": emulator.ccxt_urls(), "options": options})
            try:
                markets = await exchange.load_markets()
                assert markets[symbol]["id"] == "BTCUSDT"
                book = await exchange.fetch_order_book(symbol, 5)
                recorded = emulator.replay.recorded_snapshots["BTCUSDT"]
                assert book["nonce"] == recorded["lastUpdateId"]
                assert book["bids"][0][0] == float(recorded["bids"][0][0])
            finally:
                await exchange.close()

    run(scenario)


def test_emulate_command_is_registered_and_rejects_a_bad_fault() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["emulate", "--help"])
    assert result.exit_code == 0
    assert "--fault" in result.output
    result = runner.invoke(app, ["emulate", "--fault", "gap:count=zero"])
    assert result.exit_code == 2
    assert "count must be an integer" in result.output


def test_emulate_command_rejects_malformed_trading_options() -> None:
    runner = CliRunner()
    assert "--api-key" in runner.invoke(app, ["emulate", "--help"]).output
    for args, message in [
        (["--api-key", "no-secret"], "expected KEY:SECRET"),
        (["--api-key", "k:s", "--balance", "USDT"], "expected ASSET=AMOUNT"),
        (["--balance", "USDT=10"], "--balance needs an --api-key"),
    ]:
        result = runner.invoke(app, ["emulate", *args])
        assert result.exit_code == 2
        assert message in result.output


@pytest.mark.real_data
def test_start_at_moves_every_exchange_time_and_nothing_else(shared_data: Path) -> None:
    """The USD-M capture (E and T on diffs, trades and depth answers) stamped on another day: the
    first message at the asked instant, every time moved by the same amount, the rest as recorded."""
    start_at_ms = 1_765_450_842_371  # 2025-12-11 11:00:42.371 UTC, the Polymarket session's first book
    capture = load_capture(shared_data / "hftbacktest/binance_usdm_futures/btcusdt_20240808.gz")
    first = min(capture.messages, key=lambda m: m.received_ns)
    shift = start_at_ms - int(first.data["E"])
    emulator = BinanceEmulator.from_data_dir(shared_data, Market.USDM, ["btcusdt"], speed=0, start_at_ms=start_at_ms)
    sent: list[dict[str, Any]] = []
    depth: dict[str, Any] = {}

    async def scenario() -> None:
        async with emulator, aiohttp.ClientSession() as http, http.ws_connect(f"{emulator.ws_url}/1") as ws:
            streams = ["btcusdt@depth@0ms", "btcusdt@trade"]
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": streams, "id": 1}))
            assert json.loads(await ws.receive_str()) == {"result": None, "id": 1}
            while len(sent) < 300:
                sent.append(json.loads(await ws.receive_str()))
            await emulator.replay.stop()
            async with http.get(f"{emulator.http_url}/fapi/v1/depth", params={"symbol": "BTCUSDT"}) as r:
                depth.update(await r.json())
            async with http.get(f"{emulator.http_url}/fapi/v1/time") as r:
                assert (await r.json())["serverTime"] == emulator.replay.last_event_ms

    run(scenario)
    recorded = [m.data for m in sorted(capture.messages, key=lambda m: m.received_ns)]
    by_kind = {"depthUpdate": [d for d in recorded if d.get("e") == "depthUpdate"],
               "trade": [d for d in recorded if d.get("e") == "trade"]}  # fmt: skip
    seen = {"depthUpdate": 0, "trade": 0}
    for message in sent:
        original = by_kind[message["e"]][seen[message["e"]]]
        seen[message["e"]] += 1
        assert message["E"] == original["E"] + shift
        assert message["T"] == original["T"] + shift
        assert {k: v for k, v in message.items() if k not in ("E", "T")} == {
            k: v for k, v in original.items() if k not in ("E", "T")
        }
    assert first.data["e"] in seen  # so the first message sent is the replay's first, stamped as asked
    assert sent[0]["E"] == start_at_ms
    assert seen["depthUpdate"] > 0
    assert seen["trade"] > 0
    assert depth["E"] - shift in {d["E"] for d in by_kind["depthUpdate"]}  # the depth answer's times too
    assert depth["T"] - shift in {d["T"] for d in by_kind["depthUpdate"]}
