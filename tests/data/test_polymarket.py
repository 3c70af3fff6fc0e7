"""Polymarket payloads (``shared/data/nautilus_trader/polymarket``): markets, books, changes, trades,
and the pair-sum / neg-risk checks on them.

What the payloads hold: ``market.json`` is the Trump 2024 market (neg-risk, tick 0.001), and the
WebSocket book, ``price_change`` (v1), ``last_trade_price`` and ``trades`` belong to it. The only
full book of that market is its NO token's; the YES side appears only as trades. So the pair sum is
checked on the NO book and the YES asks it implies: on the CLOB a NO bid at q is a YES offer at
1 - q (a YES buy matched against a NO buy mints the pair), which is why the pair of touches costs
1 + the NO spread and shows no arbitrage. The REST ``book.json`` and ``price_change_v2`` are of
markets not in the payloads; their instruments are built here with the tick their prices need.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.analytics.binary_pricing import (
    OutcomeToken,
    is_complementary_pair,
    is_neg_risk_basket,
    pair_sum_check,
)
from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.polymarket import (
    PolymarketMarket,
    PolymarketSequencer,
    read_polymarket_book,
    read_polymarket_market,
    read_polymarket_markets,
    read_polymarket_price_changes,
    read_polymarket_tick_size_change,
    read_polymarket_trade,
)
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor
from spreadhawk.domain.orderbook import OrderBook

D = Decimal
MS, S = 1_000_000, 1_000_000_000
TRUMP_YES = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
TRUMP_NO = "48331043336612883890938759509493159234755048973500640148014422747788308965732"


@pytest.fixture(scope="module")
def poly(shared_data: Path) -> Path:
    return shared_data / "nautilus_trader" / "polymarket"


@pytest.fixture(scope="module")
def trump(poly: Path) -> PolymarketMarket:
    return read_polymarket_market(poly / "http_responses" / "market.json")


def _token(name: str, token_id: str, tick: str = "0.01") -> Instrument:
    return Instrument("POLYMARKET", name, InstrumentKind.BINARY, token_id, "USDC", D(tick), D("0.01"))


def _by_outcome(market: PolymarketMarket) -> dict[str, Instrument]:
    return {inst.symbol.rpartition("-")[2]: inst for inst in market.instruments()}


# =========================================================================== markets
def test_markets_page_parses_into_binary_instruments(poly: Path) -> None:
    markets = read_polymarket_markets(poly / "http_responses" / "markets.json")
    assert len(markets) == 100
    instruments = [inst for m in markets for inst in m.instruments()]
    assert len(instruments) == 198  # one closed legacy market has two tokens without ids
    assert len({inst.id for inst in instruments}) == 198
    assert all(inst.kind is InstrumentKind.BINARY and inst.quote == "USDC" for inst in instruments)
    assert all(inst.expiry_ns is not None for inst in instruments)
    assert Counter(m.tick_size for m in markets) == {D("0.01"): 83, D("0.001"): 17}
    assert Counter(len(m.tokens) for m in markets) == {2: 100}
    assert Counter(m.neg_risk for m in markets) == {False: 100}  # this page holds no neg-risk market
    assert all(m.taker_fee == 0 and m.maker_fee == 0 for m in markets)
    desantis = markets[0]
    assert desantis.instruments()[0].symbol == f"{desantis.slug}-YES"
    assert desantis.instruments()[0].tick_size == D("0.001")
    assert desantis.end_ns == 1_725_926_400 * S  # 2024-09-10T00:00:00Z


def test_the_trump_market_is_flagged_neg_risk(trump: PolymarketMarket) -> None:
    assert trump.neg_risk
    assert trump.neg_risk_market_id.startswith("0xe3b1bc")
    assert trump.min_order_size == 5
    tokens = _by_outcome(trump)
    assert (tokens["YES"].base, tokens["NO"].base) == (TRUMP_YES, TRUMP_NO)
    assert tokens["YES"].tick_size == D("0.001")
    assert tokens["YES"].expiry_ns == 1_730_764_800 * S  # 2024-11-05T00:00:00Z


def test_neg_risk_guard_pairs_only_the_two_tokens_of_one_market(trump: PolymarketMarket) -> None:
    yes, no = trump.outcome_tokens()
    assert is_complementary_pair(yes, no)
    assert not is_neg_risk_basket([yes, no])
    # Another candidate's market in the same event: buying both NOs (or both YESes) is a basket.
    harris_no = OutcomeToken("0xharris", "harris-no", trump.neg_risk_market_id)
    assert not is_complementary_pair(no, harris_no)
    assert is_neg_risk_basket([no, harris_no])
    assert not is_neg_risk_basket([OutcomeToken("a", "1"), OutcomeToken("b", "2")])  # unrelated markets


# =========================================================================== books
def test_ws_book_is_sorted_best_first_and_valid(poly: Path, trump: PolymarketMarket) -> None:
    no = _by_outcome(trump)["NO"]
    snap = read_polymarket_book(poly / "ws_messages" / "book.json", no)
    assert (len(snap.bids), len(snap.asks)) == (76, 86)
    assert [p for p, _ in snap.bids] == sorted((p for p, _ in snap.bids), reverse=True)
    assert [p for p, _ in snap.asks] == sorted(p for p, _ in snap.asks)
    assert (no.price(snap.bids[0][0]), no.price(snap.asks[0][0])) == (D("0.511"), D("0.514"))
    assert no.size(snap.asks[0][1]) == D("20230.87")
    assert snap.ts_ns == 1_728_799_418_260 * MS
    book = OrderBook(no.id)
    book.apply(snap)
    assert book.is_valid
    assert book.spread_ticks() == 3


def test_rest_book_is_sorted_best_first_and_valid(poly: Path) -> None:
    raw = json.loads((poly / "http_responses" / "book.json").read_text())
    inst = _token("REST-BOOK", raw["asset_id"])
    snap = read_polymarket_book(raw, inst)  # a parsed payload is accepted as well as a path
    assert [inst.price(p) for p, _ in snap.bids[:2]] == [D("0.1"), D("0.09")]
    assert [inst.price(p) for p, _ in snap.asks[:2]] == [D("0.14"), D("0.2")]
    book = OrderBook(inst.id)
    book.apply(snap)
    assert book.is_valid


def test_a_book_for_the_other_token_is_refused(poly: Path, trump: PolymarketMarket) -> None:
    with pytest.raises(DataFormatError, match=r"book\.json: asset_id 4833.* is not the token of"):
        read_polymarket_book(poly / "ws_messages" / "book.json", _by_outcome(trump)["YES"])


def test_pair_sum_on_the_trump_market(poly: Path, trump: PolymarketMarket) -> None:
    no = _by_outcome(trump)["NO"]
    snap = read_polymarket_book(poly / "ws_messages" / "book.json", no)
    no_asks = [(no.price(p), no.size(s)) for p, s in snap.asks]
    implied_yes_asks = [(1 - no.price(p), no.size(s)) for p, s in snap.bids]  # NO bid q = YES offer 1 - q
    check = pair_sum_check(implied_yes_asks, no_asks)
    assert check.cost_per_pair == D("1.003")  # 0.489 + 0.514: one NO spread above 1, no arbitrage
    assert check.executable_pairs == 0
    # The YES trades of the payloads print at that implied ask.
    yes = _by_outcome(trump)["YES"]
    trades = [read_polymarket_trade(poly / "ws_messages" / f, yes) for f in ("last_trade_price.json", "trades.json")]
    assert [yes.price(t.price) for t in trades] == [D("0.491"), D("0.489")]
    # Per-side fees only raise the sum; a 2% NO fee alone adds 0.514 × 0.02.
    assert pair_sum_check(implied_yes_asks, no_asks, (D(0), D("0.02"))).cost_per_pair == D("1.01328")


def test_pair_sum_walks_both_books_while_a_pair_costs_less_than_one() -> None:
    yes = [(D("0.40"), D(100)), (D("0.45"), D(100)), (D("0.60"), D(100))]
    no = [(D("0.50"), D(150)), (D("0.54"), D(100))]
    # (0.40, 0.50) × 100, (0.45, 0.50) × 50, (0.45, 0.54) × 50 costs 0.99; (0.60, 0.54) does not pay.
    assert pair_sum_check(yes, no) == (D("0.90"), D(200))
    assert pair_sum_check(yes, no, (D("0.05"), D(0))).executable_pairs == 150  # 0.45 × 1.05 + 0.54 > 1


# =========================================================================== changes, trades, ticks
def test_price_change_v1_applies_to_the_book_with_a_running_sequence(poly: Path, trump: PolymarketMarket) -> None:
    no = _by_outcome(trump)["NO"]
    sequencer = PolymarketSequencer()
    book = OrderBook(no.id)
    book.apply(read_polymarket_book(poly / "ws_messages" / "book.json", no, sequencer))
    changes = poly / "ws_messages" / "price_change.json"
    (deltas,) = read_polymarket_price_changes(changes, trump.instruments(), sequencer)
    assert (deltas.first_sequence, deltas.sequence, deltas.prev_sequence) == (2, 2, 1)
    assert deltas.bids == ()
    assert deltas.asks == ((514, 21_574_080_000),)  # SELL is the ask side; the size is absolute (millionths of a share)
    assert book.apply(deltas)
    assert book.best_ask() == (514, 21_574_080_000)
    assert book.is_valid


def test_price_change_v2_groups_the_levels_of_each_asset(poly: Path) -> None:
    raw: dict[str, Any] = json.loads((poly / "ws_messages" / "price_change_v2.json").read_text())
    inst = _token("V2", raw["price_changes"][0]["asset_id"])
    (deltas,) = read_polymarket_price_changes(raw, [inst], PolymarketSequencer())
    assert deltas.bids == ((60, 330_000), (50, 340_000), (70, 340_000))
    assert deltas.asks == ()
    assert deltas.ts_ns == 1_729_084_877_448 * MS
    assert read_polymarket_price_changes(raw, [], PolymarketSequencer()) == []  # other assets are skipped


def test_trades_and_tick_size_change(poly: Path, trump: PolymarketMarket) -> None:
    yes = _by_outcome(trump)["YES"]
    last = read_polymarket_trade(poly / "ws_messages" / "last_trade_price.json", yes)
    assert (last.size, last.aggressor, last.ts_ns) == (85_360_000, Aggressor.SELLER, 1_724_564_136_087 * MS)
    mine = read_polymarket_trade(poly / "ws_messages" / "trades.json", yes)
    assert (mine.size, mine.aggressor) == (5_000_000, Aggressor.BUYER)  # 5 shares in millionths
    assert mine.trade_id == "0c357886-b9d3-44bb-9aa9-72d8abc90e6e"
    assert mine.ts_ns == 1_726_043_102 * S
    change = read_polymarket_tick_size_change(poly / "ws_messages" / "tick_size_change.json")
    assert (change.old_tick_size, change.new_tick_size) == (D("0.01"), D("0.001"))
    assert change.apply(_token("T", change.asset_id)).tick_size == D("0.001")


def test_bad_payloads_name_the_source_and_the_field(tmp_path: Path, trump: PolymarketMarket) -> None:
    no = _by_outcome(trump)["NO"]
    with pytest.raises(DataFormatError, match="missing field 'bids'"):
        read_polymarket_book({"asset_id": TRUMP_NO, "asks": [], "timestamp": "1"}, no)
    with pytest.raises(DataFormatError, match=r"not a multiple of 0\.001"):
        read_polymarket_book({"asset_id": TRUMP_NO, "bids": [{"price": "0.5005", "size": "1"}], "asks": []}, no)
    bad = tmp_path / "markets.json"
    bad.write_text('{"data": [{"condition_id": "0x1"}]}')
    with pytest.raises(DataFormatError, match=r"markets\.json: data\[0\]: missing field"):
        read_polymarket_markets(bad)
    with pytest.raises(DataFormatError, match="file not found"):
        read_polymarket_markets(tmp_path / "absent.json")
    change = {"event_type": "price_change", "asset_id": TRUMP_NO, "price": "0.5", "side": "HOLD", "size": "1"}
    with pytest.raises(DataFormatError, match="field 'side'"):
        read_polymarket_price_changes({**change, "timestamp": "1"}, trump.instruments(), PolymarketSequencer())
