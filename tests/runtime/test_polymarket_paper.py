"""Seed 004's system in paper (#12 item 4): ``examples/polymarket_binance.toml`` against the two local
emulators (Polymarket's market channel replaying the recorded SOL 15-minute and BTC hourly session;
Binance's BTCUSDT capture restamped onto its timeline), the four binary strategies trading the
simulated Polymarket venue. The node is SIGKILLed a minute of market in, started again on its
journal, and runs a second minute (CI; ``make soak`` runs the restart on to the SOL market's
resolution).

Checked from the journal file, not from the node's own tables: no order id was issued twice, every
fill belongs to a journaled order of a known strategy and is booked once, and the restarted node's
ledger and per-strategy table equal what the journal's fills and settlements add up to.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from live_harness import FORK, fork_start

from spreadhawk.domain.events import OrderFilled, OrderSide, SettlementPaid, SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.engine.clock import SimClock, WallClock
from spreadhawk.engine.journal import read_journal
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.paper import build_paper
from spreadhawk.runtime.paper_service import live_feeds
from spreadhawk.runtime.polymarket_live import live_instruments

pytestmark = pytest.mark.real_data
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "polymarket_binance.toml"
COLLECTOR = "polymarket_series/caiooooo_l2_collector"
SESSION_START_MS = 1_765_450_842_197  # the hourly market's first book: 2025-12-11 11:00:42.197 UTC
SPEED = 20.0
FIRST_S = 3.0  # wall seconds before the kill: a minute of market at 20x
# after the restart: another minute; make soak: on past the SOL market's resolution at 11:15
SECOND_S = 60 * 15 / SPEED if os.environ.get("SPREADHAWK_SOAK_POLYMARKET_FULL") else 3.0
START_USDC = Decimal(5000)


def _serve_emulators(shared_data: Path, address: Connection) -> None:
    from spreadhawk.venues.emulator import BinanceEmulator, Market
    from spreadhawk.venues.polymarket_emulator import PolymarketEmulator

    async def serve() -> None:
        folders = [shared_data / COLLECTOR / "15m" / "sol", shared_data / COLLECTOR / "1h" / "btc"]
        polymarket = PolymarketEmulator.from_collectors(folders, speed=SPEED, autostart=False)
        binance = BinanceEmulator.from_data_dir(
            shared_data, Market.SPOT, ["btcusdt"], speed=SPEED, autostart=False, start_at_ms=SESSION_START_MS
        )
        async with polymarket, binance:
            polymarket.start_replay()  # together: one timeline
            binance.start_replay()
            address.send((polymarket.http_url, binance.http_url))
            await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(serve())


def _node(hosts: tuple[str, str], journal: Path, seconds: float, report: Connection | None) -> None:
    config = load_config(EXAMPLE, [f'live.0.host="{hosts[0]}"', f'live.1.host="{hosts[1]}"'])

    async def trade() -> None:
        node = build_paper(config, journal, live_feeds, clock=SimClock(), started_ns=WallClock().now_ns())
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await node.run(stop)
        if report is not None:
            engine = node.engine
            report.send(
                {
                    "differences": node.differences,
                    "restored": node.restored.records if node.restored else 0,
                    "fills": [(f.trade_id, f.client_order_id) for f in engine.fills],
                    "balances": dict(engine.portfolio.ledger.venue_balances("POLYMARKET")),
                    "strategies": {
                        s.id: (engine.attribution.pnl(s.id), engine.attribution.fills[s.id]) for s in node.strategies
                    },
                    "equity": engine.portfolio.equity(engine.price),
                    "symbols": {str(i): inst.base for i, inst in engine.instruments.items()},
                    "reference_feed": node.feeds[1].counts(InstrumentId("BINANCE:BTC/USDT")),  # type: ignore[attr-defined]
                }
            )

    asyncio.run(trade())
    os._exit(0)


def test_the_004_system_survives_a_kill_and_its_tables_match_the_journal(shared_data: Path, tmp_path: Path) -> None:
    receive, send = FORK.Pipe(duplex=False)
    emulators = FORK.Process(target=_serve_emulators, args=(shared_data, send), daemon=True)
    fork_start(emulators)
    try:
        assert receive.poll(60), "the emulators did not start"
        hosts = receive.recv()
        journal = tmp_path / "paper.journal"
        first = FORK.Process(target=_node, args=(hosts, journal, 600.0, None))
        fork_start(first)
        first.join(FIRST_S)
        os.kill(first.pid or 0, signal.SIGKILL)
        first.join(10)
        assert first.exitcode == -signal.SIGKILL
        before = list(read_journal(journal))

        results, report = FORK.Pipe(duplex=False)
        second = FORK.Process(target=_node, args=(hosts, journal, SECOND_S, report))
        fork_start(second)
        assert results.poll(SECOND_S + 60), "the restarted node did not finish"
        after: dict[str, Any] = results.recv()
        second.join(10)
    finally:
        emulators.terminate()
        emulators.join(10)

    assert after["differences"] == []
    reference = after["reference_feed"]  # the restamped Binance capture read cleanly by the real feed
    assert (reference.diffs > 200, reference.gaps, reference.malformed) == (True, 0, 0)  # ~200 diffs a s at 20x
    assert after["restored"] >= len(before) > 0
    records = list(read_journal(journal))
    intents = [r for r in records if isinstance(r, SubmitOrder)]
    fills = [r for r in records if isinstance(r, OrderFilled)]
    settlements = [r for r in records if isinstance(r, SettlementPaid)]
    # no order id issued twice, in either life of the node
    assert [cid for cid, n in Counter(i.client_order_id for i in intents).items() if n > 1] == []
    # both lives traded, and every fill is of a journaled order, booked once, none lost in the restart
    strategy_of = {i.client_order_id: i.strategy_id for i in intents}
    assert any(isinstance(r, OrderFilled) for r in before), "nothing filled before the kill: nothing was at risk"
    assert len(fills) > len([r for r in before if isinstance(r, OrderFilled)]), "nothing filled after the restart"
    assert all(f.client_order_id in strategy_of for f in fills)
    assert len({f.trade_id for f in fills}) == len(fills)
    assert sorted(after["fills"]) == sorted((f.trade_id, f.client_order_id) for f in fills)

    # the strategies' position limits hold across the restart (their counts of what they hold die with
    # the process: the restarted strategies take them back from the journal's positions)
    limits = {"fair_btc": Decimal(100), "flow_btc": Decimal(50)}  # max_shares_per_market in the example
    for strategy, limit in limits.items():
        bought: dict[str, Decimal] = {}
        for f in fills:
            if strategy_of[f.client_order_id] == strategy:
                market = f.instrument_id.rsplit("-", 1)[0]  # both tokens of a market
                bought[market] = bought.get(market, Decimal(0)) + f.quantity
        assert all(shares <= limit for shares in bought.values()), (strategy, bought)

    # the ledger: 5,000 USDC less what the journal's fills cost, plus what settlements paid; tokens as filled
    usdc = START_USDC
    tokens: dict[str, Decimal] = {}
    for f in fills:
        sign = 1 if f.side is OrderSide.BUY else -1
        usdc -= sign * f.price * f.quantity + f.fee
        token = after["symbols"][f.instrument_id]
        tokens[token] = tokens.get(token, Decimal(0)) + sign * f.quantity
    for s in settlements:
        usdc += s.amount
        token = after["symbols"][s.instrument_id]
        tokens[token] = tokens.get(token, Decimal(0)) - s.quantity
    held = {asset: amount for asset, amount in after["balances"].items() if amount}
    assert held == {"USDC": usdc, **{token: qty for token, qty in tokens.items() if qty}}
    # the per-strategy table: its fills are the journal's, and its PnL adds up to the account's
    for strategy, (_, count) in after["strategies"].items():
        assert count == sum(1 for f in fills if strategy_of[f.client_order_id] == strategy), strategy
    assert sum(pnl for pnl, _ in after["strategies"].values()) == after["equity"] - START_USDC


@pytest.mark.parametrize(
    ("live", "message"),
    [
        ('exchange = "polymarket"', "a polymarket feed names its markets"),
        ('exchange = "binance"', "instruments: name at least one instrument id"),
        ('exchange = "binance"\ninstruments = ["BINANCE:BTC/USDT"]\nmarkets = ["m"]', "only a polymarket feed"),
    ],
)
def test_a_live_section_names_what_it_feeds(tmp_path: Path, live: str, message: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").split("[[live]]")[0] + f'[[live]]\nvenue = "POLYMARKET"\n{live}\n'
    path = tmp_path / "bad.toml"
    path.write_text(text + '[[strategies]]\npath = "spreadhawk.strategy.library.binary_pair_arb:BinaryPairArb"\n')
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_a_clob_that_does_not_answer_is_one_line_naming_the_section(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, ['live.0.host="http://127.0.0.1:9"'])  # the discard port: refused
    with pytest.raises(ConfigError, match=r"^live\.0: cannot read the markets from http://127\.0\.0\.1:9: "):
        live_instruments(config)
