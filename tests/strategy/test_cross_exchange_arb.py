"""CrossExchangeArb: unit tests on hand-made books, and the LINK/USDT Binance/Huobi acceptance run.

The acceptance test recomputes every trade of the 2 h recording on its own, from the raw CSVs
(``csv`` module, exact ``Fraction`` arithmetic, a different formulation of the same rule), and
requires the engine's fills and PnL to agree exactly.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from spreadhawk.data.readers.instruments import binance_link_usdt, huobi_link_usdt
from spreadhawk.data.readers.link_books import read_link_books
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import venue_of
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSnapshot, MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.cross_exchange_arb import CrossExchangeArb, CrossExchangeArbConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000  # one second in ns
MS = 1_000_000
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
Fill = tuple[int, str, OrderSide, Decimal, Decimal]  # ts_ns, venue, side, quantity, price


# =========================================================================== harness
def _inst(
    venue: str, *, fee: str = "0.001", lot: str = "0.1", min_notional: str = "0", base: str = "LINK"
) -> Instrument:
    return Instrument(
        venue=venue,
        symbol=f"{base}/USDT",
        kind=InstrumentKind.SPOT,
        base=base,
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D(lot),
        maker_fee=D(fee),
        taker_fee=D(fee),
        min_notional=D(min_notional),
        size_increment=D("0.001"),
    )


def _snap(
    inst: Instrument, ts_ns: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]
) -> BookSnapshot:
    def levels(side: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
        return tuple((inst.ticks(price), inst.units(size)) for price, size in side)

    return BookSnapshot(inst.id, ts_ns, 1, levels(bids), levels(asks))


@dataclass
class Run:
    engine: Engine
    strategy: CrossExchangeArb
    venues: dict[str, SimulatedVenue]

    @property
    def fills(self) -> list[Fill]:
        return [(f.ts_ns, venue_of(f.instrument_id), f.side, f.quantity, f.price) for f in self.engine.fills]

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()


def _run(
    instruments: Sequence[Instrument],
    records: Iterable[MarketData],
    *,
    balances: dict[str, dict[str, Decimal]] | None = None,
    latency_ns: int = 0,
    **config: Any,
) -> Run:
    """Engine + one simulated venue per instrument, deposits known to both, strategy attached, replayed."""
    engine = Engine(instruments)
    venues = {inst.venue: SimulatedVenue(inst.venue, latency_ns=latency_ns) for inst in instruments}
    for venue in venues.values():
        connect_simulated(engine, venue)
    default = {"USDT": D(10_000), instruments[0].base: D(100)}
    for name in sorted(venues):
        for asset, amount in sorted((balances or {}).get(name, default).items()):
            venues[name].deposit(asset, amount)
    config.setdefault("max_quantity", D(10))
    strategy = CrossExchangeArb(CrossExchangeArbConfig(instruments=[inst.id for inst in instruments], **config))
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, records)
    return Run(engine, strategy, venues)


def _check_invariants(run: Run) -> None:
    stats = run.stats
    skipped = {reason: n for reason, n in stats["skipped"].items() if reason != "book_invalid"}
    assert stats["opportunities_seen"] == stats["opportunities_taken"] + sum(skipped.values())
    for name, venue in run.venues.items():
        engine_view = {a: v for a, v in run.engine.portfolio.ledger.venue_balances(name).items() if v}
        assert engine_view == {a: v for a, v in venue.balances().items() if v}, name


A, B = _inst("A"), _inst("B")


# =========================================================================== unit tests
@pytest.mark.parametrize("cheap", ["A", "B"])
def test_buys_on_the_cheap_venue_and_sells_on_the_dear_one(cheap: str) -> None:
    low, high = (A, B) if cheap == "A" else (B, A)
    records = [
        _snap(low, 0, [("99.00", "5")], [("100.00", "2")]),
        _snap(high, 0, [("101.00", "2")], [("102.00", "5")]),
    ]
    run = _run([A, B], sorted(records, key=lambda r: r.instrument_id))
    assert run.fills == [(1, low.venue, BUY, D(2), D(100)), (1, high.venue, SELL, D(2), D(101))]
    stats = run.stats
    assert (stats["opportunities_seen"], stats["opportunities_taken"], stats["legs_filled"]) == (1, 1, 2)
    assert stats["expected_gross_edge"] == D(2)
    assert stats["expected_net_edge"] == 2 * (D(101) * D("0.999") - D(100) * D("1.001"))
    _check_invariants(run)


def test_walks_both_books_level_by_level_while_each_slice_pays() -> None:
    # bid * 0.999 > ask * 1.0015 (fees 0.1 % each, margin 5 bps): (100.00, 100.80) and (100.10, 100.80)
    # and (100.10, 100.60) pay, (100.50, 100.60) does not.
    records = [
        _snap(A, 0, [("99.00", "1")], [("100.00", "1"), ("100.10", "2"), ("100.50", "5")]),
        _snap(B, 0, [("100.80", "1.5"), ("100.60", "3"), ("100.40", "10")], [("101.00", "1")]),
    ]
    run = _run([A, B], records)
    assert run.fills == [
        (1, "A", BUY, D(1), D("100.00")),
        (1, "A", BUY, D(2), D("100.10")),
        (1, "B", SELL, D("1.5"), D("100.80")),
        (1, "B", SELL, D("1.5"), D("100.60")),
    ]
    orders = list(run.engine.orders.values())
    assert [(o.side, o.quantity, o.price) for o in orders] == [(BUY, D(3), D("100.10")), (SELL, D(3), D("100.60"))]
    _check_invariants(run)


@pytest.mark.parametrize(("bid", "trades"), [("100.15", False), ("100.16", True)])
def test_the_margin_must_be_exceeded_not_just_met(bid: str, trades: bool) -> None:
    # 100.15 * 0.999 == 99.90 * (1.001 + 0.0005) exactly: net spread equal to the margin is not an opportunity.
    records = [_snap(A, 0, [("99.00", "1")], [("99.90", "1")]), _snap(B, 0, [(bid, "1")], [("101.00", "1")])]
    run = _run([A, B], records, min_profit_bps=5.0)
    assert bool(run.fills) is trades
    assert run.stats["opportunities_seen"] == int(trades)
    assert run.stats["skipped"] == {}


def test_quote_on_the_buy_venue_bounds_the_quantity_fee_included() -> None:
    records = [_snap(A, 0, [("99.00", "1")], [("100.00", "10")]), _snap(B, 0, [("101.00", "10")], [("102.00", "1")])]
    balances = {"A": {"USDT": D("250.25")}, "B": {"LINK": D(10)}}  # 2.5 * 100 * 1.001 = 250.25
    run = _run([A, B], records, balances=balances)
    assert [f[3] for f in run.fills] == [D("2.5"), D("2.5")]
    assert run.venues["A"].balances()["USDT"] == 0
    _check_invariants(run)


def test_base_on_the_sell_venue_bounds_the_quantity() -> None:
    records = [_snap(A, 0, [("99.00", "1")], [("100.00", "10")]), _snap(B, 0, [("101.00", "10")], [("102.00", "1")])]
    run = _run([A, B], records, balances={"A": {"USDT": D(10_000)}, "B": {"LINK": D("1.35")}})
    assert [f[3] for f in run.fills] == [D("1.3"), D("1.3")]  # rounded down to the 0.1 lot
    _check_invariants(run)


@pytest.mark.parametrize(
    ("balances", "reason"),
    [
        ({"A": {"USDT": D("10.00")}, "B": {"LINK": D(10)}}, "insufficient_balance_buy_venue"),
        ({"A": {"USDT": D(10_000)}, "B": {"LINK": D("0.05")}}, "insufficient_balance_sell_venue"),
    ],
)
def test_an_opportunity_the_balances_cannot_fund_is_skipped(
    balances: dict[str, dict[str, Decimal]], reason: str
) -> None:
    records = [_snap(A, 0, [("99.00", "1")], [("100.00", "10")]), _snap(B, 0, [("101.00", "10")], [("102.00", "1")])]
    run = _run([A, B], records, balances=balances)
    assert run.fills == []
    assert run.stats["skipped"] == {reason: 1}
    _check_invariants(run)


def test_below_min_notional_is_skipped() -> None:
    a, b = _inst("A", lot="0.01", min_notional="10"), _inst("B", lot="0.01", min_notional="5")
    records = [_snap(a, 0, [("99.00", "1")], [("100.00", "0.09")]), _snap(b, 0, [("101.00", "10")], [("102.00", "1")])]
    run = _run([a, b], records)  # 0.09 * 100 = 9 USDT < 10 on A
    assert run.fills == []
    assert run.stats["skipped"] == {"below_min_notional": 1}
    _check_invariants(run)


def test_quantity_is_rounded_down_to_a_multiple_of_both_lots() -> None:
    a, b = _inst("A", lot="0.01"), _inst("B", lot="0.025")  # common lot 0.05
    records = [_snap(a, 0, [("99.00", "1")], [("100.00", "0.37")]), _snap(b, 0, [("101.00", "10")], [("102.00", "1")])]
    run = _run([a, b], records)
    assert run.fills == [(1, "A", BUY, D("0.35"), D(100)), (1, "B", SELL, D("0.35"), D(101))]


def test_a_buy_costing_exactly_the_free_quote_over_several_levels_is_accepted() -> None:
    records = [
        _snap(A, 0, [("99.00", "1")], [("100.01", "1"), ("100.02", "2")]),
        _snap(B, 0, [("101.00", "10")], [("102.00", "1")]),
    ]
    balances = {"A": {"USDT": D("300.35005")}, "B": {"LINK": D(10)}}  # (100.01 + 2 * 100.02) * 1.001
    run = _run([A, B], records, balances=balances)
    assert run.stats["legs_filled"] == 2


def test_depth_thinner_than_a_lot_is_skipped() -> None:
    records = [_snap(A, 0, [("99.00", "1")], [("100.00", "0.05")]), _snap(B, 0, [("101.00", "10")], [("102.00", "1")])]
    run = _run([A, B], records)
    assert run.stats["skipped"] == {"below_lot_size": 1}


def test_liquidity_we_took_stays_taken_until_the_venue_updates_the_book() -> None:
    records = [
        _snap(A, 0, [("99.00", "1")], [("100.00", "1"), ("100.05", "1")]),
        _snap(B, 0, [("101.00", "1"), ("100.20", "5")], [("102.00", "1")]),
        _snap(B, S, [("101.00", "1")], [("102.00", "1")]),  # only B refreshes: our 100.00 on A is still gone
    ]
    run = _run([A, B], records, max_quantity=D(1))
    assert run.fills == [
        (1, "A", BUY, D(1), D("100.00")),
        (1, "B", SELL, D(1), D("101.00")),
        (S + 1, "A", BUY, D(1), D("100.05")),
        (S + 1, "B", SELL, D(1), D("101.00")),
    ]
    assert (run.stats["legs_filled"], run.stats["legs_unfilled"]) == (4, 0)


def test_records_sharing_a_timestamp_are_decided_together() -> None:
    records = [
        _snap(A, 0, [("99.90", "1")], [("100.00", "1")]),
        _snap(B, 0, [("100.00", "1")], [("100.10", "1")]),
        # At 1 s both venues drop by 1: no cross-venue spread, but A's new book against B's old one shows 1 %.
        _snap(A, S, [("98.90", "1")], [("99.00", "1")]),
        _snap(B, S, [("99.00", "1")], [("99.10", "1")]),
    ]
    coalesced = _run([A, B], records)
    assert coalesced.fills == []
    assert coalesced.stats["decisions"] == 2
    # Deciding on every record is safe too: the engine applies every record of an instant to the
    # books before any strategy sees one, so A's new book is never paired with B's previous one.
    per_record = _run([A, B], records, decision_delay_ns=0)
    assert per_record.fills == []
    assert per_record.stats["decisions"] == 4
    assert per_record.stats["skipped"] == {}


def test_deltas_trigger_a_decision() -> None:
    records: list[MarketData] = [
        _snap(A, 0, [("99.00", "1")], [("100.00", "1")]),
        _snap(B, 0, [("100.00", "1")], [("100.50", "1")]),
        BookDeltas(
            B.id,
            S,
            2,
            2,
            1,
            bids=((B.ticks("101.00"), B.units("1")),),
            asks=((B.ticks("100.50"), 0), (B.ticks("101.50"), B.units("1"))),
        ),
    ]
    run = _run([A, B], records)
    assert run.fills == [(S + 1, "A", BUY, D(1), D(100)), (S + 1, "B", SELL, D(1), D(101))]


def test_no_decision_until_both_books_are_valid() -> None:
    run = _run([A, B], [_snap(A, 0, [("99.00", "1")], [("100.00", "1")])])
    assert (run.stats["decisions"], run.stats["skipped"]) == (1, {"book_invalid": 1})


def _repeated(times: Sequence[int]) -> list[MarketData]:
    out: list[MarketData] = []
    for ts in times:
        out += [_snap(A, ts, [("99.00", "1")], [("100.00", "1")]), _snap(B, ts, [("101.00", "1")], [("102.00", "1")])]
    return out


def test_no_new_legs_while_previous_legs_are_in_flight() -> None:
    run = _run([A, B], _repeated([0, 50 * MS, S]), latency_ns=100 * MS)
    assert run.stats["opportunities_taken"] == 2
    assert run.stats["skipped"] == {"leg_in_flight": 1}
    assert [f[0] for f in run.fills] == [100 * MS + 1] * 2 + [S + 100 * MS + 1] * 2
    _check_invariants(run)


def test_legs_that_meet_a_changed_book_fill_partly_or_not_at_all() -> None:
    records = [
        _snap(A, 0, [("99.00", "1")], [("100.00", "1")]),
        _snap(B, 0, [("101.00", "1")], [("102.00", "1")]),
        # before the legs arrive (100 ms), A's ask thins to 0.4 and B's bid drops below the sell limit
        _snap(A, 50 * MS, [("99.00", "1")], [("100.00", "0.4"), ("100.50", "5")]),
        _snap(B, 50 * MS, [("100.50", "5")], [("102.00", "1")]),
    ]
    run = _run([A, B], records, latency_ns=100 * MS)
    # The buy leg got 0.4 and the sell leg nothing: the paired-leg executor completes the missing
    # sell at market on B (it arrives 100 ms later, at B's 100.50 bid) instead of leaving 0.4 long.
    assert run.fills == [
        (100 * MS + 1, "A", BUY, D("0.4"), D(100)),
        (200 * MS + 1, "B", SELL, D("0.400"), D("100.50")),
    ]
    stats = run.stats
    assert (stats["legs_filled"], stats["legs_partially_filled"], stats["legs_unfilled"]) == (0, 1, 1)
    assert stats["skipped"] == {"leg_in_flight": 1}
    execution = stats["execution"]
    assert execution["units"] == 1
    assert execution["hedged"] == 1
    assert execution["total_legging_loss"] == D("0.2")  # sold 0.4 at 100.50 instead of the planned 101


def test_cooldown_after_taking_an_opportunity() -> None:
    run = _run([A, B], _repeated([0, S, 2 * S]), cooldown_ms=1_500)
    assert (run.stats["opportunities_taken"], run.stats["skipped"]) == (2, {"cooldown": 1})


def test_config_is_validated_with_clear_messages() -> None:
    with pytest.raises(ValidationError, match="exactly 2 instrument ids"):
        CrossExchangeArbConfig(instruments=["A:LINK/USDT"], max_quantity=D(1))
    with pytest.raises(ValidationError, match="both instruments are on venue 'A'"):
        CrossExchangeArbConfig(instruments=["A:LINK/USDT", "A:LINK/BUSD"], max_quantity=D(1))
    with pytest.raises(ValidationError, match="not an instrument id"):
        CrossExchangeArbConfig(instruments=["LINK/USDT", "B:LINK/USDT"], max_quantity=D(1))
    with pytest.raises(ValidationError, match="Extra inputs"):
        CrossExchangeArbConfig(instruments=["A:X", "B:X"], max_quantity=D(1), dry_run=True)  # type: ignore[call-arg]
    assert CrossExchangeArbConfig(instruments=["B:X", "A:X"], max_quantity=D(1)).instruments == ["A:X", "B:X"]


def test_instruments_of_different_pairs_are_refused() -> None:
    with pytest.raises(ValueError, match="A:LINK/USDT trades LINK/USDT but B:ETH/USDT trades ETH/USDT"):
        _run([A, _inst("B", base="ETH")], [])


# =========================================================================== real data: LINK/USDT
LINK_DIR = Path("defi_arbitrage_link_usdt")
FILES = {"BINANCE": "orderbook_bnc.csv", "HUOBI": "orderbook_hb.csv"}
DEPOSIT = {"USDT": D(10_000), "LINK": D(1_000)}
MAX_QUANTITY = D(50)
REAL_FEES = {"BINANCE": D("0.001"), "HUOBI": D("0.002")}
# A what-if fee tier (1 bp taker on both venues), so that the 2 h contain trades to check: at the real
# fees (30 bps round trip) no second of the recording has a cross-venue spread that pays.
LOW_FEES = {"BINANCE": D("0.0001"), "HUOBI": D("0.0001")}
LOW_FEES_MARGIN_BPS = 0.5


def _link_instruments(fees: dict[str, Decimal]) -> list[Instrument]:
    out = []
    for inst in (binance_link_usdt(), huobi_link_usdt()):
        fee = fees[inst.venue]
        out.append(dataclasses.replace(inst, maker_fee=fee, taker_fee=fee))
    return out


@cache
def _link_snapshots(root: Path) -> tuple[tuple[BookSnapshot, ...], ...]:
    return tuple(
        tuple(read_link_books(root / LINK_DIR / FILES[inst.venue], inst)) for inst in _link_instruments(REAL_FEES)
    )


def _run_link(shared_data: Path, fees: dict[str, Decimal], margin_bps: float, latency_ns: int = 0) -> Run:
    instruments = _link_instruments(fees)
    feed = ReplayFeed([list(s) for s in _link_snapshots(shared_data)])
    balances = {inst.venue: DEPOSIT for inst in instruments}
    return _run(
        instruments,
        feed,
        balances=balances,
        latency_ns=latency_ns,
        max_quantity=MAX_QUANTITY,
        min_profit_bps=margin_bps,
    )


# --------------------------------------------------------------------------- independent recomputation
RawLevels = list[tuple[Decimal, Decimal]]  # (price, size) as written in the file
Book = tuple[RawLevels, RawLevels]  # bids best first, asks best first


@dataclass(frozen=True)
class Rules:
    fee: dict[str, Fraction]
    lot: dict[str, Fraction]
    min_notional: dict[str, Fraction]
    margin: Fraction
    max_quantity: Fraction


@dataclass
class Expected:
    fills: list[tuple[int, str, OrderSide, Fraction, Fraction]]
    fees: list[Fraction]
    balances: dict[tuple[str, str], Fraction]
    seen: int
    taken: int


@cache
def _read_csv_books(path: Path) -> list[tuple[int, Book]]:
    out = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            stamp = datetime.fromisoformat(row["timestamp"]).replace(tzinfo=UTC)
            ts_ns = int(stamp.timestamp()) * S
            bids = sorted(((D(row[f"b{k}"]), D(row[f"bv{k}"])) for k in range(1, 11)), reverse=True)
            asks = sorted((D(row[f"a{k}"]), D(row[f"av{k}"])) for k in range(1, 11))
            out.append((ts_ns, ([lv for lv in bids if lv[1] > 0], [lv for lv in asks if lv[1] > 0])))
    return out


def _cut(levels: list[tuple[Fraction, Fraction]], quantity: Fraction) -> list[tuple[Fraction, Fraction]]:
    """(price, size) taken from ``levels``, best first, for ``quantity``."""
    out, left = [], quantity
    for price, size in levels:
        if left <= 0:
            break
        out.append((price, min(size, left)))
        left -= size
    return out


def _max_quantity(asks: list[tuple[Fraction, Fraction]], budget: Fraction, fee: Fraction) -> Fraction:
    """Largest quantity whose cost over ``asks``, fee included, fits ``budget`` (all of them if it does)."""
    spent, quantity = Fraction(0), Fraction(0)
    for price, size in asks:
        cost = price * size * (1 + fee)
        if spent + cost > budget:
            return quantity + (budget - spent) / (price * (1 + fee))
        spent, quantity = spent + cost, quantity + size
    return quantity


def _recompute(books: dict[str, list[tuple[int, Book]]], rules: Rules, deposit: dict[str, Decimal]) -> Expected:
    """Every fill the rule makes, from the raw books.

    Each second both venues have a new book: decide once, with both (the strategy decides 1 ns after
    the records of an instant, so fills are stamped ts + 1). A fresh book every second on both venues
    also means nothing taken in one decision is still missing at the next one.
    """
    venues = sorted(books)
    balance = {(v, a): Fraction(x) for v in venues for a, x in deposit.items()}
    expected = Expected([], [], balance, 0, 0)
    times = [ts for ts, _ in books[venues[0]]]
    assert all([ts for ts, _ in books[v]] == times for v in venues)  # the two recordings share their timestamps
    for k, ts in enumerate(times):
        book = {v: books[v][k][1] for v in venues}
        if any(b[0] and b[1] and b[0][0][0] >= b[1][0][0] for b in book.values()):
            continue  # a crossed book cannot be traded (never happens in this recording)
        for buy, sell in ((venues[0], venues[1]), (venues[1], venues[0])):
            raw_asks, raw_bids = book[buy][1], book[sell][0]

            def pays(ask: Fraction, bid: Fraction, buy: str = buy, sell: str = sell) -> bool:
                return bid * (1 - rules.fee[sell]) - ask * (1 + rules.fee[buy]) > ask * rules.margin

            if not raw_asks or not raw_bids or not pays(Fraction(raw_asks[0][0]), Fraction(raw_bids[0][0])):
                continue
            asks = [(Fraction(price), Fraction(size)) for price, size in raw_asks]
            bids = [(Fraction(price), Fraction(size)) for price, size in raw_bids]
            expected.seen += 1
            # Depth that pays: cumulative breakpoints of both sides; a segment pays on its own prices.
            reach = min(sum(size for _, size in asks), sum(size for _, size in bids))
            edges = sorted(e for e in {Fraction(0)} | _cumulative(asks) | _cumulative(bids) if e <= reach)
            depth = Fraction(0)
            for lo, hi in pairwise(edges):
                if not pays(_price_at(asks, lo), _price_at(bids, lo)):
                    break
                depth = hi
            budget = _max_quantity(asks, balance[buy, "USDT"], rules.fee[buy])
            quantity = min(depth, budget, balance[sell, "LINK"], rules.max_quantity)
            lot = max(rules.lot.values())  # 0.01 (Huobi) is a multiple of 0.001 (Binance)
            assert all(lot % other == 0 for other in rules.lot.values())
            quantity = (quantity // lot) * lot
            if quantity == 0:
                continue
            bought, sold = _cut(asks, quantity), _cut(bids, quantity)
            if quantity * bought[-1][0] < rules.min_notional[buy] or quantity * sold[-1][0] < rules.min_notional[sell]:
                continue
            expected.taken += 1
            for venue, side, legs in ((buy, BUY, bought), (sell, SELL, sold)):
                for price, size in legs:
                    # the venue books a fee to 1e-8 (half to even, as Python's round does for a Fraction)
                    fee = Fraction(round(size * price * rules.fee[venue] * 10**8), 10**8)
                    expected.fills.append((ts + 1, venue, side, size, price))
                    expected.fees.append(fee)
                    sign = 1 if side is BUY else -1
                    balance[venue, "LINK"] += sign * size
                    balance[venue, "USDT"] += -sign * size * price - fee
    return expected


def _cumulative(levels: list[tuple[Fraction, Fraction]]) -> set[Fraction]:
    total, out = Fraction(0), set()
    for _, size in levels:
        total += size
        out.add(total)
    return out


def _price_at(levels: list[tuple[Fraction, Fraction]], quantity: Fraction) -> Fraction:
    """Price of the level holding the units just after the first ``quantity`` (which must be inside the depth)."""
    total = Fraction(0)
    for price, size in levels:
        total += size
        if total > quantity:
            return price
    raise AssertionError(f"{quantity} is beyond the depth")


def _rules(fees: dict[str, Decimal], margin_bps: float) -> Rules:
    instruments = {inst.venue: inst for inst in _link_instruments(fees)}
    return Rules(
        fee={v: Fraction(i.taker_fee) for v, i in instruments.items()},
        lot={v: Fraction(i.lot_size) for v, i in instruments.items()},
        min_notional={v: Fraction(i.min_notional) for v, i in instruments.items()},
        margin=Fraction(Decimal(repr(margin_bps))) / 10_000,
        max_quantity=Fraction(MAX_QUANTITY),
    )


def _engine_realised_edge(run: Run) -> Fraction:
    fills = run.engine.fills
    return sum((Fraction(f.price) * Fraction(f.quantity) * -f.side.sign - Fraction(f.fee) for f in fills), Fraction(0))


@pytest.mark.real_data
@pytest.mark.parametrize(
    ("fees", "margin_bps"), [(REAL_FEES, 5.0), (LOW_FEES, LOW_FEES_MARGIN_BPS)], ids=["real-fees", "low-fee-what-if"]
)
def test_link_usdt_binance_huobi_matches_an_independent_recomputation(
    shared_data: Path, fees: dict[str, Decimal], margin_bps: float
) -> None:
    run = _run_link(shared_data, fees, margin_bps)
    books = {venue: _read_csv_books(shared_data / LINK_DIR / name) for venue, name in FILES.items()}
    expected = _recompute(books, _rules(fees, margin_bps), DEPOSIT)

    # every fill, level by level: time, venue, side, quantity, price; and its fee
    got = [(ts, venue, side, Fraction(q), Fraction(p)) for ts, venue, side, q, p in run.fills]
    assert got == expected.fills
    assert [Fraction(f.fee) for f in run.engine.fills] == expected.fees
    stats = run.stats
    assert (stats["opportunities_seen"], stats["opportunities_taken"]) == (expected.seen, expected.taken)
    assert stats["legs_filled"] == 2 * expected.taken
    assert stats["legs_partially_filled"] == stats["legs_unfilled"] == 0
    _check_invariants(run)

    # PnL net of fees: realised edge, and the change in equity valued at the final mid
    final_bnc = books["BINANCE"][-1][1]
    link_mid = (Fraction(final_bnc[0][0][0]) + Fraction(final_bnc[1][0][0])) / 2
    assert Fraction(run.engine.portfolio.asset_price("LINK", run.engine.price) or 0) == link_mid
    expected_edge = sum(
        (p * q * -side.sign - fee for (_, _, side, q, p), fee in zip(expected.fills, expected.fees, strict=True)),
        Fraction(0),
    )
    assert _engine_realised_edge(run) == expected_edge
    deposit = {(v, a): Fraction(x) for v in FILES for a, x in DEPOSIT.items()}
    expected_equity_change = sum(
        ((expected.balances[k] - x) * (link_mid if k[1] == "LINK" else 1) for k, x in deposit.items()), Fraction(0)
    )
    assert expected_equity_change == expected_edge  # both legs fill in full: no LINK is left over
    initial_equity = sum(x * (link_mid if a == "LINK" else 1) for (_, a), x in deposit.items())
    equity_change = Fraction(run.engine.portfolio.equity(run.engine.price)) - initial_equity
    assert equity_change == expected_equity_change == _pnl(run)

    skipped = ", ".join(f"{r}={n}" for r, n in stats["skipped"].items()) or "none"
    print(
        f"\nLINK/USDT BINANCE {fees['BINANCE']} vs HUOBI {fees['HUOBI']}, margin {margin_bps} bps: "
        f"decisions {stats['decisions']}, opportunities seen {stats['opportunities_seen']}, "
        f"taken {stats['opportunities_taken']}, skipped: {skipped}; fills {len(run.engine.fills)}; "
        f"PnL net of fees {float(expected_edge):.6f} USDT (expected gross {float(stats['expected_gross_edge']):.6f}, "
        f"expected net {float(stats['expected_net_edge']):.6f})"
    )


def _pnl(run: Run) -> Fraction:
    """Change in equity, deposits and final holdings all valued at the final LINK price (Binance mid)."""
    engine = run.engine
    link = Fraction(engine.portfolio.asset_price("LINK", engine.price) or 0)
    initial = sum(Fraction(x) * (link if a == "LINK" else 1) for a, x in DEPOSIT.items()) * len(run.venues)
    return Fraction(engine.portfolio.equity(engine.price)) - initial


@pytest.mark.real_data
def test_latency_costs_edge_or_leaves_legs_unfilled(shared_data: Path) -> None:
    """The venue is honest about latency: orders meet the book as it is when they arrive.

    With one book per second, an order 500 ms late still meets the book it was decided on (nothing
    newer exists), so the trades are the same ones, 500 ms later. At 1.5 s the orders meet the next
    second's books: edge is lost or legs fill partly or not at all (an unhedged position), and legs
    still in flight block the next decisions.
    """
    base = _run_link(shared_data, LOW_FEES, LOW_FEES_MARGIN_BPS)
    half = _run_link(shared_data, LOW_FEES, LOW_FEES_MARGIN_BPS, latency_ns=500 * MS)
    assert [(ts + 500 * MS, *rest) for ts, *rest in base.fills] == half.fills
    late = _run_link(shared_data, LOW_FEES, LOW_FEES_MARGIN_BPS, latency_ns=1_500 * MS)
    stats = late.stats
    incomplete = stats["legs_partially_filled"] + stats["legs_unfilled"]
    assert _pnl(late) < _pnl(base) or incomplete > 0
    assert stats["skipped"].get("leg_in_flight", 0) > 0
    print(
        f"\nlatency 0: PnL {float(_pnl(base)):.6f} USDT, {len(base.engine.fills)} fills; 500 ms: identical fills, "
        f"500 ms later; 1.5 s: PnL {float(_pnl(late)):.6f} USDT, {len(late.engine.fills)} fills, "
        f"taken {stats['opportunities_taken']}, legs filled {stats['legs_filled']}, "
        f"partial {stats['legs_partially_filled']}, unfilled {stats['legs_unfilled']}, skipped {stats['skipped']}"
    )
