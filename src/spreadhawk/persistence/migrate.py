"""The run store's schema under Alembic (``persistence/migrations``): check it, upgrade, downgrade, describe.

What a database holds decides what opening a ``RunStore`` does (``ensure_schema``):

* no run store tables and no revision: the tables are created at the newest revision (head);
* the four tables that ``create_all`` made before migrations existed, and no revision: they are
  compared with the baseline revision and stamped at it when they match (a difference is refused,
  the database left as it was);
* head: used as it is;
* an older revision: refused with "run `spreadhawk db upgrade`". Never migrated as a side effect of
  ``runs`` or ``backtest``: a migration can take minutes on a big store, cannot always be undone,
  and locks out an older spreadhawk that still uses the database (a paper node left running);
* a revision this spreadhawk does not know (a newer spreadhawk wrote it): refused, never modified.

The revision is kept in its own table, ``spreadhawk_run_store_version`` rather than Alembic's
default ``alembic_version``, so the run store's history never mixes with another one in the same
database: the scan store beside it in ``spreadhawk.db``, an application's own Alembic history on a
shared PostgreSQL. Other tables are ignored (never compared, never dropped).

Every change runs in one transaction that no other spreadhawk migrating the same database enters
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two processes opening a fresh
database at once create it once. On SQLite foreign keys are off while it runs, since a batch
migration rebuilds a table with ``DROP TABLE``, which would cascade-delete the rows that point at it,
and ``PRAGMA foreign_key_check`` must pass before the commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Column, Index, MetaData, Table, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import ColumnCollectionConstraint

from spreadhawk.persistence.models import Base
from spreadhawk.persistence.run_store import SchemaError

__all__ = [
    "BASELINE",
    "VERSION_TABLE",
    "Revision",
    "SchemaState",
    "alembic_config",
    "context_options",
    "downgrade",
    "ensure_schema",
    "head",
    "history",
    "legacy_problem",
    "owned_tables",
    "read_state",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "spreadhawk_run_store_version"
BASELINE = "0001_baseline"
_PG_LOCK_KEY = 0x5350_4841_574B_0001  # pg_advisory_xact_lock key of run store migrations ("SPHAWK", 1)
_UNCHANGED = "(the database was not changed)"
# Alembic's ``context`` and ``op`` are module globals, set by the command that runs: two threads
# migrating at once (two stores opened on different databases) would run on each other's connection
# and crash the interpreter. Taken after the database's lock, and never held while waiting for one.
_ALEMBIC_COMMANDS = threading.Lock()


# --------------------------------------------------------------------------- alembic set-up
def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config, built in code: the package's ``migrations`` folder, and the connection that
    ``env.py`` migrates (needed by every command that touches a database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "v%%(rev)s")  # rev_id="0002_add_x" -> versions/v0002_add_x.py
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision: the schema this spreadhawk reads and writes."""
    revision = _script().get_current_head()
    if revision is None:  # pragma: no cover -- the package ships its revisions
        raise SchemaError(f"no revisions in {MIGRATIONS}")
    return revision


@cache
def _known() -> frozenset[str]:
    return frozenset(s.revision for s in _script().walk_revisions())


@cache
def _baseline_schema() -> MetaData:
    schema = _script().get_revision(BASELINE)
    metadata = None if schema is None else schema.module.schema()
    if not isinstance(metadata, MetaData):  # pragma: no cover -- the package ships it
        raise SchemaError(f"revision {BASELINE} has no schema()")
    return metadata


def owned_tables() -> frozenset[str]:
    """The tables the run store's migrations manage: the models' and the baseline's (a table
    dropped from the models stays in the set, so that autogenerate writes its ``drop_table``)."""
    return frozenset(Base.metadata.tables) | frozenset(_baseline_schema().tables)


def context_options(tables: frozenset[str]) -> dict[str, Any]:
    """Options of every ``MigrationContext`` on a run store, ``env.py``'s included. Only ``tables``
    are compared: the opportunities and kill-switch tables that may share the database are not ours.
    ``render_as_batch``: the same revision runs on both databases, and SQLite alters a table only by
    rebuilding it (on PostgreSQL a batch is plain ``ALTER TABLE``)."""

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in tables

    return {"version_table": VERSION_TABLE, "include_name": include_name, "render_as_batch": True}


# --------------------------------------------------------------------------- state of a database
@dataclass(frozen=True, slots=True)
class SchemaState:
    """What a database holds: its run store revision(s) and which run store tables exist."""

    revisions: tuple[str, ...]  # from the version table: none, or one (the history is linear)
    tables: frozenset[str]  # the run store tables present
    head: str  # this spreadhawk's newest revision
    known: bool  # every revision is one of this spreadhawk's

    @property
    def revision(self) -> str | None:
        return ", ".join(self.revisions) or None

    @property
    def status(self) -> str:
        """``empty``, ``legacy`` (create_all's tables, no revision), ``partial`` (some tables, no
        revision), ``current``, ``behind`` (an older revision) or ``unknown`` (a newer spreadhawk's)."""
        if self.revisions:
            if len(self.revisions) > 1 or not self.known:
                return "unknown"
            return "current" if self.revisions == (self.head,) else "behind"
        if not self.tables:
            return "empty"
        return "legacy" if self.tables == frozenset(_baseline_schema().tables) else "partial"

    def refusal(self) -> str | None:
        """Why a ``RunStore`` cannot use the database as it is, in one line; ``None`` if it can."""
        status = self.status
        if status == "behind":
            return (
                f"run store at revision {self.revision}, this spreadhawk needs {self.head}: run `spreadhawk db upgrade`"
            )
        if status == "unknown":
            return (
                f"run store at revision {self.revision}, which this spreadhawk does not know (its newest is "
                f"{self.head}): a newer spreadhawk wrote it; upgrade spreadhawk to use it {_UNCHANGED}"
            )
        if status == "partial":
            missing = ", ".join(sorted(frozenset(_baseline_schema().tables) - self.tables)) or "a revision"
            return (
                f"run store tables {', '.join(sorted(self.tables))} without {missing}, and no revision: "
                f"not a spreadhawk run store, or a damaged one {_UNCHANGED}"
            )
        return None


