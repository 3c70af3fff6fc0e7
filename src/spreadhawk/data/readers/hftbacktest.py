"""Raw Binance captures written by hftbacktest's collector (``*.gz``, older ``*.dat.gz``).

Each line is ``<local receive time> <json>``. The receive time is in ns (µs in the older ``.dat.gz``
files; told apart by magnitude). The JSON is a REST depth snapshot (``lastUpdateId``), or a
combined-stream wrapper ``{"stream":..,"data":{..}}`` around a ``depthUpdate``, ``bookTicker``,
``trade`` or ``markPriceUpdate`` event. Spot ``bookTicker`` has no ``e`` and no event time. A capture
cut short (a recorder killed: a gzip stream without its end, a last line without its newline) is
read up to the cut.

Timestamps (``clock="exchange"``, the default, because ``ts_ns`` is the exchange event time):

* every message with an event time ``E`` (ms) is stamped ``E * 1_000_000``;
* a message without one (spot ``bookTicker``, the spot REST snapshot) gets its receive time shifted
  by the ``E - receive`` offset of the latest stamped message, i.e. it is assumed to have had the
  same latency. The collector's clock can be far off the exchange's (about -1.27 s in the 2024
  captures), so raw receive times cannot be mixed with ``E``. Until the first ``E`` of a file is
  seen, such messages are held back and stamped with that first offset.
* Binance multiplexes streams on one connection, so ``E`` goes back by a few ms between streams
  (up to ~280 ms in the 2023 capture). Records are kept in file (= arrival) order and each ``ts_ns``
  is ``max(previous ts_ns, own time)``, so the output is non-decreasing and sequence ids stay in order.

``clock="local"`` stamps everything with the receive time instead (what a live strategy saw).

``markPriceUpdate`` gives a ``MarkPrice`` (mark ``p``, index ``i``) and a ``FundingRate`` estimate
(rate ``r`` for the funding time ``T``); see ``_Parser._mark_and_funding`` for the one update per
settlement that is dropped. When the stream crosses a funding time (the first update with
``E >= T`` of the last estimate) the reader also emits the realised rate of ``T``
(``ts_ns >= funding_ts_ns``, right after that update's ``MarkPrice``), so a simulated venue pays
funding on recorded data. Assumption: the realised rate is the last estimate streamed before ``T``
(the estimate is Binance's formula on the premium averaged so far, which at ``T`` is the whole
period's); the settlement itself is not in the stream.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from spreadhawk.data.readers._common import (
    NS_PER_MS,
    DataFormatError,
    Grid,
    decimal_of,
    require_file,
    to_ns,
)
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import (
    Aggressor,
    BookDeltas,
    BookSnapshot,
    FundingRate,
    Level,
    MarketData,
    MarkPrice,
    QuoteTick,
    TradeTick,
)

Clock = Literal["exchange", "local"]


def iter_hftbacktest(
    paths: Path | Iterable[Path], instrument: Instrument, *, clock: Clock = "exchange"
) -> Iterator[MarketData]:
    """Stream the records of one capture, or of consecutive files of one capture, in file order.

    Files are read lazily line by line, so a large capture never sits in memory. Several paths
    (such as ``btcusdt_20230404.dat.gz`` then ``btcusdt_20230405.dat.gz``) are read as one stream:
    the timestamp clamp and the clock offset carry over from one file to the next.
    """
    if clock not in ("exchange", "local"):
        raise ValueError(f"clock must be 'exchange' or 'local', got {clock!r}")
    files = [paths] if isinstance(paths, Path) else list(paths)
    for path in files:
        require_file(path)  # checked now, not at the first next()
    return _stream(files, _Parser(instrument, clock))


def _stream(files: list[Path], parser: _Parser) -> Iterator[MarketData]:
    for path in files:
        yield from parser.parse_file(path)
    yield from parser.flush()


def read_hftbacktest(
    paths: Path | Iterable[Path], instrument: Instrument, *, clock: Clock = "exchange"
) -> list[MarketData]:
    """All records of a capture as a list (see ``iter_hftbacktest``)."""
    return list(iter_hftbacktest(paths, instrument, clock=clock))


class _Counts(dict[str, int]):
    """Memo of text -> count. Depth messages repeat the same price and size strings over and over,
    and a hit is a plain dict lookup (several times faster than converting again)."""

    _LIMIT = 1 << 17  # entries; cleared when full so memory stays flat on long captures

    def __init__(self, grid: Grid) -> None:
        super().__init__()
        self._grid = grid

    def __missing__(self, text: str) -> int:
        if len(self) >= self._LIMIT:
            self.clear()
        count = self[text] = self._grid.count(text)
        return count


class _Parser:
    """Turns lines into records; holds the clock offset and the timestamp clamp across files."""

    def __init__(self, instrument: Instrument, clock: Clock) -> None:
        self._iid = instrument.id
        self._ticks = _Counts(Grid(instrument.tick_size))
        self._units = _Counts(Grid(instrument.size_increment))
        self._local = clock == "local"
        self._offset: int | None = None  # latest E - receive time, ns
        self._last_ts = 0
        self._held: list[tuple[int, dict[str, Any]]] = []  # messages waiting for the first offset
        self._symbol: str | None = None
        self._due: tuple[int, Decimal] | None = None  # (funding time, last estimate for it) not yet settled

    def parse_file(self, path: Path) -> Iterator[MarketData]:
        number = 0
        try:
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for number, line in enumerate(lines, start=1):
                    try:
                        records = self._parse_line(line)
                    except (ValueError, KeyError, TypeError, IndexError) as exc:
                        if not line.endswith("\n"):
                            return  # a last line cut short: a recorder killed mid-write
                        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
                        raise DataFormatError(f"{path}: line {number}: {detail} (instrument {self._iid})") from None
                    yield from records
        except EOFError:
            # The gzip stream has no end: a recorder (``spreadhawk record``, which sync-flushes every
            # line) was killed. Every line before the cut was read; the capture ends there.
            if number == 0:
                raise DataFormatError(f"{path}: cannot read gzip capture: it ends before its first line") from None
        except (OSError, zlib.error) as exc:  # not gzip, unreadable
            raise DataFormatError(f"{path}: cannot read gzip capture: {exc}") from None

    def flush(self) -> list[MarketData]:
        """Records of the held messages: stamped with the offset now known, or the local clock if none."""
        held, self._held = self._held, []
        return [record for received, data in held for record in self._records(received, data)]

    def _parse_line(self, line: str) -> list[MarketData]:
        stamp, _, body = line.partition(" ")
        received = to_ns(int(stamp))
        message = json.loads(body)
        if not isinstance(message, dict):
            raise ValueError(f"expected a JSON object, got {type(message).__name__}")
        data = message.get("data") if "stream" in message else message
        if not isinstance(data, dict):
            raise ValueError("stream message without an object in 'data'")
        if self._local or self._offset is not None:
            return self._records(received, data)
        if "E" not in data:
            self._held.append((received, data))
            return []
        # The first event time of the capture: stamp what was held with its offset, then this message.
        self._offset = int(data["E"]) * NS_PER_MS - received
        return [*self.flush(), *self._records(received, data)]

    def _records(self, received: int, data: dict[str, Any]) -> list[MarketData]:
        if self._local:
            ts = received
        elif "E" in data:
            ts = int(data["E"]) * NS_PER_MS
            self._offset = ts - received
        else:
            ts = received + (self._offset or 0)
        ts = self._last_ts = max(self._last_ts, ts)
        self._check_symbol(data)
        event = data.get("e")
        if event == "depthUpdate":
            return [self._deltas(ts, data)]
        if event == "trade":
            return [self._trade(ts, data)]
        if event == "bookTicker" or (event is None and "B" in data and "A" in data):
            return [self._quote(ts, data)]
        if event == "markPriceUpdate":
            return self._mark_and_funding(ts, data)
        if event is None and "lastUpdateId" in data:
            return [self._snapshot(ts, data)]
        return []  # subscription acks and streams we do not model carry no market data

    def _check_symbol(self, data: dict[str, Any]) -> None:
        # One capture holds one symbol; records of another would be filed under the wrong instrument.
        symbol = data.get("s") or data.get("symbol")
        if symbol is None:
            return
        if self._symbol is None:
            self._symbol = symbol
        elif symbol != self._symbol:
            raise ValueError(f"symbol {symbol!r} in a capture of {self._symbol!r}")

    def _levels(self, raw: list[list[str]]) -> tuple[Level, ...]:
        ticks, units = self._ticks, self._units
        return tuple([(ticks[price], units[size]) for price, size in raw])

    def _snapshot(self, ts: int, data: dict[str, Any]) -> BookSnapshot:
        # Binance returns both sides best first; sorting once per snapshot guarantees it.
        bids = sorted((lv for lv in self._levels(data["bids"]) if lv[1]), reverse=True)
        asks = sorted(lv for lv in self._levels(data["asks"]) if lv[1])
        return BookSnapshot(self._iid, ts, int(data["lastUpdateId"]), tuple(bids), tuple(asks))

    def _deltas(self, ts: int, data: dict[str, Any]) -> BookDeltas:
        first, last = int(data["U"]), int(data["u"])
        # Futures chain diffs by "pu" (ids are not contiguous); spot ids are, so the previous is U - 1.
        previous = int(data["pu"]) if "pu" in data else first - 1
        return BookDeltas(self._iid, ts, first, last, previous, self._levels(data["b"]), self._levels(data["a"]))

    def _quote(self, ts: int, data: dict[str, Any]) -> QuoteTick:
        ticks, units = self._ticks, self._units
        return QuoteTick(self._iid, ts, ticks[data["b"]], units[data["B"]], ticks[data["a"]], units[data["A"]])

    def _mark_and_funding(self, ts: int, data: dict[str, Any]) -> list[MarketData]:
        index = decimal_of(data["i"]) if "i" in data else None
        records: list[MarketData] = [MarkPrice(self._iid, ts, decimal_of(data["p"]), index)]
        funding_ts = int(data["T"]) * NS_PER_MS
        # The stream's rate is the estimate for the next funding time T. Right after a settlement
        # Binance sends one update whose T has not rolled over yet (E >= T) while r is already the
        # next period's estimate: it is neither an estimate for T nor the realised rate, so it is
        # dropped. A FundingRate from this stream is therefore always an estimate (ts_ns < T); realised
        # rates come from the exchange's funding history (e.g. freqtrade's funding_rate files), or
        # from the settlement below.
        event_ts = int(data["E"]) * NS_PER_MS
        if self._due is not None and event_ts >= self._due[0]:
            due_ts, rate = self._due
            self._due = None
            records.append(FundingRate(self._iid, ts, rate, due_ts))  # realised: ts >= E >= T
        if event_ts < funding_ts and ts < funding_ts:
            estimate = FundingRate(self._iid, ts, decimal_of(data["r"]), funding_ts)
            records.append(estimate)
            self._due = (funding_ts, estimate.rate)
        return records

    def _trade(self, ts: int, data: dict[str, Any]) -> TradeTick:
        # "m": the buyer was the maker, so the seller took liquidity.
        aggressor = Aggressor.SELLER if data["m"] else Aggressor.BUYER
        return TradeTick(
            self._iid,
            ts,
            self._ticks[data["p"]],
            self._units[data["q"]],
            aggressor,
            str(data["t"]),
        )
