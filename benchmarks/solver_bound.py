"""Section 8 of benchmarks/RESULTS.md: how near a robustness sample runs to its right-hand sides' cost.

Run by `make bench` (or alone: `python benchmarks/solver_bound.py`). libroadrunner does not report
CVODE's counters to Python, so this script builds `benchmarks/cvode_counter.c` (an LD_PRELOAD shim that
interposes CVodeInit and CVodeSetUserData inside libroadrunner) with the C compiler and runs itself
again with the shim preloaded. Every right-hand-side evaluation CVODE makes, those of its
difference-quotient Jacobian included, is counted and timed (thread CPU time). For each model, robustness
samples are evaluated in this process as `bcsignal robustness` evaluates them (after the nominal claims,
Newton's starting points); the bound is the CPU time inside the right-hand sides, and the ratio is the CPU
time per sample over it. Newton's own rate evaluations (bcsignal's pre-equilibration) go through
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


def counts(lib: ctypes.CDLL) -> tuple[int, float]:
    """Return (right-hand-side calls, CPU seconds inside them) so far."""
    calls, seconds = ctypes.c_ulonglong(), ctypes.c_double()
    lib.bc_rhs_counts(ctypes.byref(calls), ctypes.byref(seconds))
    return int(calls.value), float(seconds.value)


def measure_model(model: str, samples: int, lib: ctypes.CDLL) -> dict[str, Any]:
    """Evaluate `samples` robustness samples of one model; CPU time and right-hand-side counts."""
    from bcsignal import registry
    from bcsignal.analysis import robustness
    from bcsignal.engine.run import suite_results
    from bcsignal.engine.simulate import new_simulator

    entry = registry.entry(model)
    study = robustness.study_for_model(entry)
    files = list(entry.suites)
    sim = new_simulator(study.sbml, name=model)
    suite_results(model, files, sim)  # nominal states first, as a robustness worker does
    calls0, seconds0 = counts(lib)
    began = time.process_time()
    rows = [robustness.evaluate_sample(study, sim, files, i) for i in range(samples)]
    cpu = time.process_time() - began
    calls, seconds = counts(lib)
    return {
        "model": model,
        "samples": samples,
        "failed": sum(r.margins is None for r in rows),
        "species": sim.rr.model.getNumFloatingSpecies(),
        "cpu": cpu / samples,
        "rhs_calls": (calls - calls0) / samples,
        "rhs_seconds": (seconds - seconds0) / samples,
        "newton_solves": sim.newton_solves,
    }


def child(models: Sequence[str], shim: str) -> None:
    """Run inside the shimmed process: measure every model and print JSON."""
    lib = ctypes.CDLL(shim)
    out = [measure_model(m, SAMPLES.get(m, DEFAULT_SAMPLES), lib) for m in models]
    print(json.dumps(out))


def section(rows: Sequence[dict[str, Any]], started: datetime.datetime, load_before: str) -> str:
    """Return the markdown of section 8."""
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "## 8. Near the solver's bound: CPU per sample against its right-hand-side evaluations",
        "",
        f"Written by `make bench` (`benchmarks/solver_bound.py`) on {started:%Y-%m-%d %H:%M} UTC; load "
        f"average before {load_before}, after {load_after}. CVODE's right-hand-side evaluations (its "
        "difference-quotient Jacobian's included) counted and timed inside libroadrunner by "
        "`benchmarks/cvode_counter.c`, preloaded; robustness samples (sigma 0.3, seed 0) evaluated in one "
        "process after the nominal claims. bound = evaluations × their mean cost = CPU time inside the "
        "right-hand sides; ratio = CPU per sample / bound.",
        "",
        "| model | species | samples | CPU per sample (s) | RHS evaluations per sample | cost of one (µs) "
        "| bound (s) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per_call = 1e6 * r["rhs_seconds"] / r["rhs_calls"] if r["rhs_calls"] else float("nan")
        ratio = r["cpu"] / r["rhs_seconds"] if r["rhs_seconds"] else float("inf")
        lines.append(
            f"| {r['model']} | {r['species']} | {r['samples']} | {r['cpu']:.4f} | {r['rhs_calls']:,.0f} | "
            f"{per_call:.2f} | {r['rhs_seconds']:.4f} | {ratio:.1f} |"
        )
    composite = next((r for r in rows if r["model"] == "composite"), None)
    if composite is not None and composite["rhs_seconds"]:
        ratio = composite["cpu"] / composite["rhs_seconds"]
        verdict = "met" if ratio <= TARGET_RATIO else "**not met**"
        lines += [
            "",
            f"- composite: **{ratio:.1f}×** its right-hand sides' cost (target ≤ {TARGET_RATIO:g}: "
            f"{verdict}); the rest is CVODE's own work (dense LU factorisations and solves of the Newton "
            "systems, step control), libroadrunner's per-call set-up and bcsignal's code",
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
