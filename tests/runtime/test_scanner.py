"""The opportunity scanner: exact opportunities on hand-made books, appearance and disappearance with
age, the simulated market, the opportunities table and the ``scan`` command."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from spreadhawk.analytics.binary_pricing import pair_sum_check
from spreadhawk.analytics.triangular import ConversionGraph, size
from spreadhawk.cli.scan import register
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, FundingRate, MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.persistence.opportunities import OpportunityStore
from spreadhawk.runtime.scan_detectors import cycle_key, default_detectors
from spreadhawk.runtime.scan_run import build_scan, load_scan_config
from spreadhawk.runtime.scanner import Scanner, Sighting
from spreadhawk.strategy.detectors import funding_edge_bps

D = Decimal
S = 1_000_000_000
T0 = 1_704_067_200 * S
PRESET = Path(__file__).parents[2] / "src/spreadhawk/runtime/presets/demo_market.toml"
Book = tuple[list[tuple[str, str]], list[tuple[str, str]]]  # (bids, asks) as (price, size) strings


# =========================================================================== harness
def spot(
    venue: str, base: str, quote: str, *, fee: str = "0.001", tick: str = "0.01", lot: str = "0.001"
) -> Instrument:
    return Instrument(
        venue=venue, symbol=f"{base}/{quote}", kind=InstrumentKind.SPOT, base=base, quote=quote,
        tick_size=D(tick), lot_size=D(lot), maker_fee=D(fee), taker_fee=D(fee),
    )  # fmt: skip


def token(symbol: str) -> Instrument:
    return Instrument(
        venue="PREDICT", symbol=symbol, kind=InstrumentKind.BINARY, base=symbol, quote="USDT",
        tick_size=D("0.01"), lot_size=D(1), expiry_ns=T0 + 900 * S,
    )  # fmt: skip


def snap(inst: Instrument, ts: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> BookSnapshot:
    def levels(side: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
        return tuple((inst.ticks(p), inst.units(q)) for p, q in side)

    return BookSnapshot(inst.id, ts, ts, levels(bids), levels(asks))


class Harness:
    """An engine with no venue, a scanner on it, and instants pushed one at a time."""

    def __init__(self, instruments: list[Instrument]) -> None:
        self.engine = Engine(instruments)
        self.scanner = Scanner(default_detectors(instruments))
        self.scanner.attach(self.engine)

    def instant(self, ts: int, *records: MarketData) -> None:
        self.engine.process_batch(list(records))
        self.engine.run_until(ts)  # the scanner evaluates once the instant is applied


# =========================================================================== cross-exchange
A, B = spot("A", "BTC", "USDT"), spot("B", "BTC", "USDT")
A_CROSSED = ([("99.50", "1")], [("100.00", "1"), ("100.50", "2")])
B_BOOK = ([("101.00", "1.5"), ("100.90", "1")], [("101.50", "3")])


def test_cross_exchange_edge_and_size_match_an_independent_walk() -> None:
    h = Harness([A, B])
    h.instant(T0, snap(A, T0, *A_CROSSED), snap(B, T0, *B_BOOK))
    assert list(h.scanner.live) == ["A:BTC/USDT->B:BTC/USDT"]  # the reverse (buy B, sell A) does not pay
    o = h.scanner.live["A:BTC/USDT->B:BTC/USDT"]
    # By hand, exact fractions: slices (ask, bid, qty) while bid*(1-fee) - ask*(1+fee) > 0.
    fee = Fraction("0.001")
    slices = [(Fraction(a), Fraction(b), Fraction(q)) for a, b, q in (("100", "101", "1"), ("100.5", "101", "0.5"))]
    slices.append((Fraction("100.5"), Fraction("100.9"), Fraction(1)))
    net = sum(((bid * (1 - fee) - ask * (1 + fee)) * q for ask, bid, q in slices), Fraction(0))
    spent = sum((ask * q for ask, _, q in slices), Fraction(0))
    assert o.executable_size == D("2.5")
    assert Fraction(o.expected_profit) == net
    assert o.net_edge_bps == o.expected_profit / spent.numerator * spent.denominator * 10_000
    assert o.kind == "cross_exchange"
    assert o.profit_asset == "USDT"


def test_opportunities_appear_persist_and_disappear_with_their_age() -> None:
    h = Harness([A, B])
    flat = ([("99.50", "1")], [("101.80", "1")])
    h.instant(T0, snap(A, T0, *flat), snap(B, T0, *B_BOOK))
    assert not h.scanner.live
    h.instant(T0 + 2 * S, snap(A, T0 + 2 * S, *A_CROSSED))
    h.instant(T0 + 5 * S, snap(B, T0 + 5 * S, [("101.00", "0.5")], [("101.50", "3")]))  # still crossed, thinner
    (o,) = h.scanner.live.values()
    assert (o.first_seen_ns, o.last_seen_ns, o.age_ns(T0 + 5 * S)) == (T0 + 2 * S, T0 + 5 * S, 3 * S)
    # The thinner book keeps only the best slice: a smaller size at a larger average edge.
    assert o.executable_size == D("0.5")
    assert o.peak_size == D("2.5")
    assert o.max_edge_bps == o.net_edge_bps
    h.instant(T0 + 9 * S, snap(A, T0 + 9 * S, *flat))
    assert not h.scanner.live
    (closed,) = h.scanner.history
    assert (closed.first_seen_ns, closed.last_seen_ns, closed.closed_ns) == (T0 + 2 * S, T0 + 5 * S, T0 + 9 * S)
    assert closed.duration_ns == 7 * S
    assert closed.executable_size == D("2.5")
    assert closed.max_edge_bps == o.max_edge_bps
    h.instant(T0 + 10 * S, snap(A, T0 + 10 * S, *A_CROSSED))  # back: a new opportunity, age from now
    assert h.scanner.live["A:BTC/USDT->B:BTC/USDT"].first_seen_ns == T0 + 10 * S


# =========================================================================== YES/NO pairs
def test_binary_pair_under_one_matches_pair_sum_check() -> None:
    yes, no = token("M-YES"), token("M-NO")
    yes_asks, no_asks = [("0.45", "100"), ("0.47", "50")], [("0.50", "80"), ("0.54", "100")]
    h = Harness([yes, no])
    h.instant(T0, snap(yes, T0, [("0.40", "10")], yes_asks), snap(no, T0, [("0.40", "10")], no_asks))
    (o,) = h.scanner.live.values()
    check = pair_sum_check([(D(p), D(q)) for p, q in yes_asks], [(D(p), D(q)) for p, q in no_asks])
    assert check.cost_per_pair == D("0.95")
    assert o.key == "PREDICT:M YES+NO"
    assert o.kind == "binary_pair"
    assert o.executable_size == check.executable_pairs == 100
    assert o.expected_profit == 80 * D("0.05") + 20 * D("0.01")
    assert o.net_edge_bps == o.expected_profit / (80 * D("0.95") + 20 * D("0.99")) * 10_000
    h.instant(T0 + 900 * S, snap(yes, T0 + 900 * S, [("0.40", "10")], yes_asks))  # expired: no longer a pair
    assert not h.scanner.live


# =========================================================================== triangular
def test_triangle_matches_the_strategy_sizing() -> None:
    insts = [spot("ALPHA", "BTC", "USDT"), spot("ALPHA", "ETH", "USDT"), spot("ALPHA", "ETH", "BTC", tick="0.0001")]
    books = [
        snap(insts[0], T0, [("99.90", "2")], [("100.00", "1")]),
        snap(insts[1], T0, [("5.20", "10"), ("5.10", "10")], [("5.21", "10")]),
        snap(insts[2], T0, [("0.0499", "10")], [("0.0500", "20")]),
    ]
    h = Harness(insts)
    h.instant(T0, *books)
    (o,) = h.scanner.live.values()  # USDT->BTC->ETH->USDT pays; the other direction does not
    assert o.key == "ALPHA:USDT->BTC->ETH->USDT"
    assert o.profit_asset == "USDT"
    (cycle,) = [
        c for c in ConversionGraph.from_instruments(insts).cycles(3, ["USDT"]) if cycle_key(c) == o.key
    ]  # the triangular strategy's own sizing, with a start amount no balance limits
    plan = size(cycle, h.engine.books, D(10**9))
    assert not isinstance(plan, str)
    assert (o.executable_size, o.expected_profit, o.net_edge_bps) == (plan.start_amount, plan.profit, plan.profit_bps)
    assert plan.profit > 0


# =========================================================================== funding
def test_funding_edge_is_the_strategy_rule() -> None:
    s, p = spot("ALPHA", "BTC", "USDT", fee="0.0004"), spot("ALPHA", "BTC", "USDT", fee="0.0005")
    perp = Instrument(
        venue="ALPHA", symbol="BTC/USDT:USDT", kind=InstrumentKind.PERPETUAL, base="BTC", quote="USDT",
        tick_size=D("0.1"), lot_size=D("0.001"), taker_fee=p.taker_fee,
    )  # fmt: skip
    h = Harness([s, perp])
    rate = FundingRate(perp.id, T0, D("0.003"), T0 + 3600 * S)
    h.instant(
        T0, snap(s, T0, [("100.00", "1")], [("100.01", "2")]), snap(perp, T0, [("100.1", "3")], [("100.2", "1")]), rate
    )
    (o,) = h.scanner.live.values()
    periods = D(24) / D(8)  # no interval observed yet: the default 8 h
    expected = funding_edge_bps(D("0.003"), periods, s, (D(100), D("100.01")), perp, (D("100.1"), D("100.2")))
    costs = 2 * D("0.0009") * 10_000 + (D("0.01") / D("100.005") + D("0.1") / D("100.15")) * 10_000
    assert expected == D("0.003") * 3 * 10_000 - costs  # FundingCapture.costs_bps, written out
    assert o.net_edge_bps == expected
    assert o.executable_size == 2
    assert o.key == "long ALPHA:BTC/USDT / short ALPHA:BTC/USDT:USDT"


# =========================================================================== the simulated market
@pytest.fixture(scope="module")
def simulated() -> Scanner:
    config = load_scan_config(PRESET, ["data.0.hours=0.5"])
    return build_scan(config).run()


def test_simulated_market_shows_cross_exchange_and_binary_pairs(simulated: Scanner) -> None:
    kinds = {o.kind for o in simulated.history}
    assert {"cross_exchange", "binary_pair"} <= kinds
    assert not simulated.live  # closed at the end of the data
    for o in simulated.history:
        assert o.closed_ns > o.first_seen_ns
        assert o.max_edge_bps > 0
        assert o.executable_size > 0
        assert o.expected_profit > 0


def test_closed_opportunities_round_trip_through_the_table(simulated: Scanner, tmp_path: Path) -> None:
    store = OpportunityStore(f"sqlite:///{tmp_path / 'scan.db'}")
    scan_id = store.next_scan_id("abc123", 7)
    assert store.save(scan_id, simulated.history) == len(simulated.history)
    assert store.next_scan_id("abc123", 7) == "abc123-7-1"
    rows = store.load(scan_id)
    store.close()
    assert [(r.kind, r.key, r.first_seen_ns, r.closed_ns) for r in rows] == [
        (o.kind, o.key, o.first_seen_ns, o.closed_ns) for o in simulated.history
    ]
    assert [(r.max_edge_bps, r.expected_profit, r.executable_size) for r in rows] == [
        (o.max_edge_bps, o.expected_profit, o.executable_size) for o in simulated.history
    ]  # exact: stored as text


def test_a_sighting_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Sighting(D(1), D(1), D(1), "USDT").net_edge_bps = D(2)  # type: ignore[misc]


# =========================================================================== the command
TINY = """
[run]
seed = 3
[[data]]
format = "market_simulator"
hours = 0.05
"""


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command, so that typer keeps 'scan' as a subcommand
    register(app)
    return app


def test_scan_command_prints_a_summary_and_saves(tmp_path: Path) -> None:
    config = tmp_path / "scan.toml"
    config.write_text(TINY, encoding="utf-8")
    db = tmp_path / "scan.db"
    result = CliRunner().invoke(_app(), ["scan", str(config), "--save", "--db", str(db), "--hours", "0.1"])
    assert result.exit_code == 0, result.output
    assert "opportunities" in result.output
    assert "cross_exchange" in result.output
    assert "saved" in result.output
    assert db.exists()


def test_scan_command_rejects_a_bad_config_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[data]]\nformat = "nope"\n', encoding="utf-8")
    result = CliRunner().invoke(_app(), ["scan", str(config)])
    assert result.exit_code == 2
    assert "error:" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
