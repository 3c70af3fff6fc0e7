"""The definitions of a catalog's instruments, kept beside its data (``instruments.json``).

A catalog holds records by instrument id; the rules that give them meaning (tick and lot, fees,
contract size, a binary token's expiry) live in the instrument. A source that declares its own
instruments (a recorded Polymarket session: tokens that exist for fifteen minutes) would otherwise
leave a catalog nobody could replay without writing those definitions out by hand. ``spreadhawk
import`` writes them here; a ``catalog`` source declares them again when it is read.

One id, one definition: importing a different definition of an id the file already holds is an
error naming it (the records stored under that id were counted in the old units).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.domain.instruments import Instrument, InstrumentKind

__all__ = ["INSTRUMENTS_FILE", "read_instruments", "write_instruments"]

INSTRUMENTS_FILE = "instruments.json"
_FIELDS = [f.name for f in dataclasses.fields(Instrument) if f.init]
_DECIMALS = {f.name for f in dataclasses.fields(Instrument) if f.type in ("Decimal", Decimal)}
_REQUIRED = [f.name for f in dataclasses.fields(Instrument) if f.init and f.default is dataclasses.MISSING]


def write_instruments(root: Path, instruments: Iterable[Instrument]) -> None:
    """Add ``instruments`` to the catalog's file (written whole, then renamed into place)."""
    known = {inst.id: inst for inst in read_instruments(root)}
    for inst in instruments:
        if inst.id in known and known[inst.id] != inst:
            raise ValueError(f"the catalog already defines {inst.id} otherwise; import into another folder")
        known[inst.id] = inst
    root.mkdir(parents=True, exist_ok=True)
    path = root / INSTRUMENTS_FILE
    temporary = path.with_suffix(".json.tmp")
    rows = [_row(known[iid]) for iid in sorted(known)]
    temporary.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_instruments(root: Path) -> list[Instrument]:
    """The definitions the catalog holds ([] for a catalog written before they were kept)."""
    path = root / INSTRUMENTS_FILE
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise DataFormatError(f"{path}: expected a list of instruments")
    out = []
    for index, row in enumerate(rows):
        try:
            out.append(_instrument(row))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
            raise DataFormatError(f"{path}: instrument {index}: {detail}") from None
    return out


def _row(inst: Instrument) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(inst, name)
        row[name] = str(value) if isinstance(value, Decimal | InstrumentKind) else value
    return row


def _instrument(row: Any) -> Instrument:
    if not isinstance(row, dict):
        raise TypeError("expected an object")
    unknown = set(row) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = [name for name in _REQUIRED if name not in row]
    if missing:
        raise KeyError(missing[0])
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name not in row:
            continue
        value = row[name]
        if name in _DECIMALS:
            value = Decimal(str(value))
        elif name == "kind":
            value = InstrumentKind(value)
        elif name == "expiry_ns" and value is not None:
            value = int(value)
        values[name] = value
    return Instrument(**values)
