"""The journal's codec: one record <-> one line of canonical JSON.

The line format is the one the journal has always written, so digests of earlier runs still match:
a JSON object, keys sorted, no whitespace, ASCII only (every character from DEL up escaped as
``\\uXXXX``, as ``json.dumps`` does by default), Decimals as strings (``str``: ``Decimal('1.10')``
stays ``"1.10"``, exponents and signs kept), enums by value, tuples and frozensets as arrays (a
frozenset sorted, so the bytes do not depend on ``PYTHONHASHSEED``), ``None`` as ``null``, and a
``"type"`` key holding the record's class name. ``reference_encode`` is that definition written
with the standard library; ``encode`` produces the same bytes with msgspec, several times faster.

Decoding is typed: the ``"type"`` key picks a registered dataclass and msgspec builds it from the
line (Decimal strings to exact Decimals, arrays to tuples or frozensets, values to enums), so a
decoded record is equal to, and encodes to the same bytes as, the one written.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import msgspec

from spreadhawk.domain import accounts, events, market

T = TypeVar("T")

# Encodes dataclass fields and dict keys in sorted order, and sorts sets: the canonical form.
_ENCODER = msgspec.json.Encoder(order="sorted")
_NON_ASCII = re.compile("[\x7f-\U0010ffff]")


class JournalError(Exception):
    """A journal line that cannot be read back (malformed, unknown type), or a misuse of the journal.

    ``path`` and ``line`` (1-based) say where, when the line came from a file."""

    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = message
        where = f"{path}:{line}: " if path is not None and line is not None else ""
        super().__init__(where + message)


class MalformedLineError(JournalError):
    """The line is not a JSON object with a string ``"type"``: what a torn write leaves behind."""


class _Envelope(msgspec.Struct):
    """Only the record's type; msgspec skips the other keys without building them."""

    type: str


_ENVELOPE = msgspec.json.Decoder(_Envelope)


class _RecordCodec:
    """How one registered class is encoded and decoded (worked out once, at registration)."""

    __slots__ = ("_decoder", "cls", "encode_line", "name")

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.name = cls.__name__
        self._decoder: msgspec.json.Decoder[Any] | None = None  # built on first use: see decoder()
        self.encode_line = _line_encoder(cls)

    def decoder(self) -> msgspec.json.Decoder[Any]:
        # Lazily, because building it resolves the class's annotations, which may name types
        # defined after the class (a record registered with the decorator form).
        if self._decoder is None:
            self._decoder = msgspec.json.Decoder(self.cls)
        return self._decoder


def _line_encoder(cls: type) -> Callable[[object], bytes]:
    """A function writing one record of ``cls`` as a line (with its newline).

    msgspec encodes the dataclass with its fields sorted; the ``"type"`` key is then spliced in at
    its sorted place, which is cheaper than building a dict per record. The splice point is found by
    the key that follows ``"type"``: ``,"<key>":`` can only occur in the output as a key (inside a
    string every ``"`` is escaped), so one occurrence is the top-level one; if a nested object has
    the same key the record takes the slower dict path."""
    names = sorted(f.name for f in dataclasses.fields(cls))
    type_item = b'"type":' + _ENCODER.encode(cls.__name__)
    after = [n for n in names if n > "type"]
    if not names:
        line = b"{" + type_item + b"}\n"
        return lambda record: line
    if not after:  # "type" is the last key (most records: fields like ts_ns sort before it)
        tail = b"," + type_item + b"}\n"
        return lambda record: _ENCODER.encode(record)[:-1] + tail
    if len(after) == len(names):  # "type" is the first key
        head = b"{" + type_item + b","
        return lambda record: head + _ENCODER.encode(record)[1:] + b"\n"
    marker = b',"' + after[0].encode() + b'":'
    item = b"," + type_item

    def encode_line(record: object) -> bytes:
        out = _ENCODER.encode(record)
        at = out.find(marker)
        if at < 0 or out.find(marker, at + 1) >= 0:
            return _dict_line(record, cls.__name__)
        return out[:at] + item + out[at:] + b"\n"

    return encode_line


def _dict_line(record: object, name: str) -> bytes:
    body = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}  # type: ignore[arg-type]
    body["type"] = name
    return _ENCODER.encode(body) + b"\n"


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: a surrogate pair, as json.dumps writes it
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _to_ascii(line: bytes) -> bytes:
    # Structural JSON is ASCII, so every such character is inside a string and may be escaped.
    return _NON_ASCII.sub(_escape_char, line.decode()).encode()


