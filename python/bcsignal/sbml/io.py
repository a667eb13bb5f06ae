"""Reading SBML with libsbml: documents, its consistency findings (`Issue`, `Severity`), empty symbols."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import libsbml

from bcsignal.core.errors import BcsignalError, native_message


class Severity(StrEnum):
    """How bad a finding is: an error fails a check; a warning fails it only when strict."""

    ERROR = "error"
    WARNING = "warning"


#: libsbml consistency categories, each run on its own so none hides another.
CATEGORIES: dict[str, int] = {
    "general": libsbml.LIBSBML_CAT_GENERAL_CONSISTENCY,
    "identifier": libsbml.LIBSBML_CAT_IDENTIFIER_CONSISTENCY,
    "units": libsbml.LIBSBML_CAT_UNITS_CONSISTENCY,
    "mathml": libsbml.LIBSBML_CAT_MATHML_CONSISTENCY,
    "sbo": libsbml.LIBSBML_CAT_SBO_CONSISTENCY,
    "overdetermined": libsbml.LIBSBML_CAT_OVERDETERMINED_MODEL,
    "modelling practice": libsbml.LIBSBML_CAT_MODELING_PRACTICE,
}


#: libsbml adds this sentence to every message about a comp document; it says nothing about the model.
_COMP_BOILERPLATE = (
    "Due to the need to instantiate models, modelDefinitions, submodels etc. for the purposes of "
    "validation it is problematic to reliably report line numbers when performing validation on "
    "models using the Hierarchical Model Composition package."
)


def clean_message(message: str) -> str:
    """Return a native tool's message on one line, without comp boilerplate or C++ source locations.

    A message longer than MAX_NATIVE_MESSAGE characters (a formula of 50 000 signs, say) is cut.
    """
    return native_message(message.replace(_COMP_BOILERPLATE, " "))


@dataclass(frozen=True)
class Issue:
    """One validation finding."""

    severity: Severity
    category: str
    message: str
    code: int | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        code = f" {self.code}" if self.code is not None else ""
        return f"{where}{self.severity} [{self.category}{code}] {self.message}"


@dataclass
class Report:
    """All findings for one file."""

    file: str
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """Return the errors."""
        return [i for i in self.issues if i.severity == Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        """Return the warnings."""
        return [i for i in self.issues if i.severity == Severity.WARNING]

    def ok(self, strict: bool = True) -> bool:
        """Return True when there is no error (and, if strict, no warning)."""
        return not self.errors and not (strict and self.warnings)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "file": self.file,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "issues": [vars(i) for i in self.issues],
        }


def read_document(text: str, origin: str, location: str | None = None) -> libsbml.SBMLDocument:
    """Parse SBML text with libsbml, raising our error on a fatal or read error.

    `location` (a ``file:`` URI of the document's folder) is where comp external model definitions
    resolve; without it they resolve nowhere.
    """
    doc = libsbml.readSBMLFromString(text)
    if location is not None:
        doc.setLocationURI(location)
    log = doc.getErrorLog()
    for i in range(log.getNumErrors()):
        err = log.getError(i)
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            raise BcsignalError(
                clean_message(err.getMessage()),
                file=origin,
                line=err.getLine() or None,
                tool="libsbml",
            )
    if doc.getModel() is None:
        raise BcsignalError("the document has no model", file=origin, tool="libsbml")
    return doc


def libsbml_issues(
    text: str, origin: str, *, strict_units: bool = True, location: str | None = None
) -> list[Issue]:
    """Run every libsbml consistency category, each on its own; unit problems are errors if strict."""
    issues: list[Issue] = []
    for name, category in CATEGORIES.items():
        doc = read_document(text, origin, location)
        for other in CATEGORIES.values():
            doc.setConsistencyChecks(other, other == category)
        if strict_units:
            doc.checkConsistencyWithStrictUnits()
        else:
            doc.checkConsistency()
        log = doc.getErrorLog()
        for i in range(log.getNumErrors()):
            err = log.getError(i)
            severity = Severity.ERROR if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR else Severity.WARNING
            if err.getSeverity() == libsbml.LIBSBML_SEV_INFO:
                continue
            issues.append(
                Issue(
                    severity,
                    name,
                    clean_message(err.getMessage()),
                    err.getErrorId(),
                    err.getLine() or None,
                )
            )
    return issues


def valueless_symbols(model: libsbml.Model) -> list[str]:
    """Return the compartments, species and parameters with no value and no rule or assignment setting one.

    Simulators fill these in silently (libroadrunner with 0, COPASI with 1); Antimony creates them
    from typos.
    """
    assigned = {r.getVariable() for r in model.getListOfRules()}
    assigned |= {a.getSymbol() for a in model.getListOfInitialAssignments()}
    empty = [
        c.getId() for c in model.getListOfCompartments() if not c.isSetSize() and c.getId() not in assigned
    ]
    empty += [
        s.getId()
        for s in model.getListOfSpecies()
        if not (s.isSetInitialConcentration() or s.isSetInitialAmount()) and s.getId() not in assigned
    ]
    empty += [
        p.getId() for p in model.getListOfParameters() if not p.isSetValue() and p.getId() not in assigned
    ]
    return sorted(empty)
