"""`spreadhawk --help` starts at once (#13 item 1): importing the CLI loads none of the heavy
libraries the commands use (they are imported inside the commands). Checked in a fresh interpreter,
by what it imported -- not by a timer, which the machine's load would make flaky."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "numpy", "pandas", "pyarrow", "scipy", "sklearn", "hmmlearn", "arch", "plotly", "ccxt",
         "fastapi", "apprise", "alembic", "pydantic")  # fmt: skip


def test_importing_the_cli_loads_no_heavy_library() -> None:
    probe = (
        "import json, sys; import spreadhawk.cli.main; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
