"""Alembic migrations of the run store, on SQLite (a file) and PostgreSQL (127.0.0.1, a schema per test):
every revision up and down, the head schema equal to models.py, create_all's databases adopted,
newer and damaged ones refused untouched, and ``spreadhawk db ...``."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import BigInteger, Column, Integer, MetaData, Text, UniqueConstraint, create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine
from test_run_store import exact, make_record
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.persistence import RunStore, migrate
from spreadhawk.persistence.kill_switch import SqlKillSwitchStore
from spreadhawk.persistence.migrate import BASELINE, VERSION_TABLE, SchemaState
from spreadhawk.persistence.models import Base
from spreadhawk.persistence.opportunities import OpportunityStore
from spreadhawk.persistence.run_store import SchemaError

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RUN_TABLES = {"runs", "orders", "fills", "equity"}
FUTURE = "0099_from_a_newer_spreadhawk"

runner = CliRunner()


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file in tmp_path, or a fresh schema of the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL driver missing: add the `psycopg[binary]` dependency to run this test")
    schema = f"spreadhawk_migrations_{os.getpid()}_{uuid.uuid4().hex[:8]}"  # the `test` database is shared
    admin = create_engine(f"{PG_URL}?connect_timeout=3")
    try:
        with admin.begin() as conn:
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


@contextmanager
def connect(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def state(url: str) -> SchemaState:
    with connect(url) as engine, engine.connect() as conn:
        return migrate.read_state(conn)


def tables(url: str) -> set[str]:
    with connect(url) as engine, engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def differences(conn: Connection, metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate would write to bring the database to ``metadata`` (run store tables only)."""
    context = MigrationContext.configure(conn, opts=migrate.context_options(migrate.owned_tables()))
    found: list[Any] = compare_metadata(context, metadata)
    return found


def snapshot(url: str) -> object:
    """Everything a database holds (every table's columns and rows), and a SQLite file's exact bytes."""
    with connect(url) as engine, engine.connect() as conn:
        inspector = inspect(conn)
        content = {
            name: (
                [c["name"] for c in inspector.get_columns(name)],
                sorted(map(tuple, conn.execute(text(f'SELECT * FROM "{name}"'))), key=repr),
            )
            for name in sorted(inspector.get_table_names())
        }
    if url.startswith("sqlite:///"):
        return content, hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    return content


def set_revision(url: str, revision: str) -> None:
    with connect(url) as engine, engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :r"), {"r": revision})


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    return lines[0]


# --------------------------------------------------------------------------- up and down
def test_every_revision_up_and_down_then_the_store_works(url: str) -> None:
    revisions = migrate.history()
    assert revisions[0].revision == BASELINE
    assert revisions[0].down_revision is None
    assert revisions[-1].revision == migrate.head()
    with connect(url) as engine:
        before, after = migrate.upgrade(engine)
        assert (before.status, after.status) == ("empty", "current")
        with RunStore(url) as store:
            store.save_run(make_record("before-the-round-trip"))
        for r in reversed(revisions):  # one revision at a time: every downgrade() runs
            _, down = migrate.downgrade(engine, r.down_revision or "base")
            assert down.revision == r.down_revision
        assert state(url).status == "empty"
        assert not tables(url) & RUN_TABLES
        for r in revisions:  # and every upgrade()
            _, up = migrate.upgrade(engine, r.revision)
            assert up.revision == r.revision
        with engine.connect() as conn:
            assert differences(conn, Base.metadata) == []
    with RunStore(url) as store:
        assert store.list_runs() == []  # base dropped the tables, and the runs with them
        store.save_run(make_record())
        assert exact(store.get_run(make_record().run_id)) == exact(make_record())


def test_upgrade_at_head_changes_nothing(url: str) -> None:
    with RunStore(url) as store:
        store.save_run(make_record())
    before = snapshot(url)
    with connect(url) as engine:
        was, now = migrate.upgrade(engine)
    assert was == now
    assert now.status == "current"
    assert snapshot(url) == before


