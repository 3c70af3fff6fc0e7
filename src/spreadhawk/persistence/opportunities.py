"""The ``opportunities`` table: what ``spreadhawk scan --save`` found, one row per closed opportunity.

Its own declarative base (not ``models.Base``): a scan is not a run, and opening a run store must
not create this table, nor opening an opportunity store the run tables. Both can share one
database file. Decimals are stored as exact text (``models.DecimalText``, see ``models.py`` for why)
and times as integer nanoseconds. The store never reads a clock and knows nothing of the scanner:
it takes any rows with the fields of ``OpportunityLike``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from sqlalchemy import BigInteger, Integer, Text, create_engine, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from spreadhawk.persistence.models import DecimalText
from spreadhawk.persistence.run_store import make_run_id


class ScanBase(DeclarativeBase):
    pass


class OpportunityRow(ScanBase):
    __tablename__ = "opportunities"

    scan_id: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # order of closing, as saved
    kind: Mapped[str] = mapped_column(Text, index=True)
    key: Mapped[str] = mapped_column(Text)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)
    closed_ns: Mapped[int] = mapped_column(BigInteger)
    max_edge_bps: Mapped[Decimal] = mapped_column(DecimalText)
    executable_size: Mapped[Decimal] = mapped_column(DecimalText)
    expected_profit: Mapped[Decimal] = mapped_column(DecimalText)
    profit_asset: Mapped[str] = mapped_column(Text)


class OpportunityLike(Protocol):
    """The fields saved (``runtime.scanner.ClosedOpportunity`` has them)."""

    @property
    def kind(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def first_seen_ns(self) -> int: ...
    @property
    def last_seen_ns(self) -> int: ...
    @property
    def closed_ns(self) -> int: ...
    @property
    def max_edge_bps(self) -> Decimal: ...
    @property
    def executable_size(self) -> Decimal: ...
    @property
    def expected_profit(self) -> Decimal: ...
    @property
    def profit_asset(self) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredOpportunity:
    scan_id: str
    kind: str
    key: str
    first_seen_ns: int
    last_seen_ns: int
    closed_ns: int
    max_edge_bps: Decimal
    executable_size: Decimal
    expected_profit: Decimal
    profit_asset: str


_FIELDS = (
    "kind",
    "key",
    "first_seen_ns",
    "last_seen_ns",
    "closed_ns",
    "max_edge_bps",
    "executable_size",
    "expected_profit",
    "profit_asset",
)


class OpportunityStore:
    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        ScanBase.metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def next_scan_id(self, config_hash: str, seed: int) -> str:
        """``<config hash>-<seed>-<n>``, n counting the scans of that config and seed already saved."""
        prefix = make_run_id(config_hash, seed, 0)[:-1]
        with Session(self._engine) as session:
            stmt = select(func.count(func.distinct(OpportunityRow.scan_id))).where(
                OpportunityRow.scan_id.startswith(prefix, autoescape=True)
            )
            saved = session.execute(stmt).scalar_one()
        return make_run_id(config_hash, seed, saved)

    def save(self, scan_id: str, rows: Iterable[OpportunityLike]) -> int:
        """Insert the rows under ``scan_id`` in one transaction; returns how many."""
        values = [
            {"scan_id": scan_id, "seq": seq, **{name: getattr(row, name) for name in _FIELDS}}
            for seq, row in enumerate(rows)
        ]
        if values:
            with Session(self._engine) as session, session.begin():
                session.execute(insert(OpportunityRow), values)
        return len(values)

    def load(self, scan_id: str) -> list[StoredOpportunity]:
        with Session(self._engine) as session:
            stmt = select(OpportunityRow).where(OpportunityRow.scan_id == scan_id).order_by(OpportunityRow.seq)
            return [
                StoredOpportunity(row.scan_id, *(getattr(row, name) for name in _FIELDS))
                for row in session.scalars(stmt)
            ]
