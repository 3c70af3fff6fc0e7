"""``spreadhawk strategies``: every strategy a shipped config names is listed, with its fields."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spreadhawk.cli.main import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _paths_in_shipped_configs() -> set[str]:
    paths = set()
    for config in [*REPO.glob("examples/*.toml"), *REPO.glob("src/spreadhawk/runtime/presets/*.toml")]:
        body = tomllib.loads(config.read_text(encoding="utf-8"))
        for section in [body.get("strategy") or {}, *(body.get("strategies") or [])]:
            if str(section.get("path", "")).startswith("spreadhawk.strategy.library."):
                paths.add(section["path"])
    return paths


def test_every_strategy_a_shipped_config_uses_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["strategies"])
    assert result.exit_code == 0, result.stderr
    shipped = _paths_in_shipped_configs()
    assert len(shipped) >= 10
    for path in shipped:
        assert path.removeprefix("spreadhawk.strategy.library.") in result.stdout, path


def test_one_strategy_shows_its_fields_and_an_unknown_one_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = runner.invoke(app, ["strategies", "SmaCross"])
    assert result.exit_code == 0, result.stderr
    rows = {m[1]: m[2] for m in re.finditer(r"│ (\w+)\s+│ [^│]+│ ([^│]+?)\s+│", result.stdout)}
    assert (rows["fast"], rows["slow"], rows["instrument_id"]) == ("10", "50", "(required)")
    result = runner.invoke(app, ["strategies", "Nope"])
    assert result.exit_code == 2
    assert "no strategy 'Nope'; known: " in result.stderr
    assert "SmaCross" in result.stderr
