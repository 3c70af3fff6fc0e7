"""The operator's commands, written down before they are carried out (RELIABILITY.md §5, S20).

One JSON line per command -- when, who (the token's scope and the client address), what, with
which arguments, and how it ended -- in an append-only file beside the node's journal. Each line
carries the SHA-256 of the line before it, so an edited, removed or reordered line breaks the
chain and ``verify`` says where. A line is fsynced before the command runs: a command the node
carried out is never missing from the trail, even after a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GENESIS", "AuditError", "AuditLog", "AuditRecord", "verify"]

GENESIS = "0" * 64


class AuditError(ValueError):
    """The audit trail is damaged: the message names the line."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    ts_ns: int
    who: str
    source: str  # "api", "cli", ...
    command: str
    arguments: Mapping[str, Any]
    outcome: str  # "requested", then a line of its own with what happened


class AuditLog:
    """Appends hash-chained records to ``path`` (created 0600; continued where it ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._last = verify(path) if path.exists() else GENESIS

    def append(self, record: AuditRecord) -> str:
        """Write ``record`` durably; returns its hash."""
        with self._lock:
            body = {
                "ts_ns": record.ts_ns,
                "who": record.who,
                "source": record.source,
                "command": record.command,
                "arguments": dict(record.arguments),
                "outcome": record.outcome,
                "prev": self._last,
            }
            line = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._last = hashlib.sha256(line.encode()).hexdigest()
            return self._last


def verify(path: Path) -> str:
    """Check the chain of ``path``; returns the hash of its last line (``GENESIS`` when empty)."""
    previous = GENESIS
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.rstrip("\n")
            try:
                body = json.loads(text)
            except json.JSONDecodeError:
                raise AuditError(f"{path} line {number}: not JSON (the trail was damaged)") from None
            if not isinstance(body, dict) or body.get("prev") != previous:
                raise AuditError(f"{path} line {number}: the chain is broken (a line was edited, removed or moved)")
            previous = hashlib.sha256(text.encode()).hexdigest()
    return previous
