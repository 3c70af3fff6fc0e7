# Two commands do all the set-up on a fresh machine (Python >= 3.11 with pip):
#   make demo   installs everything and runs the demo backtest on the built-in synthetic market
#   make test   installs everything (with dev tools, and chromium when root on Debian) and runs
#               ruff, mypy, import-linter and pytest
# uv is installed with pip when it is missing; dependencies come from uv.lock (exact versions).

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test install install-dev bench bench-peers-setup bench-side soak uv browser mutation

uv:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

install: uv
	$(UV) sync --frozen --no-dev

install-dev: uv
	$(UV) sync --frozen

demo: install
	$(UV) run --frozen --no-dev spreadhawk demo

# The report's browser test needs Debian's chromium; installed when we are root with apt (CI),
# otherwise the test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "note: chromium is not installed; the HTML report's browser test will be skipped"

test: install-dev browser
	$(UV) run --frozen ruff check src tests bench
	$(UV) run --frozen ruff format --check src tests bench
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
	$(UV) run --frozen pytest -q

bench: install-dev
	$(UV) run --frozen python bench/bench_replay.py
	$(UV) run --frozen python bench/bench_risk.py
	$(UV) run --frozen python bench/bench_triangular.py
	$(UV) run --frozen python bench/bench_scanner.py
	$(UV) run --frozen python bench/bench_journal.py
	$(UV) run --frozen python bench/bench_tick_to_order.py
	$(UV) run --frozen python bench/bench_w1.py
	$(UV) run --frozen python bench/bench_live_order.py
	$(UV) run --frozen python bench/bench_binary_decision.py
	$(UV) run --frozen python bench/bench_sweep.py

# The side-by-side bench (bench/README.md): the peer engines in their own venv ($HOME/peers/venv, pinned in
# bench/peers/requirements.txt) and the workloads' data ($HOME/peers/data), then spreadhawk and every installed
# peer on W1..W5, interleaved rounds, one table per workload. BENCH_SIDE_ARGS="--rounds 2 --n 100000" for a quick try.
bench-peers-setup:
	bash bench/peers/setup.sh

BENCH_SIDE_ARGS ?=
bench-side: install-dev
	$(UV) run --frozen python bench/side_by_side.py $(BENCH_SIDE_ARGS)

# The fault scenarios with more seeds than CI runs: each crash point reached the 1st..Nth time
# (CI: 2), seeded fault plans (CI: 8), backtest/live parity schedules (CI: 3), orphaned-stop runs
# (CI: 2), partial fills across a crash and SIGTERM moments (CI: 1 each), binary fair-value runs scored
# against the simulator's drawn outcomes (CI: 8; SOAK_BINARY_SEEDS), a Ray sweep against the serial one
# (CI: 25 seeds x 4 = 100 backtests; SOAK_SWEEP_SEEDS), seed 004's paper system restarted after a
# SIGKILL and run on past the SOL market's resolution (CI: a minute of market after the restart).
# SOAK_OCCURRENCES=N / SOAK_SEEDS=N / SOAK_PARITY_SEEDS=N / SOAK_ORPHAN_SEEDS=N / SOAK_SCENARIO_SEEDS=N
# to change; ../shared/data must be present.
SOAK_OCCURRENCES ?= 12
SOAK_ORPHAN_SEEDS ?= 20
SOAK_SCENARIO_SEEDS ?= 20
SOAK_SEEDS ?= 200
SOAK_PARITY_SEEDS ?= 20
SOAK_BINARY_SEEDS ?= 200
SOAK_SWEEP_SEEDS ?= 250
soak: install-dev
	SPREADHAWK_SOAK_OCCURRENCES=$(SOAK_OCCURRENCES) $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/runtime/test_crash_points.py
	SPREADHAWK_SOAK_SEEDS=$(SOAK_SEEDS) $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/venues/ccxt/test_seeded_faults.py
	SPREADHAWK_SOAK_SEEDS=$(SOAK_PARITY_SEEDS) $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/runtime/test_live_parity.py
	SPREADHAWK_SOAK_SWEEP_SEEDS=$(SOAK_SWEEP_SEEDS) $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/runtime/test_sweep_ray.py
	SPREADHAWK_SOAK_ORPHAN_SEEDS=$(SOAK_ORPHAN_SEEDS) $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/runtime/test_orphaned_stops.py
	SPREADHAWK_SOAK_PARTIAL_SEEDS=$(SOAK_SCENARIO_SEEDS) SPREADHAWK_SOAK_SIGTERM_SEEDS=$(SOAK_SCENARIO_SEEDS) \
		$(UV) run --frozen pytest -q -p no:cacheprovider tests/runtime/test_partial_fills_restart.py \
		tests/runtime/test_sigterm.py
	SPREADHAWK_SOAK_BINARY_SEEDS=$(SOAK_BINARY_SEEDS) $(UV) run --frozen pytest -q -s -p no:cacheprovider \
		tests/strategy/test_binary_fair_value.py -k outcomes_the_simulator_drew
	SPREADHAWK_SOAK_POLYMARKET_FULL=1 $(UV) run --frozen pytest -q -p no:cacheprovider \
		tests/runtime/test_polymarket_paper.py -k survives

# Mutation testing of the money paths (docs/mutation_testing.md): mutmut mutates the files listed in
# pyproject.toml [tool.mutmut] (ledger, positions, shares, instruments, portfolio, and the simulated
# venue's account, matching and payouts) and runs, for each mutant, the tests of the selection there
# that reach it; a mutant that no test fails has "survived". About 4 minutes on 2 cores. It works in
# mutants/ (git-ignored), from a clean start each time; CI=true makes hypothesis draw the same
# examples every run, so the score does not move by chance. MUTATION_JOBS=N: parallel workers.
MUTATION_JOBS ?= 2
mutation: uv
	$(UV) sync --frozen --group mutation
	rm -rf mutants
	CI=true $(UV) run --frozen --group mutation mutmut run --max-children $(MUTATION_JOBS)
	@$(UV) run --frozen --group mutation mutmut results --all true | awk -F': ' \
		'{ m = $$1; sub(/^ +/, "", m); sub(/\.x[^.]*$$/, "", m); n[m]++; t++; \
		   if ($$2 == "killed") { k[m]++; kt++ } else if ($$2 == "survived") s[m]++; else x[m]++ } \
		 END { for (m in n) printf "%-36s killed %3d/%3d  survived %3d  timeout/no test %d\n", m, k[m], n[m], s[m], x[m]; \
		       printf "money paths: killed %d/%d (%.1f%%)\n", kt, t, 100 * kt / t }'
	@echo "survivors: $(UV) run --frozen --group mutation mutmut results; one mutant: ... mutmut show NAME"
