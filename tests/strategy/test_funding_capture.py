"""FundingCapture: decisions on hand-made books and funding records, then runs on the market simulator
showing the funding the short receives in the ledger (and, in the calibrated regime, no entry)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from spreadhawk.analytics.basis import FundingEstimator, binance_funding_rate
from spreadhawk.domain.events import FundingPaid, OrderSide, PostingReason
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot, FundingRate, MarketData, MarkPrice
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import BacktestNode, build_backtest
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.funding_capture import FundingCapture, FundingCaptureConfig
from spreadhawk.strategy.library.funding_carry import FundingCarry
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.perps import PerpParams
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

S = 1_000_000_000
H = 3600 * S
D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _booked(amount: Decimal) -> Decimal:
    """A funding amount as Binance books it: 8 decimals, half to even."""
    return amount.quantize(Decimal("1e-8"), rounding=ROUND_HALF_EVEN)


def _backtest(path: Path) -> BacktestNode:
    node = build_backtest(load_config(path))
    node.run()
    return node


# =========================================================================== harness
def _inst(venue: str, kind: InstrumentKind, lot: str) -> Instrument:
    perp = kind is InstrumentKind.PERPETUAL
    return Instrument(
        venue=venue,
        symbol="BTC/USDT:USDT" if perp else "BTC/USDT",
        kind=kind,
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D(lot),
        taker_fee=D("0.0005"),
        size_increment=D("0.0001"),
    )


# Lots 0.0004 and 0.001: the quantity both legs can trade is a multiple of 0.002.
SPOT, PERP = _inst("X", InstrumentKind.SPOT, "0.0004"), _inst("X", InstrumentKind.PERPETUAL, "0.001")
# 1003.3 USDT at a mid of 100 is 10.033 BTC: 10.032 on both legs.
BASE: dict[str, Any] = {
    "spot": str(SPOT.id),
    "perp": str(PERP.id),
    "notional": D("1003.3"),
    "funding_interval_hours": 1.0,
}
BASE |= {"horizon_hours": 8.0, "min_edge_bps": 8.0, "max_basis_bps": 50.0, "max_hold_hours": 100.0}
QTY = D("10.032")


def _snap(inst: Instrument, ts: int, bid: str, ask: str) -> BookSnapshot:
    return BookSnapshot(inst.id, ts, 1, ((inst.ticks(bid), inst.units(1000)),), ((inst.ticks(ask), inst.units(1000)),))


def _estimate(ts: int, rate: str, perp: Instrument = PERP) -> MarketData:
    return FundingRate(perp.id, ts, D(rate), H)


def _books(ts: int, spot: Instrument = SPOT, perp: Instrument = PERP) -> list[MarketData]:
    """Spread 2 bps on both books: costs are 2 x (5 + 5) bps of fees + 2 + 2 bps of spread = 24 bps."""
    return [_snap(spot, ts, "99.99", "100.01"), _snap(perp, ts, "99.99", "100.01")]


@dataclass
class Run:
    engine: Engine
    strategy: FundingCapture

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()

    @property
    def fills(self) -> list[tuple[InstrumentId, OrderSide, Decimal, Decimal]]:
        return [(f.instrument_id, f.side, f.quantity, f.price) for f in self.engine.fills]

    def funding_postings(self) -> list[Decimal]:
        return [p.amount for p in self.engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]


def _run(
    records: Sequence[MarketData],
    *,
    instruments: Sequence[Instrument] = (SPOT, PERP),
    deposits: dict[str, Decimal] | None = None,
    wire_funding_paid: bool = False,
    **config: Any,
) -> Run:
    engine = Engine(instruments)
    for name in sorted({i.venue for i in instruments}):
        venue = SimulatedVenue(name, leverage=D(config.get("leverage", 1)))
        connect_simulated(engine, venue)
        amount = (deposits or {}).get(name, D(100_000))
        if amount:
            venue.deposit("USDT", amount)
    strategy = FundingCapture(FundingCaptureConfig(**(BASE | config)))
    attach_strategy(engine, strategy)
    if wire_funding_paid:  # what attach_strategy will do once strategies may receive FundingPaid
        engine.bus.subscribe(FundingPaid, strategy.on_funding_paid)
    strategy.on_start()
    run_replay(engine, records)
    return Run(engine, strategy)


ENTRY = [(SPOT.id, BUY, QTY, D("100.01")), (PERP.id, SELL, QTY, D("99.99"))]
CLOSE = [(SPOT.id, SELL, QTY, D("99.99")), (PERP.id, BUY, QTY, D("100.01"))]


# =========================================================================== deciding
@pytest.mark.parametrize(("rate", "enters"), [("0.0004", False), ("0.00041", True)])
def test_enters_when_expected_funding_beats_costs_by_more_than_the_margin(rate: str, enters: bool) -> None:
    # 8 periods x 4 bps = 32 bps expected - 24 bps of costs = 8 bps: the margin met, not beaten.
    run = _run([*_books(S), _estimate(2 * S, rate)])
    assert run.fills == (ENTRY if enters else [])
    assert run.stats["entries"] == int(enters)
    assert run.stats["best_edge_bps"] == D(rate) * 8 * 10_000 - 24
    assert run.stats["fees_paid"] == ({"USDT": QTY * (D("100.01") + D("99.99")) * D("0.0005")} if enters else {})


def test_both_legs_trade_the_same_quantity_rounded_down_to_both_lots() -> None:
    run = _run([*_books(S), _estimate(2 * S, "0.001")])
    quantities = {q for _, _, q, _ in run.fills}
    assert quantities == {QTY}
    assert QTY % SPOT.lot_size == 0
    assert QTY % PERP.lot_size == 0
    assert run.engine.portfolio.position(PERP.id).quantity == -QTY


def test_does_not_enter_while_the_basis_is_beyond_its_limit() -> None:
    records: list[MarketData] = [_snap(SPOT, S, "99.99", "100.01"), _snap(PERP, S, "100.59", "100.61")]
    assert _run([*records, _estimate(2 * S, "0.001")]).fills == []


def test_exits_when_the_funding_estimate_turns_negative() -> None:
    run = _run([*_books(S), _estimate(2 * S, "0.001"), _estimate(3 * S, "0.0002"), _estimate(4 * S, "-0.00001")])
    assert run.fills == ENTRY + CLOSE
    assert run.stats["exits"] == {"funding_flip": 1}
    assert run.engine.portfolio.position(PERP.id).quantity == 0


def test_exits_on_a_basis_blow_out() -> None:
    blown: list[MarketData] = [
        _snap(PERP, 3 * S, "100.59", "100.61"),
        MarkPrice(PERP.id, 3 * S, D("100.60")),
    ]  # 60 bps > 50
    run = _run([*_books(S), _estimate(2 * S, "0.001"), *blown])
    assert run.fills == [*ENTRY, (SPOT.id, SELL, QTY, D("99.99")), (PERP.id, BUY, QTY, D("100.61"))]
    assert run.stats["exits"] == {"basis": 1}


@pytest.mark.parametrize("wire_funding_paid", [False, True])
def test_exits_after_the_holding_limit_and_books_the_funding_received(wire_funding_paid: bool) -> None:
    records = [
        *_books(S),
        _estimate(2 * S, "0.001"),
        MarkPrice(PERP.id, H - S, D("100.02")),
        MarkPrice(PERP.id, H, D("100.03")),
        FundingRate(PERP.id, H, D("0.0001"), H),  # realised: paid at the mark of that second
        MarkPrice(PERP.id, 2 * H + S, D("100.03")),  # held 2 h: not yet
        MarkPrice(PERP.id, 2 * H + 2 * S, D("100.03")),  # 2 h and 1 s
    ]
    run = _run(records, max_hold_hours=2.0, wire_funding_paid=wire_funding_paid)
    assert run.fills == ENTRY + CLOSE
    assert [f.ts_ns for f in run.engine.fills[2:]] == [2 * H + 2 * S] * 2
    assert run.stats["exits"] == {"max_hold": 1}
    received = _booked(QTY * D("100.03") * D("0.0001"))  # the short receives a positive rate
    assert run.funding_postings() == [received]
    assert run.stats["funding_received"] == received


def test_closes_the_pair_when_the_short_nears_liquidation() -> None:
    # Leverage 5: liquidation at 99.99 x 1.2 = 119.988; at a mark of 109.5 it is 9.6 % away, under 10 %.
    marks = [MarkPrice(PERP.id, 3 * S, D("109.0")), MarkPrice(PERP.id, 4 * S, D("109.5"))]
    run = _run([*_books(S), _estimate(2 * S, "0.001"), *marks], leverage=5, min_liquidation_distance=0.1)
    assert run.fills == ENTRY + CLOSE
    assert run.stats["exits"] == {"liquidation_guard": 1}
    assert run.strategy.liquidation_distance() is None  # flat


def test_a_refused_leg_is_unwound_by_the_executor_and_entries_stop() -> None:
    spot, perp = _inst("S", InstrumentKind.SPOT, "0.0004"), _inst("P", InstrumentKind.PERPETUAL, "0.001")
    records = [*_books(S, spot, perp), _estimate(2 * S, "0.001", perp), _estimate(3 * S, "0.001", perp)]
    run = _run(
        [*records, MarkPrice(perp.id, 4 * S, D(100))],
        instruments=(spot, perp),
        deposits={"S": D(100_000), "P": D(0)},  # no margin for the short
        spot=str(spot.id),
        perp=str(perp.id),
    )
    # The executor sells the spot bought back at once (a refused leg is never re-sent); no exit needed.
    assert run.fills == [(spot.id, BUY, QTY, D("100.01")), (spot.id, SELL, QTY, D("99.99"))]
    stats = run.stats
    assert (stats["entries"], stats["legging_incidents"], stats["exits"], stats["halted"]) == (1, 1, {}, True)
    assert (stats["execution"]["units"], stats["execution"]["unwound"]) == (1, 1)
    (unit,) = run.strategy.executor.units.values()
    assert "refused" in unit.note
    assert unit.legs[0].decision_price == unit.legs[1].decision_price == D(100)  # the mids
    assert unit.legs[0].limit_price is None  # market legs


def test_a_liquidation_limit_beyond_the_distance_at_entry_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not below the distance at entry"):
        FundingCaptureConfig(**(BASE | {"leverage": D(4), "min_liquidation_distance": 0.25}))


def test_the_perp_must_be_a_perpetual_of_the_spot_pair() -> None:
    with pytest.raises(ValueError, match="must be a perpetual of"):
        _run([], spot=str(PERP.id), perp=str(SPOT.id))


# =========================================================================== on the simulator
SIM = MarketSimulatorConfig(hours=6, seed=3, assets=("BTC",), venues=DEFAULT_VENUES[:1], binaries=False)
SIM_SPOT, SIM_PERP = "ALPHA:BTC/USDT", "ALPHA:BTC/USDT:USDT"
SIM_STRATEGY: dict[str, Any] = {
    "spot": SIM_SPOT,
    "perp": SIM_PERP,
    "notional": D(10_000),
    "funding_interval_hours": 1.0,
}
SIM_STRATEGY |= {"horizon_hours": 12.0, "min_edge_bps": 5.0, "max_hold_hours": 4.0, "max_basis_bps": 80.0}


def _simulate(params: PerpParams) -> tuple[Run, list[FundingRate]]:
    sim = MarketSimulator(replace(SIM, perp_params=params))
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    venue = SimulatedVenue("ALPHA")
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(100_000))
    strategy = FundingCapture(FundingCaptureConfig(**SIM_STRATEGY))
    attach_strategy(engine, strategy)
    strategy.on_start()
    records = list(sim)
    run_replay(engine, records)
    realised = [r for r in records if isinstance(r, FundingRate) and r.ts_ns == r.funding_ts_ns]
    return Run(engine, strategy), realised


def test_on_a_positive_basis_the_short_receives_funding_in_the_ledger() -> None:
    # A rich perp: 40 bps over spot pays shorts ~35 bps per 8 h (4.4 bps an hour), beating the ~20 bps
    # round trip of fees and spread over the 12 h horizon.
    run, realised = _simulate(PerpParams(funding_interval_h=1.0, basis_mean_bps=40.0, basis_std_bps=5.0))
    stats = run.stats
    assert stats["entries"] >= 1
    assert stats["legging_incidents"] == 0
    assert stats["execution"]["units"] == stats["execution"]["complete"] >= 2  # entries and exits, whole
    postings = [p for p in run.engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]
    assert postings
    rate_at = {r.funding_ts_ns: r.rate for r in realised}
    for posting in postings:  # received (positive) when the rate is positive: the strategy is short
        assert (posting.amount > 0) == (rate_at[int(posting.reference)] > 0)
    assert sum(p.amount for p in postings) == stats["funding_received"]
    assert stats["fees_paid"] == run.engine.portfolio.fees_paid

    # PnL net of fees, as the engine values it, is funding - fees + what the two legs made at the last mids.
    engine = run.engine
    trading = D(0)
    for fill in engine.fills:
        trading -= fill.side.sign * fill.quantity * fill.price
    for iid in (InstrumentId(SIM_SPOT), InstrumentId(SIM_PERP)):
        price = engine.price(iid)
        assert price is not None
        trading += engine.portfolio.position(iid).quantity * price
    pnl = engine.portfolio.equity(engine.price) - D(100_000)
    assert pnl == stats["funding_received"] - stats["fees_paid"]["USDT"] + trading


def test_in_the_calibrated_regime_funding_is_too_small_to_pay_for_the_trade() -> None:
    # basis -4.5 bps sits in the clamp zone: the 8 h rate is about +0.5 bps (0.06 bps an hour), far
    # below the cost of entering and leaving, so the strategy stays out.
    run, realised = _simulate(PerpParams(funding_interval_h=1.0))
    assert realised
    assert all(abs(r.rate) < Decimal("0.0001") for r in realised)
    assert run.stats["entries"] == 0
    assert run.stats["best_edge_bps"] < 0
    assert run.stats["funding_received"] == 0
    assert run.engine.fills == []
    assert run.funding_postings() == []


def _simulate_fees(taker: str, hours: float, **config: Any) -> Run:
    """The rich-perp day (40 bps over spot, hourly funding) with both of ALPHA's taker fees at ``taker``."""
    venues = (replace(DEFAULT_VENUES[0], taker_fee=D(taker), perp_taker_fee=D(taker)),)
    params = PerpParams(funding_interval_h=1.0, basis_mean_bps=40.0, basis_std_bps=5.0)
    sim = MarketSimulator(replace(SIM, hours=hours, venues=venues, perp_params=params))
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    venue = SimulatedVenue("ALPHA")
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(100_000))
    strategy = FundingCapture(FundingCaptureConfig(**(SIM_STRATEGY | config)))
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, sim)
    return Run(engine, strategy)


