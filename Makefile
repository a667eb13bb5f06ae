# bcsignal: `make run` builds, validates and checks every model; `make test` runs the tests.
# Both create .venv with a Python >= 3.12 found on PATH or among pyenv's versions.

VENV      := .venv
VPY       := $(VENV)/bin/python
BCSIGNAL  := $(VENV)/bin/bcsignal
STAMP     := $(VENV)/.installed
# The lock: every package `make` installs, exact versions with hashes (re-resolve with `make lock`).
LOCK      := requirements/lock.txt
LOCK_CORE := requirements/lock-core.txt
# The BioSimulators command-line simulators (biosimulators-copasi, biosimulators-tellurium) the exchange
# tests run every archive with: their pins conflict with the main lock, so they have their own venv and lock.
SIMVENV   := .venv-simulators
SIMSTAMP  := $(SIMVENV)/.installed
SIMLOCK   := requirements/lock-simulators.txt
PYTEST_ARGS ?=
# Parameter samples per model in the robustness run that `make run` shows in the report.
ROBUSTNESS_SAMPLES ?= 100

# First interpreter that really runs and is >= 3.12, preferring 3.12 (the version every native
# dependency ships wheels for): python3.12 on PATH, then pyenv's 3.12.x (its shims may be present
# but inactive), then newer ones, then python3.
PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
PYTHON_CANDIDATES := python3.12 $(sort $(wildcard $(PYENV_VERSIONS)/3.12*/bin/python3)) \
	python3.13 $(sort $(wildcard $(PYENV_VERSIONS)/3.13*/bin/python3)) \
	python3.14 $(sort $(wildcard $(PYENV_VERSIONS)/3.14*/bin/python3)) python3
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell for c in $(PYTHON_CANDIDATES); do \
	  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	    $$c -c 'import sys; print(sys.executable)'; break; fi; done)
endif

.PHONY: run test test-exchange venv simulators lock lock-simulators build validate check lint format docs clean bench bench-check chromium

# Every package comes from the lock, hash-checked; bcsignal itself is installed editable on top, without
# resolving anything. requirements/check_env.py then fails if the environment differs from the lock.
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found on PATH or in pyenv; install one (e.g. pyenv install 3.12)" >&2; exit 1; }
	@echo "using $(PYTHON) ($$($(PYTHON) --version))"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --no-input --require-hashes --no-deps -r $(LOCK)
	$(VPY) -m pip install --quiet --no-input --no-deps --no-build-isolation -e .
	$(VPY) requirements/check_env.py $(LOCK)
	@touch $(STAMP)

venv: $(STAMP)

# The simulators' venv, from its own hash-checked lock; each CLI must start (biosimulators-utils needs
# setuptools < 81 for pkg_resources, which the lock holds).
$(SIMSTAMP): $(SIMLOCK)
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found on PATH or in pyenv" >&2; exit 1; }
	rm -rf $(SIMVENV)
	$(PYTHON) -m venv $(SIMVENV)
	$(SIMVENV)/bin/python -m pip install --quiet --no-input --require-hashes --no-deps -r $(SIMLOCK)
	$(SIMVENV)/bin/biosimulators-copasi --version
	$(SIMVENV)/bin/biosimulators-tellurium --version
	@touch $(SIMSTAMP)

simulators: $(SIMSTAMP)

# Re-resolve the locks from pyproject.toml (native tools held by requirements/constraints.txt). Pins already in
# the lock are kept; `make lock UPGRADE=--upgrade` takes the newest of everything, or
# `make lock UPGRADE="--upgrade-package NAME"` one package. Then `make test` and `bcsignal build --check`.
UPGRADE ?=
UV_COMPILE = $(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.12 \
	--python-platform x86_64-manylinux_2_28 --no-header --annotation-style line $(UPGRADE)
lock: $(STAMP)
	$(UV_COMPILE) --extra all --extra test --extra dev --extra bench -c requirements/constraints.txt -o $(LOCK)
	$(UV_COMPILE) -c $(LOCK) -o $(LOCK_CORE)

# Re-resolve the simulators' lock from requirements/simulators.txt.
lock-simulators: $(STAMP)
	$(VENV)/bin/uv pip compile requirements/simulators.txt --generate-hashes --python-version 3.12 \
	  --python-platform x86_64-manylinux_2_28 --no-header --annotation-style line $(UPGRADE) -o $(SIMLOCK)

run: $(STAMP)
	$(BCSIGNAL) build
	$(BCSIGNAL) validate
	$(BCSIGNAL) check --results build/results.json
	$(BCSIGNAL) check --strict --quiet $$($(BCSIGNAL) models | grep -vx composite)
	$(BCSIGNAL) export
	@for m in $$($(BCSIGNAL) models); do \
	  rm -rf build/robustness/$$m; \
	  echo "$(BCSIGNAL) robustness $$m --samples $(ROBUSTNESS_SAMPLES)"; \
	  $(BCSIGNAL) robustness $$m --samples $(ROBUSTNESS_SAMPLES) --no-progress > build/robustness-$$m.txt || exit 1; \
	done
	$(BCSIGNAL) report
	@echo "results: build/results.json; archives: build/omex/; robustness: build/robustness/; report: build/report/index.html"

# The report test loads the page in headless Chromium (Debian's `chromium`); install it when missing.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: the report test needs chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(STAMP) $(SIMSTAMP) chromium
	$(VPY) -m pytest -m "not exchange_full" $(PYTEST_ARGS)

# Every archive through every simulator (tests marked exchange_full; about 10 minutes on 2 cores: 9 min 5 s on 2026-12-02).
test-exchange: $(STAMP) $(SIMSTAMP)
	$(VPY) -m pytest -m exchange_full tests/test_exchange.py $(PYTEST_ARGS)

build: $(STAMP)
	$(BCSIGNAL) build

validate: $(STAMP)
	$(BCSIGNAL) validate

check: $(STAMP)
	$(BCSIGNAL) check

lint: $(STAMP)
	$(VENV)/bin/ruff check python tests benchmarks docs
	$(VENV)/bin/ruff format --check python tests benchmarks docs
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format python tests benchmarks docs
	$(VENV)/bin/ruff check --fix python tests benchmarks docs

# The API reference, docs/api.md, rendered from the docstrings of bcsignal.__all__ (a test fails when stale).
docs: $(STAMP)
	$(VPY) docs/make_api.py

# Benchmarks (not tests): claim suites cold and warm, COPASI, bare libroadrunner, Dask throughput; then
# Newton pre-equilibration, a naive libroadrunner loop and a cluster started by address (section 5).
# Writes benchmarks/RESULTS.md; takes about five minutes on 2 cores.
bench: $(STAMP)
	$(VPY) benchmarks/bench.py
	$(VPY) benchmarks/newton_bench.py
	$(VPY) benchmarks/basico_bench.py
	$(VPY) benchmarks/solver_bound.py

# Cold wall time of `bcsignal check` before mechanism cuts, now, and with two cuts per claim
# (section 6 of benchmarks/RESULTS.md; about a minute).
bench-check: $(STAMP)
	$(VPY) benchmarks/check_wall.py

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache $(SIMVENV)
