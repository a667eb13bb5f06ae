"""Users' own models: given as a Path or as text (never guessed), screened, then checked and run in a child.

A user's model is read explicitly, from a file (`ModelInput.from_file`) or from SBML or Antimony text
(`ModelInput.sbml`, `ModelInput.antimony`); text is never taken for a file name or a URL. Before any
native parser sees it the text is screened (size, DOCTYPE/entities, nesting), and so is every file it
references (comp external model definitions, Antimony imports), which must be local files next to the
model. Parsing, the consistency checks and simulation then run in an isolated child process
(`bcsignal.isolate`), and the model reaches a simulator only when no check reports an error (nor, with
``strict``, a warning): no undefined symbol, missing or non-finite value, negative concentration,
non-positive compartment or duplicate id is filled in silently.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Literal

import libsbml
import roadrunner

from bcsignal import registry
from bcsignal.checks.validation import (
    CATEGORIES,
    Issue,
    Report,
    annotation_issues,
    clean_message,
    libsbml_issues,
    read_document,
    runtime_issues,
    sanity_issues,
    valueless_issues,
)
from bcsignal.core.errors import BcsignalError, BcsignalWarning
from bcsignal.core.isolate import run_isolated, stage
from bcsignal.core.limits import MAX_REFERENCES
from bcsignal.core.screen import decode, local_reference, read_bounded, screen_antimony, screen_text
from bcsignal.engine.certify import certify
from bcsignal.engine.claims.plan import check_model_ids, run_claims
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.simulate import Simulator, load_sbml_text
from bcsignal.engine.timecourse import Request, TimeCourse
from bcsignal.engine.timecourse import run as run_time_course
from bcsignal.registry import ModelEntry
from bcsignal.sbml.build import antimony_text_to_sbml, antimony_to_sbml, write_sbml_string
from bcsignal.spec.claims import ClaimsFile

Language = Literal["sbml", "antimony"]
#: File suffixes read as Antimony; every other file is SBML if it starts with "<", else Antimony.
ANTIMONY_SUFFIXES = (".ant", ".antimony", ".txt")
#: File suffixes read as SBML.
SBML_SUFFIXES = (".xml", ".sbml")
#: Most messages quoted from a failed comp flattening.
QUOTED_ISSUES = 3

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_NAME_LIKE = re.compile(
    r"^[^\s;=]+\.(xml|sbml|ant|antimony|txt)$|^(/|\./|\.\./|~)[^\s]*$|^[A-Za-z][\w+.-]*://\S+$"
)


@dataclass(frozen=True)
class ModelInput:
    """A user's model: its text, its language, where it came from and, for a file, its path."""

    text: str
    language: Language
    origin: str
    path: Path | None = None

    @classmethod
    def from_file(cls, path: Path | str) -> ModelInput:
        """Read a model file; its language comes from the suffix, or from the first character."""
        if isinstance(path, str) and _URL.match(path) and len(path.split(":", 1)[0]) > 1:
            raise BcsignalError(
                "no such file: this is a URL, and bcsignal reads local files only (it never fetches one)",
                file=path,
            )
        path = Path(path)
        text = decode(read_bounded(path), path)
        return cls(text=text, language=_language(path, text), origin=str(path), path=path)

    @classmethod
    def sbml(cls, text: str, *, origin: str = "<string>") -> ModelInput:
        """Wrap SBML text; a file name or URL given here is an error, never read or fetched."""
        text = _text(text, "SBML")
        if not text.lstrip("\ufeff \t\r\n").startswith("<"):
            raise BcsignalError(
                "expected SBML text, got something that is not XML (a file name or URL given as text is "
                "never read or fetched: use ModelInput.from_file(Path(...)) for a file)",
                file=origin,
            )
        return cls(text=text, language="sbml", origin=origin)

    @classmethod
    def antimony(cls, text: str, *, origin: str = "<string>") -> ModelInput:
        """Wrap Antimony text; a file name or URL given here is an error, never read or fetched."""
        text = _text(text, "Antimony")
        if _NAME_LIKE.match(text.strip()):
            raise BcsignalError(
                f"expected Antimony text, got what looks like a file name or URL ({text.strip()[:80]!r}); "
                "it is never read or fetched: use ModelInput.from_file(Path(...)) for a file",
                file=origin,
            )
        return cls(text=text, language="antimony", origin=origin)


