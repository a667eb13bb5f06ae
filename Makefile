# bcsignal: `make run` builds, validates and checks every model; `make test` runs the tests.
# Both create .venv with a Python >= 3.12 found on PATH or among pyenv's versions.

VENV      := .venv
VPY       := $(VENV)/bin/python
BCSIGNAL  := $(VENV)/bin/bcsignal
STAMP     := $(VENV)/.installed
PYTEST_ARGS ?=

# First interpreter that really runs and is >= 3.12: python3.14 ... python3 on PATH,
# then pyenv's installed versions (its shims may be present but inactive).
PYTHON ?= $(shell for c in python3.14 python3.13 python3.12 python3 \
	  $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  if $$c -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	    command -v $$c 2>/dev/null || echo $$c; break; fi; done)

.PHONY: run test venv build validate check lint format clean

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -n "$(PYTHON)" || { echo "error: no Python >= 3.12 found on PATH or in pyenv; install one (e.g. pyenv install 3.12)" >&2; exit 1; }
	@echo "using $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -c requirements/constraints.txt -e '.[test,dev]'
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BCSIGNAL) build
	$(BCSIGNAL) validate
	$(BCSIGNAL) check --results build/results.json
	@echo "results: build/results.json"

test: $(STAMP)
	$(VPY) -m pytest $(PYTEST_ARGS)

build: $(STAMP)
	$(BCSIGNAL) build

validate: $(STAMP)
	$(BCSIGNAL) validate

check: $(STAMP)
	$(BCSIGNAL) check

lint: $(STAMP)
	$(VENV)/bin/ruff check python tests
	$(VENV)/bin/ruff format --check python tests
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format python tests
	$(VENV)/bin/ruff check --fix python tests

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
