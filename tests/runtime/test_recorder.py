"""``spreadhawk record`` against the two emulators over real sockets: the session file holds exactly the
messages the Polymarket emulator served and the existing reader rebuilds the recorded books from it
(checked against the raw collector files); the Binance capture holds the served stream objects and
``read_hftbacktest`` reads it; both stay readable when the recorder is killed mid-write."""

from __future__ import annotations

import asyncio
import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.data.readers import read_hftbacktest
from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.data.readers.polymarket import read_polymarket_markets
from spreadhawk.data.readers.polymarket_session import read_polymarket_session
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, QuoteTick, TradeTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.runtime.recorder import RecordError, record_binance, record_polymarket
from spreadhawk.venues.emulator import BinanceEmulator, Market
from spreadhawk.venues.polymarket_emulator import (
    PolymarketEmulator,
    PolymarketSession,
    collector_session,
    recorded_session,
)

SOL = Path("polymarket_series/caiooooo_l2_collector/15m/sol")
CAPTURE = Path("hftbacktest/binance_spot/btcusdt_20240808.gz")
RECORD_S = 3.0  # at speed 20: 60 s of the session, which is cut at 45 s (past the 8.181817-share print at 37.9 s)


@pytest.mark.real_data
def test_record_writes_what_the_emulators_served_and_the_readers_take_it_back(
    shared_data: Path, tmp_path: Path
) -> None:
    full = collector_session(shared_data / SOL)
    # Its first 45 s: past the print of 8.181817 shares at 37.891 s (sizes to the share's 6 decimals)
    start = full.events[0].at_ms
    session = PolymarketSession(full.markets, [e for e in full.events if e.at_ms < start + 45_000])
    served: list[dict[str, Any]] = []
    session_path, markets_path = tmp_path / "session.jsonl", tmp_path / "markets.json"
    condition = session.markets[0]["condition_id"]

    async def scenario() -> None:
        binance = BinanceEmulator.from_data_dir(shared_data, Market.SPOT, ["btcusdt"], speed=20)
        async with PolymarketEmulator(session, speed=20) as poly, binance:
            poly.add_market_listener(served.append)
            await asyncio.gather(
                record_polymarket(poly.ws_url, poly.http_url, [condition], session_path, markets_path, RECORD_S),
                record_binance(binance.ws_url, ["btcusdt@bookTicker", "btcusdt@trade"], tmp_path, RECORD_S),
            )
            with pytest.raises(RecordError, match=r"market 0xnope: .* answered 404"):
                await record_polymarket(poly.ws_url, poly.http_url, ["0xnope"], tmp_path / "x", tmp_path / "y", 1)

    asyncio.run(scenario())
    lines = [json.loads(line) for line in session_path.read_text().splitlines()]
    assert [line["message"] for line in lines] == served == [e.message for e in session.events]  # all, in order
    assert all(isinstance(line["received_ms"], int) for line in lines)
    # ...and the emulator replays the recording as it was served (spreadhawk emulate-polymarket --session).
    assert [e.message for e in recorded_session(session_path, markets_path).events] == served
    # The existing reader takes the files back; its books are the collector's recorded books.
    markets = read_polymarket_markets(markets_path)
    up, down = markets[0].instruments()
    records = read_polymarket_session(session_path, markets)
    books = {inst.id: OrderBook(inst.id) for inst in (up, down)}
    compared = 0
    for record in records:
        if isinstance(record, BookSnapshot | BookDeltas):
            book = books[record.instrument_id]
            book.apply(record)
            outcome = "up" if record.instrument_id == up.id else "down"
            raw = _raw_book(shared_data / SOL, outcome, record.ts_ns // 1_000_000)
            if raw is not None:
                assert (book.levels(BookSide.BID), book.levels(BookSide.ASK)) == raw
                compared += 1
    assert compared == 2 * 6  # every recorded book of the window (0, 28.1, 29.0, 29.5, 37.9 and 41.6 s), both tokens
    # Binance: the stream objects served, in order; read_hftbacktest reads them as quotes and trades.
    capture = tmp_path / "btcusdt.gz"
    with gzip.open(capture, "rt") as handle:
        recorded = [json.loads(line.split(" ", 1)[1]) for line in handle]
    assert recorded == _served_binance(shared_data / CAPTURE, len(recorded))
    ticks = read_hftbacktest(capture, binance_spot_btcusdt())
    assert len(ticks) == len(recorded) > 100
    assert {type(r) for r in ticks} == {QuoteTick, TradeTick}
    # Killed mid-write: a cut gzip stream and a cut last line are read up to the cut.
    cut = tmp_path / "cut.gz"
    cut.write_bytes(capture.read_bytes()[:-40])
    assert 0 < len(read_hftbacktest(cut, binance_spot_btcusdt())) <= len(ticks)
    session_path.write_text(session_path.read_text() + '{"received_ms": 1, "mess')
    assert read_polymarket_session(session_path, markets) == records


def _raw_book(folder: Path, outcome: str, ts_ms: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    """The collector's recorded book of ``outcome`` at ``ts_ms``: prices in 0.01 ticks, sizes in
    millionths of a share (None if none)."""
    for record in _raw_books(folder, outcome):
        if int(record["timestamp"]) == ts_ms:
            bids = sorted(((_count(lv["price"]), _millionths(lv["size"])) for lv in record["bids"]), reverse=True)
            asks = sorted((_count(lv["price"]), _millionths(lv["size"])) for lv in record["asks"])
            return bids, asks
    return None


_CACHE: dict[tuple[Path, str], list[dict[str, Any]]] = {}


def _raw_books(folder: Path, outcome: str) -> list[dict[str, Any]]:
    key = (folder, outcome)
    if key not in _CACHE:
        _CACHE[key] = json.loads((folder / "orderbooks" / f"1765450800{outcome}.json").read_text())
    return _CACHE[key]


def _count(text: str) -> int:
    return int(Decimal(text) / Decimal("0.01"))


def _millionths(text: str) -> int:
    return int(Decimal(text) / Decimal("0.000001"))


def _served_binance(path: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` bookTicker and trade objects of the capture, in file order."""
    out: list[dict[str, Any]] = []
    with gzip.open(path, "rt") as lines:
        for line in lines:
            message = json.loads(line.split(" ", 1)[1])
            if message.get("stream", "").endswith(("@bookTicker", "@trade")):
                out.append(message["data"])
                if len(out) == count:
                    break
    return out


def test_record_without_anything_to_record_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["record", "--out", str(tmp_path), "--duration", "1"])
    assert result.exit_code == 2
    assert "nothing to record" in result.output
