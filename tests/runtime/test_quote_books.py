"""Quote ticks are first-class (#11): a feed that gives only the top of book (Lean quote bars, a
``bookTicker`` capture) keeps a one-level book that detectors and strategies read.

The real Lean BTC-USD minute quotes of Coinbase (2018-04-04) against the same quotes one minute
late, as a second venue ("LAGGED": a venue whose quotes trail the market by a minute). Whenever the
price moved by more than the spread and both taker fees within a minute, one venue's bid is above
the other's ask. ``scan`` must find exactly the opportunities a walk over the raw CSV rows finds.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import BookDeltas, BookSnapshot, QuoteTick
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.runtime.scan_run import build_scan, load_scan_config

LEAN = "quantconnect_lean/crypto/coinbase/minute/btcusd/20180404_quote.zip"
MINUTE_MS = 60_000
FEE = Decimal("0.003")  # Coinbase Pro's taker fee in April 2018, on both venues
MAX_AGE_NS = 60 * 10**9  # the default book age limit

CONFIG = """
[run]
name = "lean quotes, two venues"
valuation_currency = "USD"

[[instruments]]
preset = "coinbase_btcusd"

[[instruments]]
venue = "LAGGED"
symbol = "BTC/USD"
base = "BTC"
quote = "USD"
tick_size = "0.01"
lot_size = "0.00000001"
taker_fee = "0.003"

[[data]]
format = "lean_quotes"
instrument = "COINBASE:BTC/USD"
path = "{coinbase}"

