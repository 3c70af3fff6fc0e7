"""Append-only event journal.

Every command and event is appended before it is acted on. A record is one line of canonical JSON
(sorted keys, Decimals as strings, enums by value), so two runs of the same config and seed produce
byte-identical journals and the same SHA-256. Written to a file when a path is given (crash-safe
persistence builds on this), hashed in memory otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"journal cannot encode {type(value).__name__}")


def encode(message: object) -> str:
    if not dataclasses.is_dataclass(message) or isinstance(message, type):
        raise TypeError(f"journal records dataclass messages, got {type(message).__name__}")
    body = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    body["type"] = type(message).__name__
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_default)


class Journal:
    __slots__ = ("_file", "_hash", "count")

    def __init__(self, path: Path | None = None) -> None:
        self._hash = hashlib.sha256()
        self._file: IO[str] | None = path.open("w", encoding="utf-8") if path else None
        self.count = 0

    def append(self, message: object) -> None:
        line = encode(message) + "\n"
        self._hash.update(line.encode())
        if self._file is not None:
            self._file.write(line)
        self.count += 1

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None
