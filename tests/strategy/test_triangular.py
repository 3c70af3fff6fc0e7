"""Triangular arbitrage: the Binance graph, the Poloniex triangle against a brute force, hand-made books.

The Poloniex cross-check keeps its own books from the raw JSON (``json`` + ``Fraction``, no reader,
no graph code), prices both directions of the triangle by hand at every update, and sizes them by
an exact breakpoint search of the piecewise-linear path followed by a lot-rounded forward pass.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spreadhawk.analytics.cycle_table import CycleTable, profitable
from spreadhawk.analytics.triangular import (
    ConversionGraph,
    Cycle,
    CyclePlan,
    cycle_index,
    evaluate,
    size,
)
from spreadhawk.data.readers import DataFormatError
from spreadhawk.data.readers.cryptofeed import (
    iter_poloniex_books,
    read_binance_exchange_info,
    read_poloniex_markets,
)
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.runtime.config import RunConfig
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.triangular_arb import TriangularArb, TriangularArbConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
F = Fraction
SAMPLE = ("cryptofeed", "sample_data")
TRIANGLE = ("BCH_USDT", "BCH_BTC", "BTC_USDT")


# =========================================================================== (a) Binance graph
def test_binance_exchange_info_graph(shared_data: Path) -> None:
    instruments = read_binance_exchange_info(shared_data.joinpath(*SAMPLE, "BINANCE.0"))
    started = time.perf_counter()
    graph = ConversionGraph.from_instruments(instruments)
    cycles = graph.cycles(3)
    index = cycle_index(cycles)
    elapsed = time.perf_counter() - started
    usdt4 = graph.cycles(4, start_assets=["USDT"])
    print(
        f"\nBinance: {len(graph.markets)} markets, {len(graph.assets)} assets, {len(cycles)} 3-cycles "
        f"({len(index)} markets in one), built in {elapsed:.3f} s; {len(usdt4)} 3/4-leg cycles through USDT"
    )
    assert len(graph.markets) == len(instruments) == 1222  # TRADING spot symbols of the 1,695 listed
    assert len(graph.assets) == 345
    assert len(cycles) == 3964
    # Each cycle is a closed path of distinct assets, listed once per rotation, starting at its first asset.
    keys = set()
    for cycle in cycles:
        assets = [edge.source for edge in cycle]
        assert [edge.target for edge in cycle] == [*assets[1:], assets[0]]
        assert len(set(assets)) == 3
        assert assets[0] == min(assets)
        keys.add(tuple(edge.instrument.id + str(edge.side) for edge in cycle))
    assert len(keys) == len(cycles)
    # Both directions of every triangle: 2 cycles per undirected triangle.
    triangles = {frozenset(edge.instrument.id for edge in cycle) for cycle in cycles}
    assert len(cycles) == 2 * len(triangles)
    # Index: a market maps to exactly the cycles with a leg on it.
    for market, touching in index.items():
        assert touching == [c for c in cycles if any(e.instrument.id == market for e in c)]
    assert sum(len(v) for v in index.values()) == 3 * len(cycles)
    # start_assets: the cycles through USDT, each rotated to start there.
    usdt3 = graph.cycles(3, start_assets=["USDT"])
    assert all(c[0].source == "USDT" for c in usdt3)
    assert len(usdt3) == sum(1 for c in cycles if any(e.source == "USDT" for e in c))
    assert all(len(c) in (3, 4) and c[0].source == "USDT" for c in usdt4)


@pytest.mark.real_data
def test_binance_four_leg_cycles_match_an_adjacency_count(shared_data: Path) -> None:
    # Independent count from the undirected market graph (one market per asset pair on Binance):
    # triangles = tr(A^3) / 6 and 4-cycles = (tr(A^4) - 2 sum(d^2) + 2 m) / 8 (closed 4-walks minus
    # the back-and-forth ones); each is listed once per direction.
    instruments = read_binance_exchange_info(shared_data.joinpath(*SAMPLE, "BINANCE.0"))
    pairs = {frozenset((i.base, i.quote)) for i in instruments}
    assert len(pairs) == len(instruments)  # no pair listed twice, so the graph is simple
    assets = sorted({a for pair in pairs for a in pair})
    col = {a: k for k, a in enumerate(assets)}
    adjacency = np.zeros((len(assets), len(assets)), dtype=np.int64)
    for pair in pairs:
        a, b = sorted(pair)
        adjacency[col[a], col[b]] = adjacency[col[b], col[a]] = 1
    degrees = adjacency.sum(axis=1)
    square = adjacency @ adjacency
    triangles = int(np.trace(square @ adjacency)) // 6
    squares = (int(np.trace(square @ square)) - 2 * int((degrees**2).sum()) + int(degrees.sum())) // 8
    started = time.perf_counter()
    cycles = ConversionGraph.from_instruments(instruments).cycles(4)
    elapsed = time.perf_counter() - started
    print(f"\nBinance: {triangles} triangles and {squares} 4-cycles; {len(cycles)} directed cycles in {elapsed:.2f} s")
    assert [sum(len(c) == k for c in cycles) for k in (3, 4)] == [2 * triangles, 2 * squares]
    for cycle in cycles[:: max(1, len(cycles) // 5000)]:  # a sample: closed, distinct assets and markets
        assets_of = [edge.source for edge in cycle]
        assert [edge.target for edge in cycle] == [*assets_of[1:], assets_of[0]]
        assert len(set(assets_of)) == len(cycle) == len({edge.instrument.id for edge in cycle})


# =========================================================================== (b) Poloniex triangle
def _raw_updates(path: Path) -> list[tuple[str, str, dict[str, list[list[str]]]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("wss://"):
            continue
        message = json.loads(line.partition(": ")[2])
        if message.get("channel") == "book_lv2" and "data" in message:
            for item in message["data"]:
                if item["symbol"] in TRIANGLE:
                    out.append((item["symbol"], message["action"], item))
    return out


Ladder = list[tuple[Fraction, Fraction]]  # (price, size) best first


class _RawBook:
    def __init__(self) -> None:
        self.bids: dict[Fraction, Fraction] = {}
        self.asks: dict[Fraction, Fraction] = {}

    def apply(self, action: str, item: dict[str, list[list[str]]]) -> None:
        if action == "snapshot":
            self.bids, self.asks = {}, {}
        for side, levels in ((self.bids, item["bids"]), (self.asks, item["asks"])):
            for price, qty in levels:
                if F(qty):
                    side[F(price)] = F(qty)
                else:
                    side.pop(F(price), None)

    def ladder(self, bids: bool) -> Ladder:
        side = self.bids if bids else self.asks
        return sorted(side.items(), reverse=bids)


# A brute-force leg: (ladder, buys base?, lot, min notional, fee)
RawLeg = tuple[Ladder, bool, Fraction, Fraction, Fraction]


def _forward(legs: list[RawLeg], x: Fraction) -> Fraction:
    """Continuous (no lots) amount out of the path for ``x`` in."""
    amount = x
    for ladder, buys, _lot, _mn, fee in legs:
        out = F(0)
        for price, qty in ladder:
            capacity = price * qty if buys else qty
            take = min(capacity, amount)
            out += take / price if buys else take * price
            amount -= take
        amount = out * (1 - fee)
    return amount


def _inverse(leg: RawLeg, y: Fraction) -> Fraction:
    """Input of one leg that yields ``y`` out (the leg is increasing and piecewise linear)."""
    ladder, buys, _lot, _mn, fee = leg
    need, given = y / (1 - fee), F(0)
    for price, qty in ladder:
        out_cap = qty if buys else qty * price
        take = min(out_cap, need)
        given += take * price if buys else take / price
        need -= take
    return given


def _best_start(legs: list[RawLeg], limit: Fraction) -> Fraction:
    """Exact optimum of the concave continuous profit: the best of every level boundary of every leg
    mapped back to start units, and the limit."""
    candidates = {limit}
    for i, (ladder, buys, *_rest) in enumerate(legs):
        cumulative = F(0)
        for price, qty in ladder:
            cumulative += price * qty if buys else qty
            x = cumulative
            for j in range(i - 1, -1, -1):
                x = _inverse(legs[j], x)
            candidates.add(min(x, limit))
    return max(sorted(candidates), key=lambda x: (_forward(legs, x) - x, -x))


def _lot_forward(legs: list[RawLeg], x: Fraction) -> tuple[str, list[Fraction], Fraction, Fraction]:
    """(reason or "", quantities, spent, received) executing ``x`` with lots, as an exchange would."""
    amount, spent = x, F(0)
    quantities: list[Fraction] = []
    for i, (ladder, buys, lot, min_notional, fee) in enumerate(legs):
        if buys:
            affordable, budget = F(0), amount
            for price, qty in ladder:
                take = min(qty, budget / price)
                affordable += take
                budget -= take * price
            qty_total = affordable
        else:
            qty_total = min(amount, sum((q for _, q in ladder), F(0)))
        quantity = (qty_total // lot) * lot
        if quantity == 0:
            return "below_lot_size", quantities, spent, F(0)
        notional, left, worst = F(0), quantity, F(0)
        for price, qty in ladder:
            if left <= 0:
                break
            take = min(qty, left)
            notional += take * price
            left -= take
            worst = price
        if quantity * worst < min_notional:
            return "below_min_notional", quantities, spent, F(0)
        if i == 0:
            spent = notional if buys else quantity
        quantities.append(quantity)
        amount = (quantity if buys else notional) * (1 - fee)
    return "", quantities, spent, amount


def test_poloniex_triangle_against_brute_force(shared_data: Path) -> None:
    sample = shared_data.joinpath(*SAMPLE)
    markets = read_poloniex_markets(sample / "POLONIEX.0")
    insts = {f"{i.base}_{i.quote}": i for i in markets if f"{i.base}_{i.quote}" in TRIANGLE}
    assert sorted(insts) == sorted(TRIANGLE)
    assert insts["BCH_BTC"].lot_size == D("0.01")
    assert insts["BTC_USDT"].tick_size == D("0.01")
    graph = ConversionGraph.from_instruments(insts.values())
    cycles = graph.cycles(3, start_assets=["USDT"])
    assert [[str(e) for e in c] for c in cycles] == [
        ["USDT->BTC (buy BTC/USDT)", "BTC->BCH (buy BCH/BTC)", "BCH->USDT (sell BCH/USDT)"],
        ["USDT->BCH (buy BCH/USDT)", "BCH->BTC (sell BCH/BTC)", "BTC->USDT (sell BTC/USDT)"],
    ]
    fee = F(insts["BCH_USDT"].taker_fee)
    assert fee == F(155, 100_000)
    free = {inst.id: D(0) for inst in insts.values()}
    limit = D(1000)  # USDT

    books = {inst.id: OrderBook(inst.id) for inst in insts.values()}
    raw = {sym: _RawBook() for sym in TRIANGLE}
    records = list(iter_poloniex_books(sample / "POLONIEX.ws.1.0", insts.values()))
    updates = _raw_updates(sample / "POLONIEX.ws.1.0")
    assert len(records) == len(updates) == 3 + 239
    real_hits = free_hits = compared = 0
    best_bps = [-1e9, -1e9]
    sized_reasons: dict[str, int] = {}
    for record, (symbol, action, item) in zip(records, updates, strict=True):
        assert record.instrument_id == insts[symbol].id
        assert books[record.instrument_id].apply(record)
        raw[symbol].apply(action, item)
        if not all(book.update_count for book in books.values()):
            continue
        compared += 1

        def leg(sym: str, buys: bool, fee_: Fraction) -> RawLeg:
            inst = insts[sym]
            return raw[sym].ladder(not buys), buys, F(inst.lot_size), F(inst.min_notional), fee_

        def path(fee_: Fraction) -> list[list[RawLeg]]:
            return [
                [leg("BTC_USDT", True, fee_), leg("BCH_BTC", True, fee_), leg("BCH_USDT", False, fee_)],
                [leg("BCH_USDT", True, fee_), leg("BCH_BTC", False, fee_), leg("BTC_USDT", False, fee_)],
            ]

        for k, cycle in enumerate(cycles):
            for fees, legs in ((None, path(fee)[k]), (free, path(F(0))[k])):
                # Touch rate by hand: product of 1/ask or bid, each times (1 - fee).
                rate = F(1)
                for ladder, buys, _lot, _mn, f in legs:
                    rate *= (1 / ladder[0][0] if buys else ladder[0][0]) * (1 - f)
                quote = evaluate(cycle, books, fees)
                assert quote is not None
                assert quote.net_rate == pytest.approx(float(rate), rel=1e-12)
                if fees is None:
                    best_bps[k] = max(best_bps[k], quote.net_bps)
                    real_hits += rate > 1
                else:
                    free_hits += rate > 1
                    assert quote.gross_rate == pytest.approx(float(rate), rel=1e-12)
                if rate <= 1:
                    continue
                plan = size(cycle, books, limit, fees=fees)
                reason, quantities, spent, received = _lot_forward(legs, _best_start(legs, F(limit)))
                sized_reasons[reason or "plan"] = sized_reasons.get(reason or "plan", 0) + 1
                if reason:
                    assert plan == reason
                else:
                    assert isinstance(plan, CyclePlan)
                    assert [F(lg.quantity) for lg in plan.legs] == quantities
                    assert (F(plan.start_amount), F(plan.end_amount)) == (spent, received)
    print(
        f"\nPoloniex triangle: {len(records)} book records, {compared} compared states x 2 directions; "
        f"best net at real fees {best_bps[0]:.1f} / {best_bps[1]:.1f} bps; opportunities at real fees "
        f"{real_hits}, fee-free {free_hits}; sizing outcomes {sized_reasons}"
    )
    assert compared == 240
    assert real_hits == 0  # 3 x 15.5 bps of taker fees: nothing pays in this capture
    assert free_hits == 34  # only the USDT->BTC->BCH->USDT direction, by at most ~17 bps gross ...
    assert sized_reasons == {"below_lot_size": 34}  # ... on 0.01 BCH at the touch: less than one lot


# =========================================================================== (c) hand-made books
def _spot(base: str, quote: str, *, tick: str, lot: str, min_notional: str = "0", fee: str = "0.001") -> Instrument:
    return Instrument(
        venue="X",
        symbol=f"{base}/{quote}",
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=D(tick),
        lot_size=D(lot),
        maker_fee=D(fee),
        taker_fee=D(fee),
        min_notional=D(min_notional),
        size_increment=D("0.0001"),
    )


def _book(inst: Instrument, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> BookSnapshot:
    def levels(side: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
        return tuple((inst.ticks(p), inst.units(q)) for p, q in side)

    return BookSnapshot(inst.id, 0, 1, levels(bids), levels(asks))


# ETH is cheap in USDT against BTC: USDT -> ETH (ask 100) -> BTC (bid 0.0051) -> USDT (bid 20_000) = 1.02
ETH_USDT = _spot("ETH", "USDT", tick="0.01", lot="0.01", min_notional="5")
ETH_BTC = _spot("ETH", "BTC", tick="0.0001", lot="0.01")
BTC_USDT = _spot("BTC", "USDT", tick="0.01", lot="0.0001", min_notional="5")


def _books(
    eth_usdt_asks: list[tuple[str, str]], eth_btc_bids: list[tuple[str, str]], btc_usdt_bids: list[tuple[str, str]]
) -> dict[InstrumentId, OrderBook]:
    snaps = [
        _book(ETH_USDT, [("99.00", "100")], eth_usdt_asks),
        _book(ETH_BTC, eth_btc_bids, [("0.0060", "100")]),
        _book(BTC_USDT, btc_usdt_bids, [("20001.00", "100")]),
    ]
    books = {}
    for snap in snaps:
        books[snap.instrument_id] = OrderBook(snap.instrument_id)
        books[snap.instrument_id].apply(snap)
    return books


def _profitable_cycle() -> Cycle:
    cycles = ConversionGraph.from_instruments([ETH_USDT, ETH_BTC, BTC_USDT]).cycles(3, ["USDT"])
    return next(c for c in cycles if c[0].instrument is ETH_USDT)


def test_known_cycle_is_quoted_and_sized_through_depth() -> None:
    cycle = _profitable_cycle()
    books = _books([("100.00", "1"), ("101.00", "1"), ("103.00", "5")], [("0.0051", "10")], [("20000.00", "10")])
    quote = evaluate(cycle, books)
    assert quote is not None
    assert quote.gross_rate == pytest.approx(1.02)
    assert quote.net_rate == pytest.approx(1.02 * 0.999**3)
    plan = size(cycle, books, D(10_000))
    assert isinstance(plan, CyclePlan)
    # Level 100 (1.02*0.997 net) and level 101 (1.0099*0.997 = 1.0069) pay, level 103 does not.
    assert plan.unrounded_start == D(201)
    assert [(lg.quantity, lg.price) for lg in plan.legs] == [
        (D(2), D(101)),
        (D("1.99"), D("0.0051")),
        (D("0.0101"), D(20000)),
    ]
    eth = D(2) * D("0.999")
    btc = D("1.99") * D("0.0051") * D("0.999")
    assert plan.dust == (("ETH", eth - D("1.99")), ("BTC", btc - D("0.0101")))
    assert plan.end_amount == D("0.0101") * 20000 * D("0.999")
    assert plan.profit == plan.end_amount - D(201)
    # The start limit bounds the walk; lot rounding then costs what a whole lot of BTC is worth.
    small = size(cycle, books, D(150))
    assert isinstance(small, CyclePlan)
    assert small.unrounded_start == D(150)
    assert [lg.quantity for lg in small.legs] == [D("1.49"), D("1.48"), D("0.0075")]
    assert small.start_amount == D(100) + D("0.49") * 101
    assert small.end_amount == D("149.85")
    assert size(cycle, books, D(50)) == "unprofitable_after_rounding"  # 0.0024 BTC back: 47.95 USDT
    # Depth of the middle leg bounds the walk: 5 ETH sold is 5 / 0.999 ETH bought.
    thin = _books([("100.00", "10")], [("0.0051", "5")], [("20000.00", "10")])
    thin_plan = size(cycle, thin, D(10_000))
    assert isinstance(thin_plan, CyclePlan)
    assert abs(thin_plan.unrounded_start - D(500) / D("0.999")) < D("1e-24")
    assert [lg.quantity for lg in thin_plan.legs] == [D(5), D("4.99"), D("0.0254")]


def test_lot_and_min_notional_rules() -> None:
    cycle = _profitable_cycle()
    books = _books([("100.00", "10")], [("0.0051", "10")], [("20000.00", "10")])
    assert size(cycle, books, D("0.5")) == "below_lot_size"  # 0.005 ETH < lot 0.01
    assert size(cycle, books, D(4)) == "below_min_notional"  # 0.04 ETH = 4 USDT < 5
    assert size(cycle, books, D(10_000), min_profit_bps=D(300)) == "unprofitable"
    flat = _books([("100.00", "10")], [("0.0050", "10")], [("20000.00", "10")])
    flat_quote = evaluate(cycle, flat)
    assert flat_quote is not None
    assert flat_quote.net_rate < 1
    assert size(cycle, flat, D(1000), fees={i.id: D(0) for i in (ETH_USDT, ETH_BTC, BTC_USDT)}) == "unprofitable"
    assert evaluate(cycle, {}) is None
    assert size(cycle, {}, D(1)) == "book_invalid"


def _strategy_run(
    records: list[MarketData], *, discover: bool = False, latency_ms: int = 0
) -> tuple[Engine, TriangularArb]:
    instruments = [ETH_USDT, ETH_BTC, BTC_USDT]
    engine = Engine(instruments)
    venue = SimulatedVenue("X", latency_ns=latency_ms * 1_000_000)
    connect_simulated(engine, venue)
    for asset, amount in (("USDT", D(10_000)), ("ETH", D(10)), ("BTC", D(1))):
        venue.deposit(asset, amount)
    config = TriangularArbConfig(
        venue="X",
        instruments=[] if discover else [i.id for i in instruments],
        start_assets=["USDT"],
        max_start_amount={"USDT": D(150)},
        min_profit_bps=10,
    )
    strategy = TriangularArb(config)
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, records)
    return engine, strategy


CYCLE_BOOKS: list[MarketData] = [
    _book(ETH_USDT, [("99.00", "100")], [("100.00", "1"), ("101.00", "1")]),
    _book(ETH_BTC, [("0.0051", "10")], [("0.0060", "100")]),
    _book(BTC_USDT, [("20000.00", "10")], [("20001.00", "100")]),
]


@pytest.mark.parametrize("discover", [False, True])
def test_strategy_takes_the_cycle_and_counts(discover: bool) -> None:
    # discover: no instruments configured, the strategy lists the venue's markets itself
    engine, strategy = _strategy_run(CYCLE_BOOKS, discover=discover)
    stats = strategy.stats()
    assert stats["cycles"] == 2
    assert stats["evaluations"] == 6  # each of the 3 records re-quotes the 2 cycles on its market
    # The engine applies the 3 records of the instant before any handler runs: all 3 see the same books.
    assert (stats["opportunities_seen"], stats["opportunities_taken"], stats["legs_submitted"]) == (3, 1, 3)
    # The legs' reports reach the engine after the instant's handlers returned (never inside
    # ``submit``), so the two later records find the executor still busy with the first cycle.
    assert stats["skipped"] == {"leg_in_flight": 2}
    filled: dict[tuple[str, OrderSide], Decimal] = {}
    for f in engine.fills:  # the simulated venue fills level by level
        filled[f.instrument_id, f.side] = filled.get((f.instrument_id, f.side), D(0)) + f.quantity
    assert filled == {
        (ETH_USDT.id, OrderSide.BUY): D("1.49"),
        (ETH_BTC.id, OrderSide.SELL): D("1.48"),
        (BTC_USDT.id, OrderSide.SELL): D("0.0075"),
    }
    assert stats["expected_profit"] == {"USDT": D("149.85") - (D(100) + D("0.49") * 101)}

    # The three legs went out as one executor unit and filled alike: nothing to hedge.
    assert (stats["execution"]["units"], stats["execution"]["complete"]) == (1, 1)


def test_a_leg_that_fills_short_is_completed_at_market() -> None:
    # While the legs travel (1 s), BTC/USDT's bid thins: the last leg sells 0.005 of its 0.0075 BTC.
    thinned = BookSnapshot(
        BTC_USDT.id,
        500_000_000,
        2,
        ((BTC_USDT.ticks("20000.00"), BTC_USDT.units("0.005")), (BTC_USDT.ticks("19990.00"), BTC_USDT.units(10))),
        ((BTC_USDT.ticks("20001.00"), BTC_USDT.units(100)),),
    )
    engine, strategy = _strategy_run([*CYCLE_BOOKS, thinned], latency_ms=1000)
    (unit,) = strategy.executor.units.values()
    assert unit.status == "hedged"
    sold = [(f.price, f.quantity) for f in engine.fills if f.instrument_id == BTC_USDT.id]
    assert sold == [(D("20000.00"), D("0.005")), (D("19990.00"), D("0.0025"))]  # the rest at market
    assert unit.legging_loss == D("0.025")  # 10 USDT a BTC below the decision, on 0.0025 BTC


# USDT -> BTC -> ETH -> SOL -> USDT pays 2% gross at the touch; ETH/USDT's wide spread keeps both
# triangles through it (USDT-BTC-ETH and USDT-ETH-SOL, either way round) below 1.
SOL_USDT = _spot("SOL", "USDT", tick="0.01", lot="0.01", min_notional="5")
SOL_ETH = _spot("SOL", "ETH", tick="0.0001", lot="0.01")
FOUR = [ETH_USDT, ETH_BTC, BTC_USDT, SOL_USDT, SOL_ETH]
FOUR_BOOKS: list[MarketData] = [
    _book(ETH_USDT, [("97.00", "100")], [("103.00", "100")]),
    _book(ETH_BTC, [("0.0049", "100")], [("0.0050", "100")]),
    _book(BTC_USDT, [("19990.00", "10")], [("20000.00", "10")]),
    _book(SOL_USDT, [("51.00", "100")], [("51.10", "100")]),
    _book(SOL_ETH, [("0.4990", "100")], [("0.5000", "100")]),
]


def _four_books(records: Sequence[MarketData]) -> dict[InstrumentId, OrderBook]:
    books = {inst.id: OrderBook(inst.id) for inst in FOUR}
    for record in records:
        assert isinstance(record, BookSnapshot)
        books[record.instrument_id].apply(record)
    return books


def test_profitable_and_the_cycle_table_keep_what_evaluate_finds_above_the_threshold() -> None:
    cycles = ConversionGraph.from_instruments(FOUR).cycles(4, ["USDT"])
    assert sorted(len(c) for c in cycles) == [3, 3, 3, 3, 4, 4]
    table = CycleTable(cycles)
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(200):  # books moved at random around FOUR_BOOKS, one of them sometimes missing
        records = []
        for snap in FOUR_BOOKS:
            assert isinstance(snap, BookSnapshot)
            factor = 1 + rng.uniform(-0.03, 0.03)
            bids = tuple((round(p * factor), q) for p, q in snap.bids)
            asks = tuple((max(round(p * factor), round(snap.bids[0][0] * factor) + 1), q) for p, q in snap.asks)
            records.append(BookSnapshot(snap.instrument_id, 0, 1, bids, asks))
        if rng.random() < 0.2:
            records.pop(int(rng.integers(len(records))))
        books = _four_books(records)
        for threshold in (0.97, 1.0, 1.01):
            quotes = [evaluate(cycle, books) for cycle in cycles]
            expected = [(i, q.net_rate) for i, q in enumerate(quotes) if q is not None and q.net_rate > threshold]
            assert profitable(cycles, books, threshold) == expected
            hits += len(expected)
            # The numpy table agrees, market by market, once every book has been read into it.
            for market in table.markets():
                table.refresh(market, books.get(market))
            for market in table.markets():
                on_market = set(table.positions(market).tolist())
                assert table.profitable(market, threshold).tolist() == [i for i, _ in expected if i in on_market]
    assert hits > 0


@pytest.mark.parametrize("max_legs", [3, 4])
def test_a_four_leg_cycle_is_taken_end_to_end(max_legs: int) -> None:
    engine = Engine(FOUR)
    venue = SimulatedVenue("X")
    connect_simulated(engine, venue)
    for asset, amount in (("USDT", D(10_000)), ("BTC", D(1)), ("ETH", D(10)), ("SOL", D(100))):
        venue.deposit(asset, amount)
    config = TriangularArbConfig(
        venue="X",
        start_assets=["USDT"],
        max_legs=max_legs,
        max_start_amount={"USDT": D(150)},
        min_profit_bps=10,
    )
    strategy = TriangularArb(config)
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, FOUR_BOOKS)
    stats = strategy.stats()
    assert stats["cycles"] == (4 if max_legs == 3 else 6)
    if max_legs == 3:  # the triangles do not pay: nothing is seen
        assert (stats["opportunities_seen"], stats["legs_submitted"], engine.fills) == (0, 0, [])
        return
    assert (stats["opportunities_taken"], stats["legs_submitted"]) == (1, 4)
    # 150 USDT buys 0.0075 BTC, 1.49 ETH (of 1.4985), 2.97 SOL (of 2.977), sold at 51.
    bought = [(f.instrument_id, f.side, f.quantity) for f in engine.fills]
    assert sorted(bought) == sorted(
        [
            (BTC_USDT.id, OrderSide.BUY, D("0.0075")),
            (ETH_BTC.id, OrderSide.BUY, D("1.49")),
            (SOL_ETH.id, OrderSide.BUY, D("2.97")),
            (SOL_USDT.id, OrderSide.SELL, D("2.96")),
        ]
    )
    assert stats["expected_profit"] == {"USDT": D("2.96") * 51 * D("0.999") - D(150)}
    assert (stats["execution"]["units"], stats["execution"]["complete"]) == (1, 1)


def _simulated_four_leg_run(max_legs: int) -> tuple[dict[str, Any], dict[str, int]]:
    """One simulated hour of BETA with SOL/ETH beside ETH/BTC: 4-cycles USDT-BTC-ETH-SOL both ways."""
    body: dict[str, Any] = {
        "run": {"seed": 11},
        "data": [
            {
                "format": "market_simulator",
                "hours": 1.0,
                "perps": False,
                "binaries": False,
                "assets": ["BTC", "ETH", "SOL"],
                "cross_pairs": [["ETH", "BTC"], ["SOL", "ETH"]],
                "cross_venues": ["BETA"],
            }
        ],
        "venues": {"BETA": {"balances": {"USDT": "20000", "BTC": "1", "ETH": "15", "SOL": "100"}}},
        "strategies": [
            {
                "id": "tri",
                "path": "spreadhawk.strategy.library.triangular_arb:TriangularArb",
                "params": {
                    "venue": "BETA",
                    "start_assets": ["USDT"],
                    "max_legs": max_legs,
                    "max_start_amount": {"USDT": "2000"},
                },
            }
        ],
    }
    node = build_backtest(RunConfig.model_validate(body))
    node.run()
    updates = {str(iid): book.update_count for iid, book in node.engine.books.items() if iid.startswith("BETA:")}
    return node.strategies[0].stats(), updates


def test_four_leg_cycles_run_on_the_simulator() -> None:
    three, updates = _simulated_four_leg_run(3)
    four, same_updates = _simulated_four_leg_run(4)
    print(f"\nsimulated BETA, 1 h: 3 legs {three}\n4 legs {four}")
    assert updates == same_updates  # the same books
    assert (three["cycles"], four["cycles"]) == (4, 6)
    # Each record re-quotes the cycles on its market: the two 4-cycles have a leg on each of their
    # 4 markets, so every record on those adds 2 evaluations (ETH/USDT is in no 4-cycle).
    in_squares = ("BETA:BTC/USDT", "BETA:ETH/BTC", "BETA:SOL/ETH", "BETA:SOL/USDT")
    assert four["evaluations"] - three["evaluations"] == 2 * sum(updates[m] for m in in_squares)
    assert four["opportunities_seen"] >= three["opportunities_seen"]  # a superset of cycles on the same books


def test_config_rejects_other_venues() -> None:
    with pytest.raises(ValueError, match="not on venue"):
        TriangularArbConfig(
            venue="X", instruments=["X:A/B", "Y:B/C", "X:A/C"], start_assets=["A"], max_start_amount={"A": D(1)}
        )


def test_reader_errors(tmp_path: Path) -> None:
    bad = tmp_path / "POLONIEX.ws"
    bad.write_text('1.0: {"channel":"book_lv2","action":"snapshot","data":[{"symbol":"ETH_USDT"}]}\n')
    with pytest.raises(DataFormatError, match=r"line 1: missing field 'bids'"):
        list(iter_poloniex_books(bad, [ETH_USDT]))
    off_grid = tmp_path / "off"
    item = '{"symbol":"ETH_USDT","bids":[["1.001","1"]],"asks":[],"lastId":1,"id":2,"ts":1}'
    off_grid.write_text(f'1.0: {{"channel":"book_lv2","action":"snapshot","data":[{item}]}}\n')
    with pytest.raises(DataFormatError, match=r"line 1: 1\.001 is not a multiple of 0\.01"):
        list(iter_poloniex_books(off_grid, [ETH_USDT]))
    info = tmp_path / "BINANCE.0"
    info.write_text("https://x -> 1.0: {}\n")
    with pytest.raises(DataFormatError, match="missing field 'symbols'"):
        read_binance_exchange_info(info)
    with pytest.raises(DataFormatError, match="file not found"):
        read_poloniex_markets(tmp_path / "nope")
