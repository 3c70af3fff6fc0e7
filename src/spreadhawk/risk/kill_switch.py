"""The kill switch: when on, every open order is canceled and every new order denied.

It is engaged by hand (``KillSwitch.engage``, which the API/CLI will call) or by a breaker (drawdown
at the flatten threshold). It stays on until someone resumes it explicitly, across restarts: its
state lives behind a ``KillSwitchStore`` port (``InMemoryKillSwitchStore`` here for tests, a SQL
one in ``spreadhawk.persistence.kill_switch``), and a new engine reads it before its first order.
Every change is stored as a row saying who, why and when, and journaled by the risk engine.

While it is on, the only orders that pass are the risk engine's own flattening orders (closing
positions at market), and only when ``flatten`` was asked for: a trader who pulls the switch in a
panic wants everything stopped, a breaker at the drawdown limit wants positions closed first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spreadhawk.engine.journal import register_record


@register_record  # read back from a journal by a restarted node
@dataclass(frozen=True, slots=True)
class KillSwitchChanged:
    """One change of the kill switch (also the journal record of it)."""

    ts_ns: int
    engaged: bool
    by: str  # who: "operator:alice", "breaker:drawdown", ...
    reason: str
    flatten: bool = False  # close positions at market while it is on


class KillSwitchStore(Protocol):
    """Where the kill switch's changes are kept; the last one is its current state."""

    def last(self) -> KillSwitchChanged | None: ...

    def append(self, change: KillSwitchChanged) -> None: ...

    def history(self) -> list[KillSwitchChanged]: ...

    def close(self) -> None:
        """Release what the store holds (connections); its changes are kept."""


class InMemoryKillSwitchStore:
    """A store that lives as long as the object (tests; a backtest with nothing to persist)."""

    def __init__(self) -> None:
        self._changes: list[KillSwitchChanged] = []

    def last(self) -> KillSwitchChanged | None:
        return self._changes[-1] if self._changes else None

    def append(self, change: KillSwitchChanged) -> None:
        self._changes.append(change)

    def history(self) -> list[KillSwitchChanged]:
        return list(self._changes)

    def close(self) -> None:
        """Nothing to release."""


class KillSwitch:
    """The switch itself: reads its state from the store once, writes every change through to it."""

    __slots__ = ("_state", "_store")

    def __init__(self, store: KillSwitchStore) -> None:
        self._store = store
        self._state = store.last()

    def close(self) -> None:
        self._store.close()

    @property
    def engaged(self) -> bool:
        return self._state is not None and self._state.engaged

    @property
    def allows_flatten(self) -> bool:
        return self._state is not None and self._state.engaged and self._state.flatten

    @property
    def state(self) -> KillSwitchChanged | None:
        return self._state

    def engage(self, ts_ns: int, by: str, reason: str, *, flatten: bool = False) -> KillSwitchChanged | None:
        """Turn it on (stored before it takes effect); ``None`` when it was already on."""
        if self.engaged:
            return None
        return self._change(KillSwitchChanged(ts_ns, True, by, reason, flatten))

    def resume(self, ts_ns: int, by: str, reason: str) -> KillSwitchChanged | None:
        """Turn it off; ``None`` when it was not on. Only an explicit call does this."""
        if not self.engaged:
            return None
        if not by or not reason:
            raise ValueError("resuming the kill switch needs who (by) and why (reason)")
        return self._change(KillSwitchChanged(ts_ns, False, by, reason))

    def refresh(self) -> KillSwitchChanged | None:
        """Adopt a change another process stored (``spreadhawk kill on`` beside a running node);
        the change, or None when the store says what this switch already knew."""
        latest = self._store.last()
        if latest is None or latest == self._state:
            return None
        self._state = latest
        return latest

    def _change(self, change: KillSwitchChanged) -> KillSwitchChanged:
        self._store.append(change)
        self._state = change
        return change
