"""The kill switch's state in SQL, so that it stays on across restarts until explicitly resumed.

Implements ``spreadhawk.risk.kill_switch.KillSwitchStore``: an append-only table of changes (who,
why, when, on or off); the last row of a scope (one trading node, ``"default"``) is the state a
restarting engine reads before its first order. Every change commits before it takes effect, so a
crash right after engaging the switch still finds it on. SQLite by default, PostgreSQL by URL, as
``RunStore``.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import BigInteger, Boolean, Integer, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from spreadhawk.risk.kill_switch import KillSwitchChanged


class _Base(DeclarativeBase):
    pass


class KillSwitchRow(_Base):
    __tablename__ = "kill_switch_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(Text, index=True)
    ts_ns: Mapped[int] = mapped_column(BigInteger)
    engaged: Mapped[bool] = mapped_column(Boolean)
    by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    flatten: Mapped[bool] = mapped_column(Boolean)


class SqlKillSwitchStore:
    """Kill-switch changes in a SQL database. ``close()`` (or ``with``) releases its connections."""

    def __init__(self, url: str, scope: str = "default") -> None:
        self._engine = create_engine(url)
        _Base.metadata.create_all(self._engine)
        self._sessions = sessionmaker(self._engine)
        self._scope = scope

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlKillSwitchStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def last(self) -> KillSwitchChanged | None:
        query = select(KillSwitchRow).where(KillSwitchRow.scope == self._scope).order_by(KillSwitchRow.id.desc())
        with self._sessions() as session:
            row = session.scalars(query.limit(1)).first()
            return None if row is None else _change(row)

    def append(self, change: KillSwitchChanged) -> None:
        row = KillSwitchRow(
            scope=self._scope,
            ts_ns=change.ts_ns,
            engaged=change.engaged,
            by=change.by,
            reason=change.reason,
            flatten=change.flatten,
        )
        with self._sessions.begin() as session:  # committed before the switch takes effect
            session.add(row)

    def history(self) -> list[KillSwitchChanged]:
        query = select(KillSwitchRow).where(KillSwitchRow.scope == self._scope).order_by(KillSwitchRow.id)
        with self._sessions() as session:
            return [_change(row) for row in session.scalars(query)]


def _change(row: KillSwitchRow) -> KillSwitchChanged:
    return KillSwitchChanged(row.ts_ns, row.engaged, row.by, row.reason, row.flatten)
