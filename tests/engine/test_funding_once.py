"""A funding payment reported twice (a poll and a stream, a restated record, a replayed journal) is
booked once per (instrument, funding time): in the ledger, and for the strategies (#11)."""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.events import FundingPaid, PostingReason
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine

START = 1_700_000_000_000_000_000
HOUR = 3_600_000_000_000
PERP = Instrument(
    "X", "BTC-PERP", InstrumentKind.PERPETUAL, "BTC", "USDT", tick_size=Decimal("0.5"), lot_size=Decimal(1)
)


def _paid(iid: InstrumentId, funding_ts: int, amount: str, *, late_ns: int = 0) -> FundingPaid:
    return FundingPaid(funding_ts + late_ns, iid, Decimal(10), Decimal(100), Decimal("0.0001"), Decimal(amount),
                       "USDT", funding_ts)  # fmt: skip


def test_the_same_funding_time_is_paid_once_whoever_reports_it_again() -> None:
    engine = Engine([PERP], clock=SimClock(START))
    heard: list[FundingPaid] = []
    engine.bus.subscribe(FundingPaid, heard.append)
    t8, t16 = START + 8 * HOUR, START + 16 * HOUR
    for event in (_paid(PERP.id, t8, "-0.1"), _paid(PERP.id, t8, "-0.1", late_ns=5), _paid(PERP.id, t16, "0.25")):
        engine.on_venue_event(event)
    funding = [p for p in engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]
    assert [(p.amount, p.reference) for p in funding] == [(Decimal("-0.1"), str(t8)), (Decimal("0.25"), str(t16))]
    assert engine.portfolio.ledger.balance("X", "USDT") == Decimal("0.15")
    assert [e.funding_ts_ns for e in heard] == [t8, t16]  # strategies' funding shares hear it once too
