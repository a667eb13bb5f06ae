"""Mechanism certificates: each claim evaluated under its mechanism's cuts, on one switchable SBML copy.

A claim is *certified* when it holds on the intact model and fails under every cut of its mechanism.
The cuts are generic SBML edits (libsbml AST edits on a copy; the shipped SBML is never touched). All
cuts of all claims of a model go into one copy, each behind its own switch parameter that is 0 by
default, so the copy is compiled once and each cut is a parameter override:

* ``clamp X in R``: X inside R's rate law (or the rule of variable R) becomes
  ``on*value + (one - on)*X``, where ``value`` is X at the end of the pre-equilibration of the claim's
  reference experiment;
* ``clamp X`` (everywhere): the same in every rate law where X is neither reactant nor product and in
  every rule of another variable that reads X;
* ``delete R``: R's rate law is multiplied by ``(one - on)``;
* ``set P = V``: no edit; P is overridden.

With every switch at 0 the copy computes exactly the shipped model's rates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml

from bcsignal.core.errors import BcsignalError
from bcsignal.engine.claims.evaluate import evaluate
from bcsignal.engine.claims.plan import PlannedExperiment, experiment_plan
from bcsignal.engine.claims.results import ClaimResult, json_number
from bcsignal.engine.simulate import Simulator, new_simulator
from bcsignal.engine.switchboard import PREFIX as PREFIX
from bcsignal.engine.switchboard import ModelIds as ModelIds
from bcsignal.engine.switchboard import NotApplicableError as NotApplicableError
from bcsignal.engine.switchboard import Switchboard as Switchboard
from bcsignal.engine.switchboard import switchboard as switchboard
from bcsignal.engine.trajectory import Trajectory, ValuesKey, values_key
from bcsignal.engine.translate import CompositeIds as CompositeIds
from bcsignal.engine.translate import composite_document as composite_document
from bcsignal.engine.translate import composite_translator as composite_translator
from bcsignal.engine.translate import shipped_merge_map as shipped_merge_map
from bcsignal.sbml import compose
from bcsignal.spec.claims import Claim, ClaimsFile, Cut

#: The claim holds intact and fails under every cut of its mechanism.
CERTIFIED = "certified"
#: The claim holds intact, but some cut leaves it holding (or could not be applied).
NOT_CERTIFIED = "holds, not certified"
#: The claim does not hold on the intact model.
FAILS = "fails"
#: The claim states a definition: evaluated and shown, never counted as evidence.
DEFINITION = "definition"
#: The claim holds but names no mechanism (claims format 1, or a format-2 claim without one).
NO_MECHANISM = "no mechanism"
#: Every status, best first.
STATUSES = (CERTIFIED, NOT_CERTIFIED, NO_MECHANISM, DEFINITION, FAILS)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CutResult:
    """One cut of a claim: the claim's margin under it, or why it could not be applied or simulated."""

    cut: Cut
    #: The cut on the simulated model's ids (a paper's cut translated into a composite).
    applied: Cut | None
    margin: float | None
    problem: str | None = None
    #: The constant a clamp puts in place of the species.
    value: float | None = None

    @property
    def holds(self) -> bool:
        """Return whether the claim still holds under the cut."""
        return self.margin is not None and self.margin >= 0

    @property
    def verdict(self) -> str:
        """Return ``fails`` (the cut removes the claim), ``holds`` or ``not evaluated``."""
        if self.margin is None:
            return "not evaluated"
        return "holds" if self.holds else "fails"

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "cut": self.cut.to_json(),
            "label": self.cut.label,
            "applied": None if self.applied is None else self.applied.label,
            "clamp_value": None if self.value is None else json_number(self.value),
            "margin": None if self.margin is None else json_number(self.margin),
            "verdict": self.verdict,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Certificate:
    """A claim's status under its mechanism, with each cut's result."""

    status: str
    cuts: tuple[CutResult, ...] = ()

    @property
    def certified(self) -> bool:
        """Return whether the claim is certified."""
        return self.status == CERTIFIED

    @property
    def survivors(self) -> list[CutResult]:
        """Return the cuts that leave the claim holding or could not be evaluated."""
        return [c for c in self.cuts if c.margin is None or c.holds]

    @property
    def summary(self) -> str:
        """Return the status in a few words, naming the cuts that leave a claim holding."""
        if self.status == NOT_CERTIFIED:
            named = "; ".join(
                c.cut.label + ("" if c.margin is not None else f" ({c.problem})") for c in self.survivors
            )
            return f"{self.status}: holds under {named}"
        if self.status == CERTIFIED:
            return f"{self.status} ({len(self.cuts)} cut{'s' if len(self.cuts) != 1 else ''})"
        return self.status

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "status": self.status,
            "summary": self.summary,
            "not_certified_by": [c.cut.label for c in self.survivors] if self.status == NOT_CERTIFIED else [],
            "cuts": [c.to_json() for c in self.cuts],
        }


