"""Section 5 of benchmarks/RESULTS.md: Newton pre-equilibration, the 10 000-sample projection, comparisons.

Run by `make bench` after the other sections (or alone: `python benchmarks/newton_bench.py`). Measures
the composite's robustness samples in-process with Newton and with integration pre-equilibration,
where the time goes, a naive libroadrunner loop on the same experiments, and a Dask cluster started by
address (`dask scheduler`, `dask worker`) with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bcsignal import registry
from bcsignal.analysis import robustness
from bcsignal.analysis.cluster import address_cluster
from bcsignal.core.files import write_marked
from bcsignal.engine.claims.plan import experiment_plan
from bcsignal.engine.run import suite_results
from bcsignal.engine.simulate import INTEGRATION, NEWTON, Simulator, new_simulator
from bcsignal.engine.trajectory import phase_grid
from bcsignal.spec.claims import ClaimsFile

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- newton:start -->", "<!-- newton:end -->"
#: Samples of the composite per measurement.
SAMPLES = 20
#: The issue's target: samples of the composite in under 5 minutes on 2 cores.
TARGET_SAMPLES, TARGET_MINUTES = 10_000, 5.0
#: How long the naive loop integrates for pre-equilibration (minutes): "simulate long".
NAIVE_PREEQUILIBRATION = 1e5


class TimedRunner:
    """A RoadRunner stand-in that times `simulate`, split into pre-equilibration and phases."""

    def __init__(self, rr: Any) -> None:
        self._rr = rr
        self.inside_preequilibration = False
        self.seconds = {"preequilibration": 0.0, "phases": 0.0}

    def simulate(self, *args: Any, **kwargs: Any) -> Any:
        """Run libroadrunner's simulate and add its CPU time to the current bucket."""
        began = time.process_time()
        try:
            return self._rr.simulate(*args, **kwargs)
        finally:
            bucket = "preequilibration" if self.inside_preequilibration else "phases"
            self.seconds[bucket] += time.process_time() - began

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rr, name)


def profile_samples(study: robustness.Study, method: str, samples: int) -> dict[str, Any]:
    """Evaluate samples in this process with one pre-equilibration method; where the CPU time goes."""
    files = list(registry.entry(study.model).suites)
    sim = new_simulator(study.sbml, name=study.model)
    sim.steady_state_method = method
    suite_results(study.model, files, sim)  # nominal states (Newton's starting points), compiled code warm
    timed = TimedRunner(sim.rr)
    sim.rr = timed
    pre_cpu = [0.0]
    original = sim.preequilibrate

    def preequilibrate(knobs: Any) -> None:
        began = time.process_time()
        timed.inside_preequilibration = True
        try:
            original(knobs)
        finally:
            timed.inside_preequilibration = False
            pre_cpu[0] += time.process_time() - began

    sim.preequilibrate = preequilibrate  # type: ignore[method-assign]
    wall, cpu = time.perf_counter(), time.process_time()
    rows = [robustness.evaluate_sample(study, sim, files, i) for i in range(samples)]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "rows": rows,
        "wall": wall / samples,
        "cpu": cpu / samples,
        "pre": pre_cpu[0] / samples,
        "pre_integration": timed.seconds["preequilibration"] / samples,
        "phases": timed.seconds["phases"] / samples,
        "newton": sim.newton_solves,
        "fallbacks": sum(sim.fallbacks.values()),
        "fallback_reasons": dict(sim.fallbacks),
    }


def naive_sample(sim: Simulator, files: Sequence[ClaimsFile], values: dict[str, float]) -> None:
    """One sample as a user writes it: per experiment reset, set knobs, simulate long, then the phases."""
    rr = sim.rr
    for suite in files:
        for plan in experiment_plan(suite):
            rr.resetAll()
            for pid, value in values.items():
                rr[pid] = value
            for pid, value in plan.protocol.preequilibration.items():
                rr[pid] = value
            rr.reset()
            rr.simulate(0, NAIVE_PREEQUILIBRATION, 2)
            start = NAIVE_PREEQUILIBRATION
            elapsed = 0.0
            for phase in plan.protocol.phases:
                for pid, value in phase.set.items():
                    rr[pid] = value
                grid = phase_grid(elapsed, phase.duration, plan.observe, dense=plan.dense)
                rr.simulate(times=[start + t for t in grid])
                elapsed += phase.duration