def read_state(conn: Connection) -> SchemaState:
    """The database's state (reads only: creates nothing, not even the version table)."""
    revisions = tuple(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())
    tables = frozenset(inspect(conn).get_table_names()) & owned_tables()
    return SchemaState(revisions, tables, head(), all(r in _known() for r in revisions))


def legacy_problem(conn: Connection) -> str | None:
    """Why tables without a revision cannot be stamped at the baseline (how they differ), or ``None``."""
    baseline = _baseline_schema()
    context = MigrationContext.configure(conn, opts=context_options(frozenset(baseline.tables)))
    differences = compare_metadata(context, baseline)
    if not differences:
        return None
    more = f" and {len(differences) - 1} more" if len(differences) > 1 else ""
    return (
        f"run store tables without a revision differ from revision {BASELINE} (to match it: "
        f"{describe(differences[0])}{more}): "
        f"not made by spreadhawk, or changed by hand {_UNCHANGED}"
    )


def describe(difference: Any) -> str:
    """One difference found by ``compare_metadata``, readable: ``add_column runs extra``."""
    if isinstance(difference, list):  # the changes of one column come as a list of tuples
        difference = difference[0]
    kind, *args = difference
    return " ".join([kind, *(word for word in map(_word, args) if word)])


def _word(value: Any) -> str:
    if isinstance(value, Table | Column):
        return value.name
    if isinstance(value, Index | ColumnCollectionConstraint):
        columns = ", ".join(c.name for c in value.columns)
        return f"{value.name or type(value).__name__}({columns})"
    if isinstance(value, dict) or value is None:
        return ""
    return str(value)


# --------------------------------------------------------------------------- operations
def ensure_schema(engine: Engine) -> SchemaState:
    """Make the database ready for this spreadhawk's ``RunStore``, or raise ``SchemaError`` saying
    why not (see the module docstring). Only an empty database or create_all's tables are written."""
    with engine.connect() as conn:
        state = read_state(conn)
    if state.status in ("empty", "legacy"):
        with _locked(engine) as conn:
            state = read_state(conn)  # again, under the lock: another process may have done it meanwhile
            if state.status == "empty":
                _alembic(command.upgrade, conn, "head")
            elif state.status == "legacy":
                _adopt(conn)
            state = read_state(conn)
    problem = state.refusal()
    if problem is not None:
        raise SchemaError(problem)
    return state


def upgrade(engine: Engine, target: str = "head") -> tuple[SchemaState, SchemaState]:
    """Upgrade to ``target`` (a revision id, ``head``, or ``+1``); returns the states before and after.
    create_all's tables are stamped at the baseline first; an unknown revision is refused."""
    return _migrate(engine, command.upgrade, target)


def downgrade(engine: Engine, target: str) -> tuple[SchemaState, SchemaState]:
    """Downgrade to ``target`` (a revision id, ``-1``, or ``base``: no run store tables at all)."""
    return _migrate(engine, command.downgrade, target)


def _migrate(engine: Engine, step: Callable[[Config, str], None], target: str) -> tuple[SchemaState, SchemaState]:
    with _locked(engine) as conn:
        before = read_state(conn)
        if before.status in ("unknown", "partial"):
            raise SchemaError(before.refusal() or before.status)
        if before.status == "legacy":
            _adopt(conn)
        _alembic(step, conn, target)
        return before, read_state(conn)


def _adopt(conn: Connection) -> None:
    problem = legacy_problem(conn)
    if problem is not None:
        raise SchemaError(problem)
    _alembic(command.stamp, conn, BASELINE)


def _alembic(step: Callable[[Config, str], None], conn: Connection, target: str) -> None:
    try:
        with _ALEMBIC_COMMANDS:
            step(alembic_config(conn), target)
    except (CommandError, RevisionError) as exc:  # an unknown or unreachable target: nothing was done
        raise SchemaError(f"{str(exc).splitlines()[0]} {_UNCHANGED}") from None


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other migrator of the database runs at the same time:
    committed if the block succeeds (and, on SQLite, the foreign keys check), else rolled back."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        foreign_keys = sqlite and bool(conn.exec_driver_sql("PRAGMA foreign_keys").scalar())
        try:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # outside a transaction, or ignored
                conn.commit()
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now: a second migrator waits for it
            elif conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            yield conn
            if sqlite:
                _check_foreign_keys(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            if foreign_keys and not conn.invalidated:  # the connection goes back to the store's pool
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def _check_foreign_keys(conn: Connection) -> None:
    orphans = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if orphans:
        raise SchemaError(
            f"the migration left {len(orphans)} rows whose foreign key points nowhere (first in table "
            f"{orphans[0][0]}): rolled back {_UNCHANGED}"
        )


# --------------------------------------------------------------------------- history
@dataclass(frozen=True, slots=True)
class Revision:
    revision: str
    down_revision: str | None
    title: str  # the first paragraph of the revision's docstring


def history() -> list[Revision]:
    """This spreadhawk's revisions, oldest first (the last is ``head()``)."""
    revisions = [
        Revision(s.revision, _down(s.down_revision), " ".join(s.doc.split())) for s in _script().walk_revisions()
    ]
    return revisions[::-1]


def _down(down_revision: str | Sequence[str] | None) -> str | None:
    if down_revision is None or isinstance(down_revision, str):
        return down_revision
    return ", ".join(down_revision)
