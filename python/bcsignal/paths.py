"""Where the model sources, claims files and SBML live, in a checkout or an installed wheel."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from bcsignal.errors import BcsignalError

#: Suffix of an Antimony model source.
ANT_SUFFIX = ".ant"
#: Suffix of a claims file.
CLAIMS_SUFFIX = ".claims.yaml"
#: Suffix of a parameter provenance table.
PARAMETERS_SUFFIX = ".parameters.tsv"
#: The shared interface vocabulary, in the models folder.
INTERFACE_FILE = "interface.yaml"
#: The annotation rules applied by every build, in the models folder.
ANNOTATION_FILE = "annotation.yaml"
#: The authors file (Citation File Format 1.2), at the top of a checkout.
AUTHORS_FILE = "CITATION.cff"


@cache
def project_root() -> Path | None:
    """Return the checkout's top folder, or None when running from an installed wheel."""
    here = Path(__file__).resolve().parent
    root = here.parent.parent
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root
    return None


@cache
def _data_root() -> Path:
    root = project_root()
    if root is not None:
        return root
    packaged = Path(__file__).resolve().parent / "_data"
    if (packaged / "models").is_dir():
        return packaged
    raise BcsignalError("cannot find the models folder in a checkout or in the installed package")


def models_dir() -> Path:
    """Return the folder with the Antimony sources, claims files and provenance tables."""
    return _data_root() / "models"


def sbml_dir() -> Path:
    """Return the folder with the shipped SBML files."""
    return _data_root() / "sbml"


def build_dir() -> Path:
    """Return the folder for generated, uncommitted output (results, reports)."""
    root = project_root()
    return (root if root is not None else Path.cwd()) / "build"


def model_ids() -> list[str]:
    """Return the ids of the paper models: every ``models/<id>.ant`` with a claims file."""
    folder = models_dir()
    return sorted(
        p.name.removesuffix(ANT_SUFFIX)
        for p in folder.glob(f"*{ANT_SUFFIX}")
        if (folder / (p.name.removesuffix(ANT_SUFFIX) + CLAIMS_SUFFIX)).is_file()
    )


def _require(model_id: str) -> str:
    if model_id not in model_ids():
        known = ", ".join(model_ids()) or "none"
        raise BcsignalError(f"unknown model id {model_id!r}; known models: {known}")
    return model_id


def ant_path(model_id: str) -> Path:
    """Return the Antimony source of a model."""
    return models_dir() / f"{_require(model_id)}{ANT_SUFFIX}"


def claims_path(model_id: str) -> Path:
    """Return the claims file of a model."""
    return models_dir() / f"{_require(model_id)}{CLAIMS_SUFFIX}"


def parameters_path(model_id: str) -> Path:
    """Return the parameter provenance table of a model."""
    return models_dir() / f"{_require(model_id)}{PARAMETERS_SUFFIX}"


def sbml_path(model_id: str) -> Path:
    """Return the shipped SBML file of a model."""
    return sbml_dir() / f"{_require(model_id)}.xml"


def interface_path() -> Path:
    """Return the shared interface vocabulary."""
    return models_dir() / INTERFACE_FILE


def annotation_path() -> Path:
    """Return the annotation rules every build applies (models/annotation.yaml)."""
    return models_dir() / ANNOTATION_FILE


def authors_path() -> Path:
    """Return the authors file (CITATION.cff): the package's authors and every model's creators."""
    return _data_root() / AUTHORS_FILE
