"""The basico benchmark's agreement summary: the worst score, where it is, how many experiments disagree."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "basico_bench.py"


@pytest.fixture(scope="module")
def basico_bench() -> ModuleType:
    """Import benchmarks/basico_bench.py (it needs copasi-basico, the bench extra the lock installs)."""
    spec = importlib.util.spec_from_file_location("basico_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["basico_bench"] = module
    spec.loader.exec_module(module)
    return module


OURS = {"0:rest": {"pSTAT3": 1.0, "EMT": 0.04}, "1:TGFb": {"pSTAT3": 2.0, "EMT": 0.9}}


def test_agreeing_runs_score_at_most_one(basico_bench: ModuleType) -> None:
    """Identical end readouts: score 0, no experiment disagrees."""
    found = basico_bench.agreement(OURS, OURS)
    assert found["score"] == 0.0
    assert found["off"] == 0


def test_a_disagreement_is_named(basico_bench: ModuleType) -> None:
    """One readout far off: the summary names its experiment and readout and both values."""
    theirs = {"0:rest": {"pSTAT3": 1.0, "EMT": 0.04}, "1:TGFb": {"pSTAT3": 2.0, "EMT": 0.04}}
    found = basico_bench.agreement(OURS, theirs)
    assert found["score"] > 1.0
    assert (found["experiment"], found["readout"]) == ("TGFb", "EMT")
    assert (found["ours"], found["theirs"]) == (0.9, 0.04)
    assert found["off"] == 1


def test_readouts_basico_could_not_compute_are_left_out(basico_bench: ModuleType) -> None:
    """A NaN from basico (LSODA did not start) is not scored; it is counted as failed elsewhere."""
    theirs = {
        "0:rest": {"pSTAT3": math.nan, "EMT": math.nan},
        "1:TGFb": {"pSTAT3": math.nan, "EMT": math.nan},
    }
    found = basico_bench.agreement(OURS, theirs)
    assert found["score"] == 0.0
    assert found["off"] == 0
