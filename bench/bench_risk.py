"""Time per pre-trade risk check with every limit and breaker on, over a realistic account.

Run: ``uv run python bench/bench_risk.py [checks]``. "Every limit" includes the VaR limit (its
covariance seeded with ten hours of synthetic 1-minute prices). Prints median / p99 / max in µs (target: p99
under 50 µs), as wall time and as this thread's CPU time (the wall tail on a loaded machine is
mostly time the process waited for a CPU). No assertions: figures only.

The state: 3 venues x 16 spot markets (48 assets' books, quoted in USDT) plus 16 perpetuals on one
venue; balances on every venue; 8 strategies holding dozens of positions (filled market orders)
and several hundred resting limit orders far from the touch, all placed through the engine with the
risk engine attached. Then the clock moves 10 ms per check (so the risk engine re-marks equity and
the account aggregates every 100 checks, as it would in a live session) and each check is a new
limit order of a random strategy on a random market, inside the price band and the limits, so
every check runs to the end (the costliest path). A passed order is taken out of the in-flight book
afterwards (outside the timing) so the state stays the same size.
"""

from __future__ import annotations

import math
import random
import statistics
import sys
from decimal import Decimal
from time import perf_counter_ns, thread_time_ns

from spreadhawk.domain.events import OrderSide, OrderType, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.context import StrategyContext
from spreadhawk.engine.engine import Engine
from spreadhawk.risk.config import RiskLimits
from spreadhawk.risk.denials import DenialCode
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
SEED = 20240601
VENUES = ("ALPHA", "BETA", "GAMMA")
ASSETS = [f"C{n:02d}" for n in range(16)]
STRATEGIES = [f"s{n}" for n in range(8)]
T0 = 1_704_153_600_000_000_000
STEP_NS = 10_000_000


def _instruments() -> list[Instrument]:
    spot = [
        Instrument(v, f"{a}/USDT", InstrumentKind.SPOT, a, "USDT", D("0.01"), D("0.01"), D("0.0002"), D("0.001"))
        for v in VENUES
        for a in ASSETS
    ]
    perps = [
        Instrument("ALPHA", f"{a}-PERP", InstrumentKind.PERPETUAL, a, "USDT", D("0.01"), D(1), contract_size=D("0.01"))
        for a in ASSETS
    ]
    return spot + perps


def _book(inst: Instrument, ts: int, mid_ticks: int) -> BookSnapshot:
    size = inst.units(D(1000))
    bids = tuple((mid_ticks - k, size) for k in range(1, 21))
    asks = tuple((mid_ticks + k, size) for k in range(1, 21))
    return BookSnapshot(inst.id, ts, 1, bids, asks)


def _var_history(risk: RiskEngine, rng: random.Random, minutes: int = 600) -> None:
    """Ten hours of correlated 1-minute prices ending at the books' mids, for the VaR limit's
    covariance (the timed checks then span only seconds of clock)."""
    assert risk.var_limit is not None
    mids = {a: (10_000 + 100 * k) * 0.01 for k, a in enumerate(ASSETS)}
    market = [rng.gauss(0, 0.001) for _ in range(minutes)]
    paths = {a: [m + rng.gauss(0, 0.0007) for m in market] for a in ASSETS}
    for n in range(minutes):
        ts = T0 - (minutes - n) * 60_000_000_000
        back = {a: sum(paths[a][n + 1 :]) for a in ASSETS}  # log distance to the final mid
        risk.var_limit.observe(ts, {a: mids[a] * math.exp(-back[a]) for a in ASSETS})
    risk.var_limit.refresh(T0)


