"""Store and read back finished runs: their config, metrics, orders, fills and equity curve.

SQLite by default (``sqlite:///path/spreadhawk.db``), PostgreSQL by URL
(``postgresql+psycopg://user@host:5432/db``). The mappers between domain values and rows live
here so that the domain never imports persistence. Decimals round-trip exactly (stored as text,
see ``models.py``). Time comes from the caller (``created_ns``): the store never reads a clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import Any

from sqlalchemy import create_engine, event, insert, select
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from spreadhawk.domain.events import (
    Liquidity,
    OrderFilled,
    OrderSide,
    OrderType,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.orders import Order, OrderStatus
from spreadhawk.persistence.models import EquityRow, FillRow, OrderRow, RunRow

MetricValue = float | int | None

_RUN_ID_HASH_CHARS = 16


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"  # crashed or aborted by the risk engine; what it did is still worth keeping
    STOPPED = "stopped"  # stopped by the user before the data ran out


class RunExistsError(Exception):
    """A run with this id is already stored: runs are immutable records, never overwritten."""


class SchemaError(Exception):
    """The database's run store is not at the schema this spreadhawk reads and writes (an older or a
    newer revision, or tables it did not make): the message says which, and what to do, in one line."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything stored about one run.

    ``config`` must be JSON-serialisable; it reads back as JSON gives it (tuples as lists).
    ``metrics`` is typically ``Metrics.as_dict()``: NaN/inf are refused, use ``None``.
    """

    run_id: str
    created_ns: int
    strategy: str
    config: dict[str, Any]
    config_hash: str
    seed: int
    metrics: dict[str, MetricValue]
    orders: tuple[Order, ...]
    fills: tuple[OrderFilled, ...]
    equity: tuple[tuple[int, Decimal], ...]  # (ts_ns, equity)
    events_processed: int
    wall_seconds: float
    status: RunStatus = RunStatus.COMPLETED


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of the run list: a run without its orders, fills and equity curve."""

    run_id: str
    created_ns: int
    strategy: str
    config_hash: str
    seed: int
    status: RunStatus
    metrics: dict[str, MetricValue]
    events_processed: int
    wall_seconds: float


def make_run_id(config_hash: str, seed: int, sequence: int) -> str:
    """``"<first 16 chars of config_hash>-<seed>-<sequence>"``, e.g. ``"3f2a9c0d1e4b5a6f-42-0"``.

    Deterministic (no uuid, no clock), so replaying a sweep names its runs the same way, and
    readable: runs of one config share a prefix. ``sequence`` tells apart runs with the same
    config and seed (a re-run, a walk-forward fold): the caller counts. Sixteen hex characters are
    64 bits, so two configs colliding is negligible, and ``save_run`` refuses a duplicate id
    rather than overwrite. The hash must be ASCII letters and digits so that ``-`` stays a
    separator and the id is safe in a URL or a file name.
    """
    if not (config_hash and config_hash.isascii() and config_hash.isalnum()):
        raise ValueError(f"config_hash must be non-empty ASCII letters and digits, got {config_hash!r}")
    if seed < 0 or sequence < 0:
        raise ValueError(f"seed and sequence must be non-negative, got {seed} and {sequence}")
    return f"{config_hash[:_RUN_ID_HASH_CHARS]}-{seed}-{sequence}"


_SAVE_ATTEMPTS = 1000  # sequence numbers tried by save_next_run before giving up


