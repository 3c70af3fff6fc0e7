"""Gamma API payloads read as markets (#12 item 1): 292 real BTC 5-minute up/down markets (each
line of the sample wraps the full Gamma object in ``raw`` beside the seller's own fields, which
are the independent check), then every payload shape a user records, with its optional fields
missing, and malformed ones."""

from __future__ import annotations

import csv
import gzip
import io
import json
from bisect import bisect_right
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.data.polymarket_updown import updown_chain, updown_winner
from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.polymarket import read_polymarket_market
from spreadhawk.data.readers.polymarket_gamma import read_gamma_markets

SAMPLES = "polymarket_series/ligengxin_samples"
MARKET: dict[str, Any] = {
    "conditionId": "0xabc",
    "question": "Bitcoin Up or Down?",
    "slug": "btc-updown-5m-1",
    "clobTokenIds": '["111", "222"]',
    "outcomes": '["Up", "Down"]',
    "outcomePrices": '["0.515", "0.485"]',
    "orderPriceMinTickSize": 0.01,
    "orderMinSize": 5,
    "endDate": "2026-06-08T00:05:00Z",
    "eventStartTime": "2026-06-08T00:00:00Z",
    "feesEnabled": True,
    "feeSchedule": {"rate": 0.07, "exponent": 1, "takerOnly": True, "rebateRate": 0.2},
    "someFieldAddedLater": {"nested": [1, 2]},
}


@pytest.fixture(scope="module")
def sample_lines(shared_data: Path) -> list[dict[str, Any]]:
    with gzip.open(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_real_market_reads_and_agrees_with_the_sellers_own_fields(
    shared_data: Path, sample_lines: list[dict[str, Any]]
) -> None:
    markets = read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz")
    assert len(markets) == len(sample_lines) == 292
    for gamma, line in zip(markets, sample_lines, strict=True):
        market = gamma.market
        assert market.slug == line["slug"]
        assert market.condition_id == line["condition_id"]
        assert [t.token_id for t in market.tokens] == line["token_ids"]
        assert [t.outcome for t in market.tokens] == ["Up", "Down"]
        assert gamma.start_ns == line["start_sec"] * 10**9  # the window, not the market's creation
        assert market.end_ns == line["end_sec"] * 10**9
        assert gamma.winner == ("Up" if line["outcome_prices"] == ["1", "0"] else "Down")
        up, down = market.instruments()
        assert (up.symbol, down.symbol) == (f"{line['slug']}-UP", f"{line['slug']}-DOWN")
        assert up.expiry_ns == line["end_sec"] * 10**9
        # the 2026 crypto fee curve: taker-only, 7 % x p(1 - p) a share; the instrument carries its upper bound
        assert (gamma.fee_rate, gamma.fee_exponent, gamma.taker_only) == (Decimal("0.07"), Decimal(1), True)
        assert (up.taker_fee, up.maker_fee) == (Decimal("0.07"), Decimal(0))
    assert sum(g.winner == "Up" for g in markets) == 137
    assert {g.market.tick_size for g in markets} == {Decimal("0.01"), Decimal("0.001")}


def test_the_winner_read_is_the_one_the_reference_price_gives(
    shared_data: Path, sample_lines: list[dict[str, Any]]
) -> None:
    """Up iff the Chainlink BTC/USD price at the window's end (last tick at or before it, at most 60 s
    old) is at or above the strike (the seller's ``strike_value``, 1e18-scaled)."""
    with gzip.open(shared_data / SAMPLES / "BTCUSD-prices-2026-06-08.csv.gz", "rt", encoding="utf-8") as f:
        rows = [(int(r["feed_ts_ms"]), int(r["full_accuracy_value"])) for r in csv.DictReader(io.StringIO(f.read()))]
    times = [t for t, _ in rows]
    by_slug = {
        g.market.slug: g for g in read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz")
    }
    checked = 0
    for line in sample_lines:
        end_ms = line["end_sec"] * 1000
        at = bisect_right(times, end_ms) - 1
        if line["strike_value"] is None or at < 0 or end_ms - times[at] > 60_000:
            continue
        expected = "Up" if rows[at][1] >= int(line["strike_value"]) else "Down"
        assert by_slug[line["slug"]].winner == expected, line["slug"]
        checked += 1
    assert checked == 284  # the other 8: no strike, or no tick near the close (as the seller discloses)


def _read(tmp_path: Path, payload: object, name: str = "gamma.json") -> list[Any]:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload), encoding="utf-8")
    return read_gamma_markets(path)