def _text(text: object, language: str) -> str:
    if not isinstance(text, str):
        raise BcsignalError(
            f"expected {language} text as a str, got {type(text).__name__} "
            "(use ModelInput.from_file for a file)"
        )
    return text


def _language(path: Path, text: str) -> Language:
    suffix = path.suffix.lower()
    if suffix in ANTIMONY_SUFFIXES:
        return "antimony"
    if suffix in SBML_SUFFIXES:
        return "sbml"
    return "sbml" if text.lstrip("\ufeff \t\r\n").startswith("<") else "antimony"


# -- screening, including every referenced file ------------------------------------------------------
def screen(model: ModelInput) -> None:
    """Screen a model and every file it references, in Python only, before any native parser runs."""
    seen: set[Path] = set()
    pending: list[tuple[ModelInput, int]] = [(model, 0)]
    while pending:
        current, depth = pending.pop()
        for reference, line in _references(current):
            target = _resolve(reference, line, current)
            if target in seen:
                continue
            seen.add(target)
            if len(seen) > MAX_REFERENCES:
                raise BcsignalError(
                    f"the model references more than {MAX_REFERENCES} files", file=model.origin, tool="screen"
                )
            pending.append((ModelInput.from_file(target), depth + 1))


def _references(model: ModelInput) -> tuple[tuple[str, int], ...]:
    if model.language == "sbml":
        facts = screen_text(model.text, model.origin)
        if facts.root != "sbml":
            raise BcsignalError(
                f"not an SBML document: the root element is <{facts.root}>, not <sbml>",
                file=model.origin,
                tool="screen",
            )
        return facts.references
    return screen_antimony(model.text, model.origin).imports


def _resolve(reference: str, line: int, model: ModelInput) -> Path:
    """Return the local file a reference names, or raise: no URL, no absolute path, nothing outside."""
    if model.path is None:
        raise BcsignalError(
            f"referenced file {reference!r}: a model given as text cannot reference files; pass the model "
            "file as a Path",
            file=model.origin,
            line=line,
            tool="screen",
        )
    return local_reference(reference, line, model.path)


# -- the work done in the child -------------------------------------------------------------------------
def _flatten(doc: libsbml.SBMLDocument, origin: str) -> str | None:
    """Return the flattened SBML of a comp model with submodels, or None for a plain model."""
    plugin = doc.getModel().getPlugin("comp")
    if plugin is None or plugin.getNumSubmodels() == 0:
        return None
    props = libsbml.ConversionProperties()
    props.addOption("flatten comp", True)
    props.addOption("performValidation", False)
    if doc.convert(props) != libsbml.LIBSBML_OPERATION_SUCCESS:
        log = doc.getErrorLog()
        messages = [
            clean_message(log.getError(i).getMessage())
            for i in range(log.getNumErrors())
            if log.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR
        ]
        raise BcsignalError(
            "cannot flatten the comp model: " + ("; ".join(messages[:QUOTED_ISSUES]) or "unknown reason"),
            file=origin,
            tool="libsbml",
        )
    return write_sbml_string(doc)