def naive_loop(study: robustness.Study, samples: int) -> float:
    """Return the CPU seconds per sample of the naive loop."""
    files = list(registry.entry(study.model).suites)
    sim = new_simulator(study.sbml, name=study.model)
    began = time.process_time()
    for i in range(samples):
        naive_sample(sim, files, dict(zip(study.parameters, study.values(i).tolist(), strict=True)))
    return (time.process_time() - began) / samples


def cluster_rate(study: robustness.Study, workers: int, samples: int, folder: Path) -> dict[str, float]:
    """Samples per second of wall time on a cluster started by address, and the workers' peak memory."""
    from distributed import Client

    with address_cluster(workers) as cluster:
        # compile the model on every worker first (one sample per task)
        robustness.run(
            study,
            folder / f"warm{workers}",
            2 * workers,
            scheduler=cluster.address,
            chunk_size=1,
            progress=False,
        )
        result = robustness.run(
            study, folder / f"run{workers}", samples, scheduler=cluster.address, chunk_size=1, progress=False
        )
        with Client(cluster.address) as client:
            rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"rate": result.evaluated / result.seconds, "memory": max(rss.values())}


def agreement(
    a: list[robustness.SampleRow], b: list[robustness.SampleRow], claims: Sequence[str]
) -> tuple[int, int, float, str]:
    """Return (samples compared, verdicts that differ, largest finite margin difference, its claim)."""
    compared = flips = 0
    worst, where = 0.0, ""
    for x, y in zip(a, b, strict=True):
        if x.margins is None or y.margins is None:
            continue
        compared += 1
        for claim, p, q in zip(claims, x.margins, y.margins, strict=True):
            flips += (p >= 0) != (q >= 0)
            if math.isfinite(p) and math.isfinite(q) and abs(p - q) > worst:
                worst, where = abs(p - q), f"{claim}: Newton {p:+.3g}, integration {q:+.3g}"
    return compared, flips, worst, where


