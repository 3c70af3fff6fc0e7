"""Rate limits, IP bans and clock skew (RELIABILITY.md §4.2 scenarios 12, 13, 19) against the emulator.

Real ccxt clients (``GuardedBinance``, as ``CcxtVenue`` builds it) over real sockets; the emulator
enforces Binance's limits itself and logs when each REST request arrived and was answered, which is
what the assertions read. Limiter state lives in the test's own directory.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ccxt.base.errors import ExchangeNotAvailable, InsufficientFunds, InvalidNonce

from spreadhawk.data.readers.instruments import binance_spot_btcusdt
from spreadhawk.domain.events import OrderSide, OrderStatusUnknown, OrderType, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.live import run_live
from spreadhawk.risk.breakers import Mode
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.venues.ccxt.breaker import CircuitOpenError
from spreadhawk.venues.ccxt.client import GuardConfig, GuardedBinance
from spreadhawk.venues.ccxt.limiter import RateLimitRefusedError
from spreadhawk.venues.ccxt.urls import local_urls
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.emulator import BinanceEmulator, Market, RateLimitConfig
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig

pytestmark = pytest.mark.real_data

KEY, SECRET = "emulator-key", "emulator-secret"
INSTRUMENT = binance_spot_btcusdt()
VENUE = INSTRUMENT.venue
WORKER = Path(__file__).with_name("limits_worker.py")


def run(coro_fn: Callable[[], Awaitable[None]], timeout_s: float = 30.0) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), timeout_s)

    asyncio.run(bounded())


def wall_ms() -> int:
    return int(time.time() * 1000)  # noqa: TID251 -- the machine's wall clock, as ccxt's own


@asynccontextmanager
async def emulator(shared_data: Path, limits: RateLimitConfig | None = None) -> AsyncIterator[BinanceEmulator]:
    trading = TradingConfig((ApiKey(KEY, SECRET),), {"USDT": "1000000", "BTC": "5"})
    emu = BinanceEmulator.from_data_dir(
        shared_data, Market.SPOT, ["BTCUSDT"], speed=0, autostart=False, trading=trading, rate_limits=limits
    )
    async with emu:
        yield emu


def client(emu: BinanceEmulator, state_dir: Path, **guards: Any) -> GuardedBinance:
    settings = {
        "apiKey": KEY,
        "secret": SECRET,
        "enableRateLimit": False,
        "urls": local_urls("binance", emu.http_url),
        "options": {
            "defaultType": "spot",
            "fetchMarkets": {"types": ["spot"]},
            "fetchCurrencies": False,
            "fetchMargins": False,
        },
    }
    return GuardedBinance(settings, GuardConfig(state_dir=state_dir, **guards), VENUE)


def log(emu: BinanceEmulator) -> list[tuple[float, float, str, str, int]]:
    assert emu.rate_limiter is not None
    return list(emu.rate_limiter.log)


async def fault(emu: BinanceEmulator, **spec: Any) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emu.http_url}/emulator/order_fault", json=spec) as answer,
    ):
        assert answer.status == 200


# --------------------------------------------------------------------------- scenario 12
def test_after_a_429_nothing_goes_out_before_retry_after_and_the_exchange_count_is_tracked(
    shared_data: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with emulator(shared_data) as emu:
            ex = client(emu, tmp_path)
            try:
                await ex.publicGetExchangeInfo()
                limiter = ex.limiter(f"127.0.0.1:{emu.port}")
                assert limiter.limits[0].limit == 1200  # REQUEST_WEIGHT per minute, as recorded
                assert limiter.used() == {60: 21}  # time sync 1 + exchangeInfo 20

                # Someone else on this IP spends weight: the next answer's header corrects our count.
                async with aiohttp.ClientSession() as http:
                    for _ in range(3):
                        async with http.get(f"{emu.http_url}/api/v3/depth", params={"symbol": "BTCUSDT"}) as r:
                            assert r.headers["X-MBX-USED-WEIGHT-1M"]
                await ex.fetch_time()
                assert limiter.used() == {60: 21 + 15 + 1}

                # A 429 on an order: a definite refusal (nothing committed, never looked up).
                await fault(emu, kind="429", retry_after=2)
                with pytest.raises(RateLimitRefusedError, match="429"):
                    await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000, {"newClientOrderId": "r-429"})
                refused_at = log(emu)[-1]
                assert refused_at[4] == 429
                await ex.fetch_balance()  # held until Retry-After has elapsed
                after = [entry for entry in log(emu) if entry[0] > refused_at[0]]
                assert after[0][0] - refused_at[1] >= 2.0
                assert [e[4] for e in after] == [200]
                async with aiohttp.ClientSession() as http, http.get(f"{emu.http_url}/emulator/truth") as r:
                    assert (await r.json())["orders"] == []
                assert emu.rate_limiter is not None
                assert emu.rate_limiter.answered[418] == 0
            finally:
                await ex.close()

    run(scenario)


async def _two_processes(emu: BinanceEmulator, dirs: tuple[Path, Path], requests: int) -> list[dict[str, int]]:
    """Two worker processes, let go together once both are ready; how their requests ended."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(WORKER),
            emu.http_url,
            str(directory),
            str(requests),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for directory in dirs
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"ready"
    for proc in procs:  # both go before either is waited for
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]


