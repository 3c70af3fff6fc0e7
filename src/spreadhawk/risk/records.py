"""What the risk engine journals and reports besides denials: each change of a breaker or mode."""

from __future__ import annotations

from dataclasses import dataclass

from spreadhawk.engine.journal import register_record


@register_record  # read back from a journal by a restarted node
@dataclass(frozen=True, slots=True)
class RiskStateChanged:
    """A breaker tripped or cleared, a strategy paused or resumed, a venue's mode changed."""

    ts_ns: int
    what: str  # "loss_limit", "drawdown", "strategy_pause", "mode", ...
    subject: str  # the window, strategy or venue concerned ("account" for the whole account)
    state: str  # "tripped", "halved", "paused", "review", "resumed", a mode name, ...
    reason: str
    by: str = "risk"  # who: the risk engine itself, or the operator who resumed
