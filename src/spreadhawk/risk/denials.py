"""Why the risk engine refused an order: a stable code, and the detail for people.

An ``OrderDenied`` carries one string, ``"<code>: <detail>"``; the codes are the values below, which
reports and stored runs count denials by, so they must never change. The checks build a ``Denial``
and the string is made in one place (``str(denial)``), so the prefix cannot drift from the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DenialCode(StrEnum):
    KILL_SWITCH = "kill_switch"
    HALTED = "halted"
    HEDGE_ONLY = "hedge_only"
    LOSS_LIMIT = "loss_limit"
    STRATEGY_PAUSED = "strategy_paused"
    ORDER_RATE = "order_rate"
    NO_MARK = "no_mark"
    ORDER_NOTIONAL = "order_notional"
    PRICE_BAND = "price_band"
    ASSET_CONCENTRATION = "asset_concentration"
    STRATEGY_EXPOSURE = "strategy_exposure"
    CAPITAL_DEPLOYED = "capital_deployed"
    LEVERAGE = "leverage"
    VAR_LIMIT = "var_limit"
    # Not the risk engine's: the exchange's own rules (lot, tick, min notional), checked by the
    # engine before risk is asked; such a reason has no code prefix.
    ORDER_RULES = "order_rules"

    @classmethod
    def of(cls, reason: str) -> DenialCode:
        """The code of a denial reason read back from a journal (a restarted node replays them):
        the exact token before ``": "`` when it is a code, else an exchange-rule denial."""
        code, sep, _ = reason.partition(": ")
        try:
            return cls(code) if sep else cls.ORDER_RULES
        except ValueError:
            return cls.ORDER_RULES


@dataclass(frozen=True, slots=True)
class Denial:
    code: DenialCode
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"
