"""Messages the engine publishes about itself (derived, so never journaled), kept apart from
``engine.py`` so that components the engine owns (the strategy attribution) can listen for them
without importing the engine."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class EquitySampled:
    """Published (not journaled: it is derived) each time the engine samples equity."""

    ts_ns: int
    equity: Decimal
