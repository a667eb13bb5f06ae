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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml

from bcsignal import registry
from bcsignal.core.errors import BcsignalError
from bcsignal.core.screen import read_screened
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
from bcsignal.engine.trajectory import Trajectory, ValuesKey, values_key
from bcsignal.registry import ModelEntry
from bcsignal.sbml import compose
from bcsignal.spec.claims import Claim, ClaimsFile, Cut
from bcsignal.spec.cuts import CUT_FIELDS

#: Prefix of the switch parameters the copy adds (``bcsignal_cut3_on``, ``bcsignal_cut3_value``).
PREFIX = "bcsignal_cut"


# ---------------------------------------------------------------------------
# The switchable copy
# ---------------------------------------------------------------------------
class NotApplicableError(Exception):
    """A cut that cannot be applied to this model (the cause is the message)."""


def _is_name(node: libsbml.ASTNode, name: str) -> bool:
    # isName(), not getType(): another SWIG module in the process (libsedml) can make getType() return
    # an opaque pointer instead of the enum's value
    return bool(node.isName()) and node.getName() == name


#: An identifier in an SBML L3 infix formula (not the exponent letter of a number: \b).
_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*")


def _occurs(node: libsbml.ASTNode | None, name: str) -> bool:
    """Return whether a name node of that name is in a math expression (an exact AST walk)."""
    if node is None:
        return False
    if _is_name(node, name):
        return True
    return any(_occurs(node.getChild(i), name) for i in range(node.getNumChildren()))


def _names(node: libsbml.ASTNode | None) -> frozenset[str]:
    """Return the identifiers a math expression reads (and its function names, which never clash)."""
    if node is None:
        return frozenset()
    return frozenset(_IDENTIFIER.findall(libsbml.formulaToL3String(node)))


class ModelIds:
    """The ids of one SBML model that cuts may name."""

    def __init__(self, model: libsbml.Model) -> None:
        self.species = {s.getId() for s in model.getListOfSpecies()}
        self.reactions: dict[str, libsbml.Reaction] = {r.getId(): r for r in model.getListOfReactions()}
        self.rules: dict[str, libsbml.Rule] = {
            r.getVariable(): r for r in model.getListOfRules() if not r.isAlgebraic()
        }
        parameters = {p.getId(): p for p in model.getListOfParameters()}
        self.constants = {pid for pid, p in parameters.items() if p.getConstant() and pid not in self.rules}
        self.variables = {pid for pid in parameters if pid not in self.constants}
        self._names: dict[str, frozenset[str]] = {}
        self.all = {
            *self.species,
            *self.reactions,
            *parameters,
            *(c.getId() for c in model.getListOfCompartments()),
        }

    def math(self, where: str) -> libsbml.ASTNode | None:
        """Return the math of a reaction's rate law or of the rule of a variable."""
        if where in self.reactions:
            law = self.reactions[where].getKineticLaw()
            return None if law is None else law.getMath()
        return self.rules[where].getMath()

    def reads(self, where: str, name: str) -> bool:
        """Return whether the rate law of a reaction, or the rule of a variable, reads a name."""
        if where not in self._names:
            self._names[where] = _names(self.math(where))
        # the tokens rule most names out quickly; the AST walk confirms (`pi` may be the constant)
        return name in self._names[where] and _occurs(self.math(where), name)

    def sites(self, species: str) -> list[str]:
        """Return the reactions and rules in which a species is a modifier (read, neither made nor used)."""
        found = []
        for rid, reaction in self.reactions.items():
            sides = {r.getSpecies() for r in (*reaction.getListOfReactants(), *reaction.getListOfProducts())}
            if species not in sides and self.reads(rid, species):
                found.append(rid)
        found += [var for var in self.rules if var != species and self.reads(var, species)]
        return found

    def problem(self, cut: Cut, knobs: Sequence[str]) -> str | None:
        """Return why a cut cannot be applied to this model, or None."""
        if cut.kind == "clamp":
            if cut.target in self.constants:
                return f"{cut.target!r} is a constant parameter: write set, not clamp"
            if cut.target not in self.species and cut.target not in self.variables:
                return f"unknown species {cut.target!r} (not a species or rule-defined variable of the model)"
            if cut.inside is None:
                return (
                    None if self.sites(cut.target) else f"{cut.target!r} is a modifier in no rate law or rule"
                )
            if cut.inside not in self.reactions and cut.inside not in self.rules:
                return f"unknown reaction or rule {cut.inside!r}"
            if not self.reads(cut.inside, cut.target):
                return f"{cut.target!r} does not occur in the rate law or rule of {cut.inside!r}"
            return None
        if cut.kind == "set":
            if cut.target in knobs:
                return f"{cut.target!r} is an interface knob: experiments set knobs, cuts edit the mechanism"
            if cut.target not in self.constants:
                return f"unknown parameter {cut.target!r} (not a constant global parameter of the model)"
            return None
        if cut.target not in self.reactions:
            return f"unknown reaction {cut.target!r}"
        if self.reactions[cut.target].getKineticLaw() is None:
            return f"reaction {cut.target!r} has no rate law"
        return None


