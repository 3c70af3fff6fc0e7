"""Risk: pre-trade limits, loss limits and breakers, the kill switch, sizing and portfolio risk (issue #5).

``RiskEngine(limits, kill_switch_store).attach(engine)`` then ``engine.use_risk(risk)`` puts every
order through the pre-trade check (``limits.py`` says what is checked, in which order, and what
"sizes halved" means); the breakers are in ``breakers.py``, the kill switch and its store port in
``kill_switch.py`` (a SQL store lives in ``spreadhawk.persistence.kill_switch``).
"""

from spreadhawk.risk.breakers import Mode
from spreadhawk.risk.config import RiskLimits
from spreadhawk.risk.kill_switch import InMemoryKillSwitchStore, KillSwitch, KillSwitchChanged, KillSwitchStore
from spreadhawk.risk.limits import RISK_STRATEGY_ID, RiskEngine
from spreadhawk.risk.records import RiskStateChanged

__all__ = [
    "RISK_STRATEGY_ID",
    "InMemoryKillSwitchStore",
    "KillSwitch",
    "KillSwitchChanged",
    "KillSwitchStore",
    "Mode",
    "RiskEngine",
    "RiskLimits",
    "RiskStateChanged",
]
