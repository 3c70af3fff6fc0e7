"""CrossExchangeMaker: hand-made books for the rules, the embedded market for the economics.

Hand-made: venue A is the maker venue (maker fee 2 bps), venue B the hedge venue (taker fee 4 bps).
The band edge is recomputed here with exact fractions, from the rule as written in the module's
docstring, not from the module's code. Market: ALPHA and BETA of the embedded simulator, BTC only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from pydantic import ValidationError

from spreadhawk.domain.events import OrderCanceled, OrderSide, RejectCode, SubmitOrder
from spreadhawk.domain.identifiers import venue_of
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, MarketData, TradeTick
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.cross_exchange_maker import CrossExchangeMaker
from spreadhawk.strategy.library.cross_exchange_maker_config import CrossExchangeMakerConfig
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.venues import DEFAULT_VENUES, DislocationProfile, VenueProfile
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
S = 1_000_000_000
MS = 1_000_000
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def _inst(venue: str, *, maker_fee: str = "0.0002", taker_fee: str = "0.0004") -> Instrument:
    return Instrument(
        venue=venue,
        symbol="BTC/USDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D("0.01"),
        maker_fee=D(maker_fee),
        taker_fee=D(taker_fee),
        size_increment=D("0.001"),
    )


A, B = _inst("A"), _inst("B")


def _levels(inst: Instrument, side: Sequence[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((inst.ticks(price), inst.units(size)) for price, size in side)


def _snap(
    inst: Instrument, ts: int, bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]], seq: int = 1
) -> BookSnapshot:
    return BookSnapshot(inst.id, ts, seq, _levels(inst, bids), _levels(inst, asks))


def _trade(inst: Instrument, ts: int, price: str, size: str, aggressor: Aggressor) -> TradeTick:
    return TradeTick(inst.id, ts, inst.ticks(D(price)), inst.units(D(size)), aggressor, f"t{ts}")


@dataclass
class Run:
    engine: Engine
    strategy: CrossExchangeMaker
    venues: dict[str, SimulatedVenue]
    canceled_at: dict[str, int]  # client order id -> when the venue canceled it

    def open_until_the_data_ended(self, order: Order) -> bool:
        """Still resting after the last record (the replay then drains its timers, and at the end
        of the data the hedge book goes stale: every quote is pulled then)."""
        canceled = self.canceled_at.get(order.client_order_id)
        stale_from = self.engine.books[B.id].ts_ns + self.strategy.cfg.max_hedge_book_age_ms * MS
        return not order.is_terminal or (canceled is not None and canceled > stale_from)

    def cancels(self) -> dict[str, int]:
        """Quotes canceled by reason, without the end-of-data staleness pull."""
        return {k: v for k, v in self.stats["quotes_canceled"].items() if k != "hedge_book_stale"}

    @property
    def stats(self) -> dict[str, Any]:
        return self.strategy.stats()

    def orders(self, venue: str) -> list[Order]:
        return [o for o in self.engine.orders.values() if venue_of(o.instrument_id) == venue]

    def base_total(self) -> Decimal:
        return sum((self.engine.portfolio.ledger.balance(v, "BTC") for v in self.venues), D(0))

    def check_books_agree(self) -> None:
        for name, venue in self.venues.items():
            assert self.engine.portfolio.ledger.venue_balances(name) == venue.balances(), name


def _run(
    records: Iterable[MarketData],
    *,
    instruments: Sequence[Instrument] = (A, B),
    latency_ms: dict[str, int] | None = None,
    balances: dict[str, dict[str, str]] | None = None,
    withdrawals: dict[str, WithdrawalTerms] | None = None,
    venue_class: type[SimulatedVenue] = SimulatedVenue,
    **params: Any,
) -> Run:
    engine = Engine(list(instruments))
    venues = {}
    for inst in instruments:
        latency_ns = (latency_ms or {}).get(inst.venue, 0) * MS
        venue = venue_class(inst.venue, latency_ns=latency_ns, withdrawals=withdrawals or {})
        connect_simulated(engine, venue)
        venues[inst.venue] = venue
        for asset, amount in (balances or {}).get(inst.venue, {"USDT": "10000", "BTC": "10"}).items():
            venue.deposit(asset, D(amount))
    params = {"maker": str(instruments[0].id), "hedge": str(instruments[1].id), "quantity": "1"} | params
    params.setdefault("min_profit_bps", 5.0)
    params.setdefault("quote_offset_bps", 0.0)
    strategy = CrossExchangeMaker(CrossExchangeMakerConfig.model_validate(params), "xmm")
    canceled_at: dict[str, int] = {}

    def canceled(event: OrderCanceled) -> None:
        canceled_at.setdefault(event.client_order_id, event.ts_ns)

    engine.bus.subscribe(OrderCanceled, canceled)
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, records)
    return Run(engine, strategy, venues, canceled_at)


def _band_bid(hedge_bid: Fraction, margin_bps: int = 5, tick: Fraction = Fraction(1, 100)) -> Fraction:
    """Highest bid p on the tick grid with hedge_bid * (1 - 4 bps) - p * (1 + 2 bps) >= p * margin."""
    p = hedge_bid * (1 - Fraction(4, 10_000)) / (1 + Fraction(2 + margin_bps, 10_000))
    return math.floor(p / tick) * tick


def _band_ask(hedge_ask: Fraction, margin_bps: int = 5, tick: Fraction = Fraction(1, 100)) -> Fraction:
    """Lowest ask p with p * (1 - 2 bps) - hedge_ask * (1 + 4 bps) >= hedge_ask * margin."""
    p = hedge_ask * (1 + Fraction(4 + margin_bps, 10_000)) / (1 - Fraction(2, 10_000))
    return math.ceil(p / tick) * tick


# Maker A wide enough that both quotes sit at their band edges; hedge B one deep level a side.
BOOKS: list[MarketData] = [
    _snap(A, 0, [("99.95", "2")], [("100.15", "2")]),
    _snap(B, 0, [("100.00", "5")], [("100.10", "5")]),
]


# =========================================================================== quoting
def test_quotes_both_sides_post_only_at_the_band_edge() -> None:
    run = _run(BOOKS)
    quotes = {o.side: o for o in run.orders("A")}
    assert set(quotes) == {BUY, SELL}
    assert all(o.post_only and run.open_until_the_data_ended(o) for o in quotes.values())
    assert Fraction(quotes[BUY].price or 0) == _band_bid(Fraction(100)) == Fraction("99.89")
    assert Fraction(quotes[SELL].price or 0) == _band_ask(Fraction("100.10")) == Fraction("100.22")
    assert run.orders("B") == []  # nothing to hedge yet
    assert run.stats["quotes_placed"] == 2


def test_a_band_beyond_the_maker_touch_quotes_one_tick_inside_it_never_across() -> None:
    # The hedge bid at 101 puts the bid band (100.88) above A's ask: post-only would be rejected there.
    books = [_snap(A, 0, [("99.95", "2")], [("100.15", "2")]), _snap(B, 0, [("101.00", "5")], [("101.10", "5")])]
    run = _run(books, sides="bid")
    (bid,) = run.orders("A")
    assert bid.price == D("99.96")  # best bid + 1 tick: no edge given away beyond the queue's front
    assert run.stats["post_only_rejected"] == 0


class _RewordingVenue(SimulatedVenue):
    """Words every refusal differently: what a strategy does must not depend on a message's text."""

    def _reject(self, cmd: SubmitOrder, code: RejectCode, reason: str) -> None:
        super()._reject(cmd, code, f"refused ({len(reason)} characters of explanation withheld)")