# --------------------------------------------------------------------------- registry
_BY_NAME: dict[str, _RecordCodec] = {}
_BY_CLASS: dict[type, _RecordCodec] = {}


def register_record(cls: type[T]) -> type[T]:
    """Make a dataclass a journal record type (also usable as a class decorator).

    The line names the class by ``__name__`` only, so two different classes of one name cannot both
    be registered. Registering the same class again is harmless."""
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        raise TypeError(f"journal records are dataclasses, got {cls!r}")
    existing = _BY_NAME.get(cls.__name__)
    if existing is not None:
        if existing.cls is cls:
            return cls
        raise JournalError(
            f"record type name {cls.__name__!r} is taken by {existing.cls.__module__}.{existing.cls.__qualname__}"
        )
    if any(f.name == "type" for f in dataclasses.fields(cls)):
        raise JournalError(f"{cls.__name__} has a field named 'type', which the line uses for the class name")
    codec = _RecordCodec(cls)
    _BY_NAME[codec.name] = codec
    _BY_CLASS[cls] = codec
    return cls


def registered_records() -> Mapping[str, type]:
    """Every registered record class by the name its lines carry."""
    return {name: codec.cls for name, codec in _BY_NAME.items()}


def _register_module(module: object) -> None:
    for value in vars(module).values():
        if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:  # type: ignore[attr-defined]
            register_record(value)


_register_module(events)
_register_module(market)
_register_module(accounts)


# --------------------------------------------------------------------------- encode / decode
def encode_line(record: object) -> bytes:
    """``encode(record)`` followed by the newline: exactly what the journal writes and hashes.

    A dataclass nobody registered is registered on the spot, so anything the engine journals is
    written (as the journal always allowed); reading it back in another process needs it registered
    there too (``register_record``)."""
    codec = _BY_CLASS.get(type(record))
    if codec is None:
        if not dataclasses.is_dataclass(record) or isinstance(record, type):
            raise TypeError(f"journal records dataclass messages, got {type(record).__name__}")
        register_record(type(record))
        codec = _BY_CLASS[type(record)]
    try:
        line = codec.encode_line(record)
    except UnicodeEncodeError as exc:
        # A lone surrogate is not text: json.dumps would escape it, but no JSON reader (msgspec
        # included) reads that back, and an unreadable line would pass for a torn one on reopen.
        raise JournalError(f"{codec.name} holds a string that is not valid Unicode: {exc}") from None
    if not line.isascii() or b"\x7f" in line:  # rare: the common case pays two C-level scans
        line = _to_ascii(line)
    return line


def encode(record: object) -> bytes:
    """One record as one line of canonical JSON (no newline); same record, same bytes, always."""
    return encode_line(record)[:-1]


def decode(line: bytes | str) -> object:
    """The record a line holds: same class and equal to what was encoded.

    Raises ``MalformedLineError`` when the line is not a JSON object with a string ``"type"``, and
    ``JournalError`` when the type is unknown or the fields do not fit the class."""
    try:
        name = _ENVELOPE.decode(line).type
    except msgspec.DecodeError as exc:  # ValidationError (not an object, no type) included
        raise MalformedLineError(f"malformed journal record: {exc}") from None
    codec = _BY_NAME.get(name)
    if codec is None:
        raise JournalError(f"unknown record type {name!r} (not registered with register_record)")
    try:
        return codec.decoder().decode(line)
    except msgspec.DecodeError as exc:
        raise JournalError(f"malformed {name} record: {exc}") from None


def check_line(line: bytes) -> None:
    """Raise ``MalformedLineError`` unless the line is a JSON object with a string ``"type"``.

    What a journal checks when it reopens a file: enough to find a torn write, without needing the
    record types registered."""
    try:
        _ENVELOPE.decode(line)
    except msgspec.DecodeError as exc:
        raise MalformedLineError(f"malformed journal record: {exc}") from None


# --------------------------------------------------------------------------- the format's definition
def _reference_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # nested: no "type" key
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"journal cannot encode {type(value).__name__}")


def reference_encode(record: object) -> str:
    """The line format written plainly with the standard library (slow): ``encode`` must agree."""
    if not dataclasses.is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"journal records dataclass messages, got {type(record).__name__}")
    body = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    body["type"] = type(record).__name__
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=_reference_default)
