"""The outcome of a claim: per readout its values, observed quantity, expectation and margin."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bcsignal.spec.claims import Claim
from bcsignal.spec.relations import ReadoutResult as ReadoutResult

if TYPE_CHECKING:
    from bcsignal.engine.certificate import Certificate


@dataclass
class ClaimResult:
    """The outcome of one claim over all its readouts."""

    model: str
    claim: Claim
    readouts: list[ReadoutResult] = field(default_factory=list)
    suite: str | None = None
    excused: bool = False
    #: The claim's verdict under its mechanism cuts (set by `bcsignal.certify.certify`).
    certificate: Certificate | None = None
    #: How each experiment's pre-equilibrated state was found ("newton" or "integration").
    preequilibration: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Return whether the claim holds for every readout."""
        return all(r.passed for r in self.readouts)

    @property
    def ok(self) -> bool:
        """Return whether the claim holds or is excused (a documented composite exception)."""
        return self.passed or self.excused

    @property
    def margin(self) -> float:
        """Return the smallest margin over the readouts (>= 0 when the claim holds)."""
        return min(r.margin for r in self.readouts)

    @property
    def test_id(self) -> str:
        """Return the id used in tests and reports: ``model::claim`` or ``model::paper::claim``."""
        if self.suite and self.suite != self.model:
            return f"{self.model}::{self.suite}::{self.claim.id}"
        return f"{self.model}::{self.claim.id}"

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "id": self.claim.id,
            "test_id": self.test_id,
            "model": self.model,
            "suite": self.suite or self.model,
            "excused": self.excused,
            "composite_exception": self.claim.composite_exception,
            "statement": self.claim.statement,
            "source": self.claim.source,
            "relation": self.claim.relation,
            "prediction": self.claim.prediction,
            "experiments": self.claim.experiments(),
            "passed": self.passed,
            "margin": json_number(self.margin),
            "kind": self.claim.kind,
            "mechanism_note": self.claim.mechanism_note,
            "sufficiency": dict(self.claim.sufficiency) if self.claim.sufficiency else None,
            "certificate": None if self.certificate is None else self.certificate.to_json(),
            "preequilibration": dict(self.preequilibration),
            "readouts": [
                {
                    "readout": r.readout,
                    "values": {k: json_number(v) for k, v in r.values.items()},
                    "observed": json_number(r.observed),
                    "expected": r.expected,
                    "margin": json_number(r.margin),
                    "passed": r.passed,
                    "detail": r.detail,
                }
                for r in self.readouts
            ],
        }


def json_number(x: float) -> float | str:
    """Return a float for JSON: itself when finite, else "inf", "-inf" or "nan" (JSON has no such numbers)."""
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "nan")
