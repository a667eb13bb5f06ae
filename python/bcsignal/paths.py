"""Path helpers by model id, kept for old imports and tests (no package module uses them).

The layout itself (folder names, suffixes, the composite's ``_comp.xml``) is defined once, in
`bcsignal.registry`; new code takes a `bcsignal.registry.ModelEntry` instead.
"""

from __future__ import annotations

from pathlib import Path

from bcsignal import registry
from bcsignal.registry.layout import project_root

__all__ = [
    "annotation_path",
    "ant_path",
    "authors_path",
    "build_dir",
    "claims_path",
    "interface_path",
    "model_ids",
    "models_dir",
    "parameters_path",
    "project_root",
    "sbml_dir",
    "sbml_path",
]


def models_dir() -> Path:
    """Return the folder with the Antimony sources, claims files and provenance tables."""
    return registry.current().models_dir


def sbml_dir() -> Path:
    """Return the folder with the shipped SBML files."""
    return registry.current().sbml_dir


def build_dir() -> Path:
    """Return the folder for generated, uncommitted output (results, reports)."""
    return registry.current().build


def model_ids() -> list[str]:
    """Return the ids of the models: every ``models/<id>.ant`` with a claims file."""
    return registry.current().ids()


def ant_path(model_id: str) -> Path:
    """Return the Antimony source of a model."""
    return registry.entry(model_id).source


def claims_path(model_id: str) -> Path:
    """Return the claims file of a model."""
    return registry.entry(model_id).claims_file


def parameters_path(model_id: str) -> Path:
    """Return the parameter provenance table of a model."""
    return registry.entry(model_id).parameters_file


def sbml_path(model_id: str) -> Path:
    """Return the shipped SBML file of a model."""
    return registry.entry(model_id).sbml


def interface_path() -> Path:
    """Return the shared interface vocabulary."""
    return registry.current().interface_file


def annotation_path() -> Path:
    """Return the annotation rules every build applies (models/annotation.yaml)."""
    return registry.current().annotation_file


def authors_path() -> Path:
    """Return the authors file (CITATION.cff): the package's authors and every model's creators."""
    return registry.current().authors_file
