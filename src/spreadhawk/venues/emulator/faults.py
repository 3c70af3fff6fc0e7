"""Feed faults the emulator can inject into a replay, and the bookkeeping of when they fire.

Every fault fires at a depth diff: the ``after``-th next ``depthUpdate`` of ``symbol`` (of any symbol
when ``symbol`` is None) that the replay reaches after the fault was armed. The emulator's own book
always advances with the recording; a fault changes only what the clients are sent, so a client that
resyncs with ``GET depth`` gets a snapshot consistent with the replay position.

==============  =============================================================================
``drop``        the diff is not sent
``duplicate``   the diff is sent twice
``reorder``     the diff is held back and sent after the next diff of its symbol
``delay``       the replay pauses ``seconds`` before sending the diff: late, but nothing lost or
                out of order
``gap``         ``count`` consecutive diffs of the symbol are not sent (a sequence gap)
``freeze``      nothing of the symbol (of any symbol when None) is sent for ``seconds`` while the
                replay runs on and the sockets stay open; what was not sent is lost
``disconnect``  the websocket connections are closed (those subscribed to the symbol, or all)
``corrupt``     the diff is sent with a malformed bid level (a price that is not a number)
==============  =============================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

__all__ = ["Fault", "FaultError", "FaultKind", "FiredFault", "parse_fault"]


K = TypeVar("K", bound=StrEnum)


class FaultError(ValueError):
    """A fault specification that cannot be used; the message says which field is wrong."""


class FaultKind(StrEnum):
    DROP = "drop"
    DUPLICATE = "duplicate"
    REORDER = "reorder"
    DELAY = "delay"
    GAP = "gap"
    FREEZE = "freeze"
    DISCONNECT = "disconnect"
    CORRUPT = "corrupt"


_TIMED = (FaultKind.DELAY, FaultKind.FREEZE)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    symbol: str | None = None  # exchange id such as "BTCUSDT" (any case); None: the first symbol to reach it
    after: int = 0  # depth diffs of the symbol that pass untouched before the fault fires
    count: int = 1  # gap: diffs not sent
    seconds: float = 0.0  # delay / freeze: how long

    def __post_init__(self) -> None:
        if not isinstance(self.kind, FaultKind):
            raise FaultError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FaultKind)}")
        if self.after < 0 or self.count < 1:
            raise FaultError(
                f"{self.kind}: after must be >= 0 and count >= 1, got after={self.after} count={self.count}"
            )
        if self.kind in _TIMED and not (math.isfinite(self.seconds) and self.seconds > 0):
            raise FaultError(f"{self.kind}: seconds must be a positive number, got {self.seconds}")
        if self.symbol is not None:
            object.__setattr__(self, "symbol", self.symbol.upper())

    @classmethod
    def from_mapping(cls, raw: Any) -> Fault:
        """A fault from JSON (``{"kind": "gap", "symbol": "BTCUSDT", "count": 5}``)."""
        kind = fault_kind(raw, FaultKind, {"symbol", "after", "count", "seconds"}, "a fault")
        symbol = raw.get("symbol")
        if symbol is not None and not isinstance(symbol, str):
            raise FaultError(f"symbol must be a string, got {symbol!r}")
        try:
            return cls(
                kind,
                symbol,
                _integer(raw.get("after", 0), "after"),
                _integer(raw.get("count", 1), "count"),
                float(raw.get("seconds", 0.0)),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, FaultError):
                raise
            raise FaultError(f"{kind}: {exc}") from None


def fault_kind(raw: Any, kinds: type[K], fields: set[str], what: str) -> K:
    """The kind of a fault given as JSON, after checking it is an object with only ``kind`` and
    ``fields``; ``what`` names it in errors ("a fault", "an order fault")."""
    noun = what.split(" ", 1)[1]
    if not isinstance(raw, dict):
        raise FaultError(f"{what} is a JSON object, got {type(raw).__name__}")
    unknown = set(raw) - {"kind", *fields}
    if unknown:
        raise FaultError(f"unknown {noun} field(s): {', '.join(sorted(unknown))}")
    try:
        return kinds(str(raw.get("kind")))
    except ValueError:
        expected = ", ".join(kinds)
        raise FaultError(f"unknown {noun} kind {raw.get('kind')!r}; expected one of {expected}") from None


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise FaultError(f"{name} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise FaultError(f"{name} must be an integer, got {value!r}") from None


def parse_fault(spec: str) -> Fault:
    """A fault from the command line: ``kind[:key=value,...]``, e.g. ``gap:count=5,after=200,symbol=btcusdt``
    or ``freeze:seconds=3``."""
    kind, _, rest = spec.strip().partition(":")
    fields: dict[str, Any] = {"kind": kind.strip().lower()}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise FaultError(f"fault {spec!r}: expected key=value, got {item!r}")
        fields[key.strip()] = value.strip()
    return Fault.from_mapping(fields)


@dataclass(frozen=True, slots=True)
class FiredFault:
    """A fault that happened: at the diff ``update_id`` (its ``u``) of ``symbol``."""

    fault: Fault
    symbol: str
    update_id: int
