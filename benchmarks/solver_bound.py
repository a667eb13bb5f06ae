"""Section 8 of benchmarks/RESULTS.md: how near a robustness sample runs to its right-hand sides' cost.

Run by `make bench` (or alone: `python benchmarks/solver_bound.py`). libroadrunner does not report
CVODE's counters to Python, so this script builds `benchmarks/cvode_counter.c` (an LD_PRELOAD shim that
interposes CVodeInit, CVodeReInit, CVodeSetUserData, CVodeSetLinearSolver and CVode inside libroadrunner)
with the C compiler and runs itself again with the shim preloaded. For each model, robustness samples are
evaluated in that process as `bcsignal robustness` evaluates them (after the nominal claims), twice: a
first pass counts every right-hand-side evaluation CVODE makes (its difference-quotient Jacobian's
included), every dense LU factorisation and solve and CVODE's own counters, and times the CVode calls and
`simulate`; a second pass of the same samples times each right-hand side and linear-algebra call (thread
CPU time, the clock's own interval taken off). The bound is evaluations × mean cost of one; the ratio is
the first pass's CPU time per sample over it, and the breakdown splits that CPU time into right-hand
sides, dense linear algebra, the rest of CVODE, libroadrunner's `simulate` outside CVODE and everything
outside `simulate`. Newton's own rate evaluations (bcsignal's pre-equilibration, when chosen) go through
libroadrunner's model API, not CVODE, and are not in the count.
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SHIM = ROOT / "benchmarks" / "cvode_counter.c"
START, END = "<!-- solver-bound:start -->", "<!-- solver-bound:end -->"
#: Robustness samples per model (the composite's are the slow ones).
SAMPLES = {"composite": 10}
DEFAULT_SAMPLES = 50
#: The issue's target: a composite sample within this factor of its right-hand sides' cost.
TARGET_RATIO = 2.0
LIBRARY_VARIABLE = "BCSIGNAL_ROADRUNNER_LIBRARY"


def build_shim(folder: Path) -> Path:
    """Compile the counting shim into `folder`; return the shared library's path."""
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SystemExit("solver_bound.py: no C compiler (cc or gcc) on PATH")
    out = folder / "cvode_counter.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM), "-ldl"], check=True)
    return out


def roadrunner_library() -> str:
    """Return the path of libroadrunner's Python extension (where CVODE is linked in)."""
    import roadrunner

    return str(Path(roadrunner.__file__).parent / "_roadrunner.so")


#: What the shim times besides the right-hand sides, in the order of its bc_timed_counts.
TIMED_NAMES = ("lu_factor", "lu_solve", "matrix", "cvode")
#: CVODE's counters the shim sums, in the order of its bc_cvode_stats.
STAT_NAMES = (
    "steps",
    "rhs_evals",
    "jacobian_rhs_evals",
    "jacobians",
    "lu_setups",
    "newton_iterations",
    "error_test_failures",
    "convergence_failures",
)


def counts(lib: ctypes.CDLL) -> dict[str, float]:
    """Return every counter of the shim so far: right-hand sides, timed calls and CVODE's own counters."""
    calls, seconds = ctypes.c_ulonglong(), ctypes.c_double()
    lib.bc_rhs_counts(ctypes.byref(calls), ctypes.byref(seconds))
    out: dict[str, float] = {"rhs_calls": int(calls.value), "rhs_seconds": float(seconds.value)}
    timed_calls, timed_seconds = (
        (ctypes.c_ulonglong * len(TIMED_NAMES))(),
        (ctypes.c_double * len(TIMED_NAMES))(),
    )
    lib.bc_timed_counts(timed_calls, timed_seconds)
    for name, n, t in zip(TIMED_NAMES, timed_calls, timed_seconds, strict=True):
        out[f"{name}_calls"], out[f"{name}_seconds"] = int(n), float(t)
    stats = (ctypes.c_ulonglong * len(STAT_NAMES))()
    lib.bc_cvode_stats(stats)
    out.update((name, int(v)) for name, v in zip(STAT_NAMES, stats, strict=True))
    return out


