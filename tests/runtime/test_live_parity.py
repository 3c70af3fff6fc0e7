"""Backtest <-> live parity (RELIABILITY.md scenario 25): one recorded tape through the backtest, and
through live trading on the emulator's matching engine, gives the same orders, fills and balances.

Live: ``spreadhawk live``'s node (keys from the key store, the real ccxt client, signed REST orders,
fills from the user stream) against the emulator replaying the Binance spot BTCUSDT capture. The
replay runs in lockstep with the node (``Replay.gate``): each message is matched, and sent, only when
the node has finished with everything before it — every market message it was sent handled, every
trade the exchange made booked, no request in flight — which is what zero latency means. Backtest: the
same config through ``build_backtest`` (the simulated venue, zero latency), over the same stretch of
the capture. The two matching engines are written independently (``venues/emulator/exchange.py`` in
Binance's strings, ``venues/simulated`` in ticks and lots) to the same rules: sweeps that remember
what our orders took, queue position, partial fills from trade volume, fees rounded to 8 decimals.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
from live_harness import emulator, live_config, make_keystore, venues

from spreadhawk.domain.market import MarketData
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.runtime.live_node import LiveNode, build_live
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.venues.ccxt.feed import CcxtLiveFeed
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.emulator import BinanceEmulator

pytestmark = pytest.mark.real_data

MESSAGES = 3_000  # capture messages replayed in lockstep (depth diffs and trades), about 40 s of the tape
# Seeds in the suite; ``make soak`` runs more (SPREADHAWK_SOAK_SEEDS).
SEEDS = range(int(os.environ.get("SPREADHAWK_SOAK_SEEDS", "3")))


def _probe(seed: int) -> tuple[str, ...]:
    """The probe's schedule, sizes and resting distance drawn from ``seed``: market orders every
    ``trade_every`` exchange update ids, one post-only bid resting ``rest_bps`` under the best bid
    (a few ticks to tens of dollars: at, behind or away from displayed queues), sizes from a sliver of
    a level to several levels."""
    rng = random.Random(seed)
    return (
        f"strategies.0.params.trade_every={rng.choice([400, 700, 1000, 1500, 2500])}",
        f"strategies.0.params.rest_bps={rng.choice(['0.0005', '0.002', '0.01', '0.1', '1'])}",
        f"strategies.0.params.quantity={rng.choice(['0.0004', '0.002', '0.01', '0.05', '0.2'])}",
        "live_trading.cancel_on_exit=false",  # the resting bid stays as it is on both sides
        "venues.BINANCE.latency_ms=0",
    )


OrderRow = tuple[str, str, Decimal, Decimal | None, bool, str, Decimal]
FillRow = tuple[int, str, Decimal, Decimal, Decimal, str]


def _orders(engine: Engine) -> list[OrderRow]:
    """Every order in submission order, without its id (the live node's ids carry its run prefix)."""
    return [
        (str(o.side), str(o.order_type), o.quantity, o.price, o.post_only, o.status.name, o.filled_quantity)
        for o in engine.orders.values()
    ]


def _fills(engine: Engine) -> list[FillRow]:
    index = {cid: i for i, cid in enumerate(engine.orders)}
    return [(index[f.client_order_id], str(f.side), f.quantity, f.price, f.fee, str(f.liquidity)) for f in engine.fills]


def _balances(engine: Engine, venue: str) -> dict[str, Decimal]:
    return {asset: amount for asset, amount in engine.portfolio.ledger.venue_balances(venue).items() if amount}


async def _live(shared_data: Path, tmp_path: Path, probe: tuple[str, ...]) -> tuple[LiveNode, BinanceEmulator]:
    keys = tmp_path / "keys.json"
    make_keystore(keys)
    async with emulator(shared_data, speed=0) as running:
        config = live_config(running.http_url, keys, *probe)

        node = build_live(config, tmp_path / "live.journal", live_feeds, venues)
        stop = asyncio.Event()
        running.replay.gate = _lockstep(node, running, stop)
        await node.run(stop)
        return node, running


def _lockstep(node: LiveNode, running: BinanceEmulator, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    """The replay's gate: returns once the node is idle; after ``MESSAGES`` messages, stops the node
    and never returns (the replay stands still until the emulator closes)."""
    (feed,) = node.feeds
    assert isinstance(feed, CcxtLiveFeed)
    (any_venue,) = node.venues.values()
    venue = cast(CcxtVenue, any_venue)  # the Binance adapter: its busy / trades_booked counters
    exchange, replay = running.exchange, running.replay
    assert exchange is not None

    def idle() -> bool:
        return (
            node.started
            and feed.messages >= replay.sent
            and not feed.fetching
            and not venue.busy
            and venue.trades_booked == len(exchange.trades)
            and not node.engine.inbox
        )

    async def gate() -> None:
        while not idle():
            await asyncio.sleep(0.0005)  # noqa: TID251 -- polls the real sockets' progress
        if replay.position >= MESSAGES:
            stop.set()
            await asyncio.Event().wait()

    return gate


@pytest.mark.parametrize("seed", SEEDS)
def test_a_tape_through_the_backtest_and_through_live_trading_on_the_emulator_gives_the_same_ledgers(
    shared_data: Path, tmp_path: Path, seed: int
) -> None:
    probe = _probe(seed)
    live, running = asyncio.run(asyncio.wait_for(_live(shared_data, tmp_path, probe), timeout=240))
    assert live.differences == []
    assert live.engine.halt_reason == "the node is stopping"

    # The backtest over the same stretch: every capture record up to the last message the node was sent.
    last_ms = running.replay.last_event_ms
    assert last_ms is not None
    config = live_config("http://unused", tmp_path / "keys.json", *probe)
    backtest = build_backtest(config)
    cut = last_ms * 1_000_000
    records: list[MarketData] = list(itertools.takewhile(lambda r: r.ts_ns <= cut, ReplayFeed(backtest.sources)))
    run_replay(backtest.engine, records)

    orders, fills = _orders(live.engine), _fills(live.engine)
    assert len(orders) >= 5
    assert {row[5] for row in orders} >= {"FILLED", "ACCEPTED"}  # market orders filled, a bid resting at the end
    assert {row[5] for row in fills} == {"taker", "maker"}
    print(probe[:3], "orders", len(orders), "fills", len(fills), [row[5] for row in fills].count("maker"), "maker")
    assert orders == _orders(backtest.engine)
    assert fills == _fills(backtest.engine)
    assert _balances(live.engine, "BINANCE") == _balances(backtest.engine, "BINANCE")
