"""``examples/paper_binance_emulator.toml`` end to end: paper trading through real ccxt clients on the
local Binance emulator (spot and USD-M, the real 2024-08-08 captures at 10x), two minutes of market
in two sessions. The first trades on the live books and stops cleanly; the second resumes from the
journal, reconciles cleanly, keeps trading, and no client order id is ever issued twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from spreadhawk.domain.events import OrderSide, SubmitOrder
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import SimClock, WallClock
from spreadhawk.engine.journal import read_journal
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.paper import PaperNode, build_paper
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.venues.emulator import BinanceEmulator, Market

pytestmark = pytest.mark.real_data
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "paper_binance_emulator.toml"
SPEED = 10.0
SESSION_S = 6.0  # a minute of market at 10x
PERP = "BINANCE:BTC/USDT:USDT"
SPOT = "BINANCE:BTC/USDT"


async def _session(config: RunConfig, journal: Path) -> PaperNode:
    node = build_paper(config, journal, live_feeds, clock=SimClock(), started_ns=WallClock().now_ns())
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(SESSION_S, stop.set)
    await node.run(stop)
    return node


async def _two_sessions(shared_data: Path, journal: Path) -> tuple[PaperNode, PaperNode]:
    spot = BinanceEmulator.from_data_dir(shared_data, Market.SPOT, ["btcusdt"], speed=SPEED)
    usdm = BinanceEmulator.from_data_dir(shared_data, Market.USDM, ["btcusdt"], speed=SPEED)
    async with spot, usdm:
        config = load_config(
            EXAMPLE, [f'live.0.host="{spot.http_url}"', f'live.1.host="{usdm.http_url}"', "run.journal=''"]
        )
        first = await _session(config, journal)
        second = await _session(config, journal)
    return first, second


def test_paper_on_the_emulator_trades_stops_resumes_and_never_reuses_an_order_id(
    shared_data: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "paper.journal"
    first, second = asyncio.run(asyncio.wait_for(_two_sessions(shared_data, journal), timeout=120))

    # the first session traded on the live books: the forced funding entry and the probe's orders
    assert first.restored is None
    assert first.differences == []
    assert first.engine.events_processed > 1_000
    probe_fills = [f for f in first.engine.fills if f.client_order_id.split(".", 1)[1].startswith("probe-")]
    assert len(probe_fills) >= 5
    held_perp = first.engine.portfolio.position(PERP).quantity  # type: ignore[arg-type]
    assert held_perp < 0  # short the perpetual, long spot: the funding position
    assert all(o.status is not OrderStatus.SUBMITTED for o in first.engine.orders.values())

    # the second resumed it: same position before trading, reconciled, and traded on
    assert second.restored is not None
    assert second.restored.commands >= len(first.engine.orders)
    assert second.differences == []
    assert second.started_with[PERP] == held_perp  # type: ignore[index]
    # the funding strategy knows its position again: it does not enter a second time. It may exit (on
    # a loaded machine the second session can read a basis or a legging its exit rules act on): then
    # every new order of it closes (spot sold, perpetual bought back), none opens
    funding = [o for o in second.engine.orders.values() if o.strategy_id == "funding_btcusdt"]
    again = [o for o in funding if o.client_order_id not in first.engine.orders]
    closing = {(str(o.instrument_id), o.side) for o in again}
    assert closing <= {(PERP, OrderSide.BUY), (SPOT, OrderSide.SELL)}, closing
    if not again:
        assert second.engine.portfolio.position(PERP).quantity == held_perp  # type: ignore[arg-type]
    new_orders = set(second.engine.orders) - set(first.engine.orders)
    assert len(new_orders) >= 5
    prefixes = {coid.split(".", 1)[0] for coid in new_orders}
    assert prefixes.isdisjoint({coid.split(".", 1)[0] for coid in first.engine.orders})

    submitted = Counter(r.client_order_id for r in read_journal(journal) if isinstance(r, SubmitOrder))
    assert submitted
    assert max(submitted.values()) == 1
    venue = second.venues["BINANCE"]
    assert {a: v for a, v in venue.balances().items() if v} == {
        a: v for a, v in second.engine.portfolio.ledger.venue_balances("BINANCE").items() if v
    }