[[data]]
format = "lean_quotes"
instrument = "LAGGED:BTC/USD"
path = "{lagged}"
"""


def _rows(path: Path) -> list[list[str]]:
    with zipfile.ZipFile(path) as archive:
        (name,) = archive.namelist()
        return list(csv.reader(io.TextIOWrapper(archive.open(name), encoding="utf-8")))


def _lagged_copy(source: Path, folder: Path) -> Path:
    """The same quotes, each stamped one minute later (the name keeps Lean's date)."""
    folder.mkdir()
    rows = [[str(int(r[0]) + MINUTE_MS), *r[1:]] for r in _rows(source) if int(r[0]) + MINUTE_MS < 86_400_000]
    out = folder / source.name
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("20180404_btcusd_minute_quote.csv", "".join(",".join(r) + "\n" for r in rows))
    return out


def _independent_walk(coinbase: Path, lagged: Path) -> list[tuple[str, int, int, int, Decimal]]:
    """(key, first seen, last seen, closed, max edge bps) from the raw rows, written without the
    engine: the latest quote of each venue, usable while at most a minute old and while its file
    has rows left; an opportunity opens at the first instant its bid beats its ask after both fees
    and closes at the first instant either venue changes and it is gone."""
    midnight = int(datetime(2018, 4, 4, tzinfo=UTC).timestamp()) * 10**9
    streams = {}
    for venue, path in (("COINBASE", coinbase), ("LAGGED", lagged)):
        # a Lean row is stamped with its minute's open; the quote is known at the minute's close
        streams[venue] = {
            midnight + (int(r[0]) + MINUTE_MS) * 10**6: (Decimal(r[4]), Decimal(r[9])) for r in _rows(path)
        }
    last_ts = {v: max(s) for v, s in streams.items()}
    instants = sorted(set(streams["COINBASE"]) | set(streams["LAGGED"]))
    quote: dict[str, tuple[int, Decimal, Decimal]] = {}
    live: dict[str, list[Any]] = {}
    done: list[tuple[str, int, int, int, Decimal]] = []
    for t in instants:
        for venue, stream in streams.items():
            if t in stream:
                quote[venue] = (t, *stream[t])
        for buy, sell in (("COINBASE", "LAGGED"), ("LAGGED", "COINBASE")):
            key = f"{buy}:BTC/USD->{sell}:BTC/USD"
            usable = all(v in quote and t - quote[v][0] <= MAX_AGE_NS and t <= last_ts[v] for v in (buy, sell))
            edge = None
            if usable:
                ask, bid = quote[buy][2], quote[sell][1]
                net = bid * (1 - FEE) - ask * (1 + FEE)
                if net > 0:
                    edge = net / ask * 10_000
            if edge is not None:
                if key in live:
                    live[key][1] = t
                    live[key][2] = max(live[key][2], edge)
                else:
                    live[key] = [t, t, edge]
            elif key in live:
                first, last, peak = live.pop(key)
                done.append((key, first, last, t, peak))
    end = instants[-1]
    done += [(key, first, last, end, peak) for key, (first, last, peak) in live.items()]
    return sorted(done)


def test_scan_of_lean_quotes_finds_what_a_walk_of_the_raw_rows_finds(tmp_path: Path, shared_data: Path) -> None:
    coinbase = shared_data / LEAN
    lagged = _lagged_copy(coinbase, tmp_path / "lagged")
    config = tmp_path / "scan.toml"
    config.write_text(CONFIG.format(coinbase=coinbase, lagged=lagged), encoding="utf-8")
    scanner = build_scan(load_scan_config(config)).run()
    found = sorted((o.key, o.first_seen_ns, o.last_seen_ns, o.closed_ns, o.max_edge_bps) for o in scanner.history)
    expected = _independent_walk(coinbase, lagged)
    assert len(expected) >= 5  # the minute's moves beat 60 bps of fees a few times that day
    # the price fell that day: the lagged venue's bid stayed above the live ask a few times
    assert {k for k, *_ in expected} == {"COINBASE:BTC/USD->LAGGED:BTC/USD"}
    assert scanner.evaluations > 1000
    assert found == expected


# --------------------------------------------------------------------------- the book from quotes
IID = InstrumentId("X:BTC/USDT")


def _quote(ts: int, bid: int, ask: int, bid_size: int = 5, ask_size: int = 7) -> QuoteTick:
    return QuoteTick(IID, ts, bid, bid_size, ask, ask_size)


def test_a_quote_is_the_whole_book_of_an_instrument_without_l2_data() -> None:
    book = OrderBook(IID)
    assert book.apply_quote(_quote(1, 100, 101))
    assert (book.is_valid, book.from_quotes) == (True, True)
    assert (book.best_bid(), book.best_ask(), book.ts_ns) == ((100, 5), (101, 7), 1)
    assert book.apply_quote(_quote(2, 102, 103, bid_size=0))  # the next quote replaces it: no bid now
    assert (book.best_bid(), book.best_ask()) == (None, (103, 7))
    assert book.apply_quote(_quote(3, 104, 104))
    assert book.invalid_reason == "crossed book: best bid 104 >= best ask 104"  # nothing is priced from it
    assert book.apply_quote(_quote(4, 104, 105))
    assert book.invalid_reason is None


def test_quotes_never_touch_a_book_kept_from_l2_records() -> None:
    book = OrderBook(IID)
    book.apply_snapshot(BookSnapshot(IID, 1, 10, ((99, 1), (98, 2)), ((100, 3),)))
    assert not book.apply_quote(_quote(2, 50, 60))
    assert (book.best_bid(), book.best_ask(), book.from_quotes) == ((99, 1), (100, 3), False)
    waiting = OrderBook(IID)  # deltas waiting for their snapshot: an L2 book being synced
    waiting.apply_deltas(BookDeltas(IID, 1, 11, 11, 10, ((99, 1),), ()))
    assert not waiting.apply_quote(_quote(2, 50, 60))
    assert not waiting.is_valid
    quoted = OrderBook(IID)  # a snapshot takes over from quotes
    quoted.apply_quote(_quote(1, 50, 60))
    quoted.apply_snapshot(BookSnapshot(IID, 2, 10, ((99, 1),), ((100, 3),)))
    assert not quoted.from_quotes
    assert not quoted.apply_quote(_quote(3, 50, 60))
    assert quoted.best_bid() == (99, 1)
