"""How a backtest shows its progress (#13: it must tell the truth).

First the phase (reading the data, building the simulated market: minutes for a day of the demo's
market), then how far the replay has got measured in *market time*, from the data's first record
to its last: always within 0-100 %, whatever the number of records turns out to be (bars built on
the way, a recording's end statuses), and how many records that was. On a terminal a spinner and
a bar; otherwise (``make demo > log``) a plain line per phase and one every tenth of the way, each
starting ``progress:`` (a reader of the log, or a test, can tell them from results and errors).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["PlainProgress", "TerminalProgress"]

NS_PER_S = 1_000_000_000


def _clock(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%m-%d %H:%M")


class PlainProgress:
    """Lines for a log: the phase, then one line every ``step`` of the way (and at the end)."""

    def __init__(self, console: Console, step: float = 0.1) -> None:
        self._console = console
        self._step = step
        self._span = (0, 0)
        self._next = step
        self._started = time.monotonic()

    def phase(self, text: str) -> None:
        self._console.print(f"progress: {text} ...", highlight=False, soft_wrap=True)
        self._started = time.monotonic()

    def start(self, start_ns: int, end_ns: int, records: int) -> None:
        self._span = (start_ns, end_ns)
        self._next = self._step
        ready = time.monotonic() - self._started
        span = f"{_clock(start_ns)} to {_clock(end_ns)} UTC"
        self._console.print(
            f"progress: replaying {records:,} records, {span} (data ready in {ready:.0f} s)",
            highlight=False,
            soft_wrap=True,
        )
        self._started = time.monotonic()

    def advance(self, records: int, ts_ns: int) -> None:
        done = _fraction(self._span, ts_ns)
        if done >= self._next or done >= 1:
            self._console.print(
                f"progress: {done:4.0%} of the data replayed (to {_clock(ts_ns)}), {records:,} records, "
                f"{time.monotonic() - self._started:.0f} s",
                highlight=False,
                soft_wrap=True,
            )
            while self._next <= done:
                self._next += self._step


class TerminalProgress:
    """A spinner while a phase runs, then a bar over the data's market time."""

    def __init__(self, console: Console) -> None:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
        )
        self._bar = Progress(*columns, console=console, transient=True)
        self._task: TaskID | None = None
        self._span = (0, 0)

    def __enter__(self) -> TerminalProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def phase(self, text: str) -> None:
        self._task = self._bar.add_task(text, total=None, detail="")

    def start(self, start_ns: int, end_ns: int, records: int) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._span = (start_ns, end_ns)
        self._task = self._bar.add_task("replaying", total=1.0, detail=f"0 of {records:,} records")

    def advance(self, records: int, ts_ns: int) -> None:
        if self._task is not None:
            detail = f"{records:,} records, at {_clock(ts_ns)} UTC"
            self._bar.update(self._task, completed=_fraction(self._span, ts_ns), detail=detail)


def _fraction(span: tuple[int, int], ts_ns: int) -> float:
    start, end = span
    if end <= start:
        return 1.0
    return min(1.0, max(0.0, (ts_ns - start) / (end - start)))