class SimulateClock:
    """Wraps `RoadRunner.simulate` of one simulator, adding up the CPU time its calls take (this thread)."""

    def __init__(self, rr: Any) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._simulate = rr.simulate
        rr.simulate = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the real `simulate`, timing it."""
        began = time.thread_time()
        try:
            return self._simulate(*args, **kwargs)
        finally:
            self.seconds += time.thread_time() - began
            self.calls += 1


#: Clock-reading pairs the shim times to measure its clock's own interval.
TIMER_PAIRS = 200_000
#: The fine-timed parts of CVODE's work: right-hand sides, then the shim's timed linear algebra.
FINE_PARTS = ("rhs", "lu_factor", "lu_solve", "matrix")


def _evaluate(study: Any, sim: Any, files: Sequence[Any], samples: int, lib: ctypes.CDLL) -> dict[str, Any]:
    """Evaluate samples 0..samples-1 once; per-sample CPU times and the shim's counters (over all)."""
    from bcsignal.analysis import robustness

    clock = SimulateClock(sim.rr)
    before = counts(lib)
    began, began_thread = time.process_time(), time.thread_time()
    rows = [robustness.evaluate_sample(study, sim, files, i) for i in range(samples)]
    cpu, thread = time.process_time() - began, time.thread_time() - began_thread
    after = counts(lib)
    sim.rr.simulate = clock._simulate
    out: dict[str, Any] = {
        "failed": sum(r.margins is None for r in rows),
        "margins": [r.margins for r in rows],
        "cpu": cpu / samples,
        "thread_cpu": thread / samples,
        "simulate_calls": clock.calls / samples,
        "simulate_seconds": clock.seconds / samples,
    }
    out.update((k, (after[k] - before[k]) / samples) for k in after)
    return out


def measure_model(model: str, samples: int, lib: ctypes.CDLL) -> dict[str, Any]:
    """Evaluate `samples` robustness samples of one model twice: CPU time and counts, then per-call costs.

    The first pass (the shim's coarse mode) gives the CPU time per sample, the time inside `simulate` and
    inside CVODE's CVode calls, and every count; the second evaluates the same samples again with the
    right-hand sides and the dense linear algebra timed (fine mode), each call's cost less the clock's own
    interval. The two passes must count the same work.
    """
    from bcsignal import registry
    from bcsignal.analysis import robustness
    from bcsignal.engine.run import suite_results
    from bcsignal.engine.simulate import new_simulator

    entry = registry.entry(model)
    study = robustness.study_for_model(entry)
    files = list(entry.suites)
    sim = new_simulator(study.sbml, name=model)
    suite_results(model, files, sim)  # nominal states first, as a robustness worker does
    lib.bc_set_fine(0)
    coarse = _evaluate(study, sim, files, samples, lib)
    lib.bc_set_fine(1)
    timed = _evaluate(study, sim, files, samples, lib)
    lib.bc_set_fine(0)
    lib.bc_timer_cost.restype = ctypes.c_double
    timer = float(lib.bc_timer_cost(TIMER_PAIRS))
    out: dict[str, Any] = {
        "model": model,
        "samples": samples,
        "species": sim.rr.model.getNumFloatingSpecies(),
        "newton_solves": sim.newton_solves,
        "timer": timer,
        "same_work": coarse["margins"] == timed["margins"]
        and all(coarse[k] == timed[k] for k in ("rhs_calls", *STAT_NAMES)),
        **{k: v for k, v in coarse.items() if k != "margins" and not k.endswith("_seconds")},
        "simulate_seconds": coarse["simulate_seconds"],
        "cvode_seconds": coarse["cvode_seconds"],
        "fine_cpu": timed["cpu"],
    }
    for part in FINE_PARTS:
        calls = timed[f"{part}_calls"]
        raw = timed[f"{part}_seconds"] / calls if calls else float("nan")
        out[f"{part}_raw_cost"] = raw
        out[f"{part}_cost"] = raw - timer  # seconds per call, the clock's own interval taken off
        out[f"{part}_seconds"] = coarse[f"{part}_calls"] * (raw - timer) if calls else 0.0
    return out


