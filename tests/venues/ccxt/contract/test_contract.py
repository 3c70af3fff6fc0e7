"""The connector contract: the same cases for every exchange ``CcxtVenue`` is configured for.

Binance spot and USD-M run against the emulator; the real exchanges run only with network and
credentials (see ``contract_harness``), and a case that would trade real money or needs fault
injection skips there with the reason. Expected fills, fees and balances are computed here from the
book the exchange answered and the documented rules (taker sweep at the level prices, fee = notional x
rate to 1e-8; a perpetual books fees, not assets), then compared with the engine's ledger and the
emulator's ground truth.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from pathlib import Path

import pytest
from contract_harness import TARGETS, Live, Target, live, run

from spreadhawk.domain.events import (
    CancelOrder,
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderSide,
    OrderStatusUnknown,
    OrderType,
    TimeInForce,
)
from spreadhawk.domain.orders import OrderStatus

pytestmark = pytest.mark.real_data
EIGHT = Decimal("1e-8")
EMULATED = [t for t in TARGETS if t.emulated]
by_name = pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])


def _real_money(target: Target) -> None:
    if not target.emulated:
        pytest.skip(f"{target.name}: this case trades; run it by hand on a test account")


def _sweep(levels: list[tuple[Decimal, Decimal]], qty: Decimal) -> list[tuple[Decimal, Decimal]]:
    fills, left = [], qty
    for price, size in levels:
        take = min(size, left)
        fills.append((price, take))
        left -= take
        if not left:
            return fills
    raise AssertionError("book too thin for the case")


def _expected_ledger(
    lv: Live, fills: list[tuple[Decimal, Decimal]], side: OrderSide, fee_rate: Decimal
) -> dict[str, Decimal]:
    """The balances after ``fills`` from the target's start, by the documented rules."""
    target, inst = lv.target, lv.instrument
    fee = sum(((p * q * fee_rate).quantize(EIGHT) for p, q in fills), Decimal(0))
    balances = dict(target.start)
    if target.perpetual:  # opening a position moves no asset: only the fee leaves the wallet
        balances[inst.quote] -= fee
        return balances
    sign = 1 if side is OrderSide.BUY else -1
    balances[inst.base] += sign * sum((q for _, q in fills), Decimal(0))
    balances[inst.quote] -= sign * sum((p * q for p, q in fills), Decimal(0)) + fee
    return balances


def _truth_totals(truth: dict[str, object]) -> dict[str, Decimal]:
    held = truth["balances"]
    assert isinstance(held, dict)
    totals = {a: Decimal(b["free"]) + Decimal(b["locked"]) for a, b in held.items()}
    return {a: v for a, v in totals.items() if v}


@by_name
def test_create_fills_and_books_the_fill_once(target: Target, shared_data: Path) -> None:
    _real_money(target)

    async def scenario() -> None:
        async with live(target, shared_data) as lv:
            _, asks = await lv.book()
            cid = lv.submit("c-create", OrderSide.BUY, OrderType.MARKET, "0.01")
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the fill")
            fills = _sweep(asks, Decimal("0.01"))
            reported = [e for e in lv.events(cid) if isinstance(e, OrderFilled)]
            assert [(f.price, f.quantity) for f in reported] == fills
            assert [f.fee for f in reported] == [(p * q * target.taker_fee).quantize(EIGHT) for p, q in fills]
            expected = _expected_ledger(lv, fills, OrderSide.BUY, target.taker_fee)
            assert lv.ledger() == expected
            assert _truth_totals(await lv.truth()) == expected
            if target.perpetual:
                position = lv.engine.portfolio.position(lv.instrument.id)
                average = sum((p * q for p, q in fills), Decimal(0)) / Decimal("0.01")
                assert (position.quantity, position.avg_price) == (Decimal("0.01"), average)

    run(scenario)


