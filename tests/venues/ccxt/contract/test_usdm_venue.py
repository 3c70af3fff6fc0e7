"""What ``CcxtVenue`` does only for perpetuals (Binance USD-M on the emulator): positions and margin in
the account snapshot, reduce-only and post-only refusals, realized PnL in the ledger, and funding
payments reported as ``FundingPaid``.

Expected values come from the book the exchange answered, the raw ``markPriceUpdate`` lines of the
capture and the documented rules (fee = notional x rate to 1e-8; realized = closed qty x (exit -
entry); margin = qty x entry / leverage 20; funding = -position x mark x rate to 1e-8).
"""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from contract_harness import TARGETS, live, run

from spreadhawk.domain.accounts import PositionReport
from spreadhawk.domain.events import FundingPaid, OrderFilled, OrderSide, OrderType, RejectCode
from spreadhawk.domain.orders import TERMINAL, OrderStatus
from spreadhawk.venues.emulator import load_capture

pytestmark = pytest.mark.real_data
USDM = next(t for t in TARGETS if t.name == "binance-usdm")
PERP = USDM.instrument
EIGHT = Decimal("1e-8")
START = USDM.start["USDT"]
FUNDING_DAY = ("btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz")


def _fee(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return (price * qty * rate).quantize(EIGHT)


def test_positions_margin_refusals_and_realized_pnl(shared_data: Path) -> None:
    async def scenario() -> None:
        async with live(USDM, shared_data) as lv:
            bids, asks = await lv.book()
            (bid, bid_size), (ask, ask_size) = bids[0], asks[0]
            qty = Decimal("0.01")
            assert ask_size >= qty
            assert bid_size >= qty
            cid = lv.submit("open-1", OrderSide.BUY, OrderType.MARKET, qty)
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the opening fill")

            # read from the exchange's exchangeInfo (the recorded BINANCE_FUTURES.0 answer), never typed in
            assert [(r.kind, r.limit) for r in lv.venue.rate_limits] == [("REQUEST_WEIGHT", 2400), ("ORDERS", 1200),
                                                                         ("ORDERS", 300)]  # fmt: skip
            snapshot = await lv.venue.account_snapshot()
            assert snapshot.positions == (PositionReport(PERP.id, qty, ask),)
            wallet = START - _fee(ask, qty, USDM.taker_fee)
            usdt = snapshot.balance("USDT")
            assert usdt is not None
            assert (usdt.total, usdt.free) == (wallet, wallet - qty * ask / 20)

            taker = lv.submit("po-1", OrderSide.SELL, OrderType.LIMIT, qty, bid, post_only=True)
            await lv.until(lambda: lv.status(taker) is OrderStatus.REJECTED, "the post-only refusal")
            assert lv.engine.orders[taker].reject_code is RejectCode.POST_ONLY

            grow = lv.submit("ro-1", OrderSide.BUY, OrderType.MARKET, qty, reduce_only=True)
            await lv.until(lambda: lv.status(grow) in TERMINAL, "the reduce-only order's end")
            assert lv.status(grow) is OrderStatus.REJECTED  # by the venue (-2022): it would grow the position

            close = lv.submit("ro-2", OrderSide.SELL, OrderType.MARKET, qty, reduce_only=True)
            await lv.until(lambda: lv.status(close) is OrderStatus.FILLED, "the closing fill")
            realized = qty * (bid - ask)
            wallet += realized - _fee(bid, qty, USDM.taker_fee)
            assert lv.ledger() == {"USDT": wallet}
            assert lv.engine.portfolio.position(PERP.id).quantity == 0
            truth = await lv.truth()
            assert Decimal(truth["balances"]["USDT"]["free"]) == wallet
            assert (await lv.venue.account_snapshot()).positions == ()

    run(scenario)


def _recorded_funding(shared_data: Path) -> tuple[int, Decimal, Decimal]:
    """(funding time, rate, mark) the 2023 capture crosses, from its raw lines."""
    updates: list[dict[str, Any]] = []
    for name in FUNDING_DAY:
        with gzip.open(shared_data / "hftbacktest" / "binance_usdm_futures" / name, "rt", encoding="utf-8") as f:
            updates += [d for line in f if (d := json.loads(line.partition(" ")[2]).get("data") or {}).get("e") ==
                        "markPriceUpdate"]  # fmt: skip
    funding_ms = int(updates[0]["T"])
    rate = Decimal([u for u in updates if int(u["E"]) < funding_ms][-1]["r"])
    mark = Decimal([u for u in updates if int(u["E"]) <= funding_ms][-1]["p"])
    return funding_ms, rate, mark


def test_a_funding_payment_is_reported_once_as_funding_paid(shared_data: Path) -> None:
    funding_ms, rate, mark = _recorded_funding(shared_data)
    folder = shared_data / "hftbacktest" / "binance_usdm_futures"
    capture = load_capture(*(folder / name for name in FUNDING_DAY))

    async def scenario() -> None:
        async with live(
            USDM, shared_data, [capture], funding_poll_s=2.0
        ) as lv:  # income costs weight 30: poll like a client that respects it
            qty = Decimal("0.05")
            cid = lv.submit("long-1", OrderSide.BUY, OrderType.MARKET, qty)
            await lv.until(lambda: lv.status(cid) is OrderStatus.FILLED, "the position")
            assert lv.emulator is not None
            lv.emulator.start_replay()
            await lv.until(lambda: any(isinstance(m, FundingPaid) for m in lv.seen), "the funding payment", 60.0)
            await lv.until(lambda: lv.emulator is not None and lv.emulator.replay.finished.is_set(), "the replay", 60)
            paid = [m for m in lv.seen if isinstance(m, FundingPaid)]
            amount = (-qty * mark * rate).quantize(EIGHT)
            assert [(p.instrument_id, p.position, p.mark, p.rate, p.amount, p.currency, p.funding_ts_ns)
                    for p in paid] == [(PERP.id, qty, mark, rate, amount, "USDT", funding_ms * 1_000_000)]  # fmt: skip
            fees = sum((e.fee for e in lv.events(cid) if isinstance(e, OrderFilled)), Decimal(0))
            wallet = START - fees + amount
            assert lv.ledger() == {"USDT": wallet}
            truth = await lv.truth()
            assert Decimal(truth["balances"]["USDT"]["free"]) == wallet
            assert [Decimal(f["income"]) for f in truth["funding"]] == [amount]

    run(scenario, 90.0)