# --------------------------------------------------------------------------- head == models.py
def _copy(metadata: MetaData) -> MetaData:
    copy = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def _add_column(m: MetaData) -> None:
    m.tables["runs"].append_column(Column("note", Text, nullable=True))


def _drop_index(m: MetaData) -> None:
    index = next(i for i in m.tables["runs"].indexes if i.name == "ix_runs_created_ns")
    m.tables["runs"].indexes.remove(index)


def _nullable(m: MetaData) -> None:
    m.tables["fills"].c.fee.nullable = True


def _type(m: MetaData) -> None:
    m.tables["runs"].c.seed.type = Integer()
    assert not isinstance(m.tables["runs"].c.seed.type, BigInteger)


def _unique(m: MetaData) -> None:
    m.tables["fills"].append_constraint(UniqueConstraint("run_id", "trade_id"))


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (_add_column, "add_column"),
        (_drop_index, "remove_index"),
        (_nullable, "modify_nullable"),
        (_type, "modify_type"),
        (_unique, "add_constraint"),
    ],
)
def test_the_head_schema_is_what_models_py_declares(url: str, change: Any, kind: str) -> None:
    """No difference between the migrated database and models.py; and the comparison does see a
    column, index, nullability, type or constraint that models.py would change without a migration."""
    OpportunityStore(url).close()  # other stores may share the database: they are not the run store's
    SqlKillSwitchStore(url).close()
    with connect(url) as engine:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert differences(conn, Base.metadata) == []
            changed = _copy(Base.metadata)
            change(changed)
            found = differences(conn, changed)
    kinds = [(d[0] if isinstance(d, list) else d)[0] for d in found]
    assert kinds == [kind], found
    assert {"opportunities", "kill_switch_changes"} <= tables(url)


# --------------------------------------------------------------------------- opening a store
def test_a_fresh_database_is_created_at_head_and_reopened_without_writing(url: str) -> None:
    with RunStore(url) as store:
        store.save_run(make_record())
        # The migration ran on a connection of the store's pool with SQLite's foreign keys off: they are back on.
        with store._engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert state(url).status == "current"
    assert state(url).revisions == (migrate.head(),)
    before = snapshot(url)
    with RunStore(url) as store:
        assert exact(store.get_run(make_record().run_id)) == exact(make_record())
    assert snapshot(url) == before  # at head, opening reads only (the file's bytes are the same)


def test_several_stores_opening_a_fresh_database_at_once_create_it_once(url: str) -> None:
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_store() -> None:
        try:
            barrier.wait(30)
            with RunStore(url) as store:
                store.list_runs()
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert state(url).status == "current"


def test_stores_opened_at_once_on_different_databases_migrate_each_its_own(tmp_path: Path) -> None:
    """Alembic's ``op`` and ``context`` are globals: unserialised, threads ran on each other's connection
    (and crashed the interpreter)."""
    urls = [f"sqlite:///{tmp_path / f'runs{n}.db'}" for n in range(4)]
    barrier = threading.Barrier(len(urls))
    failures: list[BaseException] = []

    def open_store(url: str) -> None:
        try:
            barrier.wait(30)
            with RunStore(url) as store:
                store.save_run(make_record())
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_store, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert [state(url).status for url in urls] == ["current"] * len(urls)


def test_a_batch_rebuild_of_runs_on_sqlite_keeps_the_rows_that_point_at_it(tmp_path: Path) -> None:
    """SQLite alters a table by copying it and dropping the old one; with foreign keys on, that DROP
    would delete every order, fill and equity point (ON DELETE CASCADE). Migrations run with them off."""
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        store.save_run(make_record())
        with migrate._locked(store._engine) as conn:  # how every migration of a store runs
            operations = Operations(MigrationContext.configure(conn))
            with operations.batch_alter_table("runs", recreate="always") as batch:
                batch.alter_column("strategy", existing_type=Text(), nullable=True)
        assert exact(store.get_run(make_record().run_id)) == exact(make_record())


