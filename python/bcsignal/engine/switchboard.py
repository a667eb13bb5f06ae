"""The switchable copy: every cut of a model's mechanisms in one SBML copy, each behind its own switch.

`bcsignal.engine.certify` describes the cuts; with every switch at 0 the copy computes exactly the
shipped model's rates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import libsbml

from bcsignal.core.errors import BcsignalError
from bcsignal.spec.claims import Cut

#: Prefix of the switch parameters the copy adds (``bcsignal_cut3_on``, ``bcsignal_cut3_value``).
PREFIX = "bcsignal_cut"


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
