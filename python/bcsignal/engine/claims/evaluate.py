"""One claim evaluated on the trajectories of its experiments, readout by readout (its relation says how)."""

from __future__ import annotations

from collections.abc import Mapping

from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.trajectory import Trajectory
from bcsignal.spec.claims import Claim
from bcsignal.spec.relations import relation


def evaluate(
    claim: Claim,
    trajs: Mapping[str, Trajectory],
    model: str,
    *,
    suite: str | None = None,
    excuse: bool = False,
) -> ClaimResult:
    """Evaluate one claim on the trajectories of its experiments.

    With ``excuse``, a claim that carries a ``composite_exception`` is marked excused: it is reported
    but does not count as a failure (used when a paper's claims run against the composite).
    """
    result = ClaimResult(
        model=model, claim=claim, suite=suite, excused=excuse and claim.composite_exception is not None
    )
    how = relation(claim.relation, claim=claim.id)
    result.readouts += [how.evaluate(claim.spec, readout, trajs) for readout in claim.readouts]
    return result
