"""Section 7 of benchmarks/RESULTS.md: every claim experiment in basico, as a COPASI user writes it.

Run by `make bench` after the other sections (or alone: `python benchmarks/basico_bench.py`). For each
model, every planned claim experiment (the same plan bcsignal's engine runs) goes through basico,
COPASI's own Python API, the way a COPASI user drives it: per experiment load the SBML afresh, set the
pre-equilibration knobs, run COPASI's steady-state task (its own Newton method with integration
fallback, default settings), then per phase set the phase's knobs and run a deterministic (LSODA) time
course from the current state on the phase's output times, at bcsignal's tolerances. bcsignal's time is
its `Simulator.run` on the same experiments with an empty pre-equilibration cache (claims not
evaluated). Agreement: the largest relative difference of the end readouts. Times are CPU seconds of
this process (median of the repeats).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import basico  # type: ignore[import-untyped]
import numpy as np

from bcsignal import registry
from bcsignal.core.agreement import EndsAgreement, compare_ends, distinct
from bcsignal.core.files import write_marked
from bcsignal.engine.claims.plan import PlannedExperiment, experiment_plan
from bcsignal.engine.run import model_simulator
from bcsignal.engine.simulate import ABSOLUTE_TOLERANCE, MAXIMUM_NUM_STEPS, RELATIVE_TOLERANCE, Simulator
from bcsignal.engine.trajectory import phase_grid

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- basico:start -->", "<!-- basico:end -->"
#: Repeats of every measurement; the section gives medians.
REPEATS = 3
#: A basico suite slower than this (CPU seconds) is timed by its first run alone.
SLOW_SUITE = 30.0


class BasicoUser:
    """One model in basico: each experiment on a freshly loaded model, with basico's own calls only."""

    def __init__(self, sbml: str) -> None:
        self.sbml = sbml
        self.model = basico.load_model_from_string(sbml)
        species = basico.get_species(model=self.model)
        parameters = basico.get_parameters(model=self.model)
        # basico names elements by their SBML name; the claims use SBML ids
        self.species_name = {str(r["sbml_id"]): str(name) for name, r in species.iterrows()}
        self.parameter_name = {str(r["sbml_id"]): str(name) for name, r in parameters.iterrows()}
        #: CPU seconds spent loading the model, in the steady-state task and in time courses.
        self.seconds = {"load": 0.0, "steady state": 0.0, "time course": 0.0}
        #: Experiments whose steady-state task found no steady state (then integrated instead).
        self.no_steady_state = 0
        #: Experiments whose time course COPASI could not integrate (no readouts).
        self.failed = 0

    def close(self) -> None:
        """Free the COPASI data model."""
        basico.remove_datamodel(self.model)

    def _set(self, knobs: Mapping[str, float]) -> None:
        for sid, value in knobs.items():
            basico.set_parameters(
                self.parameter_name[sid], exact=True, initial_value=float(value), model=self.model
            )

    def column(self, sid: str) -> str:
        """Return basico's column name of a readout (a species or a global quantity)."""
        return self.species_name.get(sid) or self.parameter_name[sid]

    def run(self, plan: PlannedExperiment) -> dict[str, float]:
        """Run one experiment on a fresh model (steady-state task, then each phase's time course)."""
        protocol = plan.protocol
        t0 = time.process_time()
        self.close()
        self.model = basico.load_model_from_string(self.sbml)
        self._set({k: float(v) for k, v in protocol.preequilibration.items()})
        t1 = time.process_time()
        status = basico.run_steadystate(model=self.model, update_model=True)
        if status not in (1, 2):
            # what a user does when COPASI reports no steady state: integrate a long time instead
            self.no_steady_state += 1
            basico.run_time_course(
                duration=1e5, intervals=1, model=self.model, update_model=True, use_initial_values=True
            )
        t2 = time.process_time()
        self.seconds["load"] += t1 - t0
        self.seconds["steady state"] += t2 - t1
        elapsed = 0.0
        frame: Any = None
        for phase in protocol.phases:
            self._set({k: float(v) for k, v in phase.set.items()})
            grid = [t - elapsed for t in phase_grid(elapsed, phase.duration, plan.observe, dense=plan.dense)]
            frame = basico.run_time_course(
                values=grid,
                duration=phase.duration,
                model=self.model,
                update_model=True,
                use_initial_values=True,
                method="deterministic",
                r_tol=RELATIVE_TOLERANCE,
                a_tol=ABSOLUTE_TOLERANCE,
                max_steps=MAXIMUM_NUM_STEPS,
            )
            elapsed += phase.duration
        self.seconds["time course"] += time.process_time() - t2
        if frame is None or len(frame) == 0:
            self.failed += 1
            return dict.fromkeys(plan.readouts, float("nan"))
        return {r: self._end(frame, r) for r in plan.readouts}

    def _end(self, frame: Any, sid: str) -> float:
        """Return a readout at the end of the last phase: its column, or an assignment's current value."""
        name = self.column(sid)
        if name in frame.columns:
            return float(frame[name].iloc[-1])
        return float(basico.get_parameters(name, exact=True, model=self.model)["value"].iloc[0])


def engine_run(sim: Simulator, plans: Sequence[PlannedExperiment]) -> dict[str, dict[str, float]]:
    """Run every planned experiment through our Simulator (pre-equilibration cache cleared)."""
    sim.clear_cache()
    ends = {}
    for i, p in enumerate(plans):
        trajectory = sim.run(p.protocol, p.readouts, p.observe, dense=p.dense)
        ends[f"{i}:{p.name}"] = {r: trajectory.end(r) for r in p.readouts}
    return ends


