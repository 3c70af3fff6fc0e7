"""False-arbitrage guards (strategy.binary_guards) on their own and wired into BinaryPairArb.

Each guard is shown refusing a sum of asks below 1 that is not a locked profit (a stale leg, a
neg-risk market from the real Polymarket payload, fees on both sides), next to the same books
without the defect being taken, so the refusal is the guard's and not some other rule's.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.analytics.binary_pricing import OutcomeToken
from spreadhawk.data.readers.polymarket import read_polymarket_market, read_polymarket_markets
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.binary_guards import (
    cost_with_fees,
    near_expiry,
    neg_risk_refusal,
    polymarket_fee,
    stale_books,
    updown_market,
)
from spreadhawk.strategy.library.binary_pair_arb import BinaryPairArb, BinaryPairArbConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
D = Decimal
T0 = 1_704_067_200 * S  # 2024-01-01 00:00 UTC
EXPIRY = T0 + 900 * S
POLYMARKET = Path("nautilus_trader/polymarket/http_responses")


def _token(
    outcome: str, *, fee: str = "0", symbol: str = "BTC-UPDOWN-20240101T0000", expiry: int = EXPIRY
) -> Instrument:
    return Instrument(
        venue="PREDICT",
        symbol=f"{symbol}-{outcome}",
        kind=InstrumentKind.BINARY,
        base=f"{symbol}-{outcome}",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D(1),
        taker_fee=D(fee),
        expiry_ns=expiry,
    )


def _snap(inst: Instrument, ts_ns: int, ask: str, size: int = 100) -> BookSnapshot:
    return BookSnapshot(inst.id, ts_ns, 1, ((1, inst.units(10)),), ((inst.ticks(ask), size),))  # bid: one tick


def _run(records: Sequence[MarketData], instruments: Sequence[Instrument], **config: Any) -> dict[str, Any]:
    engine = Engine(instruments)
    venue = SimulatedVenue(instruments[0].venue)
    connect_simulated(engine, venue)
    venue.deposit(instruments[0].quote, D(10_000))
    strategy = BinaryPairArb(BinaryPairArbConfig(venue=instruments[0].venue, **config))
    attach_strategy(engine, strategy)
    run_replay(engine, records)
    return strategy.stats()


# =========================================================================== the pure guards
def test_pure_guards() -> None:
    assert stale_books(T0 + 20 * S, [T0 + 19 * S, T0], 15 * S) == "stale_book"
    assert stale_books(T0 + 20 * S, [T0 + 19 * S, T0 + 6 * S], 15 * S) is None
    assert near_expiry(EXPIRY - 10 * S, EXPIRY, 30 * S) == "near_expiry"
    assert near_expiry(EXPIRY - 31 * S, EXPIRY, 30 * S) is None
    assert near_expiry(EXPIRY, None, 30 * S) is None  # no expiry, nothing to be near
    assert cost_with_fees([(D("0.49"), D("0.01")), (D("0.50"), D("0.01"))]) == D("0.9999")
    assert polymarket_fee(D("0.5"), D("0.02")) == D("0.010")
    assert polymarket_fee(D("0.9"), D("0.02")) == polymarket_fee(D("0.1"), D("0.02"))


def test_updown_names_give_the_open_and_the_horizon() -> None:
    short, long = _token("YES"), _token("NO", symbol="BTC-UPDOWN-60M-20240101T0000", expiry=T0 + 3600 * S)
    a, b = updown_market(short), updown_market(long)
    assert a is not None
    assert b is not None
    assert (a.open_ns, a.period_min, a.outcome) == (T0, 15, "YES")
    assert (b.open_ns, b.period_min, b.outcome, b.key) == (T0, 60, "NO", "BTC-UPDOWN-60M-20240101T0000")


def test_polymarket_slugs_give_the_open_and_the_horizon() -> None:
    """btc-updown-15m-1765450800-UP: the open is the epoch second in the slug (2025-12-11 11:00 UTC,
    worked out by hand: 20,433 days and 11 hours after 1970), Up is the YES of the pair."""
    open_ns = (20_433 * 86_400 + 11 * 3_600) * S
    up = _token("UP", symbol="btc-updown-15m-1765450800", expiry=open_ns + 900 * S)
    down = _token("DOWN", symbol="btc-updown-1h-1765450800", expiry=open_ns + 3_600 * S)
    a, b = updown_market(up), updown_market(down)
    assert a is not None
    assert b is not None
    assert (a.asset, a.open_ns, a.period_min, a.outcome, a.key) == (
        "BTC",
        open_ns,
        15,
        "YES",
        "btc-updown-15m-1765450800",
    )
    assert (b.open_ns, b.period_min, b.outcome) == (open_ns, 60, "NO")
    assert updown_market(_token("UP", symbol="btc-updown-15m-1765450800", expiry=open_ns)) is None  # no window


# =========================================================================== stale leg
def test_a_stale_leg_is_not_an_arbitrage() -> None:
    yes, no = _token("YES"), _token("NO")
    # NO was last published at T0; YES updates 20 s later: 0.48 + 0.50 < 1, but NO may be long gone.
    stale = _run([_snap(no, T0, "0.50"), _snap(yes, T0 + 20 * S, "0.48")], [yes, no])
    assert stale["opportunities_taken"] == 0
    assert stale["skipped"] == {"stale_book": 1}
    fresh = _run([_snap(no, T0 + 10 * S, "0.50"), _snap(yes, T0 + 20 * S, "0.48")], [yes, no])
    assert fresh["opportunities_taken"] == 1


# =========================================================================== fees on both sides
@pytest.mark.parametrize(("fee", "taken"), [("0", 1), ("0.01", 0)])
def test_fees_on_both_tokens_turn_an_apparent_arbitrage_into_none(fee: str, taken: int) -> None:
    yes, no = _token("YES", fee=fee), _token("NO", fee=fee)
    stats = _run([_snap(yes, T0, "0.49"), _snap(no, T0, "0.50")], [yes, no], min_edge=D("0.005"))
    assert stats["opportunities_taken"] == taken  # 0.99 pays 0.01; with 1 % a side it costs 0.9999


# =========================================================================== neg-risk markets
@pytest.mark.real_data
def test_a_neg_risk_market_from_the_real_payload_is_refused(shared_data: Path) -> None:
    market = read_polymarket_market(shared_data / POLYMARKET / "market.json")
    assert market.neg_risk
    tokens = market.outcome_tokens()
    assert neg_risk_refusal(tokens) == "neg_risk_market"
    assert neg_risk_refusal(tokens, allow_neg_risk_pairs=True) is None  # YES + NO of one market still pay 1
    # The same event's other market: YES of one + NO of another is a basket, never a pair.
    other = OutcomeToken("0xanother-condition", "123", tokens[0].neg_risk_event)
    assert neg_risk_refusal([tokens[0], other]) == "neg_risk_basket"
    standalone = read_polymarket_markets(shared_data / POLYMARKET / "markets.json")
    verdicts = {m.slug: neg_risk_refusal(m.outcome_tokens()) for m in standalone}
    listed = {m.slug for m in standalone if len(m.tokens) == 2 and all(t.token_id for t in m.tokens)}
    assert listed
    assert all(verdicts[slug] is None for slug in listed)
    # A legacy market of the page has no token ids: its two "tokens" are not two tokens of a market.
    assert all(verdicts[m.slug] == "not_a_pair" for m in standalone if m.slug not in listed)

    yes, no = market.instruments()
    books = [_snap(yes, T0, "0.480", yes.units(1)), _snap(no, T0, "0.500", no.units(1))]  # 0.98: a 2-cent "arbitrage"
    flagged = {market.slug} if market.neg_risk else set()
    refused = _run(books, [yes, no], neg_risk_markets=flagged)
    assert refused["opportunities_taken"] == 0
    assert refused["skipped"] == {"neg_risk_market": 1}
    assert _run(books, [yes, no])["opportunities_taken"] == 1  # unflagged: the same books are taken
