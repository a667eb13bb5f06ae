"""The papers and title of a claims file's model: its own, or (a composite) its submodels'."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bcsignal.spec.claims import ClaimsFile


def papers_of(claims: ClaimsFile) -> list[Mapping[str, Any]]:
    """Return the papers that describe a claims file's model: its own, or (a composite) its submodels'.

    A composite's submodels are models of the registry in use (`ModelEntry.papers`).
    """
    if claims.paper is not None:
        return [claims.paper]
    from bcsignal.registry.layout import entry

    subs = (claims.composite or {}).get("submodels", [])
    return [p for sub in subs for p in entry(str(sub)).papers]


def title_of(claims: ClaimsFile) -> str:
    """Return the title of a claims file's model: its paper's, or the composite's own."""
    if claims.paper is not None:
        return str(claims.paper["title"])
    return str((claims.composite or {}).get("title", claims.model))
