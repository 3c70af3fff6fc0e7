"""A ``PolymarketVenue`` in a real ``Engine``, over real sockets, against the trading emulator.

The emulator's state is driven by real recordings: the SOL 15-minute "Up or Down" market of
2025-12-11 11:00 UTC (``polymarket_series/caiooooo_l2_collector``: WS ``book`` snapshots and
``last_trade_price`` prints of the Up token) and the neg-risk election market of
``nautilus_trader/polymarket`` (CLOB ``/markets`` record). The SOL recorder dropped the token ids and
the condition id: the harness gives them fixed numeric ids (a CLOB token id is a uint256) and wraps
each record back into its wire message (``event_type``, ``asset_id``, ``market``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from spreadhawk.data.readers.polymarket import PolymarketMarket, PolymarketToken, read_polymarket_market
from spreadhawk.domain.events import OrderSide, OrderType, SubmitOrder, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.engine.live import run_live
from spreadhawk.runtime.paper import restore_journal
from spreadhawk.venues.polymarket.venue import PolymarketVenue
from spreadhawk.venues.polymarket_emulator.trading_api import add_trading_routes
from spreadhawk.venues.polymarket_emulator.trading_book import TradingMarket
from spreadhawk.venues.polymarket_emulator.trading_exchange import PolymarketTradingExchange

VENUE = "POLYMARKET"
WALLET_KEY = "0x" + "4c" * 32  # a throwaway test key
SOL_CONDITION = "0x" + "50" * 32
SOL_UP, SOL_DOWN = str(10**70 + 1), str(10**70 + 2)
FEE_BPS = 700  # a crypto up/down market's taker rate (0.07)
START_USDC = Decimal(1000)
SOL_DIR = "polymarket_series/caiooooo_l2_collector/15m/sol"

SOL_MARKET = PolymarketMarket(
    condition_id=SOL_CONDITION,
    question="Solana Up or Down - December 11, 6:00AM-6:15AM ET",
    slug="sol-updown-15m-1765450800",
    neg_risk=False,
    neg_risk_market_id="",
    tokens=(PolymarketToken("Up", SOL_UP), PolymarketToken("Down", SOL_DOWN)),
    tick_size=Decimal("0.01"),
    min_order_size=Decimal(5),
    end_ns=1_765_451_700 * 10**9,
    maker_fee=Decimal(0),
    taker_fee=Decimal("0.07"),
    active=True,
    closed=False,
)


def sol_books(shared_data: Path, side: str = "up") -> list[dict[str, Any]]:
    """The recorded ``book`` messages of the Up (``side="up"``) or Down token."""
    records = json.loads((shared_data / SOL_DIR / f"orderbooks/1765450800{side}.json").read_text())
    token = SOL_UP if side == "up" else SOL_DOWN
    return [
        {"event_type": "book", "asset_id": token, "market": SOL_CONDITION, **{k: r[k] for k in ("bids", "asks")},
         "timestamp": r["timestamp"]}
        for r in records
    ]  # fmt: skip


def sol_book(shared_data: Path, side: str) -> dict[str, Any]:
    return sol_books(shared_data, side)[0]


def sol_prints(shared_data: Path) -> list[dict[str, Any]]:
    records = json.loads((shared_data / SOL_DIR / "trades/1765450800up.json").read_text())
    return [
        {"event_type": "last_trade_price", "asset_id": SOL_UP, "market": SOL_CONDITION, "price": r["price"],
         "size": r["size"], "side": r["side"].upper(), "fee_rate_bps": str(FEE_BPS), "timestamp": r["timestamp"]}
        for r in records
    ]  # fmt: skip


def election_market(shared_data: Path) -> tuple[PolymarketMarket, dict[str, Any]]:
    path = shared_data / "nautilus_trader/polymarket/http_responses/market.json"
    return read_polymarket_market(path), json.loads(path.read_text())


@dataclass
class Live:
    exchange: PolymarketTradingExchange
    engine: Engine
    venue: PolymarketVenue
    seen: list[object] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.venue.address

    def instrument(self, token: str) -> Instrument:
        return next(i for i in self.engine.instruments.values() if i.base == token)

    def submit(self, cid: str, token: str, side: OrderSide, qty: str, price: str,
               tif: TimeInForce = TimeInForce.GTC) -> ClientOrderId:  # fmt: skip
        command = SubmitOrder(self.engine.clock.now_ns(), ClientOrderId(cid), "test", self.instrument(token).id, side,
                              OrderType.LIMIT, Decimal(qty), Decimal(price), tif)  # fmt: skip
        self.engine.submit(command)
        return command.client_order_id

    def status(self, cid: str) -> OrderStatus:
        return self.engine.orders[ClientOrderId(cid)].status

    def events(self, cid: str, kind: type | None = None) -> list[Any]:
        return [
            m for m in self.seen
            if getattr(m, "client_order_id", None) == cid and (kind is None or isinstance(m, kind))
        ]  # fmt: skip

    async def until(self, done: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time

    def ledger(self, asset: str) -> Decimal:
        return self.engine.portfolio.ledger.venue_balances(VENUE).get(asset, Decimal(0))


async def serve(exchange: PolymarketTradingExchange) -> tuple[web.AppRunner, str]:
    app = web.Application()
    add_trading_routes(app, exchange)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"127.0.0.1:{port}"


def exchange_for(shared_data: Path) -> PolymarketTradingExchange:
    exchange = PolymarketTradingExchange()
    exchange.add_market(
        TradingMarket(SOL_CONDITION, {SOL_UP: "Up", SOL_DOWN: "Down"}, Decimal("0.01"), Decimal(5), False, FEE_BPS)
    )
    exchange.add_clob_market(election_market(shared_data)[1])
    return exchange


@asynccontextmanager
async def live(
    shared_data: Path, *, served: tuple[PolymarketTradingExchange, str] | None = None, journal: Path | None = None,
    **venue_options: Any,
) -> AsyncIterator[Live]:  # fmt: skip
    """An engine trading through a ``PolymarketVenue`` on the emulator, the first SOL book replayed.

    ``served``: an emulator already running (exchange, host:port), kept after the session (a restart);
    ``journal``: the engine's journal, resumed from when it exists (as the live node does)."""
    runner = None
    if served is None:
        exchange = exchange_for(shared_data)
        exchange.on_market_message(sol_books(shared_data)[0])
        runner, where = await serve(exchange)
    else:
        exchange, where = served
    markets = [SOL_MARKET, election_market(shared_data)[0]]
    instruments = [i for m in markets for i in m.instruments(VENUE)]
    venue = PolymarketVenue(VENUE, instruments, markets=markets, private_key=WALLET_KEY, host=f"http://{where}",
                            ws_url=f"ws://{where}/ws/user", **venue_options)  # fmt: skip
    if served is None:
        exchange.fund(venue.address, START_USDC)
    engine = Engine(instruments, clock=WallClock())
    if journal is not None:
        restore_journal(engine, journal)
        engine.journal = Journal(journal, durability=Durability.SYNC_INTENTS)
    engine.add_venue(venue)
    harness = Live(exchange, engine, venue)
    stop = asyncio.Event()
    driver: asyncio.Task[None] | None = None
    try:
        await venue.start()
        driver = asyncio.create_task(run_live(engine, [], stop, on_message=harness.seen.append))
        await harness.until(lambda: venue.stream_live, "the user channel live and caught up")
        await harness.until(lambda: VENUE in engine.accounts.opened, "the opening account snapshot")
        yield harness
    finally:
        stop.set()
        try:
            if driver is not None:
                await driver
        finally:
            await venue.close()
            if engine.journal.path is not None:
                engine.journal.close()
            if runner is not None:
                await runner.cleanup()
