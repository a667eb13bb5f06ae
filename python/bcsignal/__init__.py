"""bcsignal: curated, machine-checked SBML models of breast-cancer signalling."""

from __future__ import annotations

from pathlib import Path

import roadrunner

from bcsignal import paths
from bcsignal.claims import ClaimResult, check_model
from bcsignal.errors import BcsignalError
from bcsignal.simulate import cached_simulator, load_sbml_file

__all__ = ["BcsignalError", "ClaimResult", "check", "load", "models", "sbml_path"]
__version__ = "0.1.0.dev0"


def models() -> list[str]:
    """Return the ids of the shipped models."""
    return paths.model_ids()


def sbml_path(model_id: str) -> Path:
    """Return the path of a model's shipped SBML file."""
    return paths.sbml_path(model_id)


def load(model_id: str) -> roadrunner.RoadRunner:
    """Return a fresh RoadRunner of a shipped model, with CVODE tolerances set explicitly."""
    return load_sbml_file(paths.sbml_path(model_id))


def check(model_id: str) -> list[ClaimResult]:
    """Simulate a shipped model's claims (a composite: its papers' claims too); one result per claim.

    The model is compiled once per process and reused by later calls.
    """
    path = paths.sbml_path(model_id)
    sim = cached_simulator(path.read_text(encoding="utf-8"), name=model_id, origin=path)
    return check_model(model_id, sim)