@pytest.mark.parametrize(
    "payload",
    [
        MARKET,
        [MARKET],
        {"id": "1", "title": "an event", "markets": [MARKET]},
        [{"id": "1", "markets": [MARKET]}],
        {"events": [{"markets": [MARKET]}], "tags": [], "pagination": {"hasMore": False}},
        {**MARKET, "clobTokenIds": ["111", "222"], "outcomes": ["Up", "Down"]},  # real lists, not strings
    ],
    ids=["market", "list", "event", "events", "search", "real-lists"],
)
def test_every_payload_shape_gives_the_same_market(tmp_path: Path, payload: object) -> None:
    (gamma,) = _read(tmp_path, payload)
    assert gamma.market.condition_id == "0xabc"
    assert [t.token_id for t in gamma.market.tokens] == ["111", "222"]
    assert gamma.start_ns == 1_780_876_800 * 10**9
    assert gamma.winner is None  # still trading


def test_json_lines_and_optional_fields_missing(tmp_path: Path) -> None:
    bare = {"conditionId": "0xdef", "outcomes": '["Yes", "No"]'}
    text = json.dumps(MARKET) + "\n\n" + json.dumps({"raw": bare, "slug": "x"}) + "\n"
    first, second = _read(tmp_path, text, "gamma.jsonl")
    assert first.market.slug == "btc-updown-5m-1"
    market = second.market
    assert (market.tick_size, second.tick_from_default, market.min_order_size) == (Decimal("0.01"), True, 0)
    assert (market.end_ns, second.start_ns, second.fee_rate, market.taker_fee) == (None, None, 0, 0)
    assert market.instruments() == []  # no token ids yet: nothing to trade
    assert second.winner is None


