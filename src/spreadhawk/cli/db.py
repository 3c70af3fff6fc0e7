"""``spreadhawk db upgrade|downgrade|current|history``: the run store's schema (Alembic migrations).

A run store at an older revision is refused by every other command until ``db upgrade`` migrates
it; one at a newer revision (a newer spreadhawk wrote it) is refused and never modified. A fresh
database needs nothing: the first command that opens it creates the tables. docs/database.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spreadhawk.cli.output import fail, redact

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from spreadhawk.persistence.migrate import SchemaState

__all__ = ["register"]

DbOption = Annotated[
    str, typer.Option("--db", help="SQLite file or SQLAlchemy URL of the run store", envvar="SPREADHAWK_DB")
]


def register(app: typer.Typer) -> None:
    db = typer.Typer(
        help="The run store's schema: upgrade, downgrade, current revision, history.", no_args_is_help=True
    )
    db.command("upgrade")(upgrade)
    db.command("downgrade")(downgrade)
    db.command("current")(current)
    db.command("history")(history)
    app.add_typer(db, name="db")


def upgrade(
    db: DbOption = "spreadhawk.db",
    to: Annotated[str, typer.Option("--to", help="revision to reach (default: head, the newest)")] = "head",
) -> None:
    """Migrate the run store to the newest revision (or --to REV); tables made before migrations are stamped first."""
    from spreadhawk.persistence import migrate  # noqa: PLC0415 -- alembic: only when asked for

    with _engine(db) as engine:
        before, after = migrate.upgrade(engine, to)
    _say(db, before, after)


def downgrade(
    to: Annotated[str, typer.Option("--to", help="revision to go back to; base: no run store tables at all")],
    db: DbOption = "spreadhawk.db",
    yes: Annotated[bool, typer.Option("--yes", help="needed with --to base, which deletes every stored run")] = False,
) -> None:
    """Migrate the run store back to an older revision (what later revisions added is dropped, with its data)."""
    from spreadhawk.persistence import migrate  # noqa: PLC0415

    if to == "base" and not yes:
        fail("--to base drops the run store's tables and every run in them: add --yes if that is what you want")
    with _engine(db, must_exist=True) as engine:
        before, after = migrate.downgrade(engine, to)
    _say(db, before, after)


def current(db: DbOption = "spreadhawk.db") -> None:
    """Print the run store's revision and whether this spreadhawk can use it (changes nothing)."""
    from spreadhawk.persistence import migrate  # noqa: PLC0415

    with _engine(db, must_exist=True) as engine, engine.connect() as conn:
        state = migrate.read_state(conn)
        problem = migrate.legacy_problem(conn) if state.status == "legacy" else None
    if state.status == "partial":
        problem = state.refusal()
    if problem is not None:  # tables this spreadhawk cannot use nor stamp: the same error as any command
        fail(f"{db}: {problem}")
    typer.echo(_describe(state))


def history() -> None:
    """List this spreadhawk's revisions of the run store, oldest first."""
    from spreadhawk.persistence import migrate  # noqa: PLC0415

    newest = migrate.head()
    for r in migrate.history():
        typer.echo(f"{r.revision}{' (head)' if r.revision == newest else ''}: {r.title}")


def _describe(state: SchemaState) -> str:
    from spreadhawk.persistence.migrate import BASELINE  # noqa: PLC0415

    status = state.status
    if status == "current":
        return f"{state.revision} (head)"
    if status == "empty":
        return f"none (no run store tables yet: the first run stored creates them at {state.head})"
    if status == "legacy":
        return f"none (tables made before migrations, matching {BASELINE}: the next command stamps them)"
    if status == "behind":
        return f"{state.revision} (older than this spreadhawk's {state.head}: run `spreadhawk db upgrade`)"
    return f"{state.revision} (unknown to this spreadhawk, whose newest is {state.head}: a newer spreadhawk wrote it)"


def _say(db: str, before: SchemaState, after: SchemaState) -> None:
    was, now = before.revision or "none", after.revision or "none (base: no run store tables)"
    if before.revisions == after.revisions:
        typer.echo(f"run store {redact(db)}: at {now}, nothing to do")
    else:
        kept = " (its tables, made before migrations, were checked and kept)" if before.status == "legacy" else ""
        typer.echo(f"run store {redact(db)}: {was} -> {now}{kept}")


@contextmanager
def _engine(db: str, *, must_exist: bool = False) -> Iterator[Engine]:
    """The database's engine; every failure (no such file, bad URL, unreachable server, a revision
    this spreadhawk cannot migrate) ends the command with one line and exit code 2."""
    from sqlalchemy import create_engine  # noqa: PLC0415
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    from spreadhawk.persistence.run_store import SchemaError  # noqa: PLC0415
    from spreadhawk.runtime.services import database_url  # noqa: PLC0415

    path = _sqlite_file(db)
    if path is not None:  # SQLite would say only "unable to open database file", or create an empty one
        if not path.parent.is_dir():
            fail(f"--db {db}: the folder {path.parent} does not exist")
        if must_exist and not path.is_file():
            fail(f"--db {db}: no such file")
    try:
        engine = create_engine(database_url(db))
    except SQLAlchemyError as exc:  # an unknown dialect, a URL that does not parse, a missing driver
        fail(f"--db {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    try:
        yield engine
    except SchemaError as exc:
        fail(f"{db}: {exc}")
    except SQLAlchemyError as exc:
        fail(f"run store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()


def _sqlite_file(db: str) -> Path | None:
    """The file of a SQLite ``--db`` (a path, or a ``sqlite:///`` URL); ``None`` for anything else."""
    if "://" not in db:
        return Path(db)
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        url = make_url(db)
    except ArgumentError:  # create_engine says what is wrong with it
        return None
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    return Path(url.database)
