"""A venue whose recording stops early is dead from then on (#11, book age everywhere).

Two real 10-level LINK/USDT recordings (Binance and Huobi, one snapshot per second for two hours),
Huobi's cut after its first hour. Its book would otherwise sit frozen at 00:59:59 for the second hour
while Binance's moves, and every cross-venue decision would pair a live price with a dead one. At
a what-if fee tier (1 bp, so that the hours contain trades), the backtest and the scanner must act
on Huobi exactly as with the full recording until the cut, and never after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.scan_run import build_scan
from spreadhawk.runtime.scanner import Scanner

LINK = "defi_arbitrage_link_usdt"
KEPT_ROWS = 3600  # 00:00:00 .. 00:59:59
CUT_NS = 1_629_421_199 * 10**9  # 2021-08-20 00:59:59 UTC: Huobi's last record once cut

CONFIG = """
[run]
name = "dead venue"
valuation_currency = "USDT"

[[instruments]]
preset = "binance_link_usdt"
taker_fee = "0.0001"
maker_fee = "0.0001"

[[instruments]]
preset = "huobi_link_usdt"
taker_fee = "0.0001"
maker_fee = "0.0001"

[[data]]
format = "link_books"
instrument = "BINANCE:LINK/USDT"
path = "{binance}"

[[data]]
format = "link_books"
instrument = "HUOBI:LINK/USDT"
path = "{huobi}"

[venues.BINANCE]
balances = {{ USDT = "10000", LINK = "1000" }}
{age}

[venues.HUOBI]
balances = {{ USDT = "10000", LINK = "1000" }}
{age}

[strategy]
path = "spreadhawk.strategy.library.cross_exchange_arb:CrossExchangeArb"
id = "xarb"

[strategy.params]
instruments = ["BINANCE:LINK/USDT", "HUOBI:LINK/USDT"]
min_profit_bps = 0.5
max_quantity = "50"
"""


def _config(tmp_path: Path, shared_data: Path, *, cut: bool, age: str = "") -> Path:
    huobi = shared_data / LINK / "orderbook_hb.csv"
    if cut:
        lines = huobi.read_text(encoding="utf-8").splitlines(keepends=True)
        huobi = tmp_path / "orderbook_hb_first_hour.csv"
        huobi.write_text("".join(lines[: KEPT_ROWS + 1]), encoding="utf-8")
    path = tmp_path / f"run_{cut}.toml"
    text = CONFIG.format(binance=shared_data / LINK / "orderbook_bnc.csv", huobi=huobi, age=age)
    path.write_text(text, encoding="utf-8")
    return path


def _fills(config: Path) -> list[tuple[int, str, str, str, str]]:
    node = build_backtest(load_config(config))
    node.run()
    return [(f.ts_ns, str(f.instrument_id), f.side.name, str(f.price), str(f.quantity)) for f in node.engine.fills]


def _huobi_sightings(config: Path) -> list[tuple[str, int, int]]:
    scanner: Scanner = build_scan(load_config(config)).run()
    seen = [(o.key, o.first_seen_ns, o.last_seen_ns) for o in scanner.history]
    return sorted(s for s in seen if "HUOBI" in s[0])


def test_no_fill_on_a_venue_after_its_recording_ends(tmp_path: Path, shared_data: Path) -> None:
    full = _fills(_config(tmp_path, shared_data, cut=False))
    cut = _fills(_config(tmp_path, shared_data, cut=True))
    assert any(ts <= CUT_NS for ts, *_ in full)  # both hours trade
    assert any(ts > CUT_NS for ts, *_ in full)
    assert [f for f in cut if f[0] > CUT_NS and venue_of(InstrumentId(f[1])) == "HUOBI"] == []
    # the cross-venue arbitrage needs both venues: nothing trades after the cut, anywhere
    assert [f for f in cut if f[0] > CUT_NS] == []
    assert cut == [f for f in full if f[0] <= CUT_NS]  # and until the cut, exactly what the full recording gave


def test_no_opportunity_on_a_venue_after_its_recording_ends(tmp_path: Path, shared_data: Path) -> None:
    full = _huobi_sightings(_config(tmp_path, shared_data, cut=False))
    cut = _huobi_sightings(_config(tmp_path, shared_data, cut=True))
    assert any(first > CUT_NS for _, first, _ in full)  # the second hour has opportunities ...
    assert [s for s in cut if s[2] > CUT_NS] == []  # ... none with Huobi's recording gone
    assert cut == [s for s in full if s[2] <= CUT_NS]


GAP = (1_629_419_400 * 10**9, 1_629_420_000 * 10**9)  # 00:30:00 .. 00:40:00: Huobi's rows removed


@pytest.mark.parametrize(("max_age_s", "trades_in_gap"), [("5", False), ("3600", True)])
def test_a_book_older_than_its_venue_allows_is_not_traded(
    tmp_path: Path, shared_data: Path, max_age_s: str, trades_in_gap: bool
) -> None:
    """Huobi's feed freezes for ten minutes (its rows removed) and then resumes: under a 5 s limit
    its book is stale from 00:30:04 until the next update, and nothing trades meanwhile; with the
    limit at an hour the frozen book is traded on for minutes (what the limit is there to prevent)."""
    config = _config(tmp_path, shared_data, cut=False, age=f"max_book_age_s = {max_age_s}")
    huobi = shared_data / LINK / "orderbook_hb.csv"
    lines = huobi.read_text(encoding="utf-8").splitlines(keepends=True)
    frozen = tmp_path / "orderbook_hb_frozen.csv"
    frozen.write_text("".join(lines[: 1800 + 1] + lines[2400 + 1 :]), encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace(str(huobi), str(frozen)), encoding="utf-8")
    fills = _fills(config)
    stale_from = GAP[0] + 4 * 10**9  # Huobi's last update at 00:29:59, plus 5 s
    in_gap = [f for f in fills if stale_from < f[0] < GAP[1]]
    assert bool(in_gap) is trades_in_gap
    assert any(f[0] > GAP[1] for f in fills)  # and it trades again once the feed resumes