def _analyse(
    model: ModelInput, *, strict: bool, annotations: bool
) -> tuple[Report, str | None, roadrunner.RoadRunner | None]:
    """Parse and check a model; return the report, the flat SBML and a RoadRunner when there is no error."""
    origin = model.origin
    if model.language == "antimony":
        stage("antimony", "reading the Antimony model")
        # libsbml's findings are collected below, on the SBML Antimony writes
        if model.path is not None:
            doc = antimony_to_sbml(model.path, sbml_warnings=False)
        else:
            doc = antimony_text_to_sbml(model.text, origin, sbml_warnings=False)
        text = write_sbml_string(doc)
    else:
        text = model.text
    location = model.path.parent.resolve().as_uri() + "/" if model.path is not None else None
    report = Report(file=origin)
    stage("libsbml", "reading the SBML")
    doc = read_document(text, origin, location)
    stage("libsbml", "checking SBML consistency")
    report.issues += libsbml_issues(text, origin, strict_units=False, location=location)
    if report.errors:
        return _lines(report, model), None, None
    stage("libsbml", "flattening the comp model")
    flat = _flatten(doc, origin)
    if flat is not None:
        doc = read_document(flat, origin)
    stage("bcsignal", "checking values")
    report.issues += sanity_issues(doc.getModel(), units_required=False)
    report.issues += valueless_issues(doc.getModel())
    if annotations:
        report.issues += annotation_issues(doc.getModel())
    if flat is not None or model.language == "antimony":
        _lines(report, model, always=True)
    if report.errors:
        return report, None, None
    flat = flat or text
    stage("libroadrunner", "compiling the model")
    rr = load_sbml_text(flat, origin=origin)
    stage("libroadrunner", "checking the initial state")
    report.issues += runtime_issues(rr)
    return report, flat, (None if report.errors else rr)


def _lines(report: Report, model: ModelInput, *, always: bool = False) -> Report:
    """Drop line numbers that point into SBML the user never wrote (generated from Antimony, flattened)."""
    if always or model.language == "antimony":
        report.issues = [replace(i, line=None) for i in report.issues]
    return report


def _work[T](
    model: ModelInput,
    strict: bool,
    annotations: bool,
    task: Callable[[roadrunner.RoadRunner], T] | None,
) -> tuple[Report, str | None, T | None]:
    """What the child does: parse and check the model, then run `task` on it if no check failed."""
    report, flat, rr = _analyse(model, strict=strict, annotations=annotations)
    if task is None or rr is None or not report.ok(strict):
        return report, flat, None
    return report, flat, task(rr)


def _isolated[T](
    model: ModelInput,
    task: Callable[[roadrunner.RoadRunner], T] | None,
    *,
    strict: bool,
    annotations: bool = False,
) -> tuple[Report, str | None, T | None]:
    screen(model)
    return run_isolated(partial(_work, model, strict, annotations, task), origin=model.origin)


def _tool(issue: Issue) -> str:
    if issue.category in CATEGORIES:
        return "libsbml"
    return "libroadrunner" if issue.category == "initial state" else "bcsignal"


def blocking_error(report: Report, strict: bool) -> BcsignalError | None:
    """Return the error that stops a model from being simulated, or None when it may run."""
    blocking = report.errors + (report.warnings if strict else [])
    if not blocking:
        return None
    first = blocking[0]
    kind = "error(s)" if report.errors else "warning(s), fatal under strict checking"
    tail = " (`bcsignal validate` lists them all)" if len(blocking) > 1 else ""
    code = f" {first.code}" if first.code is not None else ""
    return BcsignalError(
        f"{len(blocking)} {kind}{tail}; the first: [{first.category}{code}] {first.message}",
        file=report.file,
        line=first.line,
        tool=_tool(first),
    )


def _accept(report: Report, strict: bool) -> None:
    error = blocking_error(report, strict)
    if error is not None:
        raise error
    if report.warnings:
        kinds = sorted({i.category for i in report.warnings})
        warnings.warn(
            BcsignalWarning(
                f"{report.file}: {len(report.warnings)} warning(s) ({', '.join(kinds)}), e.g. "
                f"{report.warnings[0].message} — `bcsignal validate` lists them; strict makes them fatal"
            ),
            stacklevel=3,
        )


# -- what callers use ----------------------------------------------------------------------------------
def validate(model: ModelInput, *, strict: bool = False, annotations: bool = False) -> Report:
    """Check a user's model in a child process and return every finding (it raises only if unreadable)."""
    report, _, _ = _isolated(model, None, strict=strict, annotations=annotations)
    return report