def test_no_free_lunch_raised_fees_keep_it_out_and_forcing_it_in_loses_money() -> None:
    # 0.3 % taker on both legs: a round trip costs 2 x (30 + 30) = 120 bps, more than the ~53 bps of
    # funding expected over the 12 h horizon.
    dear = _simulate_fees("0.003", hours=2.0)
    assert dear.stats["entries"] == 0
    assert dear.stats["best_edge_bps"] < 0
    assert dear.engine.fills == []
    # Forced in (min_edge far below zero) for 2 h: ~9 bps of funding against 120 bps of fees.
    forced = _simulate_fees("0.003", hours=2.0, min_edge_bps=-1000.0, max_hold_hours=1.5)
    stats = forced.stats
    assert stats["entries"] >= 1
    assert 0 < stats["funding_received"] < stats["fees_paid"]["USDT"]
    assert forced.engine.portfolio.equity(forced.engine.price) < D(100_000)


# =========================================================================== funding estimated from books
def test_binance_formula_and_the_weighted_estimator() -> None:
    assert binance_funding_rate(D("0.0002")) == D("0.0001")  # inside the clamp band: the interest
    assert binance_funding_rate(D("-0.0005")) == D(0)  # I - P = 0.06 %, clamped to 0.05 %
    assert binance_funding_rate(D("0.001")) == D("0.0005")
    est = FundingEstimator(8 * H, sample_every_ns=5 * S)
    assert est.rate() is None
    taken = [
        est.observe(ts, D(p)) for ts, p in ((8 * H + S, "0.001"), (8 * H + 2 * S, "0.9"), (8 * H + 5 * S, "0.002"))
    ]
    assert taken == [True, False, True]  # one sample per 5 s slot
    est.observe(8 * H + 10 * S, D("0.003"))
    average = (1 * D("0.001") + 2 * D("0.002") + 3 * D("0.003")) / 6  # Binance's weights 1..n
    assert est.average_premium() == average
    assert est.rate() == (average - D("0.0005")).quantize(D("1e-8"))
    assert est.funding_ts_ns(8 * H + S) == 16 * H
    est.observe(16 * H, D("-0.0001"))  # a new period: the average starts again
    assert (est.samples, est.rate()) == (1, D("0.0001"))