class RunStore:
    """Runs in a SQL database. ``close()`` (or ``with``) releases its connections."""

    def __init__(self, url: str) -> None:
        """Open the store at ``url``. An empty database gets the tables (at the newest revision) and
        one made before migrations is stamped; any other revision raises ``SchemaError`` unchanged
        (``spreadhawk db upgrade`` migrates: see ``migrate.py`` and docs/database.md)."""
        # Alembic loads only when a store opens, not with every `spreadhawk --help`.
        from spreadhawk.persistence.migrate import ensure_schema  # noqa: PLC0415

        self._engine = create_engine(url)
        if self._engine.dialect.name == "sqlite":
            # SQLite ignores foreign keys unless asked, per connection.
            event.listen(self._engine, "connect", _enable_sqlite_foreign_keys)
        try:
            ensure_schema(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        self._sessions = sessionmaker(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def save_run(self, record: RunRecord) -> None:
        """Store the run in one transaction: all of it, or (on any error) nothing.

        Raises ``RunExistsError`` if ``record.run_id`` is already stored.
        """
        # Map everything first, so that an unserialisable config fails before touching the db.
        run_row = _run_row(record)
        rid = record.run_id
        orders = [_order_values(rid, i, o) for i, o in enumerate(record.orders)]
        fills = [_fill_values(rid, i, f) for i, f in enumerate(record.fills)]
        equity = [{"run_id": rid, "seq": i, "ts_ns": ts, "equity": e} for i, (ts, e) in enumerate(record.equity)]
        with self._sessions.begin() as session:  # commits on success, rolls back on any exception
            if session.get(RunRow, rid) is not None:
                raise RunExistsError(f"run {rid!r} is already stored")
            session.add(run_row)
            try:
                session.flush()  # the parent row first: the children's foreign keys point at it
            except IntegrityError:  # stored by another process since the check: its primary key says so
                raise RunExistsError(f"run {rid!r} is already stored") from None
            # Bulk inserts (executemany) rather than one ORM object per row: equity curves are long.
            for table, rows in ((OrderRow, orders), (FillRow, fills), (EquityRow, equity)):
                if rows:
                    session.execute(insert(table), rows)

    def save_next_run(self, build: Callable[[str], RunRecord], config_hash: str, seed: int) -> str:
        """Store ``build(run_id)`` under the first free ``make_run_id(config_hash, seed, n)``; returns the id.

        Safe when several processes store runs of the same config and seed at once: the database's
        primary key decides which of them gets ``n``, and the others take the next one (checking for
        a free id, then inserting, lost one run in two such races)."""
        sequence = self._next_sequence(config_hash, seed)
        for _ in range(_SAVE_ATTEMPTS):
            run_id = make_run_id(config_hash, seed, sequence)
            try:
                self.save_run(build(run_id))
            except RunExistsError:
                sequence += 1
                continue
            return run_id
        raise RunExistsError(f"no free run id for {config_hash}-{seed} after {_SAVE_ATTEMPTS} attempts")

    def _next_sequence(self, config_hash: str, seed: int) -> int:
        """One past the highest sequence stored for ``config_hash`` and ``seed`` (ids only: no run is loaded)."""
        prefix = make_run_id(config_hash, seed, 0)[:-1]
        query = select(RunRow.run_id).where(RunRow.run_id.startswith(prefix, autoescape=True))
        with self._sessions() as session:
            taken = [int(rid[len(prefix) :]) for rid in session.scalars(query) if rid[len(prefix) :].isdigit()]
        return max(taken, default=-1) + 1

    def list_runs(self, limit: int = 50) -> list[RunSummary]:
        """The ``limit`` most recent runs, newest first (by ``created_ns``, then ``run_id``)."""
        if limit < 0:
            raise ValueError(f"limit must be non-negative, got {limit}")
        query = select(RunRow).order_by(RunRow.created_ns.desc(), RunRow.run_id.desc()).limit(limit)
        with self._sessions() as session:
            return [_summary(row) for row in session.scalars(query)]

    def get_run(self, run_id: str) -> RunRecord | None:
        """The whole run, orders, fills and equity in the order they were saved; ``None`` if absent."""
        with self._sessions() as session:
            run = session.get(RunRow, run_id)
            if run is None:
                return None
            return _record(session, run)


# --------------------------------------------------------------------------- mappers
def _enable_sqlite_foreign_keys(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _run_row(r: RunRecord) -> RunRow:
    return RunRow(
        run_id=r.run_id,
        created_ns=r.created_ns,
        strategy=r.strategy,
        # Sorted keys: the same config always produces the same text.
        config_json=json.dumps(r.config, sort_keys=True, allow_nan=False),
        config_hash=r.config_hash,
        seed=r.seed,
        status=r.status.value,
        metrics_json=json.dumps(r.metrics, allow_nan=False),
        events_processed=r.events_processed,
        wall_seconds=r.wall_seconds,
    )


def _summary(row: RunRow) -> RunSummary:
    return RunSummary(
        run_id=row.run_id,
        created_ns=row.created_ns,
        strategy=row.strategy,
        config_hash=row.config_hash,
        seed=row.seed,
        status=RunStatus(row.status),
        metrics=json.loads(row.metrics_json),
        events_processed=row.events_processed,
        wall_seconds=row.wall_seconds,
    )


def _record(session: Session, run: RunRow) -> RunRecord:
    rid = run.run_id
    orders = session.scalars(select(OrderRow).where(OrderRow.run_id == rid).order_by(OrderRow.seq))
    fills = session.scalars(select(FillRow).where(FillRow.run_id == rid).order_by(FillRow.seq))
    equity = session.execute(
        select(EquityRow.ts_ns, EquityRow.equity).where(EquityRow.run_id == rid).order_by(EquityRow.seq)
    )
    return RunRecord(
        run_id=rid,
        created_ns=run.created_ns,
        strategy=run.strategy,
        config=json.loads(run.config_json),
        config_hash=run.config_hash,
        seed=run.seed,
        metrics=json.loads(run.metrics_json),
        orders=tuple(_order(row) for row in orders),
        fills=tuple(_fill(row) for row in fills),
        equity=tuple((ts, e) for ts, e in equity),
        events_processed=run.events_processed,
        wall_seconds=run.wall_seconds,
        status=RunStatus(run.status),
    )


def _order_values(run_id: str, seq: int, o: Order) -> dict[str, object]:
    return {
        "run_id": run_id,
        "seq": seq,
        "client_order_id": o.client_order_id,
        "strategy_id": o.strategy_id,
        "instrument_id": o.instrument_id,
        "side": o.side.value,
        "type": o.order_type.value,
        "time_in_force": o.time_in_force.value,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "quantity": o.quantity,
        "quote_quantity": o.quote_quantity,
        "price": o.price,
        "status": o.status.value,
        "filled_quantity": o.filled_quantity,
        "filled_notional": o.filled_notional,
        "avg_price": o.avg_price,
        "fees": o.fees,
        "venue_order_id": o.venue_order_id,
        "reason": o.reason,
        "trade_ids_json": json.dumps(sorted(o.trade_ids)),
        "ts_init": o.ts_init,
    }


def _order(row: OrderRow) -> Order:
    trade_ids: list[str] = json.loads(row.trade_ids_json)
    return Order(
        client_order_id=ClientOrderId(row.client_order_id),
        strategy_id=row.strategy_id,
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        order_type=OrderType(row.type),
        quantity=row.quantity,
        price=row.price,
        time_in_force=TimeInForce(row.time_in_force),
        post_only=row.post_only,
        quote_quantity=row.quote_quantity,
        reduce_only=row.reduce_only,
        ts_init=row.ts_init,
        status=OrderStatus(row.status),
        filled_quantity=row.filled_quantity,
        filled_notional=row.filled_notional,
        fees=row.fees,
        venue_order_id=row.venue_order_id,
        reason=row.reason,
        trade_ids=frozenset(trade_ids),
    )


def _fill_values(run_id: str, seq: int, f: OrderFilled) -> dict[str, object]:
    return {
        "run_id": run_id,
        "seq": seq,
        "trade_id": f.trade_id,
        "client_order_id": f.client_order_id,
        "venue_order_id": f.venue_order_id,
        "instrument_id": f.instrument_id,
        "side": f.side.value,
        "quantity": f.quantity,
        "price": f.price,
        "fee": f.fee,
        "fee_currency": f.fee_currency,
        "liquidity": f.liquidity.value,
        "leaves_quantity": f.leaves_quantity,
        "ts_ns": f.ts_ns,
    }


def _fill(row: FillRow) -> OrderFilled:
    return OrderFilled(
        ts_ns=row.ts_ns,
        client_order_id=ClientOrderId(row.client_order_id),
        venue_order_id=row.venue_order_id,
        trade_id=row.trade_id,
        instrument_id=InstrumentId(row.instrument_id),
        side=OrderSide(row.side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_currency=row.fee_currency,
        liquidity=Liquidity(row.liquidity),
        leaves_quantity=row.leaves_quantity,
    )
