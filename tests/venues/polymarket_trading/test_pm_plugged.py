"""The trading side plugged into the replaying emulator (``emulate-polymarket --wallet``): one local
CLOB, the recorded SOL session's books, and the ``PolymarketVenue`` adapter trading there through an
engine: a marketable FAK fills at the recorded best ask, a resting bid is canceled, the ledger moves
by what the hand computation says."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account import Account
from pm_trading_harness import WALLET_KEY, Live

from spreadhawk.data.readers.polymarket import read_polymarket_market
from spreadhawk.domain.events import CancelOrder, OrderFilled, OrderSide, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.live import run_live
from spreadhawk.venues.polymarket.venue import PolymarketVenue
from spreadhawk.venues.polymarket_emulator import PolymarketEmulator
from spreadhawk.venues.polymarket_emulator.trading_plug import plug_trading

SOL = "polymarket_series/caiooooo_l2_collector/15m/sol"
START = Decimal(1000)


def _first_up_book(shared_data: Path) -> dict[str, Any]:
    books: list[dict[str, Any]] = json.loads((shared_data / SOL / "orderbooks" / "1765450800up.json").read_text())
    return books[0]


def test_the_adapter_trades_on_the_replaying_emulator(shared_data: Path) -> None:
    address = str(Account.from_key(WALLET_KEY).address)
    outcome: dict[str, Any] = {}

    async def scenario() -> None:
        emulator = PolymarketEmulator.from_collector(shared_data / SOL, speed=1.0, autostart=False)
        exchange = plug_trading(emulator, {address: START})
        async with emulator:
            emulator.start_replay()
            markets = [read_polymarket_market(m) for m in emulator.markets.values()]
            instruments = [i for m in markets for i in m.instruments("POLYMARKET")]
            venue = PolymarketVenue(
                "POLYMARKET", instruments, markets=markets, private_key=WALLET_KEY, host=emulator.http_url,
                ws_url=emulator.ws_url.replace("/ws/market", "/ws/user"),
            )  # fmt: skip
            engine = Engine(instruments, clock=WallClock())
            engine.add_venue(venue)
            live = Live(exchange, engine, venue)
            stop = asyncio.Event()
            await venue.start()
            driver = asyncio.create_task(run_live(engine, [], stop, on_message=live.seen.append))
            try:
                await live.until(lambda: venue.stream_live, "the user channel live")
                await live.until(lambda: emulator.position > 0, "the first books replayed")
                up = next(i for i in instruments if i.symbol.endswith("-UP"))
                live.submit("take-1", up.base, OrderSide.BUY, "10", "0.48", TimeInForce.IOC)
                await live.until(lambda: engine.orders[ClientOrderId("take-1")].is_terminal, "the taker order done")
                live.submit("rest-1", up.base, OrderSide.BUY, "10", "0.01")
                await live.until(lambda: live.status("rest-1") is OrderStatus.ACCEPTED, "the resting bid")
                rest = engine.orders[ClientOrderId("rest-1")]
                engine.cancel(CancelOrder(engine.clock.now_ns(), rest.client_order_id, rest.instrument_id, "test"))
                await live.until(lambda: live.status("rest-1") is OrderStatus.CANCELED, "the cancel")
                outcome["fills"] = live.events("take-1", OrderFilled)
                outcome["status"] = live.status("take-1")
                outcome["usdc"] = live.ledger("USDC")
                outcome["shares"] = live.ledger(up.base)
            finally:
                stop.set()
                await driver
                await venue.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))
    # the recorded first Up book: best ask 0.48 with 150 shares on it, so 10 shares fill there at once
    first = _first_up_book(shared_data)
    best_ask = min(first["asks"], key=lambda level: Decimal(level["price"]))
    assert (best_ask["price"], Decimal(best_ask["size"]) >= 10) == ("0.48", True)
    assert outcome["status"] is OrderStatus.FILLED
    assert [(f.price, f.quantity, f.fee) for f in outcome["fills"]] == [(Decimal("0.48"), Decimal(10), Decimal(0))]
    assert outcome["usdc"] == START - Decimal("4.80")  # no fee on this market when it was recorded
    assert outcome["shares"] == Decimal(10)
