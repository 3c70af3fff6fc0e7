"""``spreadhawk kill on|off|status`` against the kill switch's real database (SQLite and the local
PostgreSQL), and a running node adopting what the command stored within its polling interval."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from risk_harness import BUY, T0, Action, RiskRun, S, book_at, build, no_limits, order, play
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from spreadhawk.cli.main import app
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.persistence.kill_switch import SqlKillSwitchStore
from spreadhawk.risk.kill_switch import KillSwitchChanged

runner = CliRunner()
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", "postgresql"])
def kill_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database, scope): a fresh scope per test, so runs on the shared PostgreSQL never meet."""
    scope = f"test-{uuid.uuid4().hex[:12]}"
    if request.param == "sqlite":
        yield str(tmp_path / "risk.db"), scope
        return
    probe = create_engine(POSTGRES)
    try:
        with probe.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:  # CI has PostgreSQL; a laptop may not
        pytest.skip(f"no PostgreSQL at {POSTGRES}: {str(exc).splitlines()[0]}")
    finally:
        probe.dispose()
    yield POSTGRES, scope


def kill(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["kill", *args])
    return result.exit_code, result.stdout, result.stderr


def test_on_off_status_are_stored_with_who_and_why(kill_db: tuple[str, str]) -> None:
    db, scope = kill_db
    where = ["--db", db, "--scope", scope]
    assert kill("status", *where)[1].strip() == "kill switch: off (never engaged)"
    code, _, err = kill("on", *where)
    assert code == 2
    assert "kill on needs --reason" in err
    assert kill("on", *where, "--reason", "exchange incident", "--by", "operator:alice", "--flatten")[:2] == (
        0,
        "kill switch: ON\n",
    )
    assert "already on" in kill("on", *where, "--reason", "again")[1]
    code, out, _ = kill("status", *where)
    assert out.startswith("kill switch: ON")
    assert "operator:alice" in out
    assert "exchange incident" in out
    assert kill("off", *where, "--reason", "resolved", "--by", "operator:bob")[:2] == (0, "kill switch: off\n")
    with SqlKillSwitchStore(db if "://" in db else f"sqlite:///{db}", scope) as store:
        history = store.history()
    assert [(c.engaged, c.by, c.reason, c.flatten) for c in history] == [
        (True, "operator:alice", "exchange incident", True),
        (False, "operator:bob", "resolved", False),
    ]


def test_a_running_node_obeys_the_command_within_a_second(kill_db: tuple[str, str]) -> None:
    db, scope = kill_db
    url = db if "://" in db else f"sqlite:///{db}"
    with SqlKillSwitchStore(url, scope) as store:
        run = build(no_limits(), store=store)
        stop: list[Callable[[], None]] = []

        def operator(*args: str) -> Action:
            def act(ctx: StrategyContext) -> None:
                assert kill(*args, "--db", db, "--scope", scope)[0] == 0  # as from another shell

            return act

        def start(ctx: StrategyContext) -> None:
            stop.append(run.risk.watch_kill_switch(S))

        def end(ctx: StrategyContext) -> None:
            stop[0]()

        actions = {
            T0: start,
            T0 + S: operator("on", "--reason", "desk says stop", "--by", "operator:carol"),
            T0 + 2 * S: order(run, BUY, "0.1", "100"),  # the node read the change at T0 + 2 s: denied
            T0 + 3 * S: operator("off", "--reason", "all clear", "--by", "operator:carol"),
            T0 + 4 * S: order(run, BUY, "0.1", "50"),  # read at T0 + 4 s: passes
            T0 + 5 * S: end,
        }
        play(run, [book_at(T0 + k * S, "100") for k in range(6)], actions)
    _check(run)


def _check(run: RiskRun) -> None:
    assert run.denied(0)
    assert "by operator:carol: desk says stop" in run.reason(0)
    assert run.status(1) is OrderStatus.ACCEPTED
    changes = [r for r in run.risk.records if isinstance(r, KillSwitchChanged)]
    assert [(c.engaged, c.by) for c in changes] == [(True, "operator:carol"), (False, "operator:carol")]
    assert run.engine.portfolio.position(run.order(1).instrument_id).quantity == Decimal(0)
