"""Claims files and the claims engine, as one public module (`bcsignal.claims.parse_claims`, ...).

The parts live in their layers: `bcsignal.spec.claims` (the files), `bcsignal.engine.claims` (plans,
relations, results). This module re-exports them for users and for modules not yet placed in a layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bcsignal.engine.claims.evaluate import *  # noqa: F403
from bcsignal.engine.claims.plan import *  # noqa: F403
from bcsignal.engine.claims.plan import _cached_plan as _cached_plan
from bcsignal.engine.claims.results import *  # noqa: F403
from bcsignal.spec.claims import *  # noqa: F403
from bcsignal.spec.claims import ClaimsFile
from bcsignal.spec.relations import *  # noqa: F403


def papers_of(claims: ClaimsFile) -> list[Mapping[str, Any]]:
    """Return the papers that describe a claims file's model: its own, or (a composite) its submodels'.

    A composite's submodels are models of the registry in use (`ModelEntry.papers`).
    """
    if claims.paper is not None:
        return [claims.paper]
    from bcsignal import registry

    subs = (claims.composite or {}).get("submodels", [])
    return [p for sub in subs for p in registry.entry(str(sub)).papers]


def title_of(claims: ClaimsFile) -> str:
    """Return the title of a claims file's model: its paper's, or the composite's own."""
    if claims.paper is not None:
        return str(claims.paper["title"])
    return str((claims.composite or {}).get("title", claims.model))
