"""Append-only event journal.

Every command and event is appended before it is acted on. A record is one line of canonical JSON
(see ``journal_codec``: sorted keys, Decimals as strings, enums by value, a ``"type"`` key), so two
runs of the same config and seed produce byte-identical journals and the same SHA-256. Written to a
file when a path is given, hashed in memory otherwise.

A file is only ever appended to: reopening a journal continues it, and the digest covers the whole
file (the existing lines are hashed once at open). A crash can leave the last line torn (no
newline, or not JSON); opening finds it, drops it and says so in ``recovery``. A bad line anywhere
else is corruption, never skipped: ``JournalError`` names the file and line.

Durability is a policy, not a call site's choice: the engine marks the records that must be on disk
before it acts (an order intent about to leave) with ``sync=True``, and only ``SYNC_INTENTS`` (paper,
live) pays an fsync for them; ``BUFFERED`` (backtests) writes through a buffer flushed at close.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import IO, TypeVar

from spreadhawk.engine.crashpoints import crashpoint
from spreadhawk.engine.journal_codec import (
    JournalError,
    MalformedLineError,
    check_line,
    decode,
    encode,
    encode_line,
    reference_encode,
    register_record,
    registered_records,
)

__all__ = [
    "Durability",
    "Journal",
    "JournalError",
    "JournalReader",
    "JournalRecovery",
    "decode",
    "encode",
    "read_journal",
    "reference_encode",
    "register_record",
    "registered_records",
]

T = TypeVar("T")


class Durability(Enum):
    BUFFERED = "buffered"  # backtest: buffered writes, flushed at close; a crash loses the tail
    SYNC_INTENTS = "sync_intents"  # paper/live: a record appended with sync=True is fsynced before append returns


@dataclass(frozen=True, slots=True)
class JournalRecovery:
    """What opening (or reading to the end) found in an existing journal file."""

    path: Path | None
    records: int  # intact records found
    bytes_kept: int  # their size: the file's length once a torn tail is dropped
    bytes_dropped: int  # size of the torn last line (0 when the file ended cleanly)

    @property
    def torn(self) -> bool:
        return self.bytes_dropped > 0


def _scan(
    file: IO[bytes], path: Path, check: Callable[[bytes], T], on_line: Callable[[bytes], object] | None = None
) -> Generator[T, None, JournalRecovery]:
    """Yield ``check(line)`` for each intact line; return what was kept and what was torn.

    A line that fails ``check`` as malformed, or has no newline, is held back: if it turns out to be
    the last line it is a torn write (dropped and reported), if another line follows it is
    corruption. Other errors (unknown type, fields not fitting) are raised at once: a complete
    line that cannot be read is not a torn write."""
    kept = records = 0
    held: tuple[int, bytes, str] | None = None
    for number, line in enumerate(file, 1):
        if held is not None:
            raise JournalError(f"corrupt record before the last line: {held[2]}", path=path, line=held[0])
        if not line.endswith(b"\n"):
            held = (number, line, "no newline")
            continue
        try:
            value = check(line)
        except MalformedLineError as exc:
            held = (number, line, exc.reason)
            continue
        except JournalError as exc:
            raise JournalError(exc.reason, path=path, line=number) from None
        if on_line is not None:
            on_line(line)
        kept += len(line)
        records += 1
        yield value
    return JournalRecovery(path, records, kept, len(held[1]) if held is not None else 0)


class Journal:
    __slots__ = ("_file", "_fsync", "_hash", "_sync_intents", "count", "durability", "path", "recovery")

    def __init__(
        self,
        path: Path | None = None,
        *,
        durability: Durability = Durability.BUFFERED,
        fsync: Callable[[int], None] = os.fsync,
        buffer_size: int = 1 << 16,
    ) -> None:
        self._hash = hashlib.sha256()
        self.path = path
        self.durability = durability
        self._sync_intents = durability is Durability.SYNC_INTENTS
        self._fsync = fsync  # a port: tests count the calls instead of patching os
        self._file: IO[bytes] | None = None
        self.recovery = JournalRecovery(path, 0, 0, 0)
        if path is not None:
            self._open(path, buffer_size)
        self.count = self.recovery.records  # records in the journal: the digest covers them all

    def _open(self, path: Path, buffer_size: int) -> None:
        created = not path.exists()
        if not created:
            with path.open("rb") as existing:
                self.recovery = _drain(_scan(existing, path, check_line, self._hash.update))
        file = path.open("ab", buffering=buffer_size)  # "a": never truncates what was journaled
        try:
            if created and self._sync_intents and os.name == "posix":
                self._sync_directory(path.parent)
            if self.recovery.torn:
                file.truncate(self.recovery.bytes_kept)
                if self._sync_intents:
                    self._fsync(file.fileno())  # the cut is durable before anything new goes after it
        except BaseException:
            file.close()
            raise
        self._file = file

    def _sync_directory(self, folder: Path) -> None:
        # A new file's name lives in its directory: fsyncing the file alone need not make it survive.
        fd = os.open(folder, os.O_RDONLY)
        try:
            self._fsync(fd)
        finally:
            os.close(fd)

    def append(self, record: object, *, sync: bool = False) -> None:
        """Journal one record. With ``sync=True`` under ``SYNC_INTENTS`` it is on disk on return."""
        line = encode_line(record)
        self._hash.update(line)
        file = self._file
        if file is not None:
            if sync:
                crashpoint("during_checkpoint_write", lambda: _torn_write(file, line))
            file.write(line)
            if sync and self._sync_intents:
                file.flush()
                self._fsync(file.fileno())
        elif self.path is not None:
            raise JournalError(f"journal {self.path} is closed")
        self.count += 1

    def sync(self) -> None:
        """Put everything appended so far on disk, when the policy is ``SYNC_INTENTS`` (else a no-op)."""
        if self._file is not None and self._sync_intents:
            self._file.flush()
            self._fsync(self._file.fileno())

    @property
    def digest(self) -> str:
        """SHA-256 of every line of the journal (the whole file, when there is one)."""
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            if self._sync_intents:
                self._fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _drain(scan: Generator[object, None, JournalRecovery]) -> JournalRecovery:
    """Run a scan to its end for its return value."""
    while True:
        try:
            next(scan)
        except StopIteration as done:
            result: JournalRecovery = done.value
            return result


class JournalReader:
    """The typed records of a journal file, in order, read as a stream (constant memory).

    A torn last line is left out, as a reopening journal would drop it; ``recovery`` says so once
    iteration has reached the end (``None`` before). Corruption elsewhere, an unknown record type or
    a record not fitting its class raises ``JournalError`` with the file and line."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.recovery: JournalRecovery | None = None

    def __iter__(self) -> Iterator[object]:
        with self.path.open("rb") as file:
            self.recovery = yield from _scan(file, self.path, decode)


def read_journal(path: Path | str) -> Iterator[object]:
    """The typed records of a journal file, in order, streamed (a torn last line left out)."""
    return iter(JournalReader(path))


def _torn_write(file: IO[bytes], line: bytes) -> None:
    """Half a line on disk: what a crash in the middle of a write leaves."""
    file.write(line[: len(line) // 2])
    file.flush()
    os.fsync(file.fileno())