@pytest.mark.parametrize("venue_class", [SimulatedVenue, _RewordingVenue])
def test_a_post_only_refusal_is_known_by_its_code_not_its_wording(venue_class: type[SimulatedVenue]) -> None:
    # The bid quote (99.89) is on its way to A (5 ms) when A's ask drops to 99.85: it would take.
    records = [*BOOKS, _snap(A, 1 * MS, [("99.70", "2")], [("99.85", "2")], seq=2)]
    run = _run(records, sides="bid", latency_ms={"A": 5}, venue_class=venue_class)
    refused = [o for o in run.orders("A") if o.status is OrderStatus.REJECTED]
    assert [(o.price, o.reject_code) for o in refused] == [(D("99.89"), RejectCode.POST_ONLY)]
    assert (run.stats["quotes_rejected"], run.stats["post_only_rejected"]) == (1, 1)


def test_only_the_configured_side_is_quoted() -> None:
    run = _run(BOOKS, sides="ask")
    assert [o.side for o in run.orders("A")] == [SELL]


# =========================================================================== hedging
def test_a_fill_is_hedged_at_once_on_the_hedge_venue_and_recorded() -> None:
    records = [*BOOKS, _trade(A, S, "99.89", "1", Aggressor.SELLER)]
    run = _run(records, sides="bid")
    (hedge,) = run.orders("B")
    assert (hedge.side, hedge.filled_quantity, hedge.avg_price) == (SELL, D(1), D(100))
    (record,) = run.strategy.hedger.records
    assert (record.maker_side, record.quantity, record.maker_price, record.hedge_price) == (
        BUY,
        D(1),
        D("99.89"),
        D(100),
    )
    fees = D("99.89") * D("0.0002") + D(100) * D("0.0004")
    assert record.fees == fees
    assert record.realised_edge == D("0.11") - fees
    assert record.realised_edge >= D("99.89") * D("0.0005")  # the margin held
    assert record.slippage == 0
    assert record.latency_ns == 0
    assert run.base_total() == D(20)  # bought 1 on A, sold 1 on B
    run.check_books_agree()


