"""The two recorded series of resolved 5-minute BTC up/down markets in ``polymarket_series``.

* ``read_settled_windows`` + ``read_reference_prices`` (``ligengxin_samples``): each market's window,
  its official strike (``strike_value``: Chainlink's price at the start, times 1e18) and winner
  (``outcome_prices``: ``["1","0"]`` Up won), and the Chainlink BTC/USD feed that settled them (~1 Hz).
  Markets without a strike (4 of 292) are left out.
* ``read_ladder`` (``houssem98_btc5m``): 203 consecutive windows, each with 6-7 samples before the close
  of both tokens' best bid and ask and the Binance spot price, the Binance 1-minute open at the
  window's start (``open_px``: not the official Chainlink strike) and the official winner.

A malformed line is an error naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from spreadhawk.analytics.updown_calibration import LadderSample, LadderWindow, SettledWindow
from spreadhawk.data.readers._common import DataFormatError, read_text

__all__ = [
    "read_ladder",
    "read_reference_prices",
    "read_settled_windows",
]

WEI = Decimal(10) ** 18


def _lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{where}: invalid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise DataFormatError(f"{where}: expected an object")
        yield where, value


def read_settled_windows(path: Path | str) -> list[SettledWindow]:
    path = Path(path)
    windows = []
    for where, raw in _lines(path):
        try:
            if raw.get("strike_value") is None or not raw.get("resolved"):
                continue
            prices = [Decimal(str(x)) for x in raw["outcome_prices"]]
            if sorted(prices) != [0, 1]:
                raise ValueError(f"outcome_prices {raw['outcome_prices']} name no winner")
            strike = Decimal(str(raw["strike_value"])) / WEI
            windows.append(
                SettledWindow(
                    str(raw["slug"]), int(raw["start_sec"]), int(raw["end_sec"]), float(strike), prices[0] == 1
                )
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise DataFormatError(f"{where}: {detail}") from None
    return sorted(windows, key=lambda w: w.start_s)


def read_reference_prices(path: Path | str) -> tuple[list[int], list[float]]:
    """(times in ms, prices) of the Chainlink feed, in time order."""
    path = Path(path)
    times: list[int] = []
    prices: list[float] = []
    rows = csv.DictReader(io.StringIO(read_text(path)))
    for number, row in enumerate(rows, start=2):
        try:
            times.append(int(row["feed_ts_ms"]))
            prices.append(float(row["value"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{path}: line {number}: {exc}") from None
    if any(b < a for a, b in itertools.pairwise(times)):
        raise DataFormatError(f"{path}: feed_ts_ms goes back in time")
    return times, prices


def read_ladder(path: Path | str) -> list[LadderWindow]:
    path = Path(path)
    windows = []
    for where, raw in _lines(path):
        try:
            samples = tuple(
                LadderSample(
                    -float(s["t"]),
                    float(s["spot"]),
                    _price(s["up"], "bid"),
                    _price(s["up"], "ask"),
                    _price(s["down"], "bid"),
                    _price(s["down"], "ask"),
                )
                for s in raw["samples"]
            )
            winner = str(raw["winner"]).upper()
            if winner not in ("UP", "DOWN"):
                raise ValueError(f"winner {raw['winner']!r} is neither UP nor DOWN")
            windows.append(
                LadderWindow(str(raw["slug"]), int(raw["window_ts"]), float(raw["open_px"]), winner == "UP", samples)
            )
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise DataFormatError(f"{where}: {detail}") from None
    return sorted(windows, key=lambda w: w.start_s)


def _price(side: dict[str, Any], field: str) -> float | None:
    value = side.get(field)
    return None if value is None else float(value)
