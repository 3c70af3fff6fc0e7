"""Paper trading on the live driver: parity with the backtest driver, no report inside ``submit``,
and a restart that resumes from the journal, reconciles cleanly and never reuses a client order id.

The tape is the real Binance spot BTCUSDT capture (hftbacktest, 2024-08-08). The live driver is fed
through its inbox by ``RecordedFeed``; its clock follows the exchange timestamps, so at zero latency
every decision must be the backtest's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from probe_config import probe_config

from spreadhawk.domain.accounts import AccountSnapshot
from spreadhawk.domain.events import SubmitOrder
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import MARKET_DATA
from spreadhawk.engine.journal import read_journal
from spreadhawk.engine.live import LiveFeed
from spreadhawk.runtime.config import RunConfig
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.paper import PaperNode, build_paper
from spreadhawk.strategy.library.book_probe import BookProbe
from spreadhawk.venues.recorded import RecordedFeed

pytestmark = pytest.mark.real_data
RECORDS = 24_000  # about 70 s of the capture: depth diffs, book tickers, trades


def _config(shared_data: Path, tmp_path: Path, trade_every: int = 1500) -> RunConfig:
    return probe_config(shared_data, tmp_path, trade_every=trade_every)


@pytest.fixture(scope="module")
def tape(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[MarketData]:
    config = _config(shared_data, tmp_path_factory.mktemp("tape"))
    (source,) = load_feed(config).sources
    records = []
    for record in source:
        records.append(record)
        if len(records) == RECORDS:
            break
    return records


def _paper(config: RunConfig, journal: Path, records: Sequence[MarketData]) -> PaperNode:
    def feeds(_: RunConfig, __: dict[object, Instrument]) -> list[LiveFeed]:
        return [RecordedFeed(records)]

    node = build_paper(config, journal, feeds, clock=SimClock(records[0].ts_ns))  # type: ignore[arg-type]
    handled = 0
    stop = asyncio.Event()

    def on_message(message: object) -> None:
        nonlocal handled
        if isinstance(message, MARKET_DATA):
            handled += 1
            if handled == len(records):
                stop.set()

    asyncio.run(asyncio.wait_for(node.run(stop, on_message=on_message), timeout=120))
    return node


def _resync(before: Sequence[MarketData]) -> BookSnapshot:
    """The snapshot a restarted feed fetches first: the book as the stream before it left it."""
    book = OrderBook(before[0].instrument_id)
    for record in before:
        if isinstance(record, BookSnapshot | BookDeltas):
            book.apply(record)
    assert book.is_valid
    bids, asks = book.levels(BookSide.BID), book.levels(BookSide.ASK)
    return BookSnapshot(book.instrument_id, before[-1].ts_ns, book.sequence, tuple(bids), tuple(asks))


def _probe(strategies: Sequence[object]) -> BookProbe:
    (probe,) = strategies
    assert isinstance(probe, BookProbe)
    return probe


def _fills(probe: BookProbe) -> list[tuple[int, str, Decimal, Decimal, Decimal]]:
    return [(f.ts_ns, str(f.side), f.quantity, f.price, f.fee) for f in probe.fills]


def test_the_live_driver_makes_the_backtests_decisions_on_the_same_tape(
    shared_data: Path, tmp_path: Path, tape: list[MarketData]
) -> None:
    config = _config(shared_data, tmp_path)
    backtest = build_backtest(config)
    backtest.sources = [tape]
    backtest.run()
    replayed = _probe(backtest.strategies)
    paper = _paper(config, tmp_path / "paper.journal", tape)
    live = _probe(paper.strategies)
    assert len(replayed.fingerprints) > 2_000
    assert live.fingerprints == replayed.fingerprints  # the same book, top 10 levels, at every update
    assert len(replayed.fills) > 40
    assert _fills(live) == _fills(replayed)  # the same orders and fills, at the same exchange times
    assert replayed.early_reports == live.early_reports == []  # no report ever inside submit
    ledger = paper.engine.portfolio.ledger.venue_balances("BINANCE")
    assert ledger == backtest.engine.portfolio.ledger.venue_balances("BINANCE")


def test_a_restarted_node_resumes_from_its_journal_and_never_reuses_an_order_id(
    shared_data: Path, tmp_path: Path, tape: list[MarketData]
) -> None:
    config = _config(shared_data, tmp_path, trade_every=1400)
    journal = tmp_path / "paper.journal"
    half = len(tape) // 2
    while tape[half].ts_ns - tape[0].ts_ns < 2_000_000_000 or tape[half].ts_ns == tape[half - 1].ts_ns:
        half += 1
    first = _paper(config, journal, tape[:half])
    balances_at_stop = first.engine.portfolio.ledger.venue_balances("BINANCE")
    sent_first = {o.client_order_id for o in first.engine.orders.values()}
    assert len(sent_first) > 20

    second = _paper(config, journal, [_resync(tape[:half]), *tape[half:]])
    assert second.restored is not None
    assert second.restored.commands >= len(sent_first)
    assert second.differences == []  # reconciled cleanly before trading resumed
    sent_second = {o.client_order_id for o in second.engine.orders.values()} - sent_first
    assert len(sent_second) > 20
    # the counter went on where the first run stopped (a new run prefix alone would hide a reset)
    numbers = sorted(int(coid.rsplit("-", 1)[1]) for coid in sent_second)
    assert numbers[0] == len(sent_first) + 1
    submitted = [r.client_order_id for r in read_journal(journal) if isinstance(r, SubmitOrder)]
    assert len(submitted) == len(set(submitted)) == len(sent_first) + len(sent_second)
    # the second run started from the balances the first one stopped with, and its venue agrees
    opening = [r for r in read_journal(journal) if isinstance(r, AccountSnapshot)]
    assert len(opening) == 2
    resumed = {b.asset: b.total for b in opening[1].balances if b.total}
    assert resumed == {a: v for a, v in balances_at_stop.items() if v}
    venue = second.venues["BINANCE"]
    assert {a: v for a, v in venue.balances().items() if v} == {
        a: v for a, v in second.engine.portfolio.ledger.venue_balances("BINANCE").items() if v
    }