def test_a_partial_fill_hedges_exactly_the_filled_quantity() -> None:
    records = [
        *BOOKS,
        _trade(A, S, "99.89", "0.3", Aggressor.SELLER),
        _trade(A, 2 * S, "99.89", "0.25", Aggressor.SELLER),
    ]
    run = _run(records, sides="bid")
    stats = run.stats
    assert stats["maker_filled"]["buy"] == D("0.55")
    assert stats["hedged"]["buy"] == D("0.55")
    assert sum((o.filled_quantity for o in run.orders("B")), D(0)) == D("0.55")
    assert stats["unhedged"] == {"buy": 0, "sell": 0}
    assert run.base_total() == D(20)


def test_a_fill_below_one_hedge_lot_waits_for_more() -> None:
    records = [
        *BOOKS,
        _trade(A, S, "99.89", "0.005", Aggressor.SELLER),
        _trade(A, 2 * S, "99.89", "0.005", Aggressor.SELLER),
    ]
    run = _run(records, sides="bid")
    hedges = run.orders("B")
    assert [(o.quantity, o.ts_init) for o in hedges] == [(D("0.01"), 2 * S)]  # one lot, once the second arrived


def test_a_slow_hedge_loses_when_the_hedge_book_moves_first() -> None:
    # The fill is priced on B's bid at 100; B's bid falls to 99.50 100 ms later. A hedge that
    # takes 5 ms sells at 100; one that takes 500 ms meets the new book beyond its 20 bps bound,
    # misses, and is sent again at once on that book: it sells at 99.50, a loss.
    records = [
        *BOOKS,
        _trade(A, S, "99.89", "1", Aggressor.SELLER),
        _snap(B, S + 100 * MS, [("99.50", "5")], [("99.60", "5")], seq=2),
    ]
    fast = _run(records, sides="bid", latency_ms={"B": 5}).strategy.hedger.records
    slow = _run(records, sides="bid", latency_ms={"B": 500}).strategy.hedger.records
    assert fast[0].hedge_price == 100
    assert fast[0].realised_edge > 0
    assert slow[0].hedge_price == D("99.50")
    assert slow[0].realised_edge < 0
    assert slow[0].slippage == D("0.50")
    assert slow[0].latency_ns == 1_000 * MS


