"""Shared fixtures: SBML is built once per session; claims run once per model per session."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from bcsignal import registry
from bcsignal.checks.tasks import validate_model
from bcsignal.checks.validation import Report
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.run import run_model
from bcsignal.engine.simulate import Simulator, new_simulator
from bcsignal.sbml import build
from bcsignal.sbml.build import antimony_to_sbml, write_sbml_string

DATA = Path(__file__).parent / "data"
MODEL_IDS = registry.current().ids()


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    return str(val) if isinstance(val, str) else None


@pytest.fixture(scope="session")
def built() -> dict[str, str]:
    """Every model built from its source, once per session (file name -> SBML text)."""
    return build.build_all().files


@pytest.fixture(scope="session")
def claim_results() -> dict[str, ClaimResult]:
    """Every shipped model's claims, simulated once per session: test id -> result."""
    results: dict[str, ClaimResult] = {}
    for entry in registry.current().entries():
        results.update({r.test_id: r for r in run_model(entry, certify=False).results})
    return results


@pytest.fixture(scope="session")
def validations() -> dict[str, list[Report]]:
    """Every shipped model's files validated once per session: model id -> one report per file."""
    return {entry.id: validate_model(entry) for entry in registry.current().entries()}


@pytest.fixture(scope="session")
def tiny_sbml() -> str:
    """The tiny adapting test model, as SBML."""
    return write_sbml_string(antimony_to_sbml(DATA / "tiny.ant"))


@pytest.fixture
def tiny(tiny_sbml: str) -> Simulator:
    """A fresh simulator of the tiny model for each test."""
    return new_simulator(tiny_sbml, name="tiny")


#: What a fresh interpreter runs for `run_cli`: the command line's entry point.
_CLI = "import sys; from bcsignal.app import cli; sys.exit(cli.main(sys.argv[1:]))"
#: Seconds allowed for interpreter start-up on top of a run's own time limit.
STARTUP_ALLOWANCE = 20.0


def run_cli(args: Sequence[str], *, cwd: Path, timeout: float) -> tuple[int, str, str]:
    """Run `bcsignal ARGS` (`cli.main`) in a fresh interpreter; return (status, stdout, stderr).

    The status is negative (minus the signal) if the process crashed. A run longer than `timeout`
    seconds (plus STARTUP_ALLOWANCE for the interpreter start-up: a hang guard, not a timing) is
    killed and fails the test. A fresh interpreter, not a fork: pytest's process has threads (LLVM's,
    once a model compiled in it), and forking it is unsafe.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CLI, *args],
            cwd=cwd,
            capture_output=True,
            timeout=timeout + STARTUP_ALLOWANCE,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"bcsignal {' '.join(args)} ran longer than {timeout} s")
    return done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace")


def load_script(path: Path) -> ModuleType:
    """Import a stand-alone script of the repository (not part of the package) as a module.

    It is registered in sys.modules under a private name while it runs (dataclasses look their module
    up there), so a script of the same file name as a real module shadows nothing.
    """
    name = f"_bcsignal_script_{path.parent.name}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
