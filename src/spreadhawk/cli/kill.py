"""``spreadhawk kill on|off|status``: the persisted kill switch, from a shell.

The switch lives in the database a config names under ``[risk] kill_switch_db`` (``risk.db`` in the
examples); every change is a row saying who, why and when. A paper or live node reading that
database adopts a change within a second (``RiskEngine.watch_kill_switch``): ``on`` cancels its
open orders and denies new ones (``--flatten``: and closes positions at market), ``off`` lets it
trade again. A node started later reads the switch before its first order.
"""

from __future__ import annotations

import getpass
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spreadhawk.cli.output import fail

if TYPE_CHECKING:  # imported in _switch: `spreadhawk --help` must not wait for SQLAlchemy
    from spreadhawk.persistence.kill_switch import SqlKillSwitchStore
    from spreadhawk.risk.kill_switch import KillSwitch

__all__ = ["register"]

console = Console()
KillDb = Annotated[str, typer.Option("--db", help="the kill switch's database: [risk] kill_switch_db (file or URL)")]
Scope = Annotated[str, typer.Option(help="which node's switch (one database may hold several)")]
By = Annotated[str, typer.Option("--by", help="who: recorded with the change (default: operator:<login>)")]
Reason = Annotated[str, typer.Option("--reason", help="why: recorded with the change (required)")]


def register(app: typer.Typer) -> None:
    kill = typer.Typer(help="The kill switch a paper or live node obeys: on, off, status (persisted, audited).")
    kill.command("on")(kill_on)
    kill.command("off")(kill_off)
    kill.command("status")(kill_status)
    app.add_typer(kill, name="kill")


def kill_on(
    reason: Reason = "",
    by: By = "",
    flatten: Annotated[bool, typer.Option("--flatten", help="also close every position at market")] = False,
    db: KillDb = "risk.db",
    scope: Scope = "default",
) -> None:
    """Engage: every open order canceled, every new order denied, until `kill off`."""
    switch, _ = _switch(db, scope)
    try:
        change = switch.engage(time.time_ns(), _who(by), _why(reason, "on"), flatten=flatten)  # noqa: TID251 -- a wall-clock audit stamp
    finally:
        switch.close()
    console.print("kill switch: ON" + ("" if change else " (it was already on: unchanged)"), highlight=False)


def kill_off(reason: Reason = "", by: By = "", db: KillDb = "risk.db", scope: Scope = "default") -> None:
    """Resume: trading may start again."""
    switch, _ = _switch(db, scope)
    try:
        change = switch.resume(time.time_ns(), _who(by), _why(reason, "off"))  # noqa: TID251 -- a wall-clock audit stamp
    finally:
        switch.close()
    console.print("kill switch: off" + ("" if change else " (it was not on: unchanged)"), highlight=False)


def kill_status(
    db: KillDb = "risk.db", scope: Scope = "default", history: Annotated[int, typer.Option(min=0)] = 10
) -> None:
    """The switch now, and its last changes."""
    switch, store = _switch(db, scope)
    try:
        state = switch.state
        changes = store.history()[-history:] if history else []
    finally:
        switch.close()
    if state is None:
        console.print("kill switch: off (never engaged)", highlight=False)
        return
    console.print(f"kill switch: {'ON' if state.engaged else 'off'}", highlight=False)
    table = Table("when (UTC)", "state", "by", "why", "flatten", title=f"last {len(changes)} changes ({scope})")
    for change in reversed(changes):
        when = datetime.fromtimestamp(change.ts_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        state_text = "on" if change.engaged else "off"
        table.add_row(when, state_text, escape(change.by), escape(change.reason), "yes" if change.flatten else "")
    console.print(table)


def _switch(db: str, scope: str) -> tuple[KillSwitch, SqlKillSwitchStore]:
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415 (see the imports)

    from spreadhawk.persistence.kill_switch import SqlKillSwitchStore  # noqa: PLC0415
    from spreadhawk.risk.kill_switch import KillSwitch  # noqa: PLC0415
    from spreadhawk.runtime.services import database_url  # noqa: PLC0415

    try:
        store = SqlKillSwitchStore(database_url(db), scope)
    except SQLAlchemyError as exc:
        fail(f"kill switch store {db}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    return KillSwitch(store), store


def _who(by: str) -> str:
    return by or f"operator:{getpass.getuser()}"


def _why(reason: str, what: str) -> str:
    if not reason.strip():
        fail(f"kill {what} needs --reason (it is recorded with who and when)")
    return reason.strip()
