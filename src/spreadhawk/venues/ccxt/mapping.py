"""Conversions between what ccxt hands over and domain records.

* ``instrument_from_market``: a ccxt unified market (``exchange.markets[symbol]``) -> ``Instrument``.
* ``BinanceRecords``: Binance's raw payloads as ccxt delivers them (the websocket client passes the
  exchange's JSON objects through; the implicit REST methods such as ``public_get_depth`` return the
  exchange's JSON) -> domain records. These are the very objects the hftbacktest captures hold, so the
  conversion is the capture reader's parser (``spreadhawk.data.readers.hftbacktest``): a message
  received live and the same message replayed from a capture become identical records, and prices and
  sizes are exact integer ticks / size units of the instrument.

``BinanceRecords`` keeps only timestamp state (event time ``E`` -> ``ts_ns``; for the messages without
one, spot ``bookTicker`` and the spot REST snapshot, the latest ``E`` - arrival offset, as the reader
does; ``ts_ns`` never decreases per instrument).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from spreadhawk.data.readers._common import NS_PER_MS
from spreadhawk.data.readers.hftbacktest import _Parser  # the captures' Binance parser, shared on purpose
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, MarketData

__all__ = ["BinanceRecords", "MappingError", "instrument_from_market"]


class MappingError(ValueError):
    """An exchange payload that cannot be converted; the message names the field and the payload kind."""


def _decimal(value: Any, name: str, symbol: str) -> Decimal:
    if value is None:
        raise MappingError(f"{symbol}: market has no {name}")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))


def instrument_from_market(market: Mapping[str, Any], *, venue: str = "BINANCE") -> Instrument:
    """The ``Instrument`` of a ccxt unified market (binance family: ``precisionMode`` is TICK_SIZE, so
    ``precision.price`` / ``precision.amount`` are the tick and lot sizes)."""
    symbol = str(market.get("symbol"))
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    if market.get("spot"):
        kind = InstrumentKind.SPOT
    elif market.get("swap"):
        kind = InstrumentKind.PERPETUAL
    else:
        raise MappingError(f"{symbol}: only spot and perpetual swap markets are supported, got {market.get('type')!r}")
    min_cost = (limits.get("cost") or {}).get("min")
    return Instrument(
        venue=venue,
        symbol=symbol,
        kind=kind,
        base=str(market["base"]),
        quote=str(market["quote"]),
        tick_size=_decimal(precision.get("price"), "precision.price", symbol),
        lot_size=_decimal(precision.get("amount"), "precision.amount", symbol),
        maker_fee=_decimal(market.get("maker", 0), "maker", symbol),
        taker_fee=_decimal(market.get("taker", 0), "taker", symbol),
        min_notional=_decimal(min_cost, "limits.cost.min", symbol) if min_cost is not None else Decimal(0),
        contract_size=_decimal(market.get("contractSize") or 1, "contractSize", symbol),
        settlement=str(market.get("settle") or market["quote"]),
    )


class BinanceRecords:
    """Raw Binance objects of one instrument -> records (``records``), with exchange timestamps."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self._parser = _Parser(instrument, "exchange")
        self._offset_ns: int | None = None  # latest E - arrival
        self.last_ts_ns = 0
        self.unstamped_dropped = 0  # messages without E that arrived before any E

    def records(self, received_ns: int, data: dict[str, Any]) -> list[MarketData]:
        """Records of one raw object (a ``depthUpdate``, ``trade``, ``bookTicker``, ``markPriceUpdate``
        or REST depth answer) that arrived at ``received_ns`` (wall clock); [] for other events.

        Raises ``MappingError`` naming the problem when the object is malformed.
        """
        if "E" in data:
            try:
                self._offset_ns = int(data["E"]) * NS_PER_MS - received_ns
            except (TypeError, ValueError):
                raise MappingError(f"{self._kind(data)}: event time E={data['E']!r} is not an integer") from None
        elif self._offset_ns is None:
            # Stamping it with the wall clock would push every later ts_ns past the exchange times.
            self.unstamped_dropped += 1
            return []
        try:
            records = self._parser._records(received_ns, data)
        except KeyError as exc:
            raise MappingError(f"{self._kind(data)}: missing field {exc}") from None
        except (ValueError, TypeError, IndexError) as exc:
            raise MappingError(f"{self._kind(data)}: {exc}") from None
        if records:
            self.last_ts_ns = max(self.last_ts_ns, records[-1].ts_ns)
        return records

    def snapshot(self, received_ns: int, data: dict[str, Any]) -> BookSnapshot:
        """The ``BookSnapshot`` of a REST depth answer (``{"lastUpdateId": .., "bids": .., "asks": ..}``)."""
        if not isinstance(data, dict) or "lastUpdateId" not in data:
            raise MappingError(f"depth snapshot: expected an object with lastUpdateId, got {str(data)[:120]}")
        records = self.records(received_ns, data)
        if len(records) != 1 or not isinstance(records[0], BookSnapshot):
            raise MappingError("depth snapshot: received before any timestamped message")
        return records[0]

    def estimated_exchange_ns(self, now_ns: int) -> int:
        """Exchange time now: the wall clock shifted by the latest offset, never before the last record."""
        if self._offset_ns is None:
            return self.last_ts_ns
        return max(self.last_ts_ns, now_ns + self._offset_ns)

    @staticmethod
    def _kind(data: dict[str, Any]) -> str:
        if "lastUpdateId" in data:
            return "depth snapshot"
        return f"{data.get('e') or 'bookTicker'} message"
