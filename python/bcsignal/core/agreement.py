"""When two simulators agree: the one metric, and its tolerances, that every comparison of bcsignal uses.

A value `a` agrees with a reference value `b` when |a - b| <= AGREE_ATOL + AGREE_RTOL*|b|, that is when
its score |a - b| / (AGREE_ATOL + AGREE_RTOL*|b|) is at most 1. The cross-check (libroadrunner against
COPASI), the archives run by other simulators, the benchmarks and the tests compare with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: Relative tolerance of agreement (issue 20: every reported value within 1e-4 relative ...).
AGREE_RTOL = 1e-4
#: ... or 1e-9 absolute (nM) of the reference.
AGREE_ATOL = 1e-9


def scores(values: ArrayLike, reference: ArrayLike) -> np.ndarray:
    """Return |a - b| / (AGREE_ATOL + AGREE_RTOL*|b|) elementwise; agreement is a score <= 1.

    A non-finite value (or reference) scores infinity: it never agrees.
    """
    a = np.asarray(values, dtype=float)
    b = np.asarray(reference, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.abs(a - b) / (AGREE_ATOL + AGREE_RTOL * np.abs(b))
    return np.where(np.isfinite(out), out, np.inf)


def worst_index(values: ArrayLike, reference: ArrayLike) -> int:
    """Return the index of the largest score (the first non-finite one if any); the arrays are not empty."""
    s = scores(values, reference)
    if s.size == 0:
        raise ValueError("no values to compare")
    return int(np.argmax(s))


def distinct(a: float, b: float, digits: int = 4) -> tuple[str, str]:
    """Return a and b printed with `digits` significant figures, or as many more as tell them apart.

    Two values whose score is 1.8 can look equal at 4 figures; up to 17 figures (every double) are used.
    """
    for d in range(digits, 18):
        left, right = f"{a:.{d}g}", f"{b:.{d}g}"
        if left != right or a == b:
            return left, right
    return left, right


def agree(values: ArrayLike, reference: ArrayLike) -> bool:
    """Return whether every value agrees with its reference value."""
    return bool(np.all(scores(values, reference) <= 1.0))


@dataclass(frozen=True)
class EndsAgreement:
    """How one simulator's end readouts agree with a reference's, experiment by experiment."""

    #: The worst score (0 when nothing was compared).
    score: float
    #: Where the worst score is: the experiment and readout, and the reference's and the other's value.
    experiment: str
    readout: str
    reference: float
    value: float
    #: Experiments with at least one readout that does not agree (score above 1).
    disagreeing: int


def compare_ends(
    reference: Mapping[str, Mapping[str, float]],
    values: Mapping[str, Mapping[str, float]],
    *,
    skip_missing: bool = False,
) -> EndsAgreement:
    """Return how `values[experiment][readout]` agree with `reference[experiment][readout]`.

    A non-finite value never agrees (score infinity); with `skip_missing` the readouts the other
    simulator could not compute are left out instead (the caller counts those experiments as failed).
    """
    keys = [
        (e, r) for e, ends in reference.items() for r in ends if not skip_missing or np.isfinite(values[e][r])
    ]
    if not keys:
        return EndsAgreement(0.0, "", "", float("nan"), float("nan"), 0)
    found = scores([values[e][r] for e, r in keys], [reference[e][r] for e, r in keys])
    worst = int(np.argmax(found))
    e, r = keys[worst]
    off = {keys[i][0] for i in np.flatnonzero(found > 1.0)}
    return EndsAgreement(float(found[worst]), e, r, reference[e][r], values[e][r], len(off))