@pytest.mark.parametrize(("perp_bid", "enters"), [("100.30", True), ("99.99", False)])
def test_books_mode_estimates_funding_from_the_premium_and_decides_on_it(perp_bid: str, enters: bool) -> None:
    # Premium ~31 bps per 8 h with hourly funding: I and the clamp scale by 1/8, the rate is
    # P - 0.05 %/8 per hour, x 8 periods ~ 240 bps; with equal mids it is I/8 = 0.125 bps, 1 bp in 8.
    perp_ask = str(D(perp_bid) + D("0.02"))
    records = [_snap(SPOT, S, "99.99", "100.01"), _snap(PERP, S, perp_bid, perp_ask)]
    records += [_snap(PERP, k * S, perp_bid, perp_ask) for k in range(2, 12)]
    run = _run(records, funding_source="books")
    premium = (D(perp_bid) + D("0.01")) / 100 - 1
    rate = binance_funding_rate(premium, interest=D("0.0001") / 8, clamp=D("0.0005") / 8).quantize(D("1e-8"))
    assert run.stats["funding_rate_estimate"] == rate
    assert run.stats["entries"] == int(enters)
    assert (run.fills[:2] == [(SPOT.id, BUY, QTY, D("100.01")), (PERP.id, SELL, QTY, D(perp_bid))]) == enters


