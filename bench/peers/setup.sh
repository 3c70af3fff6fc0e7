#!/usr/bin/env bash
# The peer engines for the side-by-side bench (bench/side_by_side.py), in their own virtualenv:
# their dependencies conflict with each other's and with the project's. Also writes the workloads'
# data (the peers' gen_data.py, seeded) where the peers' scripts read it.
#
#   bash bench/peers/setup.sh          # or: make bench-peers-setup
# Env: PEERS_HOME (default $HOME/peers: venv/ and data/ go there), PEERS_BENCH (the peers' scripts,
# default ../shared/bench beside this work tree), PYTHON (default python3, >= 3.11).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PEERS_HOME="${PEERS_HOME:-$HOME/peers}"
PEERS_BENCH="${PEERS_BENCH:-$root/../shared/bench}"
PYTHON="${PYTHON:-python3}"

[ -x "$PEERS_HOME/venv/bin/python" ] || "$PYTHON" -m venv "$PEERS_HOME/venv"
"$PEERS_HOME/venv/bin/python" -m pip install --quiet --upgrade pip
# Exact versions (requirements.txt pins every package, the peers' own dependencies too).
"$PEERS_HOME/venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$PEERS_HOME/venv/bin/python" - <<'PY'
import importlib
for name in ("nautilus_trader", "backtrader", "vectorbt", "backtesting", "hftbacktest", "numba"):
    try:
        module = importlib.import_module(name)
        print(f"  {name} {getattr(module, '__version__', '?')}")
    except Exception as exc:  # noqa: BLE001 -- a peer that fails to import is reported, not fatal
        print(f"  {name}: does not import ({type(exc).__name__}: {exc})")
PY
mkdir -p "$PEERS_HOME/data"
if [ ! -f "$PEERS_HOME/data/bars_1m.npz" ] || [ ! -f "$PEERS_HOME/data/quotes_1m.npz" ]; then
    PEERS_DATA="$PEERS_HOME/data" "$PEERS_HOME/venv/bin/python" "$PEERS_BENCH/gen_data.py"
fi
echo "peers: $PEERS_HOME/venv, data: $PEERS_HOME/data"