def child(models: Sequence[str], shim: str) -> None:
    """Run inside the shimmed process: measure every model and print JSON."""
    lib = ctypes.CDLL(shim)
    out = [measure_model(m, SAMPLES.get(m, DEFAULT_SAMPLES), lib) for m in models]
    print(json.dumps(out))


#: The parts of a sample's CPU time in section 8's breakdown: (key, column heading).
PARTS = (
    ("rhs", "right-hand sides"),
    ("lu_factor", "LU factorisations"),
    ("lu_solve", "LU solves"),
    ("matrix", "Newton matrix I − γJ"),
    ("cvode_rest", "rest of CVODE"),
    ("simulate_rest", "libroadrunner's `simulate` outside CVODE"),
    ("outside", "outside `simulate`"),
    ("threads", "other threads"),
)


def breakdown(r: dict[str, Any]) -> dict[str, float]:
    """Return the CPU seconds per sample of each part of PARTS (they add up to the CPU per sample)."""
    linear = sum(r[f"{p}_seconds"] for p in FINE_PARTS)
    return {
        **{p: r[f"{p}_seconds"] for p in FINE_PARTS},
        "cvode_rest": r["cvode_seconds"] - linear,
        "simulate_rest": r["simulate_seconds"] - r["cvode_seconds"],
        "outside": r["thread_cpu"] - r["simulate_seconds"],
        "threads": r["cpu"] - r["thread_cpu"],
    }