def basico_run(user: BasicoUser, plans: Sequence[PlannedExperiment]) -> dict[str, dict[str, float]]:
    """Run every planned experiment through basico."""
    return {f"{i}:{p.name}": user.run(p) for i, p in enumerate(plans)}


def cpu(work: Callable[[], object], repeats: int) -> float:
    """Return the median CPU time of `work` over `repeats` runs."""
    times = []
    for _ in range(repeats):
        began = time.process_time()
        work()
        times.append(time.process_time() - began)
    return statistics.median(times)


def measure(models: Sequence[str], repeats: int) -> list[dict[str, Any]]:
    """Time bcsignal and basico on every model's claim experiments."""
    rows = []
    for mid in models:
        entry = registry.entry(mid)
        plans = [p for f in entry.suites for p in experiment_plan(f)]
        sim = model_simulator(entry)
        user = BasicoUser(entry.sbml_text())
        try:
            ours = engine_run(sim, plans)
            began = time.process_time()
            theirs = basico_run(user, plans)
            first = time.process_time() - began
            # a slow suite (the composite in basico) is timed by that one run, as bench.py times it
            runs = repeats if first < SLOW_SUITE else 1
            if runs > 1:
                user.seconds = dict.fromkeys(user.seconds, 0.0)
                user.no_steady_state = 0
                user.failed = 0
            row = {
                "model": mid,
                "experiments": len(plans),
                "bcsignal": cpu(partial(engine_run, sim, plans), repeats),
                "basico": cpu(partial(basico_run, user, plans), runs) if runs > 1 else first,
                "runs": runs,
                "agreement": compare_ends(ours, theirs, skip_missing=True),
                "split": {k: v / runs for k, v in user.seconds.items()},
                "no_steady_state": user.no_steady_state // runs,
                "failed": user.failed // runs,
            }
        finally:
            user.close()
        print(f"  {mid}: bcsignal {row['bcsignal']:.3f} s, basico {row['basico']:.3f} s", file=sys.stderr)
        rows.append(row)
    return rows


def _agreement_cells(found: EndsAgreement) -> str:
    """Return the agreement columns of a row: the worst score, the experiments that disagree, where."""
    reference, value = distinct(found.reference, found.value)
    return (
        f"{found.score:.1e} | {found.disagreeing} | {found.experiment.split(':', 1)[-1]}, {found.readout} "
        f"({reference} / {value})"
    )


def section(
    rows: Sequence[Mapping[str, Any]], started: datetime.datetime, load_before: str, repeats: int
) -> str:
    """Return the markdown of section 7."""
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## 7. The same experiments in basico, as a COPASI user writes them",
        "",
        f"Written by `make bench` (`benchmarks/basico_bench.py`) on {started:%Y-%m-%d %H:%M} UTC; load "
        f"average before {load_before}, after {load_after}. basico {metadata.version('copasi-basico')}, "
        f"python-copasi {metadata.version('python-copasi')}. Per experiment the SBML is loaded afresh "
        "(`load_model_from_string`), the pre-equilibration knobs set (`set_parameters`), COPASI's "
        "steady-state task run (`run_steadystate`, default settings, integration when it finds none), "
        "then each phase's knobs set and a deterministic (LSODA) `run_time_course` run from the current "
        "state on the phase's output times, at bcsignal's tolerances "
        f"(relative {RELATIVE_TOLERANCE:g}, absolute {ABSOLUTE_TOLERANCE:g}). bcsignal: `Simulator.run` on "
        f"the same experiments, pre-equilibration cache cleared. CPU seconds, median of {repeats} repeats "
        "(basico runs: the number of runs timed).",
        "",
        "| model | experiments | bcsignal, CPU (s) | basico, CPU (s) | basico runs | basico / bcsignal "
        "| basico: load and knobs / steady state / time courses (s) "
        "| no steady state found | integration failed | agreement | experiments that disagree "
        "| worst: experiment, readout (bcsignal / basico) |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['experiments']} | {r['bcsignal']:.4f} | {r['basico']:.4f} | {r['runs']} | "
            f"{r['basico'] / r['bcsignal']:.1f}× | "
            f"{' / '.join(f'{v:.3f}' for v in r['split'].values())} | {r['no_steady_state']} | "
            f"{r['failed']} | {_agreement_cells(r['agreement'])} |"
        )
    ours = sum(r["bcsignal"] for r in rows)
    theirs = sum(r["basico"] for r in rows)
    computing = sum(r["split"]["steady state"] + r["split"]["time course"] for r in rows)
    lines += [
        "",
        f"- all models: bcsignal {ours:.3f} s, basico {theirs:.3f} s: **{theirs / ours:.1f}×** the CPU time "
        "in basico. This is the comparison a COPASI user would make; section 2's figure is bcsignal's own "
        "tight COPASI driver (one framework update per change, pre-equilibration by integration over the "
        "span our engine integrated), a different measurement.",
        f"- COPASI's computing alone (steady-state task and time courses, without loading the model): "
        f"{computing:.3f} s, **{computing / ours:.1f}×** bcsignal's time",
        "- agreement is the worst score of `bcsignal.agreement` over every end readout of every experiment "
        "COPASI integrated (relative difference; COPASI's steady state is its own, to its own criterion; "
        "at most 1 agrees), named with the experiment and readout where it is; an experiment disagrees when "
        "any of its end readouts scores above 1; an experiment whose time course LSODA could not start is "
        "counted as failed",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and write section 7 of RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--model", action="append", help="only these models (default: every model)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    models = args.model or [e.id for e in registry.current().entries()]
    started = datetime.datetime.now(datetime.UTC)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = section(measure(models, args.repeats), started, load_before, args.repeats)
    write_marked(args.out, START, END, text)
    print(f"wrote section 7 of {args.out}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
