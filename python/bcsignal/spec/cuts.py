"""Cuts of a claim: generic model edits, read from a claim's ``mechanism:`` and ``independent_of:`` lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The claim fields that list cuts: the claim must fail under each ``mechanism`` cut (its causal edge)
#: and hold under each ``independent_of`` cut (an edge the paper says it does not need).
CUT_FIELDS = ("mechanism", "independent_of")


@dataclass(frozen=True)
class Cut:
    """One cut: a generic edit of the model, which a claim must fail under (mechanism) or survive.

    ``clamp`` replaces a species (or rule-defined variable) by a constant, inside one rate law or
    rule (``inside``) or in every rate law and rule where it is a modifier (``inside`` None); ``set``
    gives a constant parameter another value; ``delete`` removes a reaction (its rate becomes 0).
    """

    kind: str  # "clamp", "set" or "delete"
    target: str  # the species, parameter or reaction
    inside: str | None = None  # clamp: the reaction or rule (by its variable) it acts in
    value: float | None = None  # set: the new value
    #: Line of the cut in its claims file (1-based), for error messages.
    line: int | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """Return the cut in words: ``clamp pFAK in STAT3_phosphorylation``, ``set k = 0``, ``delete R``."""
        if self.kind == "clamp":
            return f"clamp {self.target}" + (f" in {self.inside}" if self.inside else " everywhere")
        if self.kind == "set":
            return f"set {self.target} = {self.value:g}"
        return f"delete {self.target}"

    def to_json(self) -> dict[str, Any]:
        """Return the cut as it is written in a claims file."""
        if self.kind == "clamp":
            return {"clamp": {"species": self.target, **({"in": self.inside} if self.inside else {})}}
        if self.kind == "set":
            return {"set": {"parameter": self.target, "value": self.value}}
        return {"delete": {"reaction": self.target}}

    def renamed(self, target: str, inside: str | None) -> Cut:
        """Return the same cut on other ids (a paper's cut translated into a composite)."""
        return Cut(self.kind, target, inside, self.value, self.line)


def cut_from(raw: Mapping[str, Any], line: int | None) -> Cut:
    """Return the cut a schema-valid claims-file entry (``{clamp: {species: X, in: R}}``, ...) writes."""
    (kind, body), *_ = raw.items()
    if kind == "clamp":
        return Cut("clamp", body["species"], body.get("in"), line=line)
    if kind == "set":
        return Cut("set", body["parameter"], value=float(body["value"]), line=line)
    return Cut("delete", body["reaction"], line=line)


def cuts_of(
    raw_claim: Mapping[str, Any],
    name: str,
    path: Sequence[Any],
    line_of: Callable[[Sequence[Any]], int | None],
) -> tuple[Cut, ...]:
    """Return the cuts a claim lists under one field (``mechanism`` or ``independent_of``), with lines."""
    return tuple(cut_from(raw, line_of([*path, name, j])) for j, raw in enumerate(raw_claim.get(name, [])))


def cuts_problem(mechanism: Sequence[Cut], independent_of: Sequence[Cut]) -> tuple[str, list[Any]] | None:
    """Return what is wrong with a claim's two cut lists and the field it is in, or None.

    A cut listed twice in one list, or in both (the claim cannot both fail and hold under it), is an
    error; the path is relative to the claim (``["independent_of", 1]``).
    """
    for name, cuts in zip(CUT_FIELDS, (mechanism, independent_of), strict=True):
        for j, cut in enumerate(cuts):
            if cut in cuts[:j]:
                return f"the same cut is listed twice ({cut.label})", [name, j]
    for j, cut in enumerate(independent_of):
        if cut in mechanism:
            return (
                f"{cut.label} is listed under both mechanism and independent_of "
                "(a claim cannot both fail and hold under one cut)",
                ["independent_of", j],
            )
    return None