def status_of(claim: Claim, passed: bool, cuts: Sequence[CutResult]) -> str:
    """Return a claim's status from its intact verdict and its cuts."""
    if claim.kind == "definition":
        return DEFINITION
    if not passed:
        return FAILS
    if not claim.mechanism:
        return NO_MECHANISM
    if all(c.margin is not None and not c.holds for c in cuts):
        return CERTIFIED
    return NOT_CERTIFIED


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
@dataclass
class _Task:
    suite: ClaimsFile
    claim: Claim
    result: ClaimResult
    index: int  # the cut's position in the claim's mechanism
    applied: Cut
    value: float | None = None


def _read(sim: Simulator, name: str, species: frozenset[str]) -> float:
    return float(sim.rr.model.getValue(f"[{name}]" if name in species else name))


def certify(
    model_id: str,
    files: Sequence[ClaimsFile],
    results: Sequence[ClaimResult],
    sbml: str,
    *,
    origin: str | Path = "<string>",
    comp: libsbml.SBMLDocument | None = None,
    merge: Sequence[compose.MergeEntry] | None = None,
) -> None:
    """Evaluate every claim of `results` under each cut of its mechanism and attach its certificate.

    `results` are the intact results of `files` on `sbml` (`bcsignal.engine.run.run_suites`). A cut
    of the model's own claims that names an unknown id is an error naming the claims file and line. A
    paper's cut is translated to a composite's ids (`comp`, its comp document) through the comp links
    and the merge map (`merge`; by default the shipped merge map of the composite, if any): see
    `CompositeIds`. A cut that has no translation is reported, not applied, and the claim is then not
    certified.
    """
    if not any(claim.mechanism for suite in files for claim in suite.claims):
        for each in results:  # nothing to cut: no SBML to read, no copy to compile
            each.certificate = Certificate(status_of(each.claim, each.passed, ()))
        return
    doc = libsbml.readSBMLFromString(sbml)
    if doc is None or doc.getModel() is None:
        raise BcsignalError("cannot read the SBML to apply mechanism cuts", file=origin, tool="libsbml")
    ids = ModelIds(doc.getModel())
    if comp is not None and merge is None:
        merge = shipped_merge_map(comp)
    translate = CompositeIds(comp, ids, merge or ()) if comp is not None else None
    by_claim = {(r.suite or r.model, r.claim.id): r for r in results}
    tasks, skipped = _plan_cuts(model_id, files, by_claim, ids, translate)
    margins = _run(model_id, tasks, sbml, origin) if tasks else {}
    for suite in files:
        for claim in suite.claims:
            result = by_claim.get((suite.model, claim.id))
            if result is None:
                continue
            cuts = tuple(
                skipped.get((suite.model, claim.id, j)) or margins[(suite.model, claim.id, j)]
                for j in range(len(claim.mechanism))
            )
            result.certificate = Certificate(status_of(claim, result.passed, cuts), cuts)