def prepare(model: ModelInput, *, strict: bool = False) -> str:
    """Check a user's model in a child process and return its flat SBML, or raise on an error."""
    report, flat, _ = _isolated(model, None, strict=strict)
    _accept(report, strict)
    assert flat is not None
    return flat


def load(model: ModelInput, *, strict: bool = False) -> roadrunner.RoadRunner:
    """Return a configured RoadRunner of a user's model that passed every check in a child process."""
    return load_sbml_text(prepare(model, strict=strict), origin=model.origin)


def simulate(model: ModelInput, request: Request, *, strict: bool = False) -> TimeCourse:
    """Simulate a user's model in a child process, after every check passed."""
    request = request.checked()
    task = partial(_simulate_task, request, model.origin)
    report, _, result = _isolated(model, task, strict=strict)
    _accept(report, strict)
    assert result is not None
    return result


def _simulate_task(request: Request, origin: str, rr: roadrunner.RoadRunner) -> TimeCourse:
    stage("libroadrunner", "simulating the time course")
    return run_time_course(rr, request, origin=origin)


def _check_task(claims: ClaimsFile, origin: str, rr: roadrunner.RoadRunner) -> list[ClaimResult]:
    sim = Simulator(rr, name=origin)
    check_model_ids(claims, sim)
    stage("libroadrunner", "simulating the claims' experiments")
    results = run_claims(claims, sim)
    stage("libroadrunner", "simulating the claims under their mechanism cuts")
    certify(claims.model, [claims], results, rr.getSBML(), origin=origin)
    return results


def check_claims(model: ModelInput, claims: ClaimsFile, *, strict: bool = False) -> list[ClaimResult]:
    """Evaluate a claims file against a user's model in a child process, after every check passed."""
    task = partial(_check_task, claims, model.origin)
    report, _, results = _isolated(model, task, strict=strict)
    _accept(report, strict)
    assert results is not None
    return results


def _shipped_task(model_id: str, path: Path, claims: ClaimsFile) -> list[ClaimResult]:
    stage("libroadrunner", "compiling the model")
    sim = Simulator(load_sbml_text(path.read_text(encoding="utf-8"), origin=path), name=model_id)
    check_model_ids(claims, sim)
    stage("libroadrunner", "simulating the claims' experiments")
    results = run_claims(claims, sim, model=model_id)
    stage("libroadrunner", "simulating the claims under their mechanism cuts")
    certify(model_id, [claims], results, path.read_text(encoding="utf-8"), origin=path)
    return results


def check_claims_on_registry_model(entry: ModelEntry, claims: ClaimsFile) -> list[ClaimResult]:
    """Evaluate a user's claims file against a registry model in a child process, within the limits."""
    return run_isolated(partial(_shipped_task, entry.id, entry.sbml, claims), origin=claims.path)


def resolve(model: object) -> str | ModelInput:
    """Return a shipped model id or a user's model from what a caller passed: str id, Path or ModelInput.

    A str is always a model id, never a file name or model text, so nothing is guessed.
    """
    if isinstance(model, ModelInput):
        return model
    if isinstance(model, PathLike):
        return ModelInput.from_file(Path(model))
    if isinstance(model, str):
        known_ids = registry.current().ids()
        if model not in known_ids:
            known = ", ".join(known_ids) or "none"
            raise BcsignalError(
                f"unknown model id {model[:80]!r}; known models: {known} (a file is passed as "
                "pathlib.Path, model text as ModelInput.sbml(...) or ModelInput.antimony(...))"
            )
        return model
    raise BcsignalError(f"expected a model id, a Path or a ModelInput, got {type(model).__name__}")


def from_argument(argument: str) -> str | ModelInput:
    """Return what a command-line argument names: a shipped model id if it is one, else a file."""
    if argument in registry.current().ids():
        return argument
    return ModelInput.from_file(Path(argument))
