"""``--start``/``--end``: the time window of the recorded data a ``backtest`` or ``scan`` replays.

Checked here, before any config or data is read, so a typo is one line naming the option; passed
on as the config overrides ``run.start``/``run.end`` (part of the run's config, so its hash and run
id say which window it replayed).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from spreadhawk.cli.output import fail

StartOption = Annotated[
    str | None,
    typer.Option("--start", help="replay recorded data from this UTC date or time on (ISO, e.g. 2024-08-08T23:55)"),
]
EndOption = Annotated[
    str | None, typer.Option("--end", help="replay recorded data before this UTC date or time (ISO, excluded)")
]


def window_overrides(start: str | None, end: str | None) -> list[str]:
    """The ``--set`` overrides for ``--start``/``--end``; exits with one line when either is wrong."""
    from spreadhawk.data.times import to_ns  # noqa: PLC0415 (only when a window is given)

    bounds: dict[str, int] = {}
    overrides = []
    for flag, key, text in (("--start", "start", start), ("--end", "end", end)):
        if text is None:
            continue
        try:
            bounds[key] = to_ns(text)
        except ValueError as exc:
            fail(f"{flag}: {exc}")
        overrides.append(f"run.{key}={json.dumps(text.strip())}")  # a TOML string: stays text, not a date
    if len(bounds) == 2 and bounds["end"] <= bounds["start"]:
        fail(f"--end {end} must be after --start {start}")
    return overrides