def section(rows: Sequence[dict[str, Any]], started: datetime.datetime, load_before: str) -> str:
    """Return the markdown of section 8."""
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    timer = 1e6 * float(np.median([r["timer"] for r in rows])) if rows else float("nan")
    lines = [
        "## 8. Near the solver's bound: CPU per sample against its right-hand-side evaluations",
        "",
        f"Written by `make bench` (`benchmarks/solver_bound.py`) on {started:%Y-%m-%d %H:%M} UTC; load "
        f"average before {load_before}, after {load_after}. Robustness samples (sigma 0.3, seed 0) evaluated "
        "in one process after the nominal claims, twice, under `benchmarks/cvode_counter.c` (preloaded into "
        "libroadrunner). The first pass counts every right-hand-side evaluation CVODE makes (its "
        "difference-quotient Jacobian's included), every dense LU factorisation and solve and CVODE's own "
        "counters, and times only the CVode calls: it gives the CPU per sample. The second pass times each "
        "right-hand side and each dense linear-algebra call (thread CPU time); a thread-CPU clock reading is "
        f"a system call here, {timer:.2f} µs between two readings with nothing in between, which is taken "
        "off each timed call (timing every call also makes that pass's samples cost more; its CPU is not "
        "used). bound = evaluations × mean cost of one; ratio = CPU per sample / bound.",
        "",
        "| model | species | samples | CPU per sample (s) | RHS evaluations per sample | cost of one, timed "
        "(µs) | cost of one (µs) | bound (s) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["cpu"] / r["rhs_seconds"] if r["rhs_seconds"] > 0 else float("inf")
        lines.append(
            f"| {r['model']} | {r['species']} | {r['samples']} | {r['cpu']:.4f} | {r['rhs_calls']:,.0f} | "
            f"{1e6 * r['rhs_raw_cost']:.2f} | {1e6 * r['rhs_cost']:.2f} | {r['rhs_seconds']:.4f} | "
            f"{ratio:.1f} |"
        )
    lines += [
        "",
        "Where a sample's CPU time goes (seconds per sample, share of the CPU per sample). Right-hand sides, "
        "LU factorisations (`SUNLinSolSetup_Dense`), LU solves (`SUNLinSolSolve_Dense`) and forming the "
        "Newton matrix (`SUNMatScaleAddI_Dense`, `SUNMatCopy_Dense`): calls of the first pass × cost of one "
        "from the second. Rest of CVODE: the CVode calls' time less those (step and error control, vector "
        "operations, interpolation to output times, the Jacobian's differencing loop). libroadrunner's "
        "`simulate` outside CVODE: its set-up, re-initialising CVODE, recording the output rows and its "
        "Python wrapper. Outside `simulate`: bcsignal's Python and the libroadrunner calls it makes between "
        "simulations (reset, setting parameters and states, reading them).",
        "",
        "| model | " + " | ".join(h for _, h in PARTS) + " |",
        "|---|" + "---:|" * len(PARTS),
    ]
    for r in rows:
        parts = breakdown(r)
        parts = {k: v if abs(v) >= 5e-5 else 0.0 for k, v in parts.items()}  # no "-0.0000"
        cells = [f"{parts[k]:.4f} ({100 * parts[k] / r['cpu']:.0f} %)" for k, _ in PARTS]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "CVODE's counters per sample (summed over its re-initialisations), and the calls into it.",
        "",
        "| model | `simulate` calls | CVode calls | steps | Newton iterations (LU solves) "
        "| LU factorisations | Jacobians | RHS evaluations: integration + Jacobians | error-test failures "
        "| convergence failures | passes agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['simulate_calls']:,.0f} | {r['cvode_calls']:,.0f} | {r['steps']:,.0f} | "
            f"{r['newton_iterations']:,.0f} | {r['lu_setups']:,.0f} | {r['jacobians']:,.0f} | "
            f"{r['rhs_evals']:,.0f} + {r['jacobian_rhs_evals']:,.0f} | {r['error_test_failures']:,.0f} | "
            f"{r['convergence_failures']:,.0f} | {'yes' if r['same_work'] else '**no**'} |"
        )
    composite = next((r for r in rows if r["model"] == "composite"), None)
    if composite is not None and composite["rhs_seconds"] > 0:
        c, parts = composite, breakdown(composite)
        ratio = c["cpu"] / c["rhs_seconds"]
        verdict = "met" if ratio <= TARGET_RATIO else "**not met**"
        linear = sum(parts[p] for p in ("lu_factor", "lu_solve", "matrix"))
        cvode = linear + parts["cvode_rest"]
        ours = parts["simulate_rest"] + parts["outside"]
        lines += [
            "",
            f"- composite: **{ratio:.1f}×** its right-hand sides' cost "
            f"(target ≤ {TARGET_RATIO:g}: {verdict}).",
            f"- CVODE's dense linear algebra is {linear:.3f} s of the {c['cpu']:.3f} s "
            f"({100 * linear / c['cpu']:.0f} %): {c['lu_setups']:,.0f} LU factorisations of the "
            f"{c['species']}×{c['species']} Newton matrix at {1e6 * c['lu_factor_cost']:.1f} µs, "
            f"{c['newton_iterations']:,.0f} LU solves at {1e6 * c['lu_solve_cost']:.2f} µs and forming the "
            f"matrix {c['matrix_calls']:,.0f} times at {1e6 * c['matrix_cost']:.1f} µs; with the rest of "
            f"CVODE's own work, {cvode:.3f} s ({100 * cvode / c['cpu']:.0f} %) is CVODE outside the "
            f"right-hand sides. That is inherent to a {c['species']}-species stiff system under CVODE's "
            "dense direct solver at bcsignal's tolerances: CVODE alone, with no per-call overhead at all, "
            f"would be {(c['rhs_seconds'] + cvode) / c['rhs_seconds']:.1f}× the bound.",
            f"- What is bcsignal's or libroadrunner's per-call set-up: {ours:.3f} s "
            f"({100 * ours / c['cpu']:.0f} %), of which {parts['outside']:.3f} s outside `simulate`.",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the shim, measure in a preloaded child process, and write section 8 of RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", help="only these models (default: every model)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from bcsignal import registry
    from bcsignal.core.files import write_marked

    models = args.model or [e.id for e in registry.current().entries()]
    if args.child:
        child(models, args.child)
        return 0
    started = datetime.datetime.now(datetime.UTC)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bcsignal-shim-") as tmp:
        shim = build_shim(Path(tmp))
        env = {**os.environ, "LD_PRELOAD": str(shim), LIBRARY_VARIABLE: roadrunner_library()}
        command = [sys.executable, __file__, "--child", str(shim), *(f"--model={m}" for m in models)]
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    text = section(rows, started, load_before)
    write_marked(args.out, START, END, text)
    print(f"wrote section 8 of {args.out}")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
