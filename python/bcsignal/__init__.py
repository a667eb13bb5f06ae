"""bcsignal: curated, machine-checked SBML models of breast-cancer signalling.

The facade is lazy: ``import bcsignal`` (or ``bcsignal.errors``) loads no native library; a name below is
imported from its module the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcsignal.api import (
        CheckedClaim,
        Model,
        antimony,
        claim,
        experiments,
        export_omex,
        load,
        plot_robustness,
        robustness_study,
        run_experiment,
        time_course,
    )
    from bcsignal.app.usermodel import ModelInput
    from bcsignal.checks.validation import Report
    from bcsignal.core.errors import BcsignalError, BcsignalWarning
    from bcsignal.engine.claims.results import ClaimResult
    from bcsignal.facade import check, models, sbml_path, validate

__all__ = [
    "BcsignalError",
    "BcsignalWarning",
    "CheckedClaim",
    "ClaimResult",
    "Model",
    "ModelInput",
    "Report",
    "antimony",
    "check",
    "claim",
    "experiments",
    "export_omex",
    "load",
    "models",
    "plot_robustness",
    "robustness_study",
    "run_experiment",
    "sbml_path",
    "time_course",
    "validate",
]
__version__ = "0.1.0.dev0"

#: Where each public name lives; `__getattr__` imports it on first use.
_HOME = {
    "BcsignalError": "bcsignal.core.errors",
    "BcsignalWarning": "bcsignal.core.errors",
    "CheckedClaim": "bcsignal.api",
    "ClaimResult": "bcsignal.claims",
    "Model": "bcsignal.api",
    "ModelInput": "bcsignal.app.usermodel",
    "Report": "bcsignal.checks.validation",
    "antimony": "bcsignal.api",
    "check": "bcsignal.facade",
    "claim": "bcsignal.api",
    "experiments": "bcsignal.api",
    "export_omex": "bcsignal.api",
    "load": "bcsignal.api",
    "models": "bcsignal.facade",
    "plot_robustness": "bcsignal.api",
    "robustness_study": "bcsignal.api",
    "run_experiment": "bcsignal.api",
    "sbml_path": "bcsignal.facade",
    "time_course": "bcsignal.api",
    "validate": "bcsignal.facade",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'bcsignal' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
