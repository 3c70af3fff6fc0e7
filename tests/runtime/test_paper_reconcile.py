"""Reconciliation when a paper node restarts on a journal a crash cut short.

* An order whose intent reached the journal but whose outcome did not (the process died between
  the two) is looked up at the venue; the venue does not know it, so it never arrived: recorded as
  rejected, and trading resumes.
* An order the journal says the venue accepted, but which the venue does not hold, cannot be
  explained: the node refuses to trade, prints every difference, and stores the session as failed.
* A resting order the venue holds again after the restart reconciles cleanly.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance
from spreadhawk.domain.events import OrderAccepted, OrderSide, OrderSubmitted, OrderType, SubmitOrder, TimeInForce
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.persistence import RunStore
from spreadhawk.persistence.run_store import RunStatus
from spreadhawk.runtime.config import RunConfig, load_config
from spreadhawk.runtime.paper import NotReconciledError, build_paper
from spreadhawk.runtime.paper_service import PaperService
from spreadhawk.runtime.services import database_url
from spreadhawk.venues.recorded import RecordedFeed

IID = InstrumentId("BINANCE:BTC/USDT")
D = Decimal
CONFIG = """
[run]
valuation_currency = "USDT"

[[instruments]]
preset = "binance_spot_btcusdt"

[[data]]
format = "synthetic_two_venue"

[venues.BINANCE]
balances = { USDT = "10000" }

[strategy]
path = "spreadhawk.strategy.library.book_probe:BookProbe"
params = { instrument_id = "BINANCE:BTC/USDT" }
"""


def _config(tmp_path: Path) -> RunConfig:
    path = tmp_path / "paper.toml"
    path.write_text(CONFIG)
    return load_config(path)


def _order(n: int, order_type: OrderType, price: str | None) -> SubmitOrder:
    return SubmitOrder(
        ts_ns=10 + n,
        client_order_id=ClientOrderId(f"a.BookProbe-{n}"),
        strategy_id="BookProbe",
        instrument_id=IID,
        side=OrderSide.BUY,
        order_type=order_type,
        quantity=D("0.01"),
        price=None if price is None else D(price),
        time_in_force=TimeInForce.GTC,
    )


def _journal(path: Path, *records: object) -> None:
    opening = AccountSnapshot(1, "BINANCE", (AssetBalance("USDT", D(10_000), D(10_000)),))
    with Journal(path, durability=Durability.SYNC_INTENTS) as journal:
        for record in (opening, *records):
            journal.append(record)


def _node_feeds(config: RunConfig, instruments: object) -> list[RecordedFeed]:
    return [RecordedFeed([])]


def test_an_order_that_never_reached_the_venue_is_recorded_rejected_and_trading_resumes(tmp_path: Path) -> None:
    journal = tmp_path / "paper.journal"
    resting = _order(1, OrderType.LIMIT, "50000")
    lost = _order(2, OrderType.MARKET, None)
    _journal(
        journal,
        resting, OrderSubmitted(11, resting.client_order_id), OrderAccepted(12, resting.client_order_id, "v-1"),
        lost, OrderSubmitted(13, lost.client_order_id),  # the process died before the venue's answer
    )  # fmt: skip
    node = build_paper(_config(tmp_path), journal, _node_feeds)
    asyncio.run(node.reconcile())
    assert node.differences == []
    assert len(node.explained) == 1
    assert "a.BookProbe-2" in node.explained[0]
    assert node.engine.orders[lost.client_order_id].status is OrderStatus.REJECTED
    # the resting order is working at the venue again, its funds locked there
    assert node.engine.orders[resting.client_order_id].status is OrderStatus.ACCEPTED
    assert node.venues["BINANCE"].free_balance("USDT") == D(10_000) - D("0.01") * 50_000 * (1 + D("0.001"))
    assert node.engine.order_ids.next("BookProbe").endswith("BookProbe-3")
    node.engine.journal.close()


def test_an_accepted_order_the_venue_does_not_hold_stops_the_node_and_is_stored(tmp_path: Path) -> None:
    journal = tmp_path / "paper.journal"
    market = _order(1, OrderType.MARKET, None)  # accepted, then the process died before its fills were journaled
    _journal(
        journal, market, OrderSubmitted(11, market.client_order_id), OrderAccepted(12, market.client_order_id, "v")
    )
    node = build_paper(_config(tmp_path), journal, _node_feeds)
    with pytest.raises(NotReconciledError, match=r"a\.BookProbe-1"):
        asyncio.run(node.reconcile())
    node.engine.journal.close()

    store = RunStore(database_url(tmp_path / "runs.db"))
    try:
        outcome = PaperService(store).run(
            _config(tmp_path),
            journal,
            _node_feeds,
            lambda stop: stop.set(),
        )
        assert outcome.differences
        assert "accepted in the engine but not open at the venue" in outcome.differences[0]
        assert outcome.run_id is not None
        stored = store.get_run(outcome.run_id)
        assert stored is not None
        assert stored.status is RunStatus.FAILED
        assert stored.config["result"]["reconciliation"]["differences"] == outcome.differences
    finally:
        store.close()