def measure(samples: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every measurement of the section."""
    study = robustness.study_for_model(registry.entry("composite"))
    log(f"5/5 composite: {samples} samples with Newton, then with integration ...")
    newton = profile_samples(study, NEWTON, samples)
    integration = profile_samples(study, INTEGRATION, samples)
    log("5/5 naive libroadrunner loop ...")
    naive = naive_loop(study, max(2, samples // 4))
    log("5/5 clusters started by address, 1 and 2 workers ...")
    with tempfile.TemporaryDirectory(prefix="bcsignal-bench-") as tmp:
        one = cluster_rate(study, 1, samples, Path(tmp))
        two = cluster_rate(study, 2, samples, Path(tmp))
    return {
        "samples": samples,
        "newton": newton,
        "integration": integration,
        "naive": naive,
        "one": one,
        "two": two,
        "agreement": agreement(newton["rows"], integration["rows"], study.claims),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def grouped(reasons: dict[str, int]) -> str:
    """Return fallback reasons with their numbers replaced by #, counted."""
    counts: dict[str, int] = {}
    for reason, count in reasons.items():
        key = re.sub(r"[0-9.]+e[+-][0-9]+|[0-9.]+", "#", reason)
        counts[key] = counts.get(key, 0) + count
    return "; ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def section(m: dict[str, Any], started: datetime.datetime, load_before: str) -> str:
    """Return the markdown of section 5."""
    n, i = m["newton"], m["integration"]
    efficiency = m["two"]["rate"] / (2 * m["one"]["rate"])
    projected_cluster = TARGET_SAMPLES / m["two"]["rate"] / 60
    # `bcsignal robustness` pre-equilibrates by integration (the Simulator's default), so its projection
    # is from the integration-only CPU time; Newton's is given beside it
    projected_cpu = TARGET_SAMPLES * i["cpu"] / 2 / 60
    projected_newton = TARGET_SAMPLES * n["cpu"] / 2 / 60
    busy = float(load_before.split()[0]) >= 1.5
    compared, flips, worst, where = m["agreement"]
    own = n["cpu"] - n["pre"] - n["phases"]
    pre_own = n["pre"] - n["pre_integration"]
    lines = [
        "## 5. Newton pre-equilibration, the 10 000-sample projection and side-by-side loops",
        "",
        f"Written by `make bench` (`benchmarks/newton_bench.py`) on {started:%Y-%m-%d %H:%M} UTC "
        f"{'**under load**' if busy else 'on a quiet machine'} "
        f"(2 cores; load average before {load_before}, after {m['load']}; other processes stretch the wall "
        "times, the CPU times much less). "
        f"{m['samples']} robustness samples of the composite (sigma {robustness.DEFAULT_SIGMA}), "
        "each all its claims' experiments, evaluated in one process after the nominal claims "
        "(Newton's starting points).",
        "",
        "| pre-equilibration | wall per sample (s) | CPU per sample (s) | in pre-equilibration (s) "
        "| of which integrating (s) | phases, CVODE (s) | bcsignal's own code (s) | Newton / fallbacks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in (("Newton, integration fallback", n), ("integration only", i)):
        lines.append(
            f"| {name} | {r['wall']:.3f} | {r['cpu']:.3f} | {r['pre']:.3f} | {r['pre_integration']:.3f} "
            f"| {r['phases']:.3f} | {r['cpu'] - r['pre'] - r['phases']:.3f} "
            f"| {r['newton']} / {r['fallbacks']} |"
        )
    lines += [
        "",
        f"- fractions of the CPU time per sample with Newton: pre-equilibration {n['pre'] / n['cpu']:.0%} "
        f"(Newton's own linear algebra and rate evaluations {pre_own / n['cpu']:.0%}, fallback integration "
        f"{n['pre_integration'] / n['cpu']:.0%}), phase integration {n['phases'] / n['cpu']:.0%}, "
        f"bcsignal's other code (parameter setting, claim evaluation) {own / n['cpu']:.0%}",
        f"- Newton vs integration: {compared} samples compared, {flips} claim verdicts differ, "
        f"largest margin difference {worst:.1e} ({where or 'none'}; a margin is a log ratio, so a readout "
        f"near 0, such as a knockout's microRNA, can differ by much while the verdict stands); speed-up per "
        f"sample (CPU) {i['cpu'] / n['cpu']:.2f}×",
        f"- fallback reasons: {grouped(n['fallback_reasons']) or 'none'}",
        f"- naive libroadrunner loop (resetAll, set parameters and knobs, reset, simulate "
        f"{NAIVE_PREEQUILIBRATION:g} min, set the stimulus, simulate the phases; no claim evaluation): "
        f"{m['naive']:.3f} s CPU per sample, **{m['naive'] / n['cpu']:.2f}×** bcsignal's time",
        "- basico (COPASI's Python API, its steady-state task for pre-equilibration): section 7; the "
        "tight-driver COPASI number of section 2 is a different measurement, labelled for what it is",
        "- near the solver's bound (right-hand-side evaluations, the difference-quotient Jacobian's "
        "included, × the cost of one, counted inside libroadrunner's CVODE by a preloaded shim): section 8",
        f"- Dask cluster started by address (`dask scheduler` and `dask worker --nthreads 1` processes on "
        f"127.0.0.1, warmed): 1 worker {m['one']['rate']:.2f} samples/s, 2 workers {m['two']['rate']:.2f} "
        f"samples/s: scaling efficiency **{efficiency:.2f}** (target ≥ 0.85: "
        f"{'met' if efficiency >= 0.85 else '**not met**'}); peak memory per worker "
        f"{m['two']['memory']:.0f} MiB",
        f"- {TARGET_SAMPLES:,} samples of the composite: **{projected_cluster:.0f} min** projected from the "
        f"2-worker cluster's rate; **{projected_cpu:.0f} min** from the CPU time per sample on 2 free cores "
        f"with integration, as `bcsignal robustness` pre-equilibrates ({projected_newton:.0f} min with "
        f"Newton, whose multithreaded linear algebra takes more CPU than wall time) (target < "
        f"{TARGET_MINUTES:g} min: {'met' if projected_cpu < TARGET_MINUTES else '**not met**'})",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and write section 5 of RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = section(measure(args.samples), started, load_before)
    write_marked(args.out, START, END, text)
    print(f"wrote section 5 of {args.out}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
