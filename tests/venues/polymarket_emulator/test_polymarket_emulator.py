"""The Polymarket CLOB emulator over real sockets: the market channel in Polymarket's wire format, the
books it builds equal to the recorded ones (an independent replay of the raw files here), REST as
py-clob-client (the real library) reads it, the listener hook, extra routes, and clear errors."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from py_clob_client.client import ClobClient  # type: ignore[import-untyped]
from py_clob_client.clob_types import BookParams  # type: ignore[import-untyped]
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.data.readers.polymarket_rest import TokenPrices, read_polymarket_prices
from spreadhawk.venues.polymarket_emulator import (
    PolymarketEmulator,
    PolymarketSession,
    SessionError,
    collector_session,
    recorded_session,
)

TIMEOUT_S = 20.0
SOL = Path("polymarket_series/caiooooo_l2_collector/15m/sol")
NAUTILUS = Path("nautilus_trader/polymarket")

Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), TIMEOUT_S)

    asyncio.run(bounded())


def _side(levels: list[dict[str, str]]) -> dict[Decimal, Decimal]:
    return {Decimal(lv["price"]): Decimal(lv["size"]) for lv in levels if Decimal(lv["size"])}


def _apply(books: dict[str, Book], message: dict[str, Any]) -> None:
    """A client's book keeping, written here from Polymarket's documented semantics."""
    if message["event_type"] == "book":
        books[message["asset_id"]] = (_side(message["bids"]), _side(message["asks"]))
    elif message["event_type"] == "price_change":
        for change in message["price_changes"]:
            bids, asks = books[change["asset_id"]]
            levels = bids if change["side"] == "BUY" else asks
            levels.pop(Decimal(change["price"]), None)
            if Decimal(change["size"]):
                levels[Decimal(change["price"])] = Decimal(change["size"])


async def _collect(url: str, assets: list[str]) -> list[dict[str, Any]]:
    """Every message of the market channel for ``assets`` until the market resolves (PING answered)."""
    out: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": True}))
        await ws.send_str("PING")
        pong = False
        while True:
            text = await ws.receive_str()
            if text == "PONG":
                pong = True
                continue
            payload = json.loads(text)
            out += payload if isinstance(payload, list) else [payload]
            if out[-1]["event_type"] == "market_resolved":
                break
    assert pong
    return out


@pytest.mark.real_data
def test_the_market_channel_rebuilds_every_recorded_book_and_print_and_resolves(shared_data: Path) -> None:
    folder = shared_data / SOL
    session = collector_session(folder)
    tokens = {t["outcome"]: t["token_id"] for t in session.markets[0]["tokens"]}
    published: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with PolymarketEmulator(session, speed=0) as emu:
            emu.add_market_listener(published.append)
            messages.extend(await _collect(emu.ws_url, [tokens["Up"], tokens["Down"]]))

    run(scenario)
    assert messages == published  # the listener saw what the client got, in the same order
    kinds = [m["event_type"] for m in messages]
    assert kinds[:2] == ["book", "book"]
    assert kinds[-1] == "market_resolved"
    assert messages[-1]["winning_asset_id"] == tokens["Up"]
    assert messages[-1]["timestamp"] == "1765451700000"
    # Rebuild the books from the channel and compare with each recorded book at its timestamp.
    books: dict[str, Book] = {}
    at: dict[tuple[str, str], Book] = {}
    for message in messages:
        _apply(books, message)
        for token, (bids, asks) in books.items():
            at[(token, message["timestamp"])] = (dict(bids), dict(asks))
    for outcome in ("Up", "Down"):
        recorded = json.loads((folder / "orderbooks" / f"1765450800{outcome.lower()}.json").read_text())
        assert len(recorded) == 248
        for record in recorded:
            assert at[(tokens[outcome], record["timestamp"])] == (_side(record["bids"]), _side(record["asks"]))
        prints = json.loads((folder / "trades" / f"1765450800{outcome.lower()}.json").read_text())
        served = [m for m in messages if m["event_type"] == "last_trade_price" and m["asset_id"] == tokens[outcome]]
        assert [(m["price"], m["size"], m["side"], m["timestamp"]) for m in served] == [
            (p["price"], p["size"], p["side"].upper(), p["timestamp"]) for p in prints
        ]
    assert [m["price_changes"][0]["best_bid"] for m in messages if m["event_type"] == "price_change"][:1] == ["0.44"]


@pytest.mark.real_data
def test_rest_answers_as_the_clob_does_and_py_clob_client_reads_it(shared_data: Path) -> None:
    folder = shared_data / SOL
    full = collector_session(folder, winner="Down", updates="book")
    # The first 200 messages (both books two-sided then), then the resolution.
    session = PolymarketSession(full.markets, [*full.events[:200], full.events[-1]])
    cut_ms = full.events[199].at_ms
    up, down = (t["token_id"] for t in session.markets[0]["tokens"])
    answers: dict[str, Any] = {}

    def extra(application: web.Application) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"hello": "trading side"})

        application.router.add_get("/extra", hello)

    async def scenario() -> None:
        async with PolymarketEmulator(session, speed=0, autostart=False, extra_routes=[extra]) as emu:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{emu.http_url}/book", params={"token_id": up}) as r:
                    answers["before"] = r.status  # no book before the replay
                async with http.get(f"{emu.http_url}/book") as r:
                    answers["no_token"] = (r.status, await r.json())
                async with http.get(f"{emu.http_url}/extra") as r:
                    answers["extra"] = await r.json()
                async with http.post(f"{emu.http_url}/emulator/start") as r:
                    assert r.status == 200
                await emu.finished.wait()
                async with http.get(f"{emu.http_url}/markets/0xnope") as r:
                    answers["unknown"] = r.status
                async with http.get(f"{emu.http_url}/price", params={"token_id": up, "side": "SIDEWAYS"}) as r:
                    answers["bad_side"] = r.status
            client = ClobClient(emu.http_url)

            def read() -> None:  # py-clob-client is synchronous: run it beside the loop
                answers["book"] = client.get_order_book(up)
                answers["mid"] = client.get_midpoint(down)
                answers["bid"] = client.get_price(up, "BUY")
                answers["tick"] = client.get_tick_size(up)
                answers["neg_risk"] = client.get_neg_risk(up)
                answers["fee"] = client.get_fee_rate_bps(up)
                answers["time"] = client.get_server_time()
                answers["markets"] = client.get_markets()
                answers["market"] = client.get_market(session.markets[0]["condition_id"])
                answers["prices"] = client.get_prices([BookParams(up, "BUY"), BookParams(down, "SELL")])

            await asyncio.to_thread(read)

    run(scenario)
    assert answers["before"] == 404
    assert answers["no_token"] == (400, {"error": "missing query parameter 'token_id'"})
    assert answers["extra"] == {"hello": "trading side"}
    assert (answers["unknown"], answers["bad_side"]) == (404, 400)
    ups = json.loads((folder / "orderbooks" / "1765450800up.json").read_text())
    last_up = [r for r in ups if int(r["timestamp"]) <= cut_ms][-1]
    downs = json.loads((folder / "orderbooks" / "1765450800down.json").read_text())
    last_down = [r for r in downs if int(r["timestamp"]) <= cut_ms][-1]
    book = answers["book"]
    assert [(o.price, o.size) for o in book.bids] == [(lv["price"], lv["size"]) for lv in last_up["bids"]]
    assert [(o.price, o.size) for o in book.asks] == [(lv["price"], lv["size"]) for lv in last_up["asks"]]
    assert book.timestamp >= last_up["timestamp"]  # a later print of the token moves it on
    assert book.tick_size == "0.01"
    assert book.neg_risk is False
    best_bid = max(Decimal(lv["price"]) for lv in last_down["bids"])
    best_ask = min(Decimal(lv["price"]) for lv in last_down["asks"])
    assert Decimal(answers["mid"]["mid"]) == (best_bid + best_ask) / 2
    assert answers["bid"] == {"price": last_up["bids"][-1]["price"]}  # best bid: the last listed
    assert (answers["tick"], answers["neg_risk"], answers["fee"]) == ("0.01", False, 0)
    assert answers["time"] == 1765451700
    assert read_polymarket_prices(answers["prices"]) == {  # POST /prices, read by the REST reader
        up: TokenPrices(up, Decimal(last_up["bids"][-1]["price"]), None),
        down: TokenPrices(down, None, best_ask),
    }
    assert answers["markets"]["next_cursor"] == "LTE="
    assert answers["markets"]["count"] == 1
    assert answers["market"]["closed"] is True  # resolved
    assert [t["winner"] for t in answers["market"]["tokens"]] == [False, True]  # winner="Down"


@pytest.mark.real_data
def test_markets_pages_follow_next_cursor_to_the_end(shared_data: Path) -> None:
    page = json.loads((shared_data / NAUTILUS / "http_responses/markets.json").read_text())
    session = PolymarketSession(page["data"], [])
    seen: list[str] = []
    cursors: list[str] = []

    async def scenario() -> None:
        async with PolymarketEmulator(session, page_size=30) as emu, aiohttp.ClientSession() as http:
            cursor = "MA=="
            while cursor != "LTE=":
                async with http.get(f"{emu.http_url}/markets", params={"next_cursor": cursor}) as r:
                    answer = await r.json()
                seen.extend(m["condition_id"] for m in answer["data"])
                cursor = answer["next_cursor"]
                cursors.append(cursor)
            async with http.get(f"{emu.http_url}/markets", params={"next_cursor": "%%%"}) as r:
                assert r.status == 400

    run(scenario)
    assert seen == [m["condition_id"] for m in page["data"]]  # all 100, once, in order
    assert cursors == ["MzA=", "NjA=", "OTA=", "LTE="]


@pytest.mark.real_data
def test_a_recorded_session_file_is_replayed_as_recorded(shared_data: Path, tmp_path: Path) -> None:
    ws = shared_data / NAUTILUS / "ws_messages"
    lines = [
        json.dumps({"received_ms": 1000 + i, "message": json.loads((ws / f"{name}.json").read_text())})
        for i, name in enumerate(("book", "price_change", "last_trade_price"))
    ]
    session_file = tmp_path / "session.jsonl"
    session_file.write_text("\n".join(lines) + '\n{"received_ms": 2000, "mess')  # killed mid-line
    session = recorded_session(session_file, shared_data / NAUTILUS / "http_responses/market.json")
    assert [e.at_ms for e in session.events] == [1000, 1001, 1002]
    no_token = json.loads((ws / "book.json").read_text())["asset_id"]
    got: list[dict[str, Any]] = []

    async def scenario() -> None:
        async with PolymarketEmulator(session, speed=0) as emu, aiohttp.ClientSession() as http:
            emu.add_market_listener(got.append)
            emu.start_replay()
            await emu.finished.wait()
            async with http.get(f"{emu.http_url}/book", params={"token_id": no_token}) as r:
                book = await r.json()
            async with http.get(f"{emu.http_url}/tick-size", params={"token_id": no_token}) as r:
                assert await r.json() == {"minimum_tick_size": 0.001}
        change = got[1]
        level = {"price": change["price"], "size": change["size"]}
        assert level in book["asks"]  # the v1 change (SELL 0.514 x 21574.08) applied to the recorded book

    run(scenario)
    assert [m["event_type"] for m in got] == ["book", "price_change", "last_trade_price"]


@pytest.mark.real_data
def test_resolutions_of_a_gamma_markets_file_are_replayed_at_each_market_end(shared_data: Path, tmp_path: Path) -> None:
    markets_file = shared_data / "polymarket_series/ligengxin_samples/BTC-5m-markets-2026-06-08.jsonl.gz"
    empty = tmp_path / "session.jsonl"
    empty.write_text("")
    session = recorded_session(empty, markets_file)
    with gzip.open(markets_file, "rt") as lines:
        rows = [json.loads(line) for line in lines]
    assert len(session.markets) == len(rows) == 292
    # By hand from the file: the token of the outcome priced "1" wins, at the market's end.
    expected = {
        row["condition_id"]: (row["token_ids"][row["outcome_prices"].index("1")], str(row["end_sec"] * 1000))
        for row in rows
    }
    resolutions = {e.message["market"]: (e.message["winning_asset_id"], e.message["timestamp"]) for e in session.events}
    assert resolutions == expected


def test_bad_sessions_are_one_line_errors_naming_file_and_place(tmp_path: Path) -> None:
    markets = tmp_path / "markets.json"
    markets.write_text(json.dumps({"data": [{"condition_id": "0x1", "tokens": []}], "next_cursor": "LTE="}))
    bad = tmp_path / "s.jsonl"
    bad.write_text('{"event_type": "book", "timestamp": "1"}\nnot json\n{}\n')
    with pytest.raises(SessionError, match=r"s\.jsonl: line 2: invalid JSON"):
        recorded_session(bad, markets)
    bad.write_text('{"received_ms": "x", "message": {}}\n')
    with pytest.raises(SessionError, match=r"line 1: 'received_ms' must be an integer"):
        recorded_session(bad, markets)
    bad.write_text('{"event_type": "book"}\n')
    with pytest.raises(SessionError, match=r"line 1: a book without an integer 'timestamp'"):
        recorded_session(bad, markets)
    markets.write_text(json.dumps({"data": [{"condition_id": "0x1", "tokens": [{"token_id": "7", "outcome": "Yes"}]}]}))
    change = {"event_type": "price_change", "timestamp": "1", "price_changes": [{"asset_id": "7", "price": "0.5"}]}
    bad.write_text('{"event_type": "book", "asset_id": "8", "timestamp": "1"}\n' + json.dumps(change) + "\n")
    with pytest.raises(SessionError, match=r"s\.jsonl: line 2: price_change: missing field 'side'"):
        recorded_session(bad, markets)
    folder = tmp_path / "15m" / "sol"
    (folder / "trades").mkdir(parents=True)
    (folder / "trades" / "1765450800up.json").write_text('[{"price": "0.5", "size": "5", "side": "hold",'
                                                         ' "timestamp": "1", "asset_price": 1.0}]')  # fmt: skip
    with pytest.raises(SessionError, match=r"1765450800up\.json: record 1: side must be buy or sell"):
        collector_session(folder)
    result = CliRunner().invoke(app, ["emulate-polymarket", "--session", str(bad)])
    assert result.exit_code == 2
    assert "give --session and --markets together" in result.output


@pytest.mark.real_data
def test_subscriptions_change_on_the_open_socket_and_bad_requests_are_answered(shared_data: Path) -> None:
    session = collector_session(shared_data / SOL)
    up, down = (t["token_id"] for t in session.markets[0]["tokens"])
    got: dict[str, Any] = {}

    async def scenario() -> None:
        emulator = PolymarketEmulator(session, speed=0, autostart=False)
        async with emulator as emu, aiohttp.ClientSession() as http, http.ws_connect(emu.ws_url) as ws:
            await ws.send_str("not json")
            got["bad"] = json.loads(await ws.receive_str())
            await ws.send_str(json.dumps({"assets_ids": "x", "type": "market"}))
            got["bad_ids"] = json.loads(await ws.receive_str())
            await ws.send_str(json.dumps({"assets_ids": [up], "type": "market"}))
            await ws.send_str("PING")  # answered in order: once PONG is back, the subscription holds
            assert await ws.receive_str() == "PONG"
            emu.start_replay()
            await emu.finished.wait()
            await ws.send_str(json.dumps({"assets_ids": [down], "operation": "subscribe"}))
            await ws.send_str(json.dumps({"assets_ids": [up], "operation": "unsubscribe"}))
            await ws.send_str("PING")
            frames = []
            while (text := await ws.receive_str()) != "PONG":
                frames.append(json.loads(text))
            got["frames"] = frames

    run(scenario)
    assert got["bad"]["error"].startswith("invalid subscription: Expecting value")
    assert got["bad_ids"] == {"error": "invalid subscription: 'assets_ids' must be a list of token ids (strings)"}
    frames = got["frames"]
    # Up only, from the replay's first book; then, subscribed to Down after the end, Down's book at once.
    assert frames[0]["event_type"] == "book"
    assert frames[0]["asset_id"] == up
    changes = [
        c for f in frames if isinstance(f, dict) and f["event_type"] == "price_change" for c in f["price_changes"]
    ]
    assert changes
    assert {c["asset_id"] for c in changes} == {up}  # Down's entries of the batched messages left out
    assert all(f["event_type"] != "market_resolved" for f in frames if isinstance(f, dict))  # no custom features
    (dump,) = [f for f in frames if isinstance(f, list)]
    assert [(m["event_type"], m["asset_id"]) for m in dump] == [("book", down)]
    last_down = json.loads((shared_data / SOL / "orderbooks" / "1765450800down.json").read_text())[-1]
    assert (_side(dump[0]["bids"]), _side(dump[0]["asks"])) == (_side(last_down["bids"]), _side(last_down["asks"]))
