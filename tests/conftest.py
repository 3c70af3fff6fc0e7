"""Shared fixtures. Real recordings live in ../shared/data beside the checkout and are never copied."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test with a clear reason when it is absent (a user's fresh clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not found at {SHARED_DATA} (../shared/data is present only in CI)")
    return SHARED_DATA


# CI must not fail on a property example drawn by chance today and never again: there, hypothesis
# draws the same examples every run (a failure then reproduces); locally it explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def own_rate_limit_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's ccxt clients keep their host rate-limit state (``venues/ccxt/limiter.py``) apart:
    emulators take random ports, and a ban or a count left by one test on a port must not reach
    the next emulator that gets the same port (nor the user's own state in /tmp)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
