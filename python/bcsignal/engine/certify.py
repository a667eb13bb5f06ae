"""Mechanism certificates: each claim evaluated under its mechanism's cuts, on one switchable SBML copy.

A claim is *certified* when it holds on the intact model, fails under every cut of its mechanism and
still holds under every cut it lists as ``independent_of`` (edges it must survive; the statuses and
the certificate are in `bcsignal.engine.certificate`).

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
from bcsignal.engine.certificate import CERTIFIED as CERTIFIED
from bcsignal.engine.certificate import DEFINITION as DEFINITION
from bcsignal.engine.certificate import DEPENDENT as DEPENDENT
from bcsignal.engine.certificate import FAILS as FAILS
from bcsignal.engine.certificate import NO_MECHANISM as NO_MECHANISM
from bcsignal.engine.certificate import NOT_CERTIFIED as NOT_CERTIFIED
from bcsignal.engine.certificate import STATUSES as STATUSES
from bcsignal.engine.certificate import Certificate as Certificate
from bcsignal.engine.certificate import CutResult as CutResult
from bcsignal.engine.certificate import status_of as status_of
from bcsignal.engine.claims.evaluate import evaluate
from bcsignal.engine.claims.plan import PlannedExperiment, experiment_plan
from bcsignal.engine.claims.results import ClaimResult
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
from bcsignal.spec.cuts import CUT_FIELDS

# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------
#: Where a cut is written: (paper model, claim id, field, position in the field).
_Place = tuple[str, str, str, int]


@dataclass
class _Task:
    suite: ClaimsFile
    claim: Claim
    place: _Place
    cut: Cut  # as written in the claims file
    applied: Cut
    value: float | None = None


def _cut_lists(claim: Claim) -> tuple[tuple[str, tuple[Cut, ...]], ...]:
    """Return a claim's cut fields with their cuts: its mechanism and the cuts it must survive."""
    return tuple(zip(CUT_FIELDS, (claim.mechanism, claim.independent_of), strict=True))


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
    """Evaluate every claim of `results` under each cut it must fail or survive; attach its certificate.

    `results` are the intact results of `files` on `sbml` (`bcsignal.engine.run.run_suites`). A cut
    of the model's own claims that names an unknown id is an error naming the claims file and line. A
    paper's cut is translated to a composite's ids (`comp`, its comp document) through the comp links
    and the merge map (`merge`; by default the shipped merge map of the composite, if any): see
    `CompositeIds`. A cut that has no translation is reported, not applied, and the claim is then not
    certified.
    """
    if not any(claim.mechanism or claim.independent_of for suite in files for claim in suite.claims):
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
    tasks, skipped = _plan(files, set(by_claim), model_id, ids, translate)
    margins = _run(model_id, tasks, sbml, origin) if tasks else {}
    for suite in files:
        for claim in suite.claims:
            result = by_claim.get((suite.model, claim.id))
            if result is None:
                continue
            found = {
                name: tuple(
                    skipped.get((suite.model, claim.id, name, j)) or margins[(suite.model, claim.id, name, j)]
                    for j in range(len(cuts))
                )
                for name, cuts in _cut_lists(claim)
            }
            mechanism, survive = found["mechanism"], found["independent_of"]
            result.certificate = Certificate(
                status_of(claim, result.passed, mechanism, survive), mechanism, survive
            )


def _plan(
    files: Sequence[ClaimsFile],
    claimed: set[tuple[str, str]],
    model_id: str,
    ids: ModelIds,
    translate: CompositeIds | None,
) -> tuple[list[_Task], dict[_Place, CutResult]]:
    """Return the cuts to simulate, and the paper cuts a composite cannot apply (with the reason).

    A cut of the model's own claims that cannot be applied is an error naming the claims file and line.
    """
    tasks: list[_Task] = []
    skipped: dict[_Place, CutResult] = {}
    for suite in files:
        foreign = translate if suite.model != model_id else None
        for i, claim in enumerate(suite.claims):
            if (suite.model, claim.id) not in claimed:
                continue
            for name, cuts in _cut_lists(claim):
                for j, cut in enumerate(cuts):
                    applied: Cut | None = None
                    try:
                        applied = cut if foreign is None else foreign.cut(suite.model, cut)
                        problem = ids.problem(applied, suite.knobs)
                    except NotApplicableError as exc:
                        problem = str(exc)
                    if problem is not None and foreign is None:
                        raise BcsignalError(
                            problem,
                            file=suite.path,
                            line=cut.line if cut.line is not None else suite.line_of(["claims", i, name, j]),
                            tool="claims",
                            where=f"claim {claim.id}, {name.replace('_', ' ')} cut {j + 1} ({cut.label})",
                        )
                    place = (suite.model, claim.id, name, j)
                    if problem is not None or applied is None:
                        skipped[place] = CutResult(cut, applied, None, problem, survive=name != "mechanism")
                    else:
                        tasks.append(_Task(suite, claim, place, cut, applied))
    return tasks, skipped


def _run(model_id: str, tasks: Sequence[_Task], sbml: str, origin: str | Path) -> dict[_Place, CutResult]:
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
    out: dict[_Place, CutResult] = {}
    for overrides, group in groups.items():
        sim.set_overrides(dict(overrides))
        trajs: dict[tuple[int, str], Trajectory | BcsignalError] = {}
        for task in group:
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
            survive = task.place[2] != "mechanism"
            out[task.place] = CutResult(task.cut, task.applied, margin, problem, task.value, survive)
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


def robustness_fractions(summary: Mapping[str, Any] | None) -> dict[str, float]:
    """Return claim test id -> the fraction of robustness samples in which it holds (from a summary)."""
    if not summary:
        return {}
    found: dict[str, float] = {}
    for name, entry in summary.get("claims", {}).items():
        fraction = entry.get("holds", {}).get("fraction") if isinstance(entry, Mapping) else None
        if isinstance(fraction, int | float):
            found[str(name)] = float(fraction)
    return found


def robustness_name(result: ClaimResult) -> str:
    """Return a result's column in its model's robustness run: ``claim`` or ``paper::claim``."""
    suite = result.suite or result.model
    return result.claim.id if suite == result.model else f"{suite}::{result.claim.id}"
