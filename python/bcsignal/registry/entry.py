"""One model of a registry: its files, its kind (paper or composite), its parsed claims, papers and tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bcsignal.registry.layout import Registry
    from bcsignal.spec.claims import ClaimsFile
    from bcsignal.spec.mergemap import MergeEntry
    from bcsignal.spec.provenance import Provenance

#: The two kinds of model: a paper's, and a composite that merges papers with SBML comp.
PAPER, COMPOSITE = "paper", "composite"


@dataclass(eq=False)
class ModelEntry:
    """A model of a registry: where its files are, and (read once, on first use) what they hold.

    A model is a composite when its claims file has a ``composite:`` block naming its submodels; this is
    the only place that decides it. Paths are given whether or not the file exists yet (a build writes
    the SBML).
    """

    id: str
    registry: Registry = field(repr=False)

    # -- files ------------------------------------------------------------------------------------
    @property
    def source(self) -> Path:
        """Return the Antimony source, ``models/<id>.ant``."""
        from bcsignal.registry.layout import ANT_SUFFIX

        return self.registry.models_dir / f"{self.id}{ANT_SUFFIX}"

    @property
    def claims_file(self) -> Path:
        """Return the claims file, ``models/<id>.claims.yaml``."""
        from bcsignal.registry.layout import CLAIMS_SUFFIX

        return self.registry.models_dir / f"{self.id}{CLAIMS_SUFFIX}"

    @property
    def parameters_file(self) -> Path:
        """Return the parameter provenance table, ``models/<id>.parameters.tsv``."""
        from bcsignal.registry.layout import PARAMETERS_SUFFIX

        return self.registry.models_dir / f"{self.id}{PARAMETERS_SUFFIX}"

    @property
    def merge_map_file(self) -> Path | None:
        """Return a composite's merge map, ``models/<id>.merge.yaml`` (None for a paper)."""
        from bcsignal.registry.layout import MERGE_SUFFIX

        return self.registry.models_dir / f"{self.id}{MERGE_SUFFIX}" if self.is_composite else None

    @property
    def sbml(self) -> Path:
        """Return the built flat SBML file, ``sbml/<id>.xml``."""
        from bcsignal.registry.layout import SBML_SUFFIX

        return self.registry.sbml_dir / f"{self.id}{SBML_SUFFIX}"

    @property
    def comp_sbml(self) -> Path | None:
        """Return a composite's built comp SBML file, ``sbml/<id>_comp.xml`` (None for a paper)."""
        from bcsignal.registry.layout import COMP_SUFFIX

        return self.registry.sbml_dir / f"{self.id}{COMP_SUFFIX}" if self.is_composite else None

    @property
    def diagram(self) -> Path:
        """Return the built process diagram, ``sbml/diagrams/<id>.layout.xml``."""
        from bcsignal.registry.layout import DIAGRAM_SUFFIX

        return self.registry.diagrams_dir / f"{self.id}{DIAGRAM_SUFFIX}"

    @property
    def built_files(self) -> dict[str, Path]:
        """Return the files a build writes for this model: name inside ``sbml/`` -> path."""
        files = [self.sbml, *([self.comp_sbml] if self.comp_sbml is not None else []), self.diagram]
        return {p.relative_to(self.registry.sbml_dir).as_posix(): p for p in files}

    def sbml_text(self) -> str:
        """Return the text of the built flat SBML file."""
        from bcsignal.core.errors import BcsignalError

        try:
            return self.sbml.read_text(encoding="utf-8")
        except OSError as exc:
            raise BcsignalError(f"cannot read: {exc.strerror}; run `bcsignal build`", file=self.sbml) from exc

    # -- what the files hold (parsed once) --------------------------------------------------------
    @cached_property
    def claims(self) -> ClaimsFile:
        """Return the parsed claims file."""
        from bcsignal.spec.claims import load_claims

        return load_claims(self.claims_file)

    @property
    def kind(self) -> str:
        """Return PAPER or COMPOSITE."""
        return COMPOSITE if self.claims.composite is not None else PAPER

    @property
    def is_composite(self) -> bool:
        """Return whether the model merges other models of the registry (SBML comp)."""
        return self.kind == COMPOSITE

    @cached_property
    def submodels(self) -> tuple[ModelEntry, ...]:
        """Return a composite's submodels, in the order its claims file names them (none for a paper)."""
        names = (self.claims.composite or {}).get("submodels", [])
        return tuple(self.registry.entry(str(n)) for n in names)

    @property
    def suites(self) -> tuple[ClaimsFile, ...]:
        """Return the claims files checked against the model: its submodels' (a composite), then its own."""
        return (*(sub.claims for sub in self.submodels), self.claims)

    @property
    def papers(self) -> list[Mapping[str, Any]]:
        """Return the papers that describe the model: its own, or (a composite) its submodels'."""
        if self.claims.paper is not None:
            return [self.claims.paper]
        return [p for sub in self.submodels for p in sub.papers]

    @property
    def title(self) -> str:
        """Return the model's title: its paper's, or the composite's own."""
        if self.claims.paper is not None:
            return str(self.claims.paper["title"])
        return str((self.claims.composite or {}).get("title", self.id))

    @cached_property
    def provenance(self) -> dict[str, Provenance]:
        """Return the parameter provenance table (parameter id -> row)."""
        from bcsignal.spec.provenance import read_provenance

        return read_provenance(self.parameters_file)

    @cached_property
    def merge_map(self) -> list[MergeEntry]:
        """Return a composite's merge map (empty for a paper or when the file is absent)."""
        from bcsignal.spec.mergemap import load_merge_map

        path = self.merge_map_file
        return load_merge_map(path) if path is not None and path.is_file() else []
