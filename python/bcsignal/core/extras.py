"""Optional dependencies: import a module of an extra, or fail with one line naming what to install."""

from __future__ import annotations

import importlib
import sys
from importlib import util
from types import ModuleType

from bcsignal.core.errors import BcsignalError

#: Module -> (distribution on the package index, extra of bcsignal that brings it; None: not an extra).
PROVIDERS: dict[str, tuple[str, str | None]] = {
    "COPASI": ("python-copasi", "exchange"),
    "libsedml": ("python-libsedml", "exchange"),
    "libcombine": ("python-libcombine", "exchange"),
    "matplotlib": ("matplotlib", "report"),
    "jinja2": ("jinja2", "report"),
    "distributed": ("dask[distributed]", "robustness"),
    "tqdm": ("tqdm", "robustness"),
    "pandas": ("pandas", "pandas"),
    "tellurium": ("tellurium", None),
}


def install_hint(module: str) -> str:
    """Return the pip command that installs the distribution providing `module`."""
    distribution, extra = PROVIDERS[module.split(".")[0]]
    if extra is None:
        return f"pip install {distribution} six"
    return f"pip install 'bcsignal[{extra}]'"


def missing(module: str, purpose: str) -> BcsignalError:
    """Return the error that says `purpose` needs `module`, and how to install it."""
    distribution, extra = PROVIDERS[module.split(".")[0]]
    part = f"the '{extra}' extra" if extra is not None else distribution
    return BcsignalError(f"{purpose} needs {part} ({distribution} is not installed): {install_hint(module)}")


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` (of an optional extra), or raise one BcsignalError naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing(module, purpose) from None


def ensure(module: str, purpose: str) -> None:
    """Check that `module` is installed without importing it (it will be imported in a child process)."""
    try:
        found = (
            sys.modules[module] is not None if module in sys.modules else util.find_spec(module) is not None
        )
    except (ImportError, ValueError):
        found = False
    if not found:
        raise missing(module, purpose)
