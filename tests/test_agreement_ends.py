"""`compare_ends`: the worst agreement score of two simulators' end readouts, where it is, who disagrees."""

from __future__ import annotations

import math

from bcsignal.core.agreement import compare_ends, distinct

OURS = {"0:rest": {"pSTAT3": 1.0, "EMT": 0.04}, "1:TGFb": {"pSTAT3": 2.0, "EMT": 0.9}}
MISSING = {e: dict.fromkeys(ends, math.nan) for e, ends in OURS.items()}


def test_agreeing_ends_score_zero() -> None:
    """Identical end readouts: score 0, no experiment disagrees."""
    found = compare_ends(OURS, OURS)
    assert found.score == 0.0 and found.disagreeing == 0


def test_a_disagreement_is_named() -> None:
    """One readout far off: its experiment, readout and both values are named, one experiment disagrees."""
    theirs = {"0:rest": {"pSTAT3": 1.0, "EMT": 0.04}, "1:TGFb": {"pSTAT3": 2.0, "EMT": 0.04}}
    found = compare_ends(OURS, theirs)
    assert found.score > 1.0
    assert (found.experiment, found.readout) == ("1:TGFb", "EMT")
    assert (found.reference, found.value) == (0.9, 0.04)
    assert found.disagreeing == 1


def test_a_value_within_tolerance_agrees() -> None:
    """A difference inside the agreement tolerance scores at most 1 and counts no disagreement."""
    theirs = {e: {r: v * (1 + 1e-6) for r, v in ends.items()} for e, ends in OURS.items()}
    found = compare_ends(OURS, theirs)
    assert 0.0 < found.score <= 1.0 and found.disagreeing == 0


def test_missing_values_never_agree_unless_skipped() -> None:
    """A NaN scores infinity (every experiment disagrees); with skip_missing it is left out."""
    strict = compare_ends(OURS, MISSING)
    assert math.isinf(strict.score) and strict.disagreeing == 2
    lenient = compare_ends(OURS, MISSING, skip_missing=True)
    assert lenient.score == 0.0 and lenient.disagreeing == 0


def test_distinct_prints_enough_figures_to_tell_values_apart() -> None:
    """Values that differ at the 4th figure get more; equal values keep 4; every double is told apart."""
    assert distinct(0.0008557, 0.0008555) == ("0.0008557", "0.0008555")
    assert distinct(0.00085571, 0.00085549) == ("0.0008557", "0.0008555")
    assert distinct(0.00085571, 0.00085572) == ("0.00085571", "0.00085572")
    assert distinct(2.0, 2.0) == ("2", "2")
    a = 1.0
    b = math.nextafter(a, 2.0)
    left, right = distinct(a, b)
    assert left != right and float(left) == a and float(right) == b
