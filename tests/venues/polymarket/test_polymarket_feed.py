"""The live Polymarket feed against the emulator over real sockets: the books it builds are the
recorded books (computed here from the raw files, independently of the emulator and the parsers),
every print and the resolution arrive, and after a disconnect it reconnects, resubscribes and
starts from a fresh snapshot."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from spreadhawk.data.readers.polymarket import read_polymarket_market
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import (
    BookDeltas,
    BookSide,
    BookSnapshot,
    FeedState,
    FeedStatus,
    InstrumentSettled,
    MarketData,
    TradeTick,
)
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.venues.polymarket.feed import FeedConfigError, PolymarketLiveFeed
from spreadhawk.venues.polymarket_emulator import PolymarketEmulator, collector_session

TIMEOUT_S = 20.0
SOL = Path("polymarket_series/caiooooo_l2_collector/15m/sol")
MS = 1_000_000
Levels = tuple[list[tuple[int, int]], list[tuple[int, int]]]


def _instruments(session: Any) -> dict[str, Instrument]:
    """Up and Down by outcome, sizes counted in 1e-6 share (prints are that fine)."""
    market = read_polymarket_market(session.markets[0])
    up, down = (replace(inst, size_increment=Decimal("0.000001")) for inst in market.instruments())
    return {"Up": up, "Down": down}


def _recorded(folder: Path, outcome: str) -> dict[int, Levels]:
    """Each recorded book of ``outcome`` by its time: best first, in 0.01 ticks and 1e-6 shares."""
    out = {}
    for record in json.loads((folder / "orderbooks" / f"1765450800{outcome.lower()}.json").read_text()):
        bids = sorted(
            ((_units(lv["price"], "0.01"), _units(lv["size"], "0.000001")) for lv in record["bids"]), reverse=True
        )
        asks = sorted((_units(lv["price"], "0.01"), _units(lv["size"], "0.000001")) for lv in record["asks"])
        out[int(record["timestamp"]) * MS] = (bids, asks)
    return out


def _units(text: str, step: str) -> int:
    count = Decimal(text) / Decimal(step)
    assert count == count.to_integral_value()
    return int(count)


async def _feed_until_settled(feed: PolymarketLiveFeed, records: list[MarketData], on_record: Any = None) -> None:
    settled = asyncio.Event()

    def post(record: MarketData) -> None:
        records.append(record)
        if on_record is not None:
            on_record(record)
        if sum(isinstance(r, InstrumentSettled) for r in records) == 2:
            settled.set()

    task = asyncio.get_running_loop().create_task(feed.run(post))
    try:
        await asyncio.wait_for(settled.wait(), TIMEOUT_S)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _books_at(records: list[MarketData], instruments: dict[str, Instrument]) -> dict[InstrumentId, dict[int, Levels]]:
    """Each instrument's book after every record of it, by the record's time (the last at one time)."""
    books = {inst.id: OrderBook(inst.id) for inst in instruments.values()}
    at: dict[InstrumentId, dict[int, Levels]] = {iid: {} for iid in books}
    for record in records:
        if isinstance(record, BookSnapshot | BookDeltas):
            book = books[record.instrument_id]
            book.apply(record)
            assert book.is_valid
            at[record.instrument_id][record.ts_ns] = (book.levels(BookSide.BID), book.levels(BookSide.ASK))
    return at


@pytest.mark.real_data
def test_the_feed_builds_the_recorded_books_and_posts_every_print_and_the_resolution(shared_data: Path) -> None:
    folder = shared_data / SOL
    session = collector_session(folder)
    instruments = _instruments(session)
    records: list[MarketData] = []
    feed = PolymarketLiveFeed(list(instruments.values()), ws_url="", ping_interval_s=0.2)

    async def scenario() -> None:
        async with PolymarketEmulator(session, speed=0) as emu:
            feed.ws_url = emu.ws_url
            await _feed_until_settled(feed, records)

    asyncio.run(scenario())
    at = _books_at(records, instruments)
    for outcome, inst in instruments.items():
        recorded = _recorded(folder, outcome)
        assert len(recorded) == 248
        assert {ts: at[inst.id][ts] for ts in recorded} == recorded  # every recorded book, rebuilt
        prints = json.loads((folder / "trades" / f"1765450800{outcome.lower()}.json").read_text())
        ticks = [r for r in records if isinstance(r, TradeTick) and r.instrument_id == inst.id]
        assert [(t.price, t.size, t.ts_ns) for t in ticks] == [
            (_units(p["price"], "0.01"), _units(p["size"], "0.000001"), int(p["timestamp"]) * MS) for p in prints
        ]
        counts = feed.counts(inst.id)
        assert (counts.resyncs, counts.trades, counts.gaps, counts.malformed) == (1, len(prints), 0, 0)
    settlements = {r.instrument_id: r.price for r in records if isinstance(r, InstrumentSettled)}
    assert settlements == {instruments["Up"].id: 1, instruments["Down"].id: 0}
    first = records[0]
    assert isinstance(first, BookSnapshot)
    assert isinstance(records[1], FeedStatus)
    assert records[1].state is FeedState.LIVE


@pytest.mark.real_data
def test_after_a_disconnect_the_feed_resubscribes_and_starts_from_a_fresh_snapshot(shared_data: Path) -> None:
    folder = shared_data / SOL
    session = collector_session(folder)
    instruments = _instruments(session)
    records: list[MarketData] = []
    feed = PolymarketLiveFeed(list(instruments.values()), ws_url="", backoff_initial_s=0.05, backoff_max_s=0.1)

    async def scenario() -> None:
        async with PolymarketEmulator(session, speed=400) as emu:
            feed.ws_url = emu.ws_url
            cut = {"done": False}

            def on_record(record: MarketData) -> None:  # cut the connection once, after 100 changes
                if not cut["done"] and sum(isinstance(r, BookDeltas) for r in records) >= 100:
                    cut["done"] = True
                    asyncio.get_running_loop().create_task(emu.disconnect_clients())

            await _feed_until_settled(feed, records, on_record)

    asyncio.run(scenario())
    statuses = [(r.instrument_id, r.state) for r in records if isinstance(r, FeedStatus)]
    for inst in instruments.values():
        assert [s for iid, s in statuses if iid == inst.id] == [FeedState.LIVE, FeedState.DISCONNECTED, FeedState.LIVE]
        assert feed.counts(inst.id).disconnects == 1
        assert feed.counts(inst.id).resyncs == 2
    # Every book the feed holds, before and after the reconnect, is the recorded book at that time.
    at = _books_at(records, instruments)
    for outcome, inst in instruments.items():
        recorded = _recorded(folder, outcome)
        seen = {ts: levels for ts, levels in at[inst.id].items() if ts in recorded}
        assert seen == {ts: recorded[ts] for ts in seen}
        assert max(at[inst.id]) == max(recorded)  # it followed the market to its last book


def test_a_feed_without_instruments_or_with_bad_delays_is_refused() -> None:
    with pytest.raises(FeedConfigError, match="at least one instrument"):
        PolymarketLiveFeed([])
    inst = Instrument("POLYMARKET", "X-YES", InstrumentKind.BINARY, "1", "USDC", Decimal("0.01"), Decimal("0.01"))
    with pytest.raises(FeedConfigError, match="must be positive"):
        PolymarketLiveFeed([inst], staleness_s=0)


def test_a_malformed_message_and_a_silent_server_restart_the_books_on_a_new_connection() -> None:
    """A server written here: each connection sends one book; the first then a frame that is not JSON,
    the others nothing at all (PINGs unanswered), until the feed holds its third book."""
    inst = Instrument("POLYMARKET", "X-YES", InstrumentKind.BINARY, "7", "USDC", Decimal("0.01"), Decimal("0.01"))
    book = {"event_type": "book", "asset_id": "7", "market": "0x1", "timestamp": "1000",
            "bids": [{"price": "0.40", "size": "10"}], "asks": [{"price": "0.60", "size": "5"}]}  # fmt: skip
    subscriptions: list[Any] = []
    pings: list[str] = []
    records: list[MarketData] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        subscriptions.append(json.loads(await ws.receive_str()))
        await ws.send_str(json.dumps([book]))
        if len(subscriptions) == 1:
            await ws.send_str("garbage{")
        async for frame in ws:
            pings.append(frame.data)
        return ws

    async def scenario() -> None:
        app = web.Application()
        app.router.add_get("/ws/market", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        feed = PolymarketLiveFeed(
            [inst], ws_url=f"ws://127.0.0.1:{port}/ws/market", staleness_s=0.5, ping_interval_s=0.1,
            backoff_initial_s=0.05, backoff_max_s=0.1,
        )  # fmt: skip
        three_books = asyncio.Event()

        def post(record: MarketData) -> None:
            records.append(record)
            if sum(isinstance(r, BookSnapshot) for r in records) == 3:
                three_books.set()

        task = asyncio.get_running_loop().create_task(feed.run(post))
        try:
            await asyncio.wait_for(three_books.wait(), TIMEOUT_S)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await runner.cleanup()
        counts = feed.counts(inst.id)
        assert (counts.malformed, counts.stale, counts.disconnects, counts.resyncs) == (1, 1, 2, 3)

    asyncio.run(scenario())
    assert subscriptions == 3 * [{"assets_ids": ["7"], "type": "market", "custom_feature_enabled": True}]
    assert pings
    assert set(pings) == {"PING"}
    states = [(r.state, r.reason.split(":")[0].split(" for ")[0]) for r in records if isinstance(r, FeedStatus)]
    assert states == [
        (FeedState.LIVE, "book snapshot"),
        (FeedState.GAP, "malformed message"),
        (FeedState.DISCONNECTED, "malformed message"),
        (FeedState.LIVE, "book snapshot"),
        (FeedState.STALE, "nothing received"),
        (FeedState.DISCONNECTED, "nothing received"),
        (FeedState.LIVE, "book snapshot"),
    ]
    snapshots = [r for r in records if isinstance(r, BookSnapshot)]
    assert [(s.bids, s.asks) for s in snapshots] == 3 * [(((40, 1000),), ((60, 500),))]
    assert [s.sequence for s in snapshots] == [1, 2, 3]  # numbered on: each restarts the book