# =========================================================================== real recordings
@pytest.mark.real_data
def test_2024_captures_the_own_estimate_decides_and_stays_out(shared_data: Path) -> None:
    node = _backtest(EXAMPLES / "funding_capture_binance_btcusdt.toml")
    stats = node.strategies[0].stats()
    # the premium sat at about -4 bps: funding near the 1 bp baseline, 3 periods against ~30 bps of fees
    assert D(0) < stats["funding_rate_estimate"] <= D("0.00012")
    assert D(-31) < stats["best_edge_bps"] < D(-25)
    assert stats["entries"] == 0
    assert node.engine.fills == []


@pytest.mark.real_data
def test_2023_capture_the_midnight_funding_lands_in_the_ledger(shared_data: Path) -> None:
    node = build_backtest(load_config(EXAMPLES / "funding_capture_binance_2023.toml"))
    # On the way: the strategy-side estimator (Binance's formula, premium (mark - index) / index sampled
    # each second, weights 1..n) against the estimates Binance streamed.
    estimator, residuals = FundingEstimator(8 * H, sample_every_ns=S), []

    def observe(record: MarkPrice | FundingRate) -> None:
        if isinstance(record, MarkPrice) and record.index:
            estimator.observe(record.ts_ns, (record.mark - record.index) / record.index)
        elif isinstance(record, FundingRate) and record.ts_ns < record.funding_ts_ns:
            own = estimator.rate()
            assert own is not None
            residuals.append(float(record.rate - own) * 10_000)

    node.engine.bus.subscribe(MarkPrice, observe)
    node.engine.bus.subscribe(FundingRate, observe)
    node.run()
    # mark/index is a proxy of Binance's impact-price premium: ~0.37 bps per 8 h off, always the same way
    assert len(residuals) > 500
    assert sum(abs(r) for r in residuals) / len(residuals) < 0.5
    (fill,) = node.engine.fills  # the forced entry: a short of known size, held across 00:00
    assert fill.side is SELL
    funding = [p for p in node.engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]
    assert len(funding) == 1
    # independently, from the raw capture: the last estimate r before 00:00 and the mark p of the
    # first update at or after it (the settlement update, whose mark the venue values the position at)
    midnight_ms = 1_680_652_800_000
    rate = mark = None
    folder = shared_data / "hftbacktest/binance_usdm_futures"
    for name in ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"):
        with gzip.open(folder / name, "rt") as lines:
            for line in lines:
                data = json.loads(line.partition(" ")[2]).get("data", {})
                if data.get("e") != "markPriceUpdate" or mark is not None:
                    continue
                if data["E"] < midnight_ms:
                    rate = D(data["r"])
                else:
                    mark = D(data["p"])
    assert rate is not None
    assert mark is not None
    assert funding[0].amount == _booked(fill.quantity * mark * rate)  # the short receives a positive rate
    assert funding[0].amount > 0
    assert node.strategies[0].stats()["funding_received"] == funding[0].amount