def test_a_database_made_by_create_all_before_migrations_is_stamped_and_keeps_its_rows(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The RunStore of spreadhawk before migrations: create_all, and no revision.
    # (When models.py moves past the baseline, build these tables from the baseline's schema() instead.)
    monkeypatch.setattr(migrate, "ensure_schema", Base.metadata.create_all)
    with RunStore(url) as old:
        old.save_run(make_record())
    monkeypatch.undo()
    assert state(url).status == "legacy"
    assert VERSION_TABLE not in tables(url)
    with RunStore(url) as store:
        assert exact(store.get_run(make_record().run_id)) == exact(make_record())
        store.save_run(make_record("after-the-stamp"))
        assert {s.run_id for s in store.list_runs()} == {make_record().run_id, "after-the-stamp"}
    assert state(url).revisions == (BASELINE,)


def test_tables_without_a_revision_that_differ_from_the_baseline_are_refused_untouched(url: str) -> None:
    with connect(url) as engine, engine.begin() as conn:
        Base.metadata.create_all(conn)
        conn.execute(text("ALTER TABLE runs ADD COLUMN note TEXT"))
    before = snapshot(url)
    with pytest.raises(SchemaError, match=r"differ from revision 0001_baseline \(to match it: remove_column runs note"):
        RunStore(url)
    with connect(url) as engine, pytest.raises(SchemaError, match="changed by hand"):
        migrate.upgrade(engine)
    assert snapshot(url) == before


def test_some_run_store_tables_without_a_revision_are_refused_untouched(url: str) -> None:
    with connect(url) as engine, engine.begin() as conn:
        Base.metadata.tables["runs"].create(conn)
    before = snapshot(url)
    with pytest.raises(SchemaError, match="tables runs without equity, fills, orders, and no revision"):
        RunStore(url)
    assert snapshot(url) == before


def test_a_revision_from_a_newer_spreadhawk_is_refused_and_never_modified(url: str) -> None:
    with RunStore(url) as store:
        store.save_run(make_record())
    set_revision(url, FUTURE)
    before = snapshot(url)
    message = f"run store at revision {FUTURE}, which this spreadhawk does not know"
    with pytest.raises(SchemaError, match=message):
        RunStore(url)
    with connect(url) as engine:
        for attempt in (migrate.upgrade, lambda e: migrate.downgrade(e, "base"), migrate.ensure_schema):
            with pytest.raises(SchemaError, match=message):
                attempt(engine)
    for args in (("runs",), ("show", "x"), ("db", "upgrade"), ("db", "downgrade", "--to", "base", "--yes")):
        code, _, err = invoke(*args, "--db", url)
        assert code == 2, (args, err)
        assert message in one_line_error(err)
    code, out, _ = invoke("db", "current", "--db", url)
    assert (code, out.strip()) == (0, f"{FUTURE} (unknown to this spreadhawk, whose newest is {migrate.head()}: "
                                   "a newer spreadhawk wrote it)")  # fmt: skip
    assert snapshot(url) == before


@pytest.mark.parametrize(
    ("revisions", "tables_", "head", "known", "status"),
    [
        ((), set(), "0002_next", True, "empty"),
        ((), RUN_TABLES, "0002_next", True, "legacy"),
        ((), {"runs"}, "0002_next", True, "partial"),
        (("0002_next",), RUN_TABLES, "0002_next", True, "current"),
        ((BASELINE,), RUN_TABLES, "0002_next", True, "behind"),
        ((FUTURE,), RUN_TABLES, "0002_next", False, "unknown"),
        ((BASELINE, "0002_next"), RUN_TABLES, "0002_next", True, "unknown"),  # two heads: never written by us
    ],
)
def test_what_each_state_of_a_database_is(
    revisions: tuple[str, ...], tables_: set[str], head: str, known: bool, status: str
) -> None:
    assert SchemaState(revisions, frozenset(tables_), head, known).status == status


def test_an_older_revision_is_refused_with_the_command_that_upgrades_it() -> None:
    older = SchemaState((BASELINE,), frozenset(RUN_TABLES), "0002_next", known=True)
    assert older.refusal() == (
        "run store at revision 0001_baseline, this spreadhawk needs 0002_next: run `spreadhawk db upgrade`"
    )
    assert SchemaState((), frozenset(), "0002_next", known=True).refusal() is None  # empty: created at head


# --------------------------------------------------------------------------- spreadhawk db
def test_db_commands(url: str) -> None:
    head = migrate.head()
    code, out, err = invoke("db", "current", "--db", url)
    if url.startswith("sqlite"):  # `current` creates nothing, not even the file
        assert "no such file" in one_line_error(err)
        assert code == 2
    else:
        assert (code, out.strip()) == (
            0,
            f"none (no run store tables yet: the first run stored creates them at {head})",
        )
    code, out, err = invoke("db", "upgrade", "--db", url)
    assert code == 0, err
    assert out.strip().endswith(f"none -> {head}")
    code, out, err = invoke("db", "upgrade", "--db", url)
    assert out.strip().endswith(f"at {head}, nothing to do")
    code, out, err = invoke("db", "current", "--db", url)
    assert (code, out.strip()) == (0, f"{head} (head)")
    code, out, err = invoke("db", "history")
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"{BASELINE}{' (head)' if head == BASELINE else ''}: Baseline: runs, orders")
    with RunStore(url) as store:
        store.save_run(make_record())
    code, out, err = invoke("db", "downgrade", "--to", "base", "--db", url)
    assert code == 2
    assert "add --yes" in one_line_error(err)
    assert state(url).status == "current"
    code, out, err = invoke("db", "upgrade", "--to", "nope", "--db", url)
    assert code == 2
    assert "Can't locate revision identified by 'nope' (the database was not changed)" in one_line_error(err)
    code, out, err = invoke("db", "downgrade", "--to", "base", "--yes", "--db", url)
    assert code == 0, err
    assert out.strip().endswith(f"{head} -> none (base: no run store tables)")
    assert not tables(url) & RUN_TABLES


