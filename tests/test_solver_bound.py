"""benchmarks/solver_bound.py: the shim's counts agree with CVODE's own, and the breakdown adds up."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import load_script

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "solver_bound.py"


def _row(**changes: float) -> dict[str, object]:
    row: dict[str, object] = {
        "model": "composite",
        "species": 91,
        "samples": 10,
        "timer": 6e-7,
        "same_work": True,
        "cpu": 1.0,
        "thread_cpu": 0.99,
        "simulate_seconds": 0.9,
        "cvode_seconds": 0.85,
        "simulate_calls": 139,
        "cvode_calls": 1347,
        "fine_cpu": 1.5,
    }
    for part, calls, cost in (
        ("rhs", 300, 6e-4),
        ("lu_factor", 10, 0.01),
        ("lu_solve", 100, 3e-3),
        ("matrix", 12, 5e-3),
    ):
        row[f"{part}_calls"] = calls
        row[f"{part}_cost"] = cost
        row[f"{part}_raw_cost"] = cost + 6e-7
        row[f"{part}_seconds"] = calls * cost
    for name in load_script(SCRIPT).STAT_NAMES:
        row[name] = 1
    row.update(changes)
    return row


def test_the_breakdown_adds_up_to_the_cpu_per_sample() -> None:
    script = load_script(SCRIPT)
    row = _row()
    parts = script.breakdown(row)
    assert set(parts) == {key for key, _ in script.PARTS}
    assert sum(parts.values()) == pytest.approx(row["cpu"])
    text = script.section([row], datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC), "0.00")
    assert "**5.6×** its right-hand sides' cost (target ≤ 2: **not met**)" in text
    assert "| composite | 139 | 1,347 |" in text


@pytest.mark.skipif(
    not (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")), reason="no C compiler"
)
def test_the_shim_counts_what_cvode_counts(tmp_path: Path) -> None:
    """Every right-hand side, LU factorisation and LU solve is seen, and both passes do the same work."""
    script = load_script(SCRIPT)
    shim = script.build_shim(tmp_path)
    env = {
        **os.environ,
        "LD_PRELOAD": str(shim),
        script.LIBRARY_VARIABLE: script.roadrunner_library(),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, str(SCRIPT), "--child", str(shim), "--model=Park_BBRC2007"]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    (row,) = json.loads(done.stdout.strip().splitlines()[-1])
    assert row["same_work"] and row["failed"] == 0
    assert row["rhs_calls"] == row["rhs_evals"] + row["jacobian_rhs_evals"] > 0
    assert row["lu_factor_calls"] == row["lu_setups"] > 0
    assert row["lu_solve_calls"] == row["newton_iterations"] > 0
    assert row["matrix_calls"] > 0 and row["cvode_calls"] > 0 and row["steps"] > 0
