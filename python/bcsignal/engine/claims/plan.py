"""Experiment plans: what each claimed experiment must simulate, run once per claims file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bcsignal.core.errors import BcsignalError
from bcsignal.engine import phases
from bcsignal.engine.claims.evaluate import evaluate
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.spec.claims import Claim, ClaimsFile
from bcsignal.spec.protocol import Protocol
from bcsignal.spec.relations import relation

if TYPE_CHECKING:
    from bcsignal.engine.simulate import Simulator
    from bcsignal.engine.trajectory import Trajectory


def check_model_ids(claims: ClaimsFile, sim: Simulator) -> None:
    """Check that the interface's knobs and readouts exist in a model, naming the field and line."""
    for field_name, declared, known, kind in (
        ("knobs", claims.knobs, sim.knob_ids, "a constant global parameter"),
        ("readouts", claims.readouts, sim.readout_ids, "a species or global parameter"),
    ):
        for i, name in enumerate(declared):
            if name not in known:
                path = ["interface", field_name, i]
                raise BcsignalError(
                    f"{name!r} is not {kind} of model {sim.name}",
                    file=claims.path,
                    line=claims.line_of(path),
                    where=f"field interface.{field_name}",
                )


def observation_times(claim: Claim) -> list[float]:
    """Return the times a claim reads, so that they are put on the output grid (its relation says)."""
    return relation(claim.relation, claim=claim.id).times(claim.spec)


@dataclass(frozen=True)
class PlannedExperiment:
    """One experiment as the claims need it: the readouts to select, the times to observe, the grid."""

    name: str
    protocol: Protocol
    readouts: list[str]
    observe: list[float]
    dense: bool


def experiment_plan(claims: ClaimsFile) -> list[PlannedExperiment]:
    """Return the experiments the claims use (in file order), each with only what its claims read.

    An experiment is sampled densely only when a time-course claim (transient, sustained) reads it;
    the others are integrated to their observation times and their end.
    """
    needed: dict[str, set[str]] = {}
    observe: dict[str, set[float]] = {}
    dense: set[str] = set()
    for claim in claims.claims:
        for name in claim.experiments():
            needed.setdefault(name, set()).update(claim.readouts)
            observe.setdefault(name, set()).update(observation_times(claim))
            if relation(claim.relation, claim=claim.id).dense:
                dense.add(name)
    return [
        PlannedExperiment(
            name, experiment.protocol, sorted(needed[name]), sorted(observe[name]), name in dense
        )
        for name, experiment in claims.experiments.items()
        if name in needed
    ]


_plans: dict[int, tuple[ClaimsFile, list[PlannedExperiment]]] = {}


def _cached_plan(claims: ClaimsFile) -> list[PlannedExperiment]:
    """Return experiment_plan(claims), computed once per claims-file object (robustness reuses one)."""
    cached = _plans.get(id(claims))
    if cached is None or cached[0] is not claims:
        if len(_plans) > 256:
            _plans.clear()
        cached = (claims, experiment_plan(claims))
        _plans[id(claims)] = cached
    return cached[1]


def planned_readouts(files: Sequence[ClaimsFile]) -> set[str]:
    """Return every readout the planned experiments of these claims files select."""
    return {r for claims in files for plan in _cached_plan(claims) for r in plan.readouts}


def simulate_plan(claims: ClaimsFile, sim: Simulator, *, dense: bool = False) -> dict[str, Trajectory]:
    """Simulate every experiment the claims of a file use, once each: experiment -> trajectory.

    Each experiment is integrated to the times its claims read (densely when a time-course claim reads
    it); with ``dense``, every experiment is sampled on the dense grid (for plots and exchange).
    """
    trajs: dict[str, Trajectory] = {}
    phases.select_readouts(sim, planned_readouts([claims]))
    for plan in _cached_plan(claims):
        try:
            trajs[plan.name] = sim.run(plan.protocol, plan.readouts, plan.observe, dense=dense or plan.dense)
        except BcsignalError as exc:
            raise BcsignalError(
                exc.cause, file=claims.path, tool=exc.tool, where=f"experiment {plan.name}"
            ) from exc
    return trajs


def evaluate_suite(
    claims: ClaimsFile, trajs: Mapping[str, Trajectory], model: str, *, excuse: bool = False
) -> list[ClaimResult]:
    """Evaluate every claim of a file on its experiments' trajectories (`simulate_plan`).

    ``model`` names the model simulated; the results carry the claims file's model as their suite, and
    ``excuse`` honours composite exceptions.
    """
    results = [evaluate(c, trajs, model, suite=claims.model, excuse=excuse) for c in claims.claims]
    for result in results:
        result.preequilibration = {e: trajs[e].preequilibration for e in result.claim.experiments()}
    return results


def run_claims(
    claims: ClaimsFile, sim: Simulator, *, model: str | None = None, excuse: bool = False
) -> list[ClaimResult]:
    """Simulate every experiment once and evaluate every claim of a claims file.

    ``model`` names the model simulated (default: the claims file's own); when it differs, the results
    carry the claims file's model as their suite, and ``excuse`` honours composite exceptions.
    """
    return evaluate_suite(claims, simulate_plan(claims, sim), model or claims.model, excuse=excuse)


def claimed_experiments(claims: ClaimsFile) -> dict[str, tuple[list[str], list[float]]]:
    """Return each experiment some claim uses (file order): the readouts and the times its claims read."""
    return {plan.name: (plan.readouts, plan.observe) for plan in experiment_plan(claims)}


def simulate_experiments(
    claims: ClaimsFile, sim: Simulator, extra_times: Mapping[str, Sequence[float]] | None = None
) -> dict[str, Trajectory]:
    """Simulate every claimed experiment once on the dense grid (for plots and exchange).

    ``extra_times`` adds output times per experiment.
    """
    trajs: dict[str, Trajectory] = {}
    for plan in experiment_plan(claims):
        extra = [*plan.observe, *(extra_times or {}).get(plan.name, ())]
        try:
            trajs[plan.name] = sim.run(plan.protocol, plan.readouts, extra, dense=True)
        except BcsignalError as exc:
            raise BcsignalError(
                exc.cause, file=claims.path, tool=exc.tool, where=f"experiment {plan.name}"
            ) from exc
    return trajs