def _key(cut: Cut) -> tuple[str, str, str | None]:
    return (cut.kind, cut.target, cut.inside)


@dataclass(frozen=True)
class Switchboard:
    """The switchable copy: its SBML and, per structural cut, its switch and value parameters."""

    sbml: str
    switches: Mapping[tuple[str, str, str | None], tuple[str, str | None]]

    def overrides(self, cut: Cut, value: float | None) -> dict[str, float]:
        """Return the parameter values that switch one applied cut on."""
        if cut.kind == "set":
            return {cut.target: float(cut.value or 0.0)}
        on, value_id = self.switches[_key(cut)]
        if value_id is None:
            return {on: 1.0}
        return {on: 1.0, value_id: float(value or 0.0)}


def _check(status: int, what: str) -> None:
    if status != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise BcsignalError(f"libsbml could not {what} (status {status})", tool="libsbml")


def switchboard(sbml: str, cuts: Sequence[Cut], *, origin: str | Path = "<string>") -> Switchboard:
    """Return a copy of the SBML in which every clamp and delete cut is switchable (all off)."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel() if doc is not None else None
    if model is None:
        raise BcsignalError("cannot read the SBML to apply mechanism cuts", file=origin, tool="libsbml")
    ids = ModelIds(model)
    clash = sorted(i for i in ids.all if i.startswith(PREFIX))
    if clash:
        raise BcsignalError(f"the model already has an id starting {PREFIX!r} ({clash[0]})", file=origin)

    def parameter(pid: str, value: float) -> str:
        p = model.createParameter()
        _check(p.setId(pid), f"create parameter {pid}")
        _check(p.setValue(value), f"set {pid}")
        _check(p.setConstant(True), f"make {pid} constant")
        return pid

    one = parameter(f"{PREFIX}_one", 1.0)
    switches: dict[tuple[str, str, str | None], tuple[str, str | None]] = {}
    for cut in cuts:
        key = _key(cut)
        if cut.kind == "set" or key in switches:
            continue
        n = len(switches) + 1
        on = parameter(f"{PREFIX}{n}_on", 0.0)
        if cut.kind == "delete":
            law = ids.reactions[cut.target].getKineticLaw()
            product = libsbml.parseL3Formula(f"{PREFIX}_rate * ({one} - {on})")
            product.replaceIDWithFunction(f"{PREFIX}_rate", law.getMath())
            _check(law.setMath(product), f"delete reaction {cut.target}")
            switches[key] = (on, None)
            continue
        value = parameter(f"{PREFIX}{n}_value", 0.0)
        # parsed with a placeholder, then renamed: an id such as `pi` or `time` would parse as a constant
        replacement = libsbml.parseL3Formula(f"{on}*{value} + ({one} - {on})*{PREFIX}_species")
        replacement.renameSIdRefs(f"{PREFIX}_species", cut.target)
        for where in [cut.inside] if cut.inside else ids.sites(cut.target):
            math = ids.math(where)
            assert math is not None  # checked by ModelIds.problem
            if _is_name(math, cut.target):
                edited = replacement.deepCopy()
            else:
                edited = math.deepCopy()
                edited.replaceIDWithFunction(cut.target, replacement)
            holder = ids.reactions[where].getKineticLaw() if where in ids.reactions else ids.rules[where]
            _check(holder.setMath(edited), f"clamp {cut.target} in {where}")
        switches[key] = (on, value)
    return Switchboard(libsbml.writeSBMLToString(doc), switches)


# ---------------------------------------------------------------------------
# Composite: a paper's ids in the flattened composite, through the comp links and the merge map
# ---------------------------------------------------------------------------
Translator = Callable[[str, str], str]


class CompositeIds:
    """A paper's elements and cuts on the ids of the flattened composite.

    An element linked to a top-level one becomes it; an element of a paper that the composite does not
    link is ``instance__element`` (libsbml's flattening). A paper element the composite deleted has, in
    the merge map, the composite element that ``became`` its role: a reaction merged into one top-level
    step. A cut on it is translated only where the translation means the same edit:

    * ``clamp X in R``, R merged into R': ``clamp X' in R'`` if the merged rate law reads X', else not
      applicable (the merged step no longer has X);
    * ``clamp X`` (everywhere): ``clamp X'`` everywhere if the composite's steps that read X' are the
      paper's (translated), else not translatable (it would clamp X' in other papers' steps too);
    * ``set P`` of a replaced parameter: a set of the top-level parameter that replaces it; of a deleted
      one: not translatable (its ``became`` is the element that took over its role, another quantity);
    * ``delete R``, R merged into R': ``delete R'`` only if R' is a top-level reaction and R the only
      paper reaction merged into it, else not translatable (deleting R' would remove the other papers'
      flux too).
    """

    def __init__(
        self,
        comp: libsbml.SBMLDocument,
        flat: ModelIds,
        merge: Sequence[compose.MergeEntry] = (),
    ) -> None:
        self.flat = flat
        self.models = compose.instances(comp)
        self.instance_of = {model: inst for inst, model in self.models.items()}
        self.linked = {(link.instance, link.element): link for link in compose.links(comp)}
        self.merged = compose.merge_index(merge)
        plugin = comp.getPlugin("comp")
        self._reactions: dict[str, set[str]] = {}
        #: Each instance's own model (its model definition in the comp document), by instance.
        self.papers: dict[str, ModelIds] = {}
        for inst, model_ref in self.models.items():
            definition = plugin.getModelDefinition(model_ref) if plugin is not None else None
            found = {r.getId() for r in definition.getListOfReactions()} if definition is not None else set()
            self._reactions[inst] = found
            if definition is not None:
                self.papers[inst] = ModelIds(definition)

    def _instance(self, paper: str) -> str:
        inst = self.instance_of.get(paper)
        if inst is None:
            raise NotApplicableError(f"{paper} is not a submodel of the composite")
        return inst

    def _flat(self, became: str) -> str:
        """Return a merge map's ``became`` on flattened ids (``instance.element`` is a submodel's)."""
        inst, dot, element = became.partition(".")
        return compose.flat_id(inst, element) if dot and inst in self.models else became

    def _deleted(self, inst: str, element: str) -> compose.MergeEntry | None:
        """Return the merge-map entry of a paper element the composite deleted (None: not deleted)."""
        link = self.linked.get((inst, element))
        if link is None or link.action != "deleted":
            return None
        entry = self.merged.get(f"{inst}.{element}")
        if entry is None:
            raise NotApplicableError(f"{inst}.{element} is deleted in the composite, with no replacement")
        return entry

    def element(self, paper: str, element: str) -> str:
        """Return a paper element's flattened composite id (NotApplicableError when there is none)."""
        inst = self._instance(paper)
        link = self.linked.get((inst, element))
        candidates = [compose.flat_id(inst, element)]
        if link is not None and link.action == "deleted":
            entry = self._deleted(inst, element)
            assert entry is not None
            raise NotApplicableError(
                f"{inst}.{element} is deleted in the composite; {entry.became} took over its role "
                f"(merge map: {entry.why})"
            )
        if link is not None:
            candidates = [link.became or element, *candidates]
        found = next((c for c in candidates if c in self.flat.all), None)
        if found is None:
            raise NotApplicableError(f"{element} of {paper} has no counterpart in the composite")
        return found

    def step(self, paper: str, where: str) -> tuple[str, str | None]:
        """Return the composite reaction or rule a paper's reaction or rule is, and what it was merged from.

        The second item is ``instance.element`` when the paper's step was deleted and merged into the
        returned one, else None.
        """
        inst = self._instance(paper)
        entry = self._deleted(inst, where)
        if entry is None:
            return self.element(paper, where), None
        became = self._flat(entry.became or "")
        if became not in self.flat.reactions and became not in self.flat.rules:
            raise NotApplicableError(
                f"{inst}.{where} is deleted in the composite; the merge map says it became {became!r}, "
                "which is no reaction or rule of the flattened composite"
            )
        return became, f"{inst}.{where}"

    def merged_with(self, merged: str, became: str) -> list[str]:
        """Return the other paper reactions the merge map merges into the same composite reaction."""
        return sorted(
            key
            for key, entry in self.merged.items()
            if self._flat(entry.became or "") == became
            and key != merged
            and key.split(".", 1)[1] in self._reactions.get(key.split(".", 1)[0], set())
        )

    def cut(self, paper: str, cut: Cut) -> Cut:
        """Return a paper's cut on the composite's ids (NotApplicableError, naming why, when it has none)."""
        inst = self._instance(paper)
        if cut.kind == "set":
            link = self.linked.get((inst, cut.target))
            if link is not None and link.action == "deleted":
                entry = self._deleted(inst, cut.target)
                assert entry is not None
                raise NotApplicableError(
                    f"not translatable: {inst}.{cut.target} is deleted in the composite and {entry.became} "
                    f"took over its role ({entry.why}); setting {entry.became} would be another edit"
                )
            return cut.renamed(self.element(paper, cut.target), None)
        if cut.kind == "delete":
            reaction, merged = self.step(paper, cut.target)
            if merged is not None:
                owner = next((i for i in self.models if reaction.startswith(compose.flat_id(i, ""))), None)
                if owner is not None:
                    raise NotApplicableError(
                        f"not translatable: {merged} is deleted in the composite and {owner}'s own reaction "
                        f"{reaction} took over its role; deleting it would remove {owner}'s flux too"
                    )
                others = self.merged_with(merged, reaction)
                if others:
                    raise NotApplicableError(
                        f"not translatable: {merged} is merged into {reaction} with {', '.join(others)}; "
                        f"deleting {reaction} would remove their flux too"
                    )
            return cut.renamed(reaction, None)
        species = self.element(paper, cut.target)
        if cut.inside is None:
            own = self.papers.get(inst)
            if own is not None:
                mine = {self.step(paper, site)[0] for site in own.sites(cut.target)}
                extra = sorted(set(self.flat.sites(species)) - mine)
                if extra:
                    raise NotApplicableError(
                        f"not translatable: in the composite {species} is also a modifier in "
                        f"{', '.join(extra)}, which {paper} does not have; clamping it everywhere would cut "
                        "them too (write the clamp in each of the paper's steps)"
                    )
            return cut.renamed(species, None)
        where, merged = self.step(paper, cut.inside)
        if merged is not None and not self.flat.reads(where, species):
            raise NotApplicableError(
                f"not applicable: {merged} is merged into {where}, whose rate law or rule does not read "
                f"{species} (the merged step has no {cut.target} term)"
            )
        return cut.renamed(species, where)


def composite_translator(
    comp: libsbml.SBMLDocument, flat: ModelIds, merge: Sequence[compose.MergeEntry] = ()
) -> Translator:
    """Return (paper model id, paper element id) -> flattened composite id, as libsbml flattens.

    A linked element becomes the top-level element it is merged into; a deleted one raises
    NotApplicableError naming what took over its role; any other paper element is ``instance__element``.
    """
    return CompositeIds(comp, flat, merge).element


def shipped_merge_map(comp: libsbml.SBMLDocument) -> list[compose.MergeEntry]:
    """Return the merge map of a comp document's model in the registry in use (empty when it has none)."""
    model_id = comp.getModel().getId() if comp.getModel() is not None else ""
    if model_id not in registry.current().ids():
        return []
    return registry.entry(model_id).merge_map


def composite_document(entry: ModelEntry) -> libsbml.SBMLDocument | None:
    """Return a built composite's comp document (None for a paper model or before it is built)."""
    from bcsignal.sbml.io import read_document

    path = entry.comp_sbml
    if path is None or not path.is_file():
        return None
    return read_document(read_screened(path), str(path))


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
