"""A claim's certificate: its status and its margin under each cut it must fail or survive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bcsignal.engine.claims.results import json_number
from bcsignal.spec.claims import Claim
from bcsignal.spec.cuts import Cut

#: The claim holds intact, fails under every cut of its mechanism and holds under every cut it must survive.
CERTIFIED = "certified"
#: The claim holds intact, but some mechanism cut leaves it holding (or some cut could not be applied).
NOT_CERTIFIED = "holds, not certified"
#: The claim holds intact but fails under a cut it must survive (an edge it says it does not need).
DEPENDENT = "holds, but depends on an edge it must survive"
#: The claim does not hold on the intact model.
FAILS = "fails"
#: The claim states a definition: evaluated and shown, never counted as evidence.
DEFINITION = "definition"
#: The claim holds but names no mechanism (claims format 1, or a format-2 claim without one).
NO_MECHANISM = "no mechanism"
#: Every status, best first.
STATUSES = (CERTIFIED, NOT_CERTIFIED, DEPENDENT, NO_MECHANISM, DEFINITION, FAILS)


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
    #: True for a cut the claim must survive (``independent_of``), False for a mechanism cut.
    survive: bool = False

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

    @property
    def as_expected(self) -> bool:
        """Return whether the cut did what the claim says: a mechanism cut fails it, a survive-cut not."""
        return self.margin is not None and self.holds == self.survive

    @property
    def role(self) -> str:
        """Return how the check table names the cut: ``cut`` (mechanism) or ``survives:``."""
        return "survives:" if self.survive else "cut"

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "cut": self.cut.to_json(),
            "label": self.cut.label,
            "applied": None if self.applied is None else self.applied.label,
            "clamp_value": None if self.value is None else json_number(self.value),
            "margin": None if self.margin is None else json_number(self.margin),
            "verdict": self.verdict,
            "expected": "holds" if self.survive else "fails",
            "problem": self.problem,
        }


def _named(cuts: Sequence[CutResult]) -> str:
    return "; ".join(
        c.cut.label + (f" (margin {c.margin:+.3f})" if c.margin is not None else f" ({c.problem})")
        for c in cuts
    )


@dataclass(frozen=True)
class Certificate:
    """A claim's status under its mechanism, with each mechanism cut's and each survive-cut's result."""

    status: str
    cuts: tuple[CutResult, ...] = ()
    #: The cuts the claim must survive (``independent_of``), each with its margin.
    independence: tuple[CutResult, ...] = ()

    @property
    def certified(self) -> bool:
        """Return whether the claim is certified."""
        return self.status == CERTIFIED

    @property
    def survivors(self) -> list[CutResult]:
        """Return the mechanism cuts that leave the claim holding or could not be evaluated."""
        return [c for c in self.cuts if c.margin is None or c.holds]

    @property
    def dependencies(self) -> list[CutResult]:
        """Return the cuts the claim must survive but fails under."""
        return [c for c in self.independence if c.margin is not None and not c.holds]

    @property
    def summary(self) -> str:
        """Return the status in a few words, naming the cuts that keep a claim from being certified."""
        if self.status == DEPENDENT:
            return f"{self.status}: depends on {_named(self.dependencies)}"
        if self.status == NOT_CERTIFIED:
            named = "; ".join(
                c.cut.label + ("" if c.margin is not None else f" ({c.problem})") for c in self.survivors
            )
            unknown = [c for c in self.independence if c.margin is None]
            if unknown:
                named += ("; " if named else "") + f"survive-cut not evaluated: {_named(unknown)}"
            return f"{self.status}: holds under {named}" if self.survivors else f"{self.status}: {named}"
        if self.status == CERTIFIED:
            text = f"{self.status} ({len(self.cuts)} cut{'s' if len(self.cuts) != 1 else ''}"
            n = len(self.independence)
            return text + (f"; survives {n} cut{'s' if n != 1 else ''})" if n else ")")
        return self.status

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "status": self.status,
            "summary": self.summary,
            "not_certified_by": [c.cut.label for c in self.survivors] if self.status == NOT_CERTIFIED else [],
            "depends_on": [c.cut.label for c in self.dependencies],
            "cuts": [c.to_json() for c in self.cuts],
            "independent_of": [c.to_json() for c in self.independence],
        }


def status_of(
    claim: Claim, passed: bool, cuts: Sequence[CutResult], independence: Sequence[CutResult] = ()
) -> str:
    """Return a claim's status from its intact verdict, its mechanism cuts and the cuts it must survive."""
    if claim.kind == "definition":
        return DEFINITION
    if not passed:
        return FAILS
    if any(c.margin is not None and not c.holds for c in independence):
        return DEPENDENT
    if not claim.mechanism:
        return NO_MECHANISM
    if all(c.margin is not None and not c.holds for c in cuts) and all(c.holds for c in independence):
        return CERTIFIED
    return NOT_CERTIFIED