def test_a_hedge_that_keeps_missing_halts_quoting_and_leaves_the_exposure_recorded() -> None:
    # No slippage allowed and a hedge book that falls 50 bps every 500 ms, as fast as the hedge
    # travels: each attempt meets a lower book than it was priced on. After 3 misses: halt.
    records = [*BOOKS, _trade(A, S, "99.89", "1", Aggressor.SELLER)]
    records += [
        _snap(
            B, S + (100 + 500 * i) * MS, [(f"{99.5 - 0.5 * i:.2f}", "5")], [(f"{99.6 - 0.5 * i:.2f}", "5")], seq=2 + i
        )
        for i in range(4)
    ]
    run = _run(records, sides="bid", latency_ms={"B": 500}, hedge_slippage_bps="0", max_hedge_attempts=3)
    stats = run.stats
    assert (stats["hedges_sent"], stats["hedge_shortfalls"], stats["hedge_failures"]) == (3, 3, 1)
    assert stats["halted"] is True
    assert stats["unhedged"]["buy"] == 1
    assert all(o.is_terminal for o in run.orders("A"))  # no quote left resting
    assert stats["quotes_canceled"]["halted_hedge_failed"] == 1  # the last bid, pulled at the halt


def test_rebalancing_moves_base_back_so_the_blocked_side_quotes_again() -> None:
    # Every 10 s a sale prints through the bid: each fill buys 1 on A and sells 1 on B, so B's 2 BTC
    # last two fills. With rebalancing, BTC goes back from A to B (fee 0.0001 BTC, 1 minute).
    records: list[MarketData] = [*BOOKS]
    for i in range(1, 31):
        records += [_snap(B, i * 10 * S, [("100.00", "5")], [("100.10", "5")], seq=1 + i)]
        records += [_trade(A, i * 10 * S + MS, "99.80", "1", Aggressor.SELLER)]
    routes = {"BTC": WithdrawalTerms(D("0.0001"), 60 * S), "USDT": WithdrawalTerms(D(1), 60 * S)}
    balances = {"A": {"USDT": "10000", "BTC": "2"}, "B": {"USDT": "10000", "BTC": "2"}}
    common: dict[str, Any] = {"sides": "bid", "max_inventory_skew": 1.0, "skew_bps": 0.0}

    def fills(**extra: Any) -> tuple[int, Run]:
        run = _run(records, balances=balances, withdrawals=routes, **common, **extra)
        run.check_books_agree()
        return run.stats["maker_fills"], run

    blocked, _ = fills()
    rebalanced, run = fills(rebalance=True)
    assert blocked == 2
    assert rebalanced > blocked
    assert run.stats["rebalancing"]["credited"] >= 1
    assert run.stats["hedged"]["buy"] == run.stats["maker_filled"]["buy"]


# =========================================================================== re-quoting
def test_requotes_when_the_hedge_book_moves_the_quote_out_of_the_band() -> None:
    records = [*BOOKS, _snap(B, S, [("99.80", "5")], [("99.90", "5")], seq=2)]
    run = _run(records, sides="bid")
    bids = run.orders("A")
    assert [o.price for o in bids] == [D("99.89"), _band_bid_dec("99.80")]
    assert not run.open_until_the_data_ended(bids[0])
    assert run.open_until_the_data_ended(bids[1])
    assert run.cancels() == {"out_of_band": 1}


def _band_bid_dec(hedge_bid: str) -> Decimal:
    band = _band_bid(Fraction(hedge_bid))
    return D(band.numerator) / D(band.denominator)


def test_no_churn_a_small_favourable_move_waits_for_tolerance_and_quote_life() -> None:
    # B's bid up 1 bp: the live bid is still profitable and within 2 bps of target: left alone.
    # B's bid up 5 bps 100 ms later: beyond tolerance, but the quote is younger than 500 ms: left
    # alone; at 1 s (any update) it is old enough and is repriced.
    records = [
        *BOOKS,
        _snap(B, 100 * MS, [("100.01", "5")], [("100.11", "5")], seq=2),
        _snap(B, 200 * MS, [("100.05", "5")], [("100.15", "5")], seq=3),
        _snap(B, S, [("100.05", "5")], [("100.15", "5")], seq=4),
    ]
    run = _run(records, sides="bid", requote_tolerance_bps=2.0, min_quote_life_ms=500)
    bids = run.orders("A")
    assert [o.price for o in bids] == [D("99.89"), _band_bid_dec("100.05")]
    assert run.strategy.hedger.records == []
    assert run.cancels() == {"drift": 1}


