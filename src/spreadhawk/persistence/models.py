"""SQL tables of the run store (SQLAlchemy 2.0 typed declarative).

These rows are a read model of a finished run; mapping to and from the domain happens in
``run_store.py``, so the domain never knows the tables exist.

Exact decimals are stored as **text** (``str(Decimal)``, read back with ``Decimal(text)``):

* SQLite has no decimal type. SQLAlchemy's ``Numeric`` stores a SQLite value as REAL (a float)
  and warns that it loses precision: ``Decimal('0.000000012345678901')`` would not survive.
* PostgreSQL's ``NUMERIC`` is exact in value but not in form: it has no negative zero and keeps
  no exponent, so ``Decimal('-0')`` (which Decimal arithmetic produces) comes back as ``0`` and
  ``Decimal('1E+2')`` as ``100``: equal, yet a different string, repr and exponent.
* Text round-trips every Decimal bit for bit, with one code path on both databases.

The cost is that SQL cannot sum or sort these columns numerically; a report that needs that
can cast (``CAST(price AS NUMERIC)`` on PostgreSQL) or we add a numeric copy of the column.

Timestamps are integer nanoseconds since the epoch (BigInteger: 64 bits on both databases).
Child rows carry ``seq``, their position in the record, so a run reads back in the order it was
saved whatever the database returns by default.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Double, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class DecimalText(TypeDecorator[Decimal]):
    """A Decimal stored as its exact string form (see the module docstring for why)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            # A float here would store its binary approximation: refuse rather than guess.
            raise TypeError(f"expected Decimal, got {type(value).__name__}: {value!r}")
        return str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(Text, primary_key=True)
    created_ns: Mapped[int] = mapped_column(BigInteger, index=True)
    strategy: Mapped[str] = mapped_column(Text)  # import path, "pkg.mod:Class"
    config_json: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(Text, index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text)
    metrics_json: Mapped[str] = mapped_column(Text)
    events_processed: Mapped[int] = mapped_column(BigInteger)
    wall_seconds: Mapped[float] = mapped_column(Double)


class OrderRow(Base):
    __tablename__ = "orders"
    # Client order IDs are unique per run (architecture: deterministic and unique).
    __table_args__ = (UniqueConstraint("run_id", "client_order_id"),)

    run_id: Mapped[str] = mapped_column(Text, ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_order_id: Mapped[str] = mapped_column(Text)
    strategy_id: Mapped[str] = mapped_column(Text)
    instrument_id: Mapped[str] = mapped_column(Text)
    side: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(Text)
    time_in_force: Mapped[str] = mapped_column(Text)
    post_only: Mapped[bool] = mapped_column(Boolean)
    reduce_only: Mapped[bool] = mapped_column(Boolean)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    quote_quantity: Mapped[Decimal | None] = mapped_column(DecimalText)
    price: Mapped[Decimal | None] = mapped_column(DecimalText)
    status: Mapped[str] = mapped_column(Text)
    filled_quantity: Mapped[Decimal] = mapped_column(DecimalText)
    # The exact source of avg_price: the quotient is rounded, so it could not rebuild the order.
    filled_notional: Mapped[Decimal] = mapped_column(DecimalText)
    avg_price: Mapped[Decimal | None] = mapped_column(DecimalText)  # for readers; derived on load
    fees: Mapped[Decimal] = mapped_column(DecimalText)
    venue_order_id: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    trade_ids_json: Mapped[str] = mapped_column(Text)  # sorted JSON list: the fills applied once
    ts_init: Mapped[int] = mapped_column(BigInteger)


class FillRow(Base):
    __tablename__ = "fills"

    run_id: Mapped[str] = mapped_column(Text, ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True)
    # Not (run_id, trade_id): trade ids are unique per venue, and a run may trade on several.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    trade_id: Mapped[str] = mapped_column(Text)
    client_order_id: Mapped[str] = mapped_column(Text)
    venue_order_id: Mapped[str] = mapped_column(Text)
    instrument_id: Mapped[str] = mapped_column(Text)
    side: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    price: Mapped[Decimal] = mapped_column(DecimalText)
    fee: Mapped[Decimal] = mapped_column(DecimalText)
    fee_currency: Mapped[str] = mapped_column(Text)
    liquidity: Mapped[str] = mapped_column(Text)
    leaves_quantity: Mapped[Decimal | None] = mapped_column(DecimalText)
    ts_ns: Mapped[int] = mapped_column(BigInteger)


class EquityRow(Base):
    __tablename__ = "equity"

    run_id: Mapped[str] = mapped_column(Text, ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    equity: Mapped[Decimal] = mapped_column(DecimalText)
