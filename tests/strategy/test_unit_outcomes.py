"""What a legged strategy does with its finished units (strategy/legs.py ``UnitOutcomes``).

A closing unit (exit, defence) that a venue half-refuses is unwound by the executor; retrying it on
the next book update pays both legs' fees again every time. The retry waits 1 min, then 2, 4, …
up to an hour, and a closing unit that completes resets the wait. A failed entry halts entries.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.execution.paired import Leg, UnitId, UnitRecord, UnitStatus
from spreadhawk.strategy.legs import RETRY_BACKOFF_CAP_NS, RETRY_BACKOFF_NS, UnitOutcomes

MIN = 60_000_000_000
LEG = Leg(InstrumentId("A:BTC/USDT:USDT"), OrderSide.SELL, Decimal(1), None, Decimal(100))


def unit(n: int, status: UnitStatus) -> tuple[UnitId, UnitRecord]:
    uid = UnitId(f"u{n}")
    return uid, UnitRecord(uid, "test", (LEG,), 0, 1, status=status)


def test_failed_closings_back_off_doubling_up_to_the_cap_and_a_success_resets() -> None:
    outcomes, units = UnitOutcomes(), {}
    waits = []
    for n in range(8):
        uid, record = unit(n, UnitStatus.UNWOUND)
        units[uid] = record
        outcomes.closing(uid)
        outcomes.judge(units, n * MIN)
        waits.append(outcomes.retry_at_ns - n * MIN)
    assert waits == [min(RETRY_BACKOFF_NS * 2**k, RETRY_BACKOFF_CAP_NS) for k in range(8)]
    assert waits[0] == MIN
    assert waits[-1] == 60 * MIN
    assert outcomes.failed_closings(units) == 8
    assert not outcomes.halted  # closing units never halt entries
    uid, record = unit(99, UnitStatus.COMPLETE)
    units[uid] = record
    outcomes.closing(uid)
    outcomes.judge(units, 100 * MIN)
    uid, record = unit(100, UnitStatus.UNWOUND)
    units[uid] = record
    outcomes.closing(uid)
    outcomes.judge(units, 200 * MIN)
    assert outcomes.retry_at_ns == 200 * MIN + RETRY_BACKOFF_NS  # the streak was reset


def test_an_open_unit_is_judged_when_it_ends_and_a_failed_entry_halts() -> None:
    outcomes = UnitOutcomes()
    uid, record = unit(1, UnitStatus.OPEN)
    outcomes.entries.add(uid)
    assert outcomes.judge({uid: record}, 0) == []
    record.status = UnitStatus.UNWOUND
    notes = outcomes.judge({uid: record}, 5)
    assert outcomes.halted
    assert notes
    assert "no new entries" in notes[0]