def test_db_reads_spreadhawk_db_and_defaults_to_spreadhawk_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("db", "upgrade")
    assert code == 0, err
    assert out.strip() == f"run store spreadhawk.db: none -> {migrate.head()}"
    assert (tmp_path / "spreadhawk.db").is_file()
    monkeypatch.setenv("SPREADHAWK_DB", str(tmp_path / "other.db"))
    code, out, err = invoke("db", "upgrade")
    assert code == 0, err
    assert (tmp_path / "other.db").is_file()


def test_db_upgrade_of_a_create_all_database_says_it_was_kept(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with connect(f"sqlite:///{db}") as engine:
        Base.metadata.create_all(engine)
    code, out, err = invoke("db", "current", "--db", str(db))
    assert (code, out.strip()) == (
        0,
        f"none (tables made before migrations, matching {BASELINE}: the next command stamps them)",
    )
    code, out, err = invoke("db", "upgrade", "--db", str(db))
    assert code == 0, err
    assert out.strip() == (
        f"run store {db}: none -> {migrate.head()} (its tables, made before migrations, were checked and kept)"
    )


@pytest.mark.parametrize(
    ("db", "says"),
    [
        ("postgresql+psycopg://trader:hunter2@127.0.0.1:1/runs", "postgresql+psycopg://trader:***@127.0.0.1:1/runs"),
        ("nosuchdialect://host/x", "NoSuchModuleError"),
        ("://nothing", "ArgumentError"),
        ("/no/such/folder/runs.db", "the folder /no/such/folder does not exist"),
    ],
)
@pytest.mark.parametrize("command", [("upgrade",), ("downgrade", "--to", "base", "--yes"), ("current",)])
def test_db_with_a_bad_url_fails_in_one_line(db: str, says: str, command: tuple[str, ...]) -> None:
    code, out, err = invoke("db", *command, "--db", db)
    assert code == 2
    line = one_line_error(err)
    assert says in line
    assert "hunter2" not in out + err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_db_never_prints_a_password(url: str) -> None:
    with_password = url.replace("postgres@", "postgres:hunter2@")  # trust authentication ignores it
    code, out, err = invoke("db", "upgrade", "--db", with_password)
    assert code == 0, err
    assert "postgres:***@" in out
    assert "hunter2" not in out + err
