"""Cross-simulator agreement: every claimed experiment simulated with libroadrunner and with COPASI."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

# two values agree when |a - b| <= AGREE_ATOL + AGREE_RTOL*|b| (b: libroadrunner)
from bcsignal.core.agreement import AGREE_ATOL as AGREE_ATOL
from bcsignal.core.agreement import AGREE_RTOL as AGREE_RTOL
from bcsignal.core.agreement import scores, worst_index
from bcsignal.core.errors import BcsignalError
from bcsignal.core.isolate import run_isolated
from bcsignal.engine.claims.plan import claimed_experiments
from bcsignal.engine.copasi import CopasiModel, CopasiRunError, run_protocol
from bcsignal.engine.simulate import Simulator, new_simulator
from bcsignal.engine.trajectory import Trajectory
from bcsignal.registry import ModelEntry
from bcsignal.spec.claims import ClaimsFile
from bcsignal.spec.protocol import Protocol

#: Tolerances both simulators integrate with.
RELATIVE_TOLERANCE = 1e-10
ABSOLUTE_TOLERANCE = 1e-14
#: Initial values must agree this closely after import (catches COPASI's "missing value = 1").
INITIAL_RTOL = 1e-12


@dataclass
class Difference:
    """The worst point of one readout: where |COPASI - libroadrunner| is largest against the bound."""

    readout: str
    time: float
    copasi: float
    roadrunner: float

    @property
    def score(self) -> float:
        """Return |a - b| / (AGREE_ATOL + AGREE_RTOL*|b|); agreement is score <= 1 (`bcsignal.agreement`)."""
        return float(scores(self.copasi, self.roadrunner))


@dataclass
class ExperimentCheck:
    """One experiment compared at every output time of every readout."""

    experiment: str
    points: int
    readouts: tuple[str, ...]
    worst: Difference | None
    #: COPASI failed without a message in this process and the experiment was run in a fresh one
    fresh_process: bool = False
    #: why COPASI could not run the experiment (then nothing was compared and the check fails)
    error: str | None = None

    @property
    def passed(self) -> bool:
        """Return whether COPASI ran and every readout agrees at every output time."""
        return self.error is None and (self.worst is None or self.worst.score <= 1.0)

    @property
    def result(self) -> str:
        """Return the verdict as the table prints it: ok, DIFFERENT or COPASI FAILED."""
        if self.error is not None:
            return "COPASI FAILED"
        return "ok" if self.passed else "DIFFERENT"


@dataclass
class ModelCheck:
    """A model's import into COPASI, its initial values and every claimed experiment."""

    model: str
    import_warnings: int = 0
    initial_mismatches: list[str] = field(default_factory=list)
    experiments: list[ExperimentCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Return whether the import was clean, initial values agree and every experiment agrees."""
        return not self.initial_mismatches and all(e.passed for e in self.experiments)

    @staticmethod
    def tolerances() -> dict[str, float]:
        """Return the tolerances both simulators integrate with and the agreement rule's, by name."""
        return {
            "relative": RELATIVE_TOLERANCE,
            "absolute": ABSOLUTE_TOLERANCE,
            "agree_atol": AGREE_ATOL,
            "agree_rtol": AGREE_RTOL,
        }

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {
            "model": self.model,
            "passed": self.passed,
            "import_warnings": self.import_warnings,
            "initial_mismatches": self.initial_mismatches,
            "experiments": [
                {
                    "experiment": e.experiment,
                    "points": e.points,
                    "readouts": list(e.readouts),
                    "passed": e.passed,
                    "worst_score": e.worst.score if e.worst else 0.0,
                    "worst": vars(e.worst) if e.worst else None,
                    "fresh_process": e.fresh_process,
                    "error": e.error,
                }
                for e in self.experiments
            ],
        }


def worst_difference(
    readout: str, times: np.ndarray, copasi: np.ndarray, roadrunner: np.ndarray
) -> Difference | None:
    """Return the point of a readout with the largest score, or None for an empty series."""
    if times.size == 0:
        return None
    k = worst_index(copasi, roadrunner)
    return Difference(readout, float(times[k]), float(copasi[k]), float(roadrunner[k]))


def _initial_mismatches(copasi: CopasiModel, sim: Simulator) -> list[str]:
    """Compare every species, parameter and compartment initial value of COPASI with libroadrunner's."""
    rr = sim.rr
    model = rr.model
    reference = dict(
        zip(model.getFloatingSpeciesIds(), model.getFloatingSpeciesConcentrations(), strict=True)
    )
    reference.update(
        zip(model.getBoundarySpeciesIds(), model.getBoundarySpeciesConcentrations(), strict=True)
    )
    reference.update({p: float(rr[p]) for p in model.getGlobalParameterIds()})
    reference.update(zip(model.getCompartmentIds(), model.getCompartmentVolumes(), strict=True))
    found = copasi.initial_values()
    problems = []
    for sid in sorted(set(reference) | set(found)):
        if sid not in found or sid not in reference:
            problems.append(f"{sid}: only in {'libroadrunner' if sid in reference else 'COPASI'}")
            continue
        a, b = found[sid], float(reference[sid])
        if not math.isclose(a, b, rel_tol=INITIAL_RTOL, abs_tol=1e-300):
            problems.append(f"{sid}: COPASI {a:.17g}, libroadrunner {b:.17g}")
    return problems


def _phase_grids(traj: Trajectory, protocol: Protocol) -> list[np.ndarray]:
    """Return each phase's output times, from the phase's start, as libroadrunner's trajectory has them."""
    grids = []
    elapsed = 0.0
    for phase in protocol.phases:
        end = elapsed + phase.duration
        inside = (traj.times >= elapsed - 1e-9) & (traj.times <= end + 1e-9)
        grid = traj.times[inside] - elapsed
        grid[0] = 0.0
        grids.append(grid)
        elapsed = end
    return grids


def copasi_experiment(
    sbml: str,
    origin: str,
    protocol: Protocol,
    grids: Sequence[np.ndarray],
    readouts: Sequence[str],
    preequilibration_time: float,
) -> dict[str, np.ndarray]:
    """Run one claimed experiment in COPASI and return each readout on the concatenated phase grids."""
    with CopasiModel(sbml, origin=origin) as copasi:
        run = run_protocol(
            copasi,
            protocol,
            grids,
            readouts,
            preequilibration_time=preequilibration_time,
            relative_tolerance=RELATIVE_TOLERANCE,
            absolute_tolerance=ABSOLUTE_TOLERANCE,
        )
    return {
        r: np.concatenate([out[r] if i == 0 else out[r][1:] for i, out in enumerate(run.phases)])
        for r in readouts
    }


def _compare_experiment(
    sbml: str,
    origin: str,
    sim: Simulator,
    claims: ClaimsFile,
    name: str,
    readouts: Sequence[str],
    traj: Trajectory,
) -> ExperimentCheck:
    """Run one experiment in COPASI (in a fresh process after a silent failure) and compare it.

    COPASI's LSODA, and then RADAU5 on the same block, now and then return False without a message in
    a process that has run other models before (measured on the composite's WT_TGFb_chemo_72h in the
    report, once in a few runs; never in a fresh process). Such an experiment is run once more in a new
    interpreter (`bcsignal.core.isolate`). A failure there, or one COPASI explains, is recorded as the
    experiment's error: the cross-check then fails, and every other experiment is still compared.
    """
    protocol = claims.experiments[name].protocol
    job = partial(
        copasi_experiment,
        sbml,
        origin,
        protocol,
        _phase_grids(traj, protocol),
        list(readouts),
        sim.preequilibration_time(dict(protocol.preequilibration)),
    )
    fresh = False
    try:
        try:
            values = job()
        except CopasiRunError as exc:
            if not exc.silent:
                raise
            fresh = True
            values = run_isolated(job, origin=origin)
    except BcsignalError as exc:
        return ExperimentCheck(
            name, int(traj.times.size), tuple(readouts), None, fresh_process=fresh, error=exc.cause
        )
    worst: Difference | None = None
    for r in readouts:
        diff = worst_difference(r, traj.times, values[r], traj.values[r])
        if diff is not None and (worst is None or diff.score > worst.score):
            worst = diff
    return ExperimentCheck(name, int(traj.times.size), tuple(readouts), worst, fresh_process=fresh)


def compare_simulators(
    model_id: str, sbml: str, claims: ClaimsFile, *, origin: str | Path | None = None
) -> ModelCheck:
    """Simulate every claimed experiment of a model with both simulators and compare every output."""
    origin = str(origin or model_id)
    sim = new_simulator(sbml, name=model_id, origin=origin)
    sim.rr.integrator.relative_tolerance = RELATIVE_TOLERANCE
    sim.rr.integrator.absolute_tolerance = ABSOLUTE_TOLERANCE
    result = ModelCheck(model=model_id)
    with CopasiModel(sbml, origin=origin) as copasi:
        result.import_warnings = len(copasi.import_messages.warnings)
        result.initial_mismatches = _initial_mismatches(copasi, sim)
    for name, (readouts, observe) in claimed_experiments(claims).items():
        traj = sim.run(claims.experiments[name].protocol, readouts, observe)
        result.experiments.append(_compare_experiment(sbml, origin, sim, claims, name, readouts, traj))
    return result


def compare_shipped(entries: Sequence[ModelEntry]) -> list[ModelCheck]:
    """Cross-check registry models: each one's built SBML against its own claims file."""
    return [compare_simulators(e.id, e.sbml_text(), e.claims, origin=e.sbml) for e in entries]


def table(results: Sequence[ModelCheck]) -> list[str]:
    """Return the cross-check as text lines: one per experiment, then a summary per model."""
    lines = [f"{'model':<32} {'experiment':<28} {'points':>6}  {'worst |a-b|/bound':>17}  result"]
    for model in results:
        for e in model.experiments:
            score = e.worst.score if e.worst else 0.0
            where = f"  ({e.worst.readout} at t={e.worst.time:g})" if e.worst and not e.passed else ""
            if e.error is not None:
                where = f": {e.error}"
            elif e.fresh_process:
                where += "  (COPASI run in a fresh process)"
            lines.append(
                f"{model.model:<32} {e.experiment:<28} {e.points * len(e.readouts):>6}  {score:>17.3g}  "
                f"{e.result}{where}"
            )
        for problem in model.initial_mismatches:
            lines.append(f"{model.model:<32} initial value differs: {problem}")
        lines.append(
            f"{model.model:<32} COPASI import clean ({model.import_warnings} warning(s)); "
            f"{sum(e.passed for e in model.experiments)}/{len(model.experiments)} experiments agree"
            f" — {'PASS' if model.passed else 'FAIL'}"
        )
    return lines


def summary(results: Mapping[str, ModelCheck] | Sequence[ModelCheck]) -> str:
    """Return a one-line summary."""
    models = list(results.values()) if isinstance(results, Mapping) else list(results)
    agree = sum(m.passed for m in models)
    return f"{agree} of {len(models)} model(s) agree between libroadrunner and COPASI"
