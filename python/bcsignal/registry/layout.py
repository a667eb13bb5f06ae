"""Where a registry's files live: the models folder, the SBML folder, the build folder, the shared files."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bcsignal.core.errors import BcsignalError
from bcsignal.registry.entry import ModelEntry

#: Suffix of an Antimony model source.
ANT_SUFFIX = ".ant"
#: Suffix of a claims file.
CLAIMS_SUFFIX = ".claims.yaml"
#: Suffix of a parameter provenance table.
PARAMETERS_SUFFIX = ".parameters.tsv"
#: Suffix of a composite's merge map.
MERGE_SUFFIX = ".merge.yaml"
#: Suffix of a composite's comp SBML file, next to its flat file (``<id>.xml``).
COMP_SUFFIX = "_comp.xml"
#: Suffix of a flat SBML file.
SBML_SUFFIX = ".xml"
#: The shared interface vocabulary, in the models folder.
INTERFACE_FILE = "interface.yaml"
#: The annotation rules applied by every build, in the models folder.
ANNOTATION_FILE = "annotation.yaml"
#: The authors file (Citation File Format 1.2), at the top of a checkout.
AUTHORS_FILE = "CITATION.cff"
#: The folder of process diagrams inside the SBML folder, and their suffix.
DIAGRAMS, DIAGRAM_SUFFIX = "diagrams", ".layout.xml"


@dataclass(eq=False)
class Registry:
    """A set of models: ``models/<id>.ant`` with a claims file, their tables, and the SBML built from them.

    `root` is the top folder (a checkout, the installed package's data, or a temporary one in tests):
    ``root/models``, ``root/sbml`` and ``root/CITATION.cff``. `build` holds generated output (results,
    robustness runs, reports, archives); `writable` says whether `bcsignal build` may write ``root/sbml``.
    """

    root: Path
    build: Path
    writable: bool = True
    _entries: dict[str, ModelEntry] = field(default_factory=dict, repr=False)

    @classmethod
    def at(cls, root: Path, *, build: Path | None = None) -> Registry:
        """Return the registry of a folder with ``models/`` (and ``sbml/`` once built)."""
        root = Path(root)
        if not (root / "models").is_dir():
            raise BcsignalError("no models folder", file=root / "models")
        return cls(root=root, build=build or root / "build")

    @property
    def models_dir(self) -> Path:
        """Return the folder with the Antimony sources, claims files and provenance tables."""
        return self.root / "models"

    @property
    def sbml_dir(self) -> Path:
        """Return the folder with the built SBML files."""
        return self.root / "sbml"

    @property
    def diagrams_dir(self) -> Path:
        """Return the folder with the built process diagrams."""
        return self.sbml_dir / DIAGRAMS

    @property
    def interface_file(self) -> Path:
        """Return the shared interface vocabulary (models/interface.yaml)."""
        return self.models_dir / INTERFACE_FILE

    @property
    def annotation_file(self) -> Path:
        """Return the annotation rules every build applies (models/annotation.yaml)."""
        return self.models_dir / ANNOTATION_FILE

    @property
    def authors_file(self) -> Path:
        """Return the authors file (CITATION.cff): the package's authors and every model's creators."""
        return self.root / AUTHORS_FILE

    @property
    def omex_dir(self) -> Path:
        """Return where `bcsignal export` writes the COMBINE/OMEX archives (build/omex)."""
        return self.build / "omex"

    @property
    def report_dir(self) -> Path:
        """Return where `bcsignal report` writes the curation report (build/report)."""
        return self.build / "report"

    def robustness_dir(self, model_id: str) -> Path:
        """Return where `bcsignal robustness MODEL` writes its run by default (build/robustness/<id>)."""
        return self.build / "robustness" / model_id

    def ids(self) -> list[str]:
        """Return the model ids: every ``models/<id>.ant`` with a claims file, sorted."""
        folder = self.models_dir
        return sorted(
            p.name.removesuffix(ANT_SUFFIX)
            for p in folder.glob(f"*{ANT_SUFFIX}")
            if (folder / (p.name.removesuffix(ANT_SUFFIX) + CLAIMS_SUFFIX)).is_file()
        )

    def entry(self, model_id: str) -> ModelEntry:
        """Return the entry of a model; an unknown id is an error naming the known ones."""
        found = self._entries.get(model_id)
        if found is not None:
            return found
        known = self.ids()
        if model_id not in known:
            raise BcsignalError(f"unknown model id {model_id!r}; known models: {', '.join(known) or 'none'}")
        made = ModelEntry(model_id, self)
        self._entries[model_id] = made
        return made

    def entries(self, selected: list[str] | tuple[str, ...] = ()) -> list[ModelEntry]:
        """Return the entries named (default: every model, sorted by id)."""
        return [self.entry(mid) for mid in (selected or self.ids())]

    def by_sbml(self, path: Path) -> ModelEntry | None:
        """Return the model whose built flat SBML file `path` is, or None."""
        wanted = Path(path).resolve()
        return next((e for e in self.entries() if e.sbml.resolve() == wanted), None)

    def path(self, relative: str) -> Path:
        """Return a file of the SBML folder named relative to it (a build's output names)."""
        return self.sbml_dir / relative


@cache
def project_root() -> Path | None:
    """Return the checkout's top folder, or None when running from an installed wheel."""
    here = Path(__file__).resolve().parent.parent
    root = here.parent.parent
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root
    return None


@cache
def default() -> Registry:
    """Return the shipped registry: the checkout's, or the installed package's (read-only) data."""
    root = project_root()
    if root is not None:
        return Registry(root=root, build=root / "build")
    packaged = Path(__file__).resolve().parent.parent / "_data"
    if (packaged / "models").is_dir():
        return Registry(root=packaged, build=Path.cwd() / "build", writable=False)
    raise BcsignalError("cannot find the models folder in a checkout or in the installed package")


_active: list[Registry] = []


def current() -> Registry:
    """Return the registry in use: the innermost `using` block's, else the shipped one."""
    return _active[-1] if _active else default()


@contextmanager
def using(registry: Registry) -> Iterator[Registry]:
    """Make `registry` the one in use inside the block (a temporary registry in tests)."""
    _active.append(registry)
    try:
        yield registry
    finally:
        _active.remove(registry)


def entry(model_id: str) -> ModelEntry:
    """Return the entry of a model of the registry in use."""
    return current().entry(model_id)
