"""Comparing an archive's results with bcsignal's own simulation of the same experiments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bcsignal.core.agreement import agree, scores, worst_index
from bcsignal.engine.claims.plan import simulate_experiments
from bcsignal.errors import BcsignalError
from bcsignal.exchange.execute import ArchiveResults
from bcsignal.exchange.schedule import Plan
from bcsignal.simulate import Simulator, Trajectory
from bcsignal.spec.claims import ClaimsFile


@dataclass
class Disagreement:
    """The worst relative difference of one readout of one experiment, and where it is."""

    experiment: str
    readout: str
    time: float
    archive: float
    bcsignal: float

    @property
    def relative(self) -> float:
        """Return |archive - bcsignal| / |bcsignal| (absolute when bcsignal's value is 0)."""
        return abs(self.archive - self.bcsignal) / (abs(self.bcsignal) or 1.0)

    @property
    def score(self) -> float:
        """Return the agreement score (`bcsignal.agreement`): over 1, the values disagree."""
        return float(scores(self.archive, self.bcsignal))


def reference_trajectories(
    claims: ClaimsFile, sim: Simulator, layout: Mapping[str, Plan]
) -> dict[str, Trajectory]:
    """Simulate every claimed experiment with bcsignal at its claims' times and the archive's output times."""
    extra = {name: [float(t) for t in plan.times() if t > 0] for name, plan in layout.items()}
    return simulate_experiments(claims, sim, extra)


def compare(
    results: ArchiveResults,
    reference: Mapping[str, Trajectory],
    layout: Mapping[str, Plan],
) -> list[Disagreement]:
    """Compare an archive's output with bcsignal's trajectories at every output time of every phase.

    Every phase task must report the protocol time and every readout of its experiment at the
    phase's output times. Returns the worst disagreement per experiment and readout where a value
    does not agree (`bcsignal.agreement`: |a - b| <= AGREE_ATOL + AGREE_RTOL*|b|); an empty list
    means agreement.
    """
    bad: list[Disagreement] = []
    for name, plan in layout.items():
        traj = reference[name]
        worst: dict[str, Disagreement] = {}
        for run in plan.phases:
            if run.task not in results:
                raise BcsignalError(f"the archive's results have no task {run.task}")
            got = results[run.task]
            expected = run.times()
            times = got.get("time")
            if times is None or times.shape != expected.shape or not np.allclose(times, expected, 1e-9, 1e-9):
                raise BcsignalError(
                    f"task {run.task} did not report the phase's {expected.size} output times"
                )
            index = np.array([int(np.argmin(np.abs(traj.times - t))) for t in expected])
            if not np.allclose(traj.times[index], expected, rtol=1e-9, atol=1e-9):
                raise BcsignalError(f"bcsignal has no output at some time of task {run.task}")
            for readout in plan.readouts:
                if readout not in got or got[readout].shape != expected.shape:
                    raise BcsignalError(f"task {run.task} did not report {readout} at every output time")
                b = traj.values[readout][index]
                a = got[readout]
                if agree(a, b):
                    continue
                i = worst_index(a, b)
                miss = Disagreement(name, readout, float(expected[i]), float(a[i]), float(b[i]))
                if readout not in worst or miss.score > worst[readout].score:
                    worst[readout] = miss
        bad.extend(worst.values())
    return bad
