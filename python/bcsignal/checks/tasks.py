"""Validation as small tasks: one task list per kind of file, after libsbml's consistency categories.

The kinds are a file outside the registry, a paper's and a composite's two files; `validate_model`
checks a registry model's files and its diagram. (A user's model is checked by `bcsignal.app.usermodel`
in an isolated child, with its own lenient list.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libsbml

from bcsignal.checks.validation import (
    annotation_issues,
    interface_issues,
    interface_vocabulary,
    provenance_issues,
    sanity_issues,
    steady_state_issues,
)
from bcsignal.core.screen import read_screened, screen_text
from bcsignal.registry import ModelEntry
from bcsignal.sbml import compose
from bcsignal.sbml.io import Issue, Report, Severity, libsbml_issues, read_document


@dataclass(frozen=True)
class Target:
    """One SBML file as the validation tasks see it: its text, parsed model and registry entry (if any)."""

    text: str
    origin: str
    doc: libsbml.SBMLDocument
    entry: ModelEntry | None

    @property
    def model(self) -> libsbml.Model:
        """Return the document's model."""
        return self.doc.getModel()


#: A validation task: one check of a file, giving its findings.
Task = Callable[[Target], list[Issue]]


def _sanity_task(t: Target) -> list[Issue]:
    return sanity_issues(t.model)


def _interface_task(t: Target) -> list[Issue]:
    assert t.entry is not None
    return interface_issues(t.model, t.entry.claims)


def _comp_provenance_task(t: Target) -> list[Issue]:
    assert t.entry is not None
    return provenance_issues(t.model, compose.top_provenance(t.entry, t.doc))


def _merge_map_task(t: Target) -> list[Issue]:
    assert t.entry is not None
    return [
        Issue(Severity.ERROR, "merge map", p) for p in compose.merge_map_problems(t.doc, t.entry.merge_map)
    ]


def _provenance_task(t: Target) -> list[Issue]:
    """A paper's own table; a composite's flat file, its submodels' tables and its own (merged)."""
    assert t.entry is not None
    comp_file = t.entry.comp_sbml
    if comp_file is not None and comp_file.is_file():
        comp = read_document(read_screened(comp_file), str(comp_file))
        return provenance_issues(t.model, compose.merged_provenance(t.entry, comp), strict_rows=False)
    return provenance_issues(t.model, t.entry.provenance, strict_rows=True)


def _steady_state_task(t: Target) -> list[Issue]:
    return steady_state_issues(t.text, t.origin)


def _annotation_task(t: Target) -> list[Issue]:
    phenotypes: list[str] = []
    if t.entry is not None:
        vocab = interface_vocabulary()["readouts"]
        phenotypes = [r for r in t.entry.claims.readouts if vocab.get(r, {}).get("unit") == "dimensionless"]
    return annotation_issues(t.model, phenotypes)


#: The kinds of file validated, and the tasks each runs, in order, after libsbml's consistency categories
#: (which every file gets first: they also parse it).
UNREGISTERED, PAPER, COMPOSITE_FLAT, COMPOSITE_COMP = (
    "unregistered",
    "paper",
    "composite (flat)",
    "composite (comp)",
)
TASKS: dict[str, tuple[Task, ...]] = {
    UNREGISTERED: (_sanity_task, _annotation_task),
    PAPER: (_sanity_task, _interface_task, _provenance_task, _steady_state_task, _annotation_task),
    COMPOSITE_FLAT: (
        _sanity_task,
        _interface_task,
        _provenance_task,
        _steady_state_task,
        _annotation_task,
    ),
    COMPOSITE_COMP: (
        _sanity_task,
        _interface_task,
        _comp_provenance_task,
        _merge_map_task,
        _annotation_task,
    ),
}


def kind_of(doc: libsbml.SBMLDocument, entry: ModelEntry | None) -> str:
    """Return which task list a file gets: one outside the registry, a paper's, or a composite's two."""
    if entry is None:
        return UNREGISTERED
    if compose.is_composite(doc):
        return COMPOSITE_COMP
    return COMPOSITE_FLAT if entry.is_composite else PAPER


def validate_text(text: str, origin: str = "<string>", entry: ModelEntry | None = None) -> Report:
    """Validate SBML text; as a registry model's file, also the interface, provenance and steady start.

    The tasks run are `TASKS[kind_of(...)]`: a composite's comp document is checked against the merge
    map, its flattened one against the merged provenance of its submodels and its own table.
    """
    screen_text(text, origin)
    report = Report(file=origin)
    report.issues += libsbml_issues(text, origin)
    target = Target(text, origin, read_document(text, origin), entry)
    for task in TASKS[kind_of(target.doc, entry)]:
        report.issues += task(target)
    return report


def validate_file(path: Path, entry: ModelEntry | None = None) -> Report:
    """Validate an SBML file; as a registry model's file (`entry`), with every check of a registry model."""
    return validate_text(read_screened(Path(path)), str(path), entry)


def validate_diagram(path: Path) -> Report:
    """Validate a process diagram (SBML Layout + Render): libsbml, glyphs, arc classes, no overlap."""
    from bcsignal.sbml import diagram

    doc = read_document(read_screened(Path(path)), str(path))
    return Report(str(path), [Issue(Severity.ERROR, "diagram", p) for p in diagram.problems(doc)])


def validate_model(entry: ModelEntry) -> list[Report]:
    """Validate a registry model's SBML files (a composite has two) and its diagram with every check."""
    files = [entry.sbml, *([entry.comp_sbml] if entry.comp_sbml is not None else [])]
    reports = [validate_file(f, entry) for f in files if f.is_file()]
    drawing = entry.diagram
    if not drawing.is_file():
        return [
            *reports,
            Report(str(drawing), [Issue(Severity.ERROR, "diagram", "missing: run `bcsignal build`")]),
        ]
    return [*reports, validate_diagram(drawing)]
