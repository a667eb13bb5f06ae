"""Shared fixtures: SBML is built once per session; claims run once per model per session."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import pytest

from bcsignal import build, cli, paths
from bcsignal.build import antimony_to_sbml, write_sbml_string
from bcsignal.claims import ClaimResult, check_model
from bcsignal.simulate import Simulator, new_simulator

DATA = Path(__file__).parent / "data"
MODEL_IDS = paths.model_ids()


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
    for mid in MODEL_IDS:
        path = paths.sbml_path(mid)
        sim = new_simulator(path.read_text(encoding="utf-8"), name=mid, origin=path)
        results.update({r.test_id: r for r in check_model(mid, sim)})
    return results


@pytest.fixture(scope="session")
def tiny_sbml() -> str:
    """The tiny adapting test model, as SBML."""
    return write_sbml_string(antimony_to_sbml(DATA / "tiny.ant"))


@pytest.fixture
def tiny(tiny_sbml: str) -> Simulator:
    """A fresh simulator of the tiny model for each test."""
    return new_simulator(tiny_sbml, name="tiny")


def run_cli(args: Sequence[str], *, cwd: Path, timeout: float) -> tuple[int, str, str]:
    """Run `bcsignal ARGS` as `cli.main` in a forked process; return (status, stdout, stderr).

    The status is negative (minus the signal) if the process crashed. A run longer than `timeout`
    seconds is killed and fails the test. Forking skips the interpreter start-up of the console
    script, which is tested on its own.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 99
            try:
                os.chdir(cwd)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 - pytest swapped it
                sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
                code = cli.main(list(args))
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"bcsignal {' '.join(args)} ran longer than {timeout} s")
            time.sleep(0.01)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        out.seek(0)
        err.seek(0)
        return code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