def test_a_resolved_market_names_its_winner(tmp_path: Path) -> None:
    (gamma,) = _read(tmp_path, {**MARKET, "closed": True, "outcomePrices": '["0", "1"]'})
    assert gamma.winner == "Down"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (json.dumps({"id": "1", "title": "no markets"}), "gamma.json: not a Gamma market, event or search answer"),
        (json.dumps([MARKET, {**MARKET, "clobTokenIds": '["1"]'}]), "gamma.json: [1]: 1 clobTokenIds for 2 outcomes"),
        (json.dumps({**MARKET, "outcomes": "Up, Down"}), "field 'outcomes': not a JSON list"),
        (json.dumps({**MARKET, "orderPriceMinTickSize": 0}), "orderPriceMinTickSize 0 must be positive"),
        (json.dumps({**MARKET, "feeSchedule": {"rate": -0.07}}), "rate and exponent must not be negative"),
        (json.dumps(MARKET) + "\n{not json\n", "gamma.json: line 2: invalid JSON"),
        ("42", "gamma.json: expected a JSON object or list, got int"),
    ],
)
def test_malformed_payloads_are_one_line_errors_naming_where(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(DataFormatError) as raised:
        _read(tmp_path, text)
    assert expected in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_gamma_market_given_to_the_clob_reader_says_which_reader_to_use(tmp_path: Path) -> None:
    path = tmp_path / "market.json"
    path.write_text(json.dumps(MARKET), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"a Gamma API market .* read it with read_gamma_markets"):
        read_polymarket_market(path)


# --------------------------------------------------------------------------- up/down discovery
def test_the_real_btc_five_minute_markets_roll_back_to_back(shared_data: Path) -> None:
    markets = read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz")
    chain = updown_chain(markets, "BTC", 5)
    assert len(chain.markets) == 292
    assert chain.gaps() == []  # every window starts when the previous one ends
    day = 1_780_876_800 * 10**9  # 2026-06-08 00:00 UTC
    assert chain.markets[0].start_ns == day - 300 * 10**9
    for offset_s in (0, 1, 299, 300, 43_210, 86_399):
        now = day + offset_s * 10**9
        market = chain.at(now)
        assert market is not None
        assert market.start_ns <= now < market.end_ns
        assert market.gamma.market.slug == f"btc-updown-5m-{(day + offset_s * 10**9) // 10**9 // 300 * 300}"
        up, down = market.instruments()
        assert (up.symbol, down.symbol) == (f"{market.gamma.market.slug}-UP", f"{market.gamma.market.slug}-DOWN")
        assert up.expiry_ns == down.expiry_ns == market.end_ns
    assert chain.at(chain.markets[-1].end_ns) is None  # after the last listed window
    assert len(chain.upcoming(day)) == 290  # listed a day ahead: the strike comes when the window starts
    assert (
        updown_chain(read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz"), "eth", 5).markets
        == ()
    )
    assert (
        updown_chain(
            read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz"), "btc", 15
        ).markets
        == ()
    )


def test_an_hourly_slug_takes_its_asset_from_the_question_and_a_clash_is_an_error(tmp_path: Path) -> None:
    hourly = {
        **MARKET,
        "slug": "bitcoin-up-or-down-december-11-6am-et",
        "question": "Bitcoin Up or Down - December 11, 6AM ET",
        "eventStartTime": "2025-12-11T11:00:00Z",
        "endDate": "2025-12-11T12:00:00Z",
    }
    (market,) = updown_chain(_read(tmp_path, [hourly]), "btc", 60).markets
    assert market.minutes == 60
    clash = {**hourly, "conditionId": "0xother", "slug": "another"}
    with pytest.raises(ValueError, match="both claim the window"):
        updown_chain(_read(tmp_path, [hourly, clash]), "btc", 60)
    wrong = {**MARKET, "slug": "btc-updown-5m-1780876500"}  # its slug says 23:55, eventStartTime 00:00
    with pytest.raises(ValueError, match="the slug's start is not eventStartTime"):
        updown_chain(_read(tmp_path, [wrong]), "btc", 5)


def test_the_chainlink_feed_settles_every_checkable_window_as_polymarket_did(
    shared_data: Path, sample_lines: list[dict[str, Any]]
) -> None:
    """The rule, not the seller's strike: the strike is the feed's price at the window's start."""
    with gzip.open(shared_data / SAMPLES / "BTCUSD-prices-2026-06-08.csv.gz", "rt", encoding="utf-8") as f:
        prices = [
            (int(r["feed_ts_ms"]) * 10**6, Decimal(r["full_accuracy_value"]))
            for r in csv.DictReader(io.StringIO(f.read()))
        ]
    markets = read_gamma_markets(shared_data / SAMPLES / "BTC-5m-markets-2026-06-08.jsonl.gz")
    settled = [(updown_winner(g.start_ns or 0, g.market.end_ns or 0, prices), g.winner) for g in markets]
    checkable = [(ours, official) for ours, official in settled if ours is not None]
    assert len(checkable) == 286  # 6 windows have no feed tick within a minute of their start or end
    assert all(ours == official for ours, official in checkable)


def test_a_tie_settles_up_and_a_stale_reference_settles_nothing() -> None:
    s = 10**9
    assert updown_winner(10 * s, 20 * s, [(9 * s, Decimal(100)), (19 * s, Decimal(100))]) == "Up"
    assert updown_winner(10 * s, 20 * s, [(9 * s, Decimal(100)), (19 * s, Decimal("99.99"))]) == "Down"
    assert updown_winner(100 * s, 200 * s, [(9 * s, Decimal(100)), (199 * s, Decimal(101))]) is None  # start: 91 s old
    assert updown_winner(10 * s, 20 * s, []) is None