@pytest.mark.real_data
def test_xrp_history_carry_estimate_over_91_periods(shared_data: Path) -> None:
    pd = pytest.importorskip("pandas")
    node = build_backtest(load_config(EXAMPLES / "funding_capture_xrp_history.toml"))
    paid: list[FundingPaid] = []
    node.engine.bus.subscribe(FundingPaid, paid.append)
    node.run()
    strategy = node.strategies[0]
    assert isinstance(strategy, FundingCarry)
    stats = strategy.stats()
    folder = shared_data / "freqtrade/futures"
    rates = pd.read_feather(folder / "XRP_USDT_USDT-8h-funding_rate.feather")
    marks = pd.read_feather(folder / "XRP_USDT_USDT-8h-mark.feather")
    assert len(rates) == 91
    # Independently, from the files: each payment is -position x mark x rate, the rate of that funding
    # time and the mark the close of the 8 h mark candle ending at (or last before) it.
    rate_at = {int(t.value): D(repr(r)) for t, r in zip(rates["date"], rates["open"], strict=True)}
    close_at = {int(t.value) + 8 * H: D(repr(c)) for t, c in zip(marks["date"], marks["close"], strict=True)}
    sizes = {f.quantity for f in node.engine.fills}
    assert len(paid) > 60  # held most of the 91 periods
    for event in paid:
        mark = close_at[max(t for t in close_at if t <= event.funding_ts_ns)]
        assert event.amount == _booked(-event.position * mark * rate_at[event.funding_ts_ns])
        assert -event.position in sizes  # a short of a size the strategy traded
    funding = [p.amount for p in node.engine.portfolio.ledger.postings if p.reason is PostingReason.FUNDING]
    assert sum(funding, D(0)) == sum((e.amount for e in paid), D(0)) == stats["funding_received"]
    assert stats["entries"] == len([d for d in strategy.decisions if d[1] == "enter"]) >= 1
    assert sum(stats["exits"].values()) == len(strategy.decisions) - stats["entries"]
    assert stats["net_carry"] == stats["funding_received"] - stats["perp_fees"] - stats["assumed_spot_fees"]
    print(
        f"\nXRP carry estimate: {stats['entries']} entries, exits {stats['exits']}, {len(paid)} payments, "
        f"funding {float(stats['funding_received']):.2f} USDT on 10,000, net {float(stats['net_carry']):.2f}, "
        f"net if closed {float(stats['net_carry_if_closed']):.2f}"
    )