def build_state(rng: random.Random) -> tuple[Engine, RiskEngine, list[Instrument], dict[InstrumentId, int]]:
    instruments = _instruments()
    engine = Engine(instruments, clock=SimClock(T0), valuation_currency="USDT")
    for name in VENUES:
        venue = SimulatedVenue(name, leverage=D(5))
        connect_simulated(engine, venue)
        for asset, amount in [("USDT", D(2_000_000)), *((a, D(50)) for a in ASSETS)]:
            venue.deposit(asset, amount)
    limits = RiskLimits(
        max_order_notional=D(1_000_000),
        max_asset_fraction=D("0.5"),
        max_strategy_fraction=D("0.5"),
        max_deployed_fraction=D("0.9"),
        max_leverage=D(3),
        max_orders_per_second=10_000,
        max_orders_per_minute=100_000,
        max_strategy_orders_per_second=10_000,
        max_strategy_orders_per_minute=100_000,
        max_var_fraction=D("0.05"),  # loose enough that every check runs to the end
    )
    risk = RiskEngine(limits)
    risk.attach(engine)
    engine.use_risk(risk)
    _var_history(risk, rng)
    mids: dict[InstrumentId, int] = {}
    for inst in instruments:
        mids[inst.id] = 10_000 + 100 * ASSETS.index(inst.base)
        engine.process(_book(inst, T0, mids[inst.id]))
    contexts = {s: StrategyContext(engine, s) for s in STRATEGIES}
    for n in range(48):  # dozens of positions: filled market orders
        inst = instruments[n]
        contexts[STRATEGIES[n % 8]].submit(inst.id, OrderSide.BUY, D("0.5"))
    for n in range(16):
        contexts[STRATEGIES[n % 8]].submit(instruments[48 + n].id, OrderSide.SELL, D(20))
    for n in range(400):  # hundreds of open orders resting 10 ticks off the touch
        inst = rng.choice(instruments)
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        price = inst.price(mids[inst.id] - 10 * side.sign)
        qty = D("0.1") if inst.kind is InstrumentKind.SPOT else D(1)
        contexts[STRATEGIES[n % 8]].submit(inst.id, side, qty, price=price)
    return engine, risk, instruments, mids


def main(checks: int) -> None:
    rng = random.Random(SEED)
    engine, risk, instruments, mids = build_state(rng)
    open_orders = sum(1 for o in engine.orders.values() if o.is_open)
    positions = sum(1 for p in engine.portfolio.positions.values() if not p.is_flat)
    times: list[int] = []
    cpu_times: list[int] = []  # this thread's CPU time: what the check costs, whatever else runs
    denied = 0
    now = T0
    for n in range(checks):
        now += STEP_NS
        engine.clock.advance_to(now)
        inst = rng.choice(instruments)
        engine.run_until(now)  # timers due: the risk engine's re-mark (timed apart below)
        engine.process(_book(inst, now, mids[inst.id]))  # live books: the market keeps updating
        side = rng.choice((OrderSide.BUY, OrderSide.SELL))
        qty = D("0.1") if inst.kind is InstrumentKind.SPOT else D(1)
        command = SubmitOrder(
            now,
            ClientOrderId(f"bench-{n}"),
            rng.choice(STRATEGIES),
            inst.id,
            side,
            OrderType.LIMIT,
            qty,
            price=inst.price(mids[inst.id] - 5 * side.sign),
        )
        cpu_started, started = thread_time_ns(), perf_counter_ns()
        reason = risk.check(command, engine)
        times.append(perf_counter_ns() - started)
        cpu_times.append(thread_time_ns() - cpu_started)
        if reason is None:
            risk.book.update(command.client_order_id, D(0), D(0), True, D(1))  # keep the state the same size
        else:
            denied += 1
            risk.denials[DenialCode.of(reason)] += 1
    remarks: list[int] = []
    for n in range(200):
        started = perf_counter_ns()
        risk.marks.remark(now + n, engine, risk.book)
        remarks.append(perf_counter_ns() - started)
    times_us = sorted(t / 1_000 for t in times)
    p99 = times_us[int(len(times_us) * 0.99) - 1]
    cpu_us = sorted(t / 1_000 for t in cpu_times)
    cpu_p99 = cpu_us[int(len(cpu_us) * 0.99) - 1]
    print(
        f"risk check: {checks} checks over {positions} positions, {open_orders} open orders, "
        f"{len(instruments)} instruments, {len(STRATEGIES)} strategies ({denied} denied)"
    )
    print(f"  wall: median {statistics.median(times_us):.1f} µs   p99 {p99:.1f} µs   max {times_us[-1]:.1f} µs")
    print(f"  CPU:  median {statistics.median(cpu_us):.1f} µs   p99 {cpu_p99:.1f} µs   max {cpu_us[-1]:.1f} µs")
    print(f"  denials by reason: {dict(risk.denials) or 'none'}")
    if risk.var_limit is not None:
        print(f"  VaR limit on: the book's 1-day 99 % VaR {risk.var_limit.var:,.0f} USDT (cap 5 % of equity)")
    print(
        f"  re-mark of equity and account aggregates (in the event loop, every {risk.limits.mark_interval_s} s "
        f"of clock and after fills, not on the order's path): median {statistics.median(remarks) / 1_000:.1f} µs"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