@by_name
def test_a_resting_order_is_listed_and_canceled(target: Target, shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(target, shared_data) as lv:
            bids, _ = await lv.book()
            tick = lv.instrument.tick_size
            price = (bids[0][0] * Decimal("0.8") / tick).to_integral_value() * tick  # far below: never fills
            rules = lv.venue.market_rules[lv.instrument.symbol]
            step = rules.step or lv.instrument.lot_size
            # the exchange's minimum (read from its markets) and our instrument's, whichever is stricter
            least = max(rules.min_notional or Decimal(0), lv.instrument.min_notional) * Decimal("1.2") / price
            qty = max(step, (least / step).to_integral_value(ROUND_UP) * step)
            cid = lv.submit("c-cancel", OrderSide.BUY, OrderType.LIMIT, qty, price)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the order accepted")
            assert [(r.client_order_id, r.price, r.is_open) for r in await lv.venue.open_orders()] == [
                (cid, price, True)
            ]
            lv.engine.cancel(CancelOrder(lv.engine.clock.now_ns(), cid, lv.instrument.id, "test"))
            await lv.until(lambda: lv.status(cid) is OrderStatus.CANCELED, "the cancel")
            assert await lv.venue.open_orders() == []
            assert [type(e) for e in lv.events(cid)][-3:] == [OrderAccepted, OrderPendingCancel, OrderCanceled]

    run(scenario)


@by_name
def test_an_ioc_larger_than_the_best_level_fills_partly_then_expires(target: Target, shared_data: Path) -> None:
    _real_money(target)

    async def scenario() -> None:
        async with live(target, shared_data) as lv:
            _, asks = await lv.book()
            (ask, level), step = asks[0], lv.instrument.lot_size
            cid = lv.submit("c-ioc", OrderSide.BUY, OrderType.LIMIT, level + step, ask, time_in_force=TimeInForce.IOC)
            await lv.until(lambda: lv.status(cid) is OrderStatus.EXPIRED, "the remainder expired")
            assert lv.engine.orders[cid].filled_quantity == level
            kinds = [type(e) for e in lv.events(cid)]
            assert kinds[-1] is OrderExpired
            assert kinds.count(OrderFilled) == 1
            assert lv.ledger() == _expected_ledger(lv, [(ask, level)], OrderSide.BUY, target.taker_fee)

    run(scenario)


@by_name
@pytest.mark.parametrize("fault", ["commit_then_drop_response", "commit_then_503_unknown", "-1007"])
def test_a_lost_answer_is_resolved_by_client_id_without_a_resend(target: Target, fault: str, shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(target, shared_data) as lv:
            await lv.fault(kind=fault)  # the order is committed, its answer lost / unknown
            bids, _ = await lv.book()
            cid = lv.submit("c-lost", OrderSide.BUY, OrderType.LIMIT, "0.01", bids[0][0] - 100)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the look-up")
            kinds = [type(e) for e in lv.events(cid)]
            assert kinds.index(OrderStatusUnknown) < kinds.index(OrderAccepted)
            truth = await lv.truth()
            assert [o["clientOrderId"] for o in truth["orders"]] == ["c-lost"]  # exactly one: never re-sent

    run(scenario)


@by_name
def test_a_resting_order_filled_by_the_market_is_reported_from_the_user_stream(
    target: Target, shared_data: Path
) -> None:
    async def scenario() -> None:
        async with live(target, shared_data) as lv:
            emulator = lv.emulator_only("moving the market")
            bids, _ = await lv.book()
            bid = bids[0][0]
            cid = lv.submit("c-stream", OrderSide.BUY, OrderType.LIMIT, "0.002", bid)
            await lv.until(lambda: lv.status(cid) is OrderStatus.ACCEPTED, "the resting order")
            emulator.start_replay()
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the stream fill", 10.0)
            assert lv.venue.fills_by_source == {"answer": 0, "stream": 1, "catch_up": 0}
            [fill] = [e for e in lv.events(cid) if isinstance(e, OrderFilled)]
            assert (fill.price, fill.quantity, fill.liquidity) == (bid, Decimal("0.002"), Liquidity.MAKER)
            expected = _expected_ledger(lv, [(bid, Decimal("0.002"))], OrderSide.BUY, target.maker_fee)
            assert lv.ledger() == expected
            assert _truth_totals(await lv.truth()) == expected

    run(scenario)
