"""Two processes storing runs of the same config and seed at once both keep every run (issue: one run
in two was lost when the free id was checked, then inserted). The database's primary key decides who
gets a sequence number; the loser takes the next one. SQLite (a file) and PostgreSQL (127.0.0.1)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

from test_run_store import make_record, pg_url  # noqa: F401 -- pg_url is a fixture used below

from spreadhawk.persistence import RunStore, make_run_id

FORK = multiprocessing.get_context("fork")
CONFIG_HASH, SEED, EACH = "0123456789abcdef", 7, 8


def _save_runs(url: str, barrier: Barrier, out: Connection) -> None:
    store = RunStore(url)
    try:
        barrier.wait(30)
        ids = [store.save_next_run(make_record, CONFIG_HASH, SEED) for _ in range(EACH)]
        out.send(ids)
    except Exception as exc:  # the parent reports it
        out.send(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


def _race(url: str) -> list[list[str] | str]:
    RunStore(url).close()  # the schema exists before the race (creating it is not what is tested)
    barrier = FORK.Barrier(2)
    pipes = [FORK.Pipe(duplex=False) for _ in range(2)]
    workers = [FORK.Process(target=_save_runs, args=(url, barrier, send)) for _, send in pipes]
    for worker in workers:
        worker.start()
    answers = [receive.recv() if receive.poll(120) else "no answer in 120 s" for receive, _ in pipes]
    for worker in workers:
        worker.join(30)
    return answers


def _check(url: str) -> None:
    answers = _race(url)
    assert all(isinstance(a, list) for a in answers), answers
    stored = [rid for answer in answers for rid in answer]
    expected = {make_run_id(CONFIG_HASH, SEED, n) for n in range(2 * EACH)}
    assert set(stored) == expected  # no id twice, no gap
    with RunStore(url) as store:
        assert {r.run_id for r in store.list_runs(100)} == expected
        assert store.get_run(make_run_id(CONFIG_HASH, SEED, 2 * EACH - 1)) is not None


def test_two_processes_saving_at_once_lose_no_run_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'runs.db'}")


def test_two_processes_saving_at_once_lose_no_run_on_postgresql(pg_url: str) -> None:  # noqa: F811
    _check(pg_url)
