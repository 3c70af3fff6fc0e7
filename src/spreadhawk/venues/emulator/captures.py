"""The emulator's view of a raw Binance capture: the exchange's own JSON objects, in file order.

The capture format (``<receive time> <json>`` lines, a combined-stream wrapper around each event, one
REST depth snapshot line) is described and parsed into domain records by
``spreadhawk.data.readers.hftbacktest``. An exchange emulator needs the opposite of records: the
objects exactly as Binance sent them, so it can send them again. This module therefore only splits a
line into its receive time, stream name and JSON object, and keeps the object as it is; the receive
time goes through the reader's ``to_ns`` and errors are the readers' ``DataFormatError``.

``RawBook`` is Binance's book as Binance prints it (decimal strings), kept by applying the recorded
diffs to the recorded snapshot, so the emulator can answer ``GET depth`` at any replay position.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import DataFormatError, require_file, to_ns

__all__ = ["Capture", "Market", "Message", "RawBook", "StreamKind", "capture_paths", "load_capture"]


class Market(StrEnum):
    SPOT = "spot"
    USDM = "usdm"


class StreamKind(StrEnum):
    DEPTH = "depth"
    BOOK_TICKER = "bookTicker"
    TRADE = "trade"
    MARK_PRICE = "markPrice"


# Folder of each market under shared/data/hftbacktest and the captures the emulator replays there.
_FOLDERS = {Market.SPOT: "binance_spot", Market.USDM: "binance_usdm_futures"}
_DEFAULT_DAY = "20240808"


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded exchange object: ``data`` is never modified (captures are cached and shared)."""

    received_ns: int
    symbol: str  # exchange id, upper case ("BTCUSDT")
    kind: StreamKind
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Capture:
    """One symbol's recording: its stream messages and the REST snapshot recorded among them."""

    path: Path
    symbol: str
    messages: tuple[Message, ...]
    snapshot: dict[str, Any]  # the recorded GET depth answer ({"lastUpdateId": .., "bids": .., "asks": ..})
    depth_count: int = field(default=0)


def capture_paths(data_dir: Path, market: Market, symbols: list[str], day: str = _DEFAULT_DAY) -> list[Path]:
    """Paths of the captures of ``symbols`` (any case) for ``market`` under ``data_dir`` (shared/data)."""
    folder = data_dir / "hftbacktest" / _FOLDERS[market]
    return [folder / f"{symbol.lower()}_{day}.gz" for symbol in symbols]


def _kind_of(stream: str, data: dict[str, Any]) -> StreamKind | None:
    event = data.get("e")
    if event == "depthUpdate":
        return StreamKind.DEPTH
    if event == "trade":
        return StreamKind.TRADE
    if event == "markPriceUpdate":
        return StreamKind.MARK_PRICE
    if event == "bookTicker" or stream.endswith("@bookTicker"):
        return StreamKind.BOOK_TICKER
    return None  # subscription answers and streams the emulator does not serve


@lru_cache(maxsize=8)
def load_capture(path: Path, *continued: Path) -> Capture:
    """Read a capture once per process (cached: tests start many emulators on the same files).

    ``continued``: files that go on with the same stream (a capture split at midnight, such as the
    USD-M 2023-04-04/05 pair); only the first holds the REST snapshot."""
    messages: list[Message] = []
    snapshot: dict[str, Any] | None = None
    symbol: str | None = None
    for part in (path, *continued):
        require_file(part)
        for received, obj, stream in _lines(part):
            if "lastUpdateId" in obj:
                snapshot = snapshot or obj
                continue
            data = obj.get("data")
            if not isinstance(data, dict):
                continue
            kind = _kind_of(stream, data)
            if kind is None:
                continue
            if "s" not in data:
                raise DataFormatError(f"{part}: a {kind} message without a symbol")
            symbol = symbol or str(data["s"])
            messages.append(Message(received, str(data["s"]), kind, data))
    if snapshot is None or symbol is None:
        raise DataFormatError(f"{path}: no REST depth snapshot or no stream message in the capture")
    depth = sum(1 for m in messages if m.kind is StreamKind.DEPTH)
    return Capture(path, symbol, tuple(messages), snapshot, depth)


def _lines(path: Path) -> list[tuple[int, dict[str, Any], str]]:
    """``(receive time ns, JSON object, stream name)`` of every line of a gzip capture."""
    found: list[tuple[int, dict[str, Any], str]] = []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    stamp, _, body = line.partition(" ")
                    obj = json.loads(body)
                    if not isinstance(obj, dict):
                        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
                    found.append((to_ns(int(stamp)), obj, str(obj.get("stream", ""))))
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataFormatError(f"{path}: line {number}: {exc}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: cannot read gzip capture: {exc}") from None
    return found


def _price_key(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"price {text!r} is not a number") from None


class RawBook:
    """Binance's L2 book in Binance's strings: recorded snapshot + every diff replayed since.

    ``last_update_id`` is the ``u`` of the last diff applied (or the snapshot's ``lastUpdateId``), so a
    depth answer built from it is consistent with the replay position, as Binance's own would be.
    """

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.last_update_id = int(snapshot["lastUpdateId"])
        self.recorded_update_id = self.last_update_id
        # Futures answers carry the event and transaction time of the book ("E", "T"); spot's do not.
        self._times: dict[str, Any] = {key: snapshot[key] for key in ("E", "T") if key in snapshot}
        self._bids: dict[Decimal, tuple[str, str]] = {}
        self._asks: dict[Decimal, tuple[str, str]] = {}
        self._set(self._bids, snapshot["bids"])
        self._set(self._asks, snapshot["asks"])

    @staticmethod
    def _set(side: dict[Decimal, tuple[str, str]], levels: list[list[str]]) -> None:
        for price, qty in levels:
            key = _price_key(price)
            if Decimal(qty):
                side[key] = (price, qty)
            else:
                side.pop(key, None)

    def apply(self, diff: dict[str, Any]) -> None:
        """Apply a ``depthUpdate``; diffs the snapshot already contains (``u`` <= its id) are skipped."""
        last = int(diff["u"])
        if last <= self.last_update_id:
            return
        self._set(self._bids, diff["b"])
        self._set(self._asks, diff["a"])
        self.last_update_id = last
        for key in self._times:
            self._times[key] = diff.get(key, diff["E"])

    def depth(self, limit: int) -> dict[str, Any]:
        """The ``GET depth`` answer: best ``limit`` levels per side, best first."""
        bids = [list(self._bids[k]) for k in sorted(self._bids, reverse=True)[:limit]]
        asks = [list(self._asks[k]) for k in sorted(self._asks)[:limit]]
        return {"lastUpdateId": self.last_update_id, **self._times, "bids": bids, "asks": asks}

    def size_at(self, *, bids: bool, price: Decimal) -> Decimal:
        """The quantity displayed at ``price`` on one side (0 when there is no such level)."""
        level = (self._bids if bids else self._asks).get(_price_key(str(price)))
        return Decimal(level[1]) if level is not None else Decimal(0)

    def levels(self, bids: bool) -> list[tuple[Decimal, Decimal]]:
        """One side as ``(price, qty)`` Decimals, best first (what the matching engine sweeps)."""
        side = self._bids if bids else self._asks
        return [(key, Decimal(side[key][1])) for key in sorted(side, reverse=bids)]
