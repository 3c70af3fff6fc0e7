"""Every example config under examples/ runs end to end through the backtest service.

Simulated sessions are cut to half an hour with the same ``--set`` overrides the CLI takes; the
examples reading real recordings from ../shared/data skip when it is absent (a user's fresh clone).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from spreadhawk.persistence import RunStore
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.services import BacktestService

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _overrides(body: dict[str, object]) -> list[str]:
    data = body.get("data", [])
    assert isinstance(data, list)
    return [f"data.{i}.hours=0.5" for i, section in enumerate(data) if section.get("format") == "market_simulator"]


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.stem)
def test_example_runs(path: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    text = path.read_text(encoding="utf-8")
    if "shared/data" in text:
        request.getfixturevalue("shared_data")  # skips when the recordings are absent
    config = load_config(path, _overrides(tomllib.loads(text)))
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as store:
        outcome = BacktestService(store).run(config)
        record = store.get_run(outcome.run_id)
    assert record is not None
    assert record.events_processed > 0