# 60 weight per 10 s: each process spends 1 (time sync) + 20 (exchangeInfo) + 24 = 45, two spend 90.
LOW = RateLimitConfig(weight=60, weight_interval_s=10, ban_s=3)


def test_two_processes_sharing_the_host_limiter_stay_under_the_limit(shared_data: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with emulator(shared_data, LOW) as emu:
            results = await _two_processes(emu, (tmp_path, tmp_path), 24)
            print("shared limiter:", results, emu.rate_limiter and emu.rate_limiter.answered)
            assert emu.rate_limiter is not None
            assert (emu.rate_limiter.answered[429], emu.rate_limiter.answered[418]) == (0, 0)
            assert results == [{"ok": 24}, {"ok": 24}]
            # ... because the second window's requests waited for it: never over 60 in any 10 s.
            arrivals = sorted(entry[0] for entry in log(emu))
            assert arrivals[-1] - arrivals[0] >= 10.0 - 0.5

    run(scenario, 180.0)


def test_two_processes_each_with_its_own_limiter_are_refused_by_the_exchange(shared_data: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with emulator(shared_data, LOW) as emu:
            results = await _two_processes(emu, (tmp_path / "a", tmp_path / "b"), 24)
            print("private limiters:", results, emu.rate_limiter and emu.rate_limiter.answered)
            assert emu.rate_limiter is not None
            assert emu.rate_limiter.answered[429] > 0  # what the shared limiter prevents
            assert sum(r.get("429", 0) + r.get("418", 0) for r in results) > 0

    run(scenario, 180.0)


# --------------------------------------------------------------------------- scenario 13
def test_a_418_stops_rest_halts_the_venue_and_one_probe_goes_after_retry_after(
    shared_data: Path, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with emulator(shared_data) as emu:
            engine = Engine([INSTRUMENT], clock=WallClock())
            risk = RiskEngine()
            risk.attach(engine)
            engine.use_risk(risk)
            guards = GuardConfig(state_dir=tmp_path, on_mode=risk.impose_venue_mode, max_wait_s=1.0)
            urls = local_urls("binance", emu.http_url)
            # The user stream retries its REST catch-up only after 5 s: the probes below are ours.
            venue = CcxtVenue(VENUE, "binance", [INSTRUMENT], api_key=KEY, api_secret=SECRET, urls=urls, guards=guards,
                              backoff_initial_s=5.0, backoff_max_s=5.0)  # fmt: skip
            engine.add_venue(venue)
            seen: list[object] = []
            stop = asyncio.Event()
            await venue.start()
            driver = asyncio.create_task(run_live(engine, [], stop, on_message=seen.append))
            try:
                await fault(emu, kind="418", retry_after=2, count=2)  # the ban, and the first probe's answer
                # Our call, or the user stream's REST catch-up if it comes first, gets the 418.
                with pytest.raises(RateLimitRefusedError):
                    await venue.account_snapshot()
                banned = next(entry for entry in log(emu) if entry[4] == 418)
                mode, why = risk.mode(VENUE)
                assert mode is Mode.HALTED
                assert "IP banned (418)" in why

                # The risk engine refuses a new order; REST calls are refused locally, none is sent.
                command = SubmitOrder(engine.clock.now_ns(), ClientOrderId("b-1"), "test", INSTRUMENT.id,
                                      OrderSide.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(20000))  # fmt: skip
                order = engine.submit(command)
                assert order.status is OrderStatus.DENIED
                assert "IP banned (418)" in order.reason
                for _ in range(3):
                    with pytest.raises(RateLimitRefusedError, match="Retry-After / IP ban"):
                        await venue.open_orders()
                assert log(emu)[-1] == banned

                # After Retry-After: one probe; the others wait for its answer. It is banned again: the
                # others are refused without being sent (they may wait 1 s, the new ban lasts 2 s).
                loop = asyncio.get_running_loop()
                await asyncio.sleep(banned[1] + 2.0 - loop.time() + 0.05)  # noqa: TID251 -- real time
                first = await asyncio.gather(*(venue.open_orders() for _ in range(3)), return_exceptions=True)
                assert all(isinstance(r, RateLimitRefusedError) for r in first)
                probes = [entry for entry in log(emu) if entry[0] > banned[0]]
                assert [e[4] for e in probes] == [418]  # one request reached the host, not three
                assert probes[0][0] - banned[1] >= 2.0  # nothing before Retry-After
                assert risk.mode(VENUE)[0] is Mode.HALTED

                # The second ban over: the probe is answered, the ban ends, the others follow it.
                await asyncio.sleep(probes[0][1] + 2.0 - loop.time() + 0.05)  # noqa: TID251 -- real time
                assert await asyncio.gather(*(venue.open_orders() for _ in range(3))) == [[], [], []]
                after = [entry for entry in log(emu) if entry[0] > probes[0][0]]
                assert len(after) >= 3  # ours (and the user stream's catch-up, if it is due)
                assert after[0][0] - probes[0][1] >= 2.0
                assert min(e[0] for e in after[1:]) >= after[0][1]  # the rest went after the probe's answer
                assert {e[4] for e in after} == {200}
                assert risk.mode(VENUE)[0] is Mode.FULL
                assert emu.rate_limiter is not None
                assert emu.rate_limiter.answered[418] == 2

                # A 429 on a submit is a definite refusal: rejected at once, never UNKNOWN, never looked up.
                await fault(emu, kind="429", retry_after=0)
                command = SubmitOrder(engine.clock.now_ns(), ClientOrderId("r-1"), "test", INSTRUMENT.id,
                                      OrderSide.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal(20000))  # fmt: skip
                engine.submit(command)
                for _ in range(200):
                    if engine.orders[command.client_order_id].status is not OrderStatus.SUBMITTED:
                        break
                    await asyncio.sleep(0.01)  # noqa: TID251 -- a real server, in real time
                assert engine.orders[command.client_order_id].status is OrderStatus.REJECTED
                assert not any(getattr(m, "client_order_id", None) == "r-1" and isinstance(m, OrderStatusUnknown)
                               for m in seen)  # fmt: skip
            finally:
                stop.set()
                await driver
                await venue.close()

    run(scenario)


# --------------------------------------------------------------------------- scenario 19
def test_clock_skew_is_synced_away_and_a_1021_costs_one_resync_and_one_retry(shared_data: Path, tmp_path: Path) -> None:
    skew = [2000]  # this machine's clock, ms ahead of the exchange's

    async def scenario() -> None:
        async with emulator(shared_data) as emu:
            ex = client(emu, tmp_path, wall_ms=lambda: wall_ms() + skew[0])
            try:
                await ex.fetch_balance()  # 2 s ahead: Binance refuses stamps > 1 s ahead, unless synced
                assert (ex.time_syncs, ex.nonce_retries) == (1, 0)
                assert abs(int(ex.options["timeDifference"]) - 2000) < 250

                skew[0] = 5000  # the clock steps 3 s ahead after the sync: the next stamp is refused
                await ex.fetch_balance()
                assert (ex.time_syncs, ex.nonce_retries) == (2, 1)
                paths = [(e[3], e[4]) for e in log(emu)]
                assert paths[-3:] == [("/api/v3/account", 400), ("/api/v3/time", 200), ("/api/v3/account", 200)]

                # The exchange keeps answering -1021: one re-sync, one retry, then the error; no loop.
                await fault(emu, kind="-1021", count=2)
                before = len(log(emu))
                with pytest.raises(InvalidNonce):
                    await ex.fetch_balance()
                assert [(e[3], e[4]) for e in log(emu)[before:]] == [
                    ("/api/v3/account", 400),
                    ("/api/v3/time", 200),
                    ("/api/v3/account", 400),
                ]

                await ex.fetch_balance()  # the fault is spent: signed requests pass again, no new sync
                assert (ex.time_syncs, ex.nonce_retries) == (3, 2)

                behind = client(emu, tmp_path, wall_ms=lambda: wall_ms() - 2000)  # 2 s behind
                try:
                    await behind.fetch_balance()
                    assert abs(int(behind.options["timeDifference"]) + 2000) < 250
                    assert (behind.time_syncs, behind.nonce_retries) == (1, 0)
                finally:
                    await behind.close()
            finally:
                await ex.close()

    run(scenario)


def test_an_order_refused_for_its_timestamp_is_retried_once_and_placed_once(shared_data: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with emulator(shared_data) as emu:
            ex = client(emu, tmp_path)
            try:
                await ex.load_markets()
                await fault(emu, kind="-1021")
                order = await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000, {"newClientOrderId": "t-1"})
                assert order["clientOrderId"] == "t-1"
                assert ex.nonce_retries == 1
                async with aiohttp.ClientSession() as http, http.get(f"{emu.http_url}/emulator/truth") as r:
                    assert [o["clientOrderId"] for o in (await r.json())["orders"]] == ["t-1"]
                posts = [e[4] for e in log(emu) if e[2:4] == ("POST", "/api/v3/order")]
                assert posts == [400, 200]
            finally:
                await ex.close()

    run(scenario)


# --------------------------------------------------------------------------- breaker through the emulator
def test_the_breaker_opens_on_5xx_not_on_refusals_and_closes_after_three_trials(
    shared_data: Path, tmp_path: Path
) -> None:
    modes: list[tuple[Mode, str]] = []

    async def scenario() -> None:
        async with emulator(shared_data) as emu:
            ex = client(emu, tmp_path, open_s=1.0, on_mode=lambda venue, mode, why: modes.append((mode, why)))
            try:
                await ex.load_markets()
                for n in range(6):  # -2010 insufficient balance: answers, not failures
                    with pytest.raises(InsufficientFunds):
                        await ex.create_order("BTC/USDT", "market", "sell", 100, None, {"newClientOrderId": f"big-{n}"})
                assert ex.breaker.state == "closed"

                await fault(emu, kind="commit_then_503_unknown", count=5)
                for n in range(5):
                    with pytest.raises(ExchangeNotAvailable):
                        await ex.create_order("BTC/USDT", "limit", "buy", 0.01, 20000, {"newClientOrderId": f"u-{n}"})
                assert ex.breaker.state == "open"
                sent = len(log(emu))
                with pytest.raises(CircuitOpenError, match="circuit open"):
                    await ex.fetch_balance()
                assert len(log(emu)) == sent  # refused locally
                await asyncio.sleep(1.05)  # noqa: TID251 -- open_s, in real time
                for _ in range(3):
                    await ex.fetch_time()
                assert ex.breaker.state == "closed"
                assert [m for m, _ in modes] == [Mode.HALTED, Mode.HEDGE_ONLY, Mode.FULL]
            finally:
                await ex.close()

    run(scenario)