# =========================================================================== pulling quotes
def test_quotes_are_pulled_when_the_hedge_book_becomes_invalid() -> None:
    gap = BookDeltas(B.id, S, 5, 5, 4, (), ())  # B's book is at sequence 1: a gap
    run = _run([*BOOKS, gap])
    assert not run.engine.books[B.id].is_valid
    assert [o.status.value for o in run.orders("A")] == ["canceled", "canceled"]
    assert list(run.canceled_at.values()) == [S, S]  # at once, on the record that broke the book
    assert run.stats["quotes_canceled"] == {"hedge_book_invalid": 2}


def test_quotes_are_pulled_when_the_hedge_book_goes_stale_even_without_any_update() -> None:
    run = _run(BOOKS, max_hedge_book_age_ms=1_000)
    assert [o.status.value for o in run.orders("A")] == ["canceled", "canceled"]
    assert list(run.canceled_at.values()) == [S + 1, S + 1]  # the watch timer, not a later record
    assert run.stats["quotes_canceled"] == {"hedge_book_stale": 2}


# =========================================================================== inventory
def test_no_bid_without_base_on_the_hedge_venue_to_sell() -> None:
    run = _run(BOOKS, balances={"A": {"USDT": "10000", "BTC": "10"}, "B": {"USDT": "10000"}})
    assert [o.side for o in run.orders("A")] == [SELL]
    assert run.stats["skipped"]["insufficient_balance"] >= 1


def test_quote_size_is_bounded_by_the_balances_in_whole_lots() -> None:
    run = _run(BOOKS, balances={"A": {"USDT": "10000", "BTC": "0.257"}, "B": {"USDT": "10000", "BTC": "10"}})
    assert {o.side: o.quantity for o in run.orders("A")} == {BUY: D(1), SELL: D("0.25")}


def test_a_side_that_would_worsen_the_imbalance_beyond_the_limit_is_pulled() -> None:
    # Target share of base on A: 50 %. After buying 1 on A and selling 1 on B, A holds 11/20 = 55 %.
    records = [*BOOKS, _trade(A, S, "99.89", "1", Aggressor.SELLER)]
    run = _run(records, target_base_share=0.5, max_inventory_skew=0.05)
    bids = [o for o in run.orders("A") if o.side is BUY]
    assert len(bids) == 1
    assert bids[0].filled_quantity == 1
    assert run.stats["skipped"]["inventory_skew_limit"] >= 1
    asks = [o for o in run.orders("A") if o.side is SELL]
    assert asks
    assert run.open_until_the_data_ended(asks[-1])


def test_skew_widens_the_worsening_side() -> None:
    records = [
        *BOOKS,
        _trade(A, S, "99.89", "0.5", Aggressor.SELLER),
        _snap(A, 2 * S, [("99.95", "2")], [("100.15", "2")], seq=2),
    ]
    run = _run(records, sides="bid", quantity="0.5", target_base_share=0.5, max_inventory_skew=0.05, skew_bps=10.0)
    # A holds 10.5/20 = 52.5 %: half the limit, so the bid band is widened by 5 bps (rounded down).
    bids = run.orders("A")
    assert len(bids) == 2
    expected = math.floor(Fraction("99.89") * (1 - Fraction(5, 10_000)) * 100) / Fraction(100)
    assert Fraction(bids[1].price or 0) == expected


def test_config_needs_two_venues() -> None:
    with pytest.raises(ValidationError, match="both on venue"):
        CrossExchangeMakerConfig(maker="A:BTC/USDT", hedge="A:ETH/USDT", quantity=D(1))


# =========================================================================== the embedded market
DISLOCATIONS = DislocationProfile(per_hour=40.0, mean_bps=15.0, half_life_s=3.0)


