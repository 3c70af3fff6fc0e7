"""What an alert is: a small immutable value the engine side makes and the dispatcher sends."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Severity(IntEnum):
    """Ordered: a full queue drops the lowest first (info before warning before critical)."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


class AlertKind(StrEnum):
    FILL = "fill"
    LOSS_LIMIT = "loss_limit"
    BREAKER = "breaker"  # the drawdown breaker (sizes halved), any other breaker
    STRATEGY_PAUSED = "strategy_paused"
    VENUE_MODE = "venue_mode"  # a venue's degradation mode changed (REDUCED, HEDGE_ONLY, HALTED, back to FULL)
    LIMITS = "limits"  # an operator changed a pre-trade limit
    KILL_SWITCH = "kill_switch"
    DISCONNECT = "disconnect"  # a feed disconnected, went stale, lost a message, or came back
    RECONCILIATION = "reconciliation"  # differences between the journal and the venues at start
    EXTERNAL_ORDER = "external_order"  # activity on the account this node did not make


DEFAULT_KINDS = frozenset(AlertKind)

# How a digest of several alerts of one kind names them ("12 fills on BINANCE:BTC/USDT").
_NOUNS = {
    AlertKind.FILL: "fills",
    AlertKind.DISCONNECT: "feed changes",
    AlertKind.VENUE_MODE: "mode changes",
    AlertKind.EXTERNAL_ORDER: "external orders",
    AlertKind.RECONCILIATION: "reconciliation reports",
}


def plural(kind: AlertKind) -> str:
    return _NOUNS.get(kind, f"{kind.value.replace('_', ' ')} alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing worth telling a person. Alerts with the same ``key`` that arrive within the
    coalescing window are merged into one message; ``subject`` (an instrument, a venue, a strategy)
    names what a merged message is about."""

    ts_ns: int  # the engine's clock when it happened
    kind: AlertKind
    severity: Severity
    title: str
    body: str
    key: str
    subject: str = ""
