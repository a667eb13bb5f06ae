"""Shared fixtures: SBML is built once per session; claims run once per model per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcsignal import build, paths
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