def _market_run(venues: Sequence[VenueProfile], maker: str, *, seed: int = 1, hours: float = 0.5) -> Run:
    config = MarketSimulatorConfig(
        hours=hours, seed=seed, assets=("BTC",), perps=False, binaries=False, venues=tuple(venues)
    )
    sim = MarketSimulator(config)
    ids = {venue_of(i.id): i for i in sim.instruments()}
    hedge = next(name for name in ids if name != maker)
    engine = Engine(sim.instruments(), valuation_currency="USDT")
    engine_venues = {}
    for profile in venues:
        venue = SimulatedVenue(profile.name, latency_ns=profile.latency_ms * MS)
        connect_simulated(engine, venue)
        engine_venues[profile.name] = venue
        for asset, amount in (("USDT", D(100_000)), ("BTC", D(2))):
            venue.deposit(asset, amount)
    params = {"maker": str(ids[maker].id), "hedge": str(ids[hedge].id), "quantity": "0.05", "min_profit_bps": 2.0}
    strategy = CrossExchangeMaker(CrossExchangeMakerConfig.model_validate(params), "xmm")
    attach_strategy(engine, strategy)
    strategy.on_start()
    run_replay(engine, sim)
    return Run(engine, strategy, engine_venues, {})


ALPHA, BETA = DEFAULT_VENUES[0], DEFAULT_VENUES[1]


def test_earns_on_maker_venue_dislocations_and_hedges_every_fill() -> None:
    run = _market_run([ALPHA, replace(BETA, dislocations=DISLOCATIONS)], "BETA", seed=2)
    stats = run.stats
    assert stats["maker_fills"] >= 10
    assert stats["hedge_failures"] == 0
    hedge = run.engine.instruments[run.strategy.hedge_id]
    price = run.engine.price(hedge.id)
    assert price is not None

    def too_small_to_hedge(quantity: Decimal) -> bool:  # below one lot, or below the venue's min notional
        return hedge.round_lot_down(quantity) == 0 or hedge.notional(quantity, price) < hedge.min_notional

    for side in ("buy", "sell"):
        assert stats["maker_filled"][side] - stats["hedged"][side] == stats["unhedged"][side]
        assert too_small_to_hedge(stats["unhedged"][side])
    assert too_small_to_hedge(abs(run.base_total() - D(4)))  # net position per asset back to ~0
    assert stats["realised_edge"] > 0
    assert all(o.post_only for o in run.orders("BETA"))
    run.check_books_agree()


def test_fees_that_put_the_band_out_of_reach_stop_it_earning() -> None:
    # At 20 times the fees, BETA's maker fee plus ALPHA's taker fee (4 + 4 bps) put the band 160 bps
    # from the hedge price. BETA's dislocations are exponential with a 15 bps mean: one in
    # e^(160 / 15) ~ 40,000 reaches that far, and a half hour holds about 20.
    def session(fee_multiple: int) -> dict[str, Any]:
        venues = [
            replace(v, maker_fee=v.maker_fee * fee_multiple, taker_fee=v.taker_fee * fee_multiple)
            for v in (ALPHA, BETA)
        ]
        venues[1] = replace(venues[1], dislocations=DISLOCATIONS)
        return _market_run(venues, "BETA").stats

    cheap, dear = session(1), session(20)
    assert cheap["maker_fills"] > 0
    assert cheap["realised_edge"] > 0
    assert dear["quotes_placed"] > 0  # it keeps quoting, far away ...
    assert dear["maker_fills"] == 0  # ... and nothing reaches the band: no fill, no edge, no loss
    assert dear["realised_edge"] == 0


def test_a_slow_hedge_gives_back_most_of_the_edge() -> None:
    # Dislocations on the hedge venue: the quote is priced on a hedge book that reverts (half-life
    # 3 s). Hedged in 5 ms the fill keeps its edge; hedged 5 s later the book has reverted.
    def edge_bps(hedge_latency_ms: int) -> Decimal:
        hedge = replace(ALPHA, latency_ms=hedge_latency_ms, dislocations=DISLOCATIONS)
        stats = _market_run([hedge, BETA], "BETA", seed=1).stats
        assert stats["maker_fills"] >= 10
        return D(stats["realised_edge_bps"])

    fast, slow = edge_bps(5), edge_bps(5_000)
    assert fast > 0
    assert slow < fast / 2
