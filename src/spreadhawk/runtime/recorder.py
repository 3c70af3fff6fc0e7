"""``spreadhawk record``: the Polymarket market channel and the Binance reference, written to files the
project's readers take back.

* Polymarket (``record_polymarket``): the markets are fetched from the CLOB REST API
  (``GET /markets/{condition_id}``) and written as one ``/markets`` page (``markets_file`` of the
  ``polymarket`` [[data]] format, read by ``read_polymarket_markets``); then the market channel of all
  their tokens is recorded, one ``{"received_ms": ..., "message": ...}`` a line, exactly the frame
  received (the initial book dump is a list), the session file of that format. Disconnects are
  recorded through: the recorder reconnects and resubscribes, and the channel's fresh ``book`` of
  each token starts the books again (the reader applies a book as a snapshot).
* Binance (``record_binance``): the raw stream objects of a websocket (``btcusdt@bookTicker``,
  ``btcusdt@trade``) as hftbacktest's collector writes them, ``<receive ns> <json>`` lines gzipped,
  one file per symbol (``read_hftbacktest`` / the ``hftbacktest`` [[data]] format).

Crash safety: every line is flushed as written (the gzip stream with a sync flush), so a recorder
killed at any point leaves every line before the cut readable; the readers take a cut last line
(and a gzip stream without its end) as the end of the recording. Receive times are the wall clock:
that is what a recording's receive time means.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
from aiohttp import WSMsgType

__all__ = ["RecordError", "Recorded", "record_binance", "record_polymarket"]

log = logging.getLogger(__name__)
_PING_S = 10.0  # Polymarket asks for a PING about every 10 s
_RECONNECT_S = 1.0


class RecordError(ValueError):
    """A recording cannot start (a market the API does not know, a path that cannot be written)."""


@dataclass
class Recorded:
    """What a recorder wrote."""

    paths: list[Path] = field(default_factory=list)
    messages: int = 0  # frames written
    reconnects: int = 0


def _now_ns() -> int:
    return time.time_ns()  # noqa: TID251 -- a recording's receive time is the wall clock


async def fetch_markets(http: aiohttp.ClientSession, rest_url: str, condition_ids: Sequence[str]) -> list[Any]:
    """The CLOB market objects of ``condition_ids`` (``GET /markets/{condition_id}``)."""
    markets = []
    for condition_id in condition_ids:
        async with http.get(f"{rest_url.rstrip('/')}/markets/{condition_id}") as answer:
            if answer.status != 200:
                raise RecordError(f"market {condition_id}: {rest_url} answered {answer.status}: {await answer.text()}")
            market = await answer.json()
        if not isinstance(market, dict) or not market.get("tokens"):
            raise RecordError(f"market {condition_id}: {rest_url} answered no tokens")
        markets.append(market)
    return markets


async def record_polymarket(
    ws_url: str,
    rest_url: str,
    condition_ids: Sequence[str],
    session_path: Path,
    markets_path: Path,
    duration_s: float,
) -> Recorded:
    """Record the market channel of ``condition_ids`` for ``duration_s`` (see the module docstring)."""
    if not condition_ids:
        raise RecordError("name at least one market (condition id) to record")
    recorded = Recorded([session_path, markets_path])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    async with aiohttp.ClientSession() as http:
        markets = await fetch_markets(http, rest_url, condition_ids)
        page = {"data": markets, "next_cursor": "LTE=", "limit": len(markets), "count": len(markets)}
        _write_atomically(markets_path, json.dumps(page, indent=1) + "\n")
        assets = [str(t["token_id"]) for m in markets for t in m["tokens"] if t.get("token_id")]
        subscription = json.dumps({"assets_ids": assets, "type": "market", "custom_feature_enabled": True})
        with _open(session_path) as out:
            while loop.time() < deadline:
                try:
                    await _channel(http, ws_url, subscription, out, deadline, recorded)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("record: polymarket channel lost (%s); reconnecting", exc)
                if loop.time() < deadline:
                    recorded.reconnects += 1
                    await asyncio.sleep(min(_RECONNECT_S, max(0.0, deadline - loop.time())))  # noqa: TID251
    return recorded


async def _channel(
    http: aiohttp.ClientSession, url: str, subscription: str, out: IO[str], deadline: float, recorded: Recorded
) -> None:
    loop = asyncio.get_running_loop()
    async with http.ws_connect(url, autoping=True, heartbeat=None) as ws:
        await ws.send_str(subscription)
        next_ping = loop.time() + _PING_S
        while (left := deadline - loop.time()) > 0:
            try:
                frame = await ws.receive(timeout=max(0.01, min(left, next_ping - loop.time())))
            except TimeoutError:
                if loop.time() >= next_ping:
                    await ws.send_str("PING")
                    next_ping = loop.time() + _PING_S
                continue
            if frame.type is not WSMsgType.TEXT:
                return  # closed or broken: the caller reconnects while time is left
            if frame.data == "PONG":
                continue
            try:
                message = json.loads(frame.data)
            except json.JSONDecodeError:
                log.warning("record: a frame that is not JSON was not recorded: %.80s", frame.data)
                continue
            out.write(json.dumps({"received_ms": _now_ns() // 1_000_000, "message": message}) + "\n")
            out.flush()
            recorded.messages += 1


async def record_binance(ws_url: str, streams: Sequence[str], folder: Path, duration_s: float) -> Recorded:
    """Record Binance ``streams`` (``btcusdt@bookTicker``...) into ``folder/<symbol>.gz`` for ``duration_s``."""
    if not streams:
        raise RecordError("name at least one Binance stream, e.g. btcusdt@bookTicker")
    recorded = Recorded()
    files: dict[str, _GzipLines] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration_s
    request = json.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": 1})
    try:
        async with aiohttp.ClientSession() as http:
            while loop.time() < deadline:
                try:
                    async with http.ws_connect(ws_url, autoping=True) as ws:
                        await ws.send_str(request)
                        while (left := deadline - loop.time()) > 0:
                            try:
                                frame = await ws.receive(timeout=left)
                            except TimeoutError:
                                break
                            if frame.type is not WSMsgType.TEXT:
                                break
                            received = _now_ns()
                            data = json.loads(frame.data)
                            event = data.get("data", data) if isinstance(data, dict) else None
                            symbol = event.get("s") if isinstance(event, dict) else None
                            if not symbol:
                                continue  # answers to SUBSCRIBE carry no market data
                            if symbol not in files:
                                files[symbol] = _GzipLines(folder / f"{str(symbol).lower()}.gz")
                                recorded.paths.append(files[symbol].path)
                            files[symbol].write(f"{received} {frame.data}")
                            recorded.messages += 1
                except (aiohttp.ClientError, OSError, json.JSONDecodeError) as exc:
                    log.warning("record: binance stream lost (%s); reconnecting", exc)
                if loop.time() < deadline:
                    recorded.reconnects += 1
                    await asyncio.sleep(min(_RECONNECT_S, max(0.0, deadline - loop.time())))  # noqa: TID251
    finally:
        for lines in files.values():
            lines.close()
    return recorded


class _GzipLines:
    """Text lines into a gzip file, each readable as soon as written: a sync flush after every line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._raw = path.open("wb")
        except OSError as exc:
            raise RecordError(f"{path}: cannot write: {exc.strerror}") from None
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb")

    def write(self, line: str) -> None:
        self._gzip.write((line + "\n").encode())
        self._gzip.flush(zlib.Z_SYNC_FLUSH)
        self._raw.flush()

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()


def _open(path: Path) -> IO[str]:
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise RecordError(f"{path}: cannot write: {exc.strerror}") from None


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise RecordError(f"{path}: cannot write: {exc.strerror}") from None