def _plan_cuts(
    model_id: str,
    files: Sequence[ClaimsFile],
    by_claim: Mapping[tuple[str, str], ClaimResult],
    ids: ModelIds,
    translate: CompositeIds | None,
) -> tuple[list[_Task], dict[tuple[str, str, int], CutResult]]:
    """Return the cuts to apply (`certify`) and those skipped with why: not applicable to the composite.

    A cut of the model's own claims that does not apply is an error naming the claims file and line.
    """
    tasks: list[_Task] = []
    skipped: dict[tuple[str, str, int], CutResult] = {}
    for suite in files:
        foreign = translate if suite.model != model_id else None
        for i, claim in enumerate(suite.claims):
            result = by_claim.get((suite.model, claim.id))
            if result is None:
                continue
            for j, cut in enumerate(claim.mechanism):
                applied: Cut | None = None
                try:
                    applied = cut if foreign is None else foreign.cut(suite.model, cut)
                    problem = ids.problem(applied, suite.knobs)
                except NotApplicableError as exc:
                    problem = str(exc)
                if problem is not None and foreign is None:
                    line = cut.line if cut.line is not None else suite.line_of(["claims", i, "mechanism", j])
                    raise BcsignalError(
                        problem,
                        file=suite.path,
                        line=line,
                        tool="claims",
                        where=f"claim {claim.id}, mechanism cut {j + 1} ({cut.label})",
                    )
                if problem is not None or applied is None:
                    skipped[(suite.model, claim.id, j)] = CutResult(cut, applied, None, problem)
                else:
                    tasks.append(_Task(suite, claim, result, j, applied))
    return tasks, skipped


def _run(
    model_id: str, tasks: Sequence[_Task], sbml: str, origin: str | Path
) -> dict[tuple[str, str, int], CutResult]:
    """Simulate every task's claim under its cut on one compiled switchable copy."""
    board = switchboard(sbml, [t.applied for t in tasks], origin=origin)
    sim = new_simulator(board.sbml, name=f"{model_id} (mechanism cuts)", origin=origin)
    species = frozenset([*sim.rr.model.getFloatingSpeciesIds(), *sim.rr.model.getBoundarySpeciesIds()])
    # clamp values: each species at the end of the pre-equilibration of the claim's reference experiment
    values: dict[tuple[ValuesKey, str], float] = {}
    for task in tasks:
        if task.applied.kind != "clamp":
            continue
        knobs = task.suite.experiments[task.claim.reference].protocol.preequilibration
        key = (values_key(knobs), task.applied.target)
        if key not in values:
            sim.preequilibrate(knobs)
            values[key] = _read(sim, task.applied.target, species)
        task.value = values[key]
    groups: dict[ValuesKey, list[_Task]] = {}
    for task in tasks:
        groups.setdefault(values_key(board.overrides(task.applied, task.value)), []).append(task)
    plans = {id(t.suite): {p.name: p for p in experiment_plan(t.suite)} for t in tasks}
    out: dict[tuple[str, str, int], CutResult] = {}
    for overrides, group in groups.items():
        sim.set_overrides(dict(overrides))
        trajs: dict[tuple[int, str], Trajectory | BcsignalError] = {}
        for task in group:
            cut = task.claim.mechanism[task.index]
            problem, margin = None, None
            runs = {
                name: _simulate(sim, plans[id(task.suite)][name], trajs, id(task.suite))
                for name in task.claim.experiments()
            }
            failed = next((r for r in runs.values() if isinstance(r, BcsignalError)), None)
            if failed is not None:
                problem = f"the simulation under the cut failed: {failed.cause}"
            else:
                ok = {k: v for k, v in runs.items() if isinstance(v, Trajectory)}
                margin = evaluate(task.claim, ok, model_id, suite=task.suite.model).margin
            out[(task.suite.model, task.claim.id, task.index)] = CutResult(
                cut, task.applied, margin, problem, task.value
            )
    sim.set_overrides({})
    return out


def _simulate(
    sim: Simulator,
    plan: PlannedExperiment,
    cache: dict[tuple[int, str], Trajectory | BcsignalError],
    suite: int,
) -> Trajectory | BcsignalError:
    key = (suite, plan.name)
    if key not in cache:
        try:
            cache[key] = sim.run(plan.protocol, plan.readouts, plan.observe, dense=plan.dense)
        except BcsignalError as exc:
            cache[key] = exc
    return cache[key]


# ---------------------------------------------------------------------------
# Notices and robustness columns
# ---------------------------------------------------------------------------
def format_notice(claims: ClaimsFile) -> str:
    """Return the one-line notice of a format-1 claims file."""
    try:
        shown = claims.path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        shown = claims.path
    return f"notice: {shown} is claims format 1: its claims carry no mechanism (status {NO_MECHANISM!r})"


def robustness_name(result: ClaimResult) -> str:
    """Return a result's column in its model's robustness run: ``claim`` or ``paper::claim``."""
    suite = result.suite or result.model
    return result.claim.id if suite == result.model else f"{suite}::{result.claim.id}"
