"""RunStore: exact round trips, ordering, atomicity; SQLite in tmp_path, PostgreSQL when reachable."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from sqlalchemy import create_engine, text

from spreadhawk.domain.events import (
    Liquidity,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderSide,
    OrderSubmitted,
    OrderType,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.persistence import RunExistsError, RunRecord, RunStatus, RunStore, make_run_id

TINY = Decimal("0.000000012345678901")
PEPE = InstrumentId("BINANCE:PEPE/USDT")
BTC = InstrumentId("BINANCE:BTC/USDT")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# --------------------------------------------------------------------------- fixtures
def fill(cid: str, trade_id: str, qty: str, price: Decimal, *, leaves: Decimal | None = None) -> OrderFilled:
    return OrderFilled(
        ts_ns=1_700_000_000_123_456_789,
        client_order_id=ClientOrderId(cid),
        venue_order_id=f"v-{cid}",
        trade_id=trade_id,
        instrument_id=PEPE,
        side=OrderSide.BUY,
        quantity=Decimal(qty),
        price=price,
        fee=Decimal("0.00075000"),
        fee_currency="USDT",
        liquidity=Liquidity.MAKER,
        leaves_quantity=leaves,
    )


def submitted(cid: str, **kwargs: Any) -> Order:
    cmd = SubmitOrder(
        ts_ns=1_700_000_000_000_000_001,
        client_order_id=ClientOrderId(cid),
        strategy_id="arb-1",
        instrument_id=PEPE,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=Decimal("1000000.00"),
        price=TINY,
        **kwargs,
    )
    return Order.from_command(cmd).apply(OrderSubmitted(cmd.ts_ns, cmd.client_order_id))


def make_record(run_id: str = "abc123-7-0", created_ns: int = 1_700_000_000_000_000_000) -> RunRecord:
    f1 = fill("o1", "t1", "400000.00", TINY)
    f2 = fill("o1", "t2", "0.1E+3", Decimal("0.000000012345678902"))
    partial = submitted("o1", post_only=True).apply(OrderAccepted(2, ClientOrderId("o1"), "v-o1")).apply(f1).apply(f2)
    canceled = submitted("o2", time_in_force=TimeInForce.IOC).apply(
        OrderCanceled(3, ClientOrderId("o2"), "ioc remainder")
    )
    quote = Order.from_command(
        SubmitOrder(
            ts_ns=5,
            client_order_id=ClientOrderId("o3"),
            strategy_id="arb-1",
            instrument_id=BTC,
            side=OrderSide.SELL,
            order_type=OrderType.MARKET,
            quantity=Decimal(0),
            quote_quantity=Decimal("250.5"),
            reduce_only=True,
        )
    )
    return RunRecord(
        run_id=run_id,
        created_ns=created_ns,
        strategy="spreadhawk.strategy.examples.spread:SpreadStrategy",
        config={"venues": ["binance", "kraken"], "threshold": "0.0015", "nested": {"n": 3, "ok": True}},
        config_hash="abc123",
        seed=7,
        metrics={"sharpe": 1.2345678901234567, "profit_factor": None, "trades": 12, "cagr": -0.5},
        orders=(partial, canceled, quote),
        fills=(f1, f2, fill("o9", "t1", "1", Decimal("65000.12"), leaves=Decimal("-0"))),
        equity=(
            (1_700_000_000_000_000_000, Decimal("10000.000000000000000001")),
            (1_700_000_060_000_000_000, Decimal("1E+4")),
            (1_700_000_120_000_000_000, Decimal("9999.99000")),
            (1_700_000_120_000_000_001, Decimal("-0")),
        ),
        events_processed=123_456,
        wall_seconds=0.1 + 0.2,  # a float with a long repr
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "spreadhawk.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[RunStore]:
    with RunStore(f"sqlite:///{db_path}") as s:
        yield s


def exact(value: object) -> object:
    """A structure whose equality is exact: Decimals by their string form (1E+2 != 100), sets sorted."""
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [(f.name, exact(getattr(value, f.name))) for f in dataclasses.fields(value)])
    if isinstance(value, tuple | list):
        return [exact(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    return (type(value).__name__, value)


def row_counts(db_path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "orders", "fills", "equity")
        }


# --------------------------------------------------------------------------- round trip
def test_round_trip_is_exact(store: RunStore) -> None:
    record = make_record()
    store.save_run(record)
    loaded = store.get_run(record.run_id)
    assert loaded == record
    assert exact(loaded) == exact(record)
    assert loaded is not None
    assert loaded.orders[0].price == TINY
    assert str(loaded.orders[0].price) == str(TINY) == "1.2345678901E-8"  # same digits, same exponent
    assert loaded.orders[0].status is OrderStatus.PARTIALLY_FILLED
    assert loaded.orders[0].trade_ids == frozenset({"t1", "t2"})
    assert loaded.orders[0].avg_price == record.orders[0].avg_price
    assert str(loaded.equity[1][1]) == "1E+4"
    assert str(loaded.equity[3][1]) == "-0"


def test_stored_decimals_are_text(store: RunStore, db_path: Path) -> None:
    store.save_run(make_record())
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        price, avg = conn.execute("SELECT price, avg_price FROM orders WHERE client_order_id = 'o1'").fetchone()
    assert price == "1.2345678901E-8"
    assert Decimal(avg) == make_record().orders[0].avg_price


def test_empty_run(store: RunStore) -> None:
    record = replace(make_record(), orders=(), fills=(), equity=(), metrics={}, config={})
    store.save_run(record)
    assert store.get_run(record.run_id) == record


def test_missing_run_is_none(store: RunStore) -> None:
    assert store.get_run("nope") is None


def test_reopening_the_file_keeps_the_runs(db_path: Path) -> None:
    with RunStore(f"sqlite:///{db_path}") as first:
        first.save_run(make_record())
    with RunStore(f"sqlite:///{db_path}") as second:  # create_all leaves existing tables alone
        assert exact(second.get_run("abc123-7-0")) == exact(make_record())


# --------------------------------------------------------------------------- listing
def test_list_runs_newest_first(store: RunStore) -> None:
    for run_id, created in (("b", 3), ("a", 1), ("c", 2), ("d", 3)):
        store.save_run(make_record(run_id, created_ns=created))
    assert [s.run_id for s in store.list_runs()] == ["d", "b", "c", "a"]  # ties: run_id descending
    assert [s.run_id for s in store.list_runs(limit=2)] == ["d", "b"]
    assert store.list_runs(limit=0) == []


def test_summary_fields(store: RunStore) -> None:
    record = replace(make_record(), status=RunStatus.STOPPED)
    store.save_run(record)
    (summary,) = store.list_runs()
    assert summary.run_id == record.run_id
    assert summary.created_ns == record.created_ns
    assert summary.strategy == record.strategy
    assert (summary.config_hash, summary.seed) == ("abc123", 7)
    assert summary.status is RunStatus.STOPPED
    assert summary.metrics == record.metrics
    assert (summary.events_processed, summary.wall_seconds) == (123_456, 0.1 + 0.2)


# --------------------------------------------------------------------------- atomicity
def test_duplicate_run_id_leaves_the_stored_run_unchanged(store: RunStore, db_path: Path) -> None:
    store.save_run(make_record())
    before = row_counts(db_path)
    with pytest.raises(RunExistsError):
        store.save_run(replace(make_record(), seed=99, orders=(), equity=()))
    assert row_counts(db_path) == before
    assert exact(store.get_run("abc123-7-0")) == exact(make_record())


def _duplicate_order_id(r: RunRecord) -> RunRecord:
    return replace(r, orders=(*r.orders, r.orders[0]))  # the orders insert fails after the run row


def _float_equity(r: RunRecord) -> RunRecord:
    # The last insert fails, after the run, its orders and its fills were written.
    return replace(r, equity=((*r.equity, (2_000_000_000_000_000_000, 1.5))))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("corrupt", "error"),
    [(_duplicate_order_id, sqlalchemy.exc.IntegrityError), (_float_equity, sqlalchemy.exc.StatementError)],
)
def test_failure_midway_leaves_nothing(store: RunStore, db_path: Path, corrupt: Any, error: type[Exception]) -> None:
    store.save_run(make_record("first"))
    before = row_counts(db_path)
    with pytest.raises(error):
        store.save_run(corrupt(make_record("second")))
    assert row_counts(db_path) == before
    assert store.get_run("second") is None
    assert [s.run_id for s in store.list_runs()] == ["first"]
    store.save_run(make_record("second"))  # the failed attempt left nothing in the way
    assert store.get_run("second") == make_record("second")


def test_nan_metric_is_refused_before_writing(store: RunStore, db_path: Path) -> None:
    with pytest.raises(ValueError, match="JSON"):
        store.save_run(replace(make_record(), metrics={"sharpe": float("nan")}))
    assert row_counts(db_path) == {"runs": 0, "orders": 0, "fills": 0, "equity": 0}


# --------------------------------------------------------------------------- run ids
def test_make_run_id_is_deterministic() -> None:
    h = "3f2a9c0d1e4b5a6f7081928374655647"
    assert make_run_id(h, 42, 0) == "3f2a9c0d1e4b5a6f-42-0"
    assert make_run_id(h, 42, 0) == make_run_id(h, 42, 0)
    ids = {make_run_id(h, seed, seq) for seed in range(3) for seq in range(3)}
    assert len(ids) == 9
    assert make_run_id("abc", 1, 2) == "abc-1-2"


@pytest.mark.parametrize(("config_hash", "seed", "sequence"), [("", 1, 0), ("a-b", 1, 0), ("ab", -1, 0), ("ab", 1, -1)])
def test_make_run_id_rejects_ambiguous_input(config_hash: str, seed: int, sequence: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        make_run_id(config_hash, seed, sequence)


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL; the store reaches it through ``search_path``."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL driver missing: add the `psycopg[binary]` dependency to run this test")
    schema = f"spreadhawk_run_store_{os.getpid()}"  # its own schema: the `test` database is shared
    admin = create_engine(f"{PG_URL}?connect_timeout=3")
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc.orig}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_postgresql_round_trip(pg_url: str) -> None:
    with RunStore(pg_url) as store:
        record = make_record()
        store.save_run(record)
        assert exact(store.get_run(record.run_id)) == exact(record)
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            store.save_run(_duplicate_order_id(make_record("second")))
        assert store.get_run("second") is None
        store.save_run(make_record("newer", created_ns=record.created_ns + 1))
        assert [s.run_id for s in store.list_runs()] == ["newer", record.run_id]
