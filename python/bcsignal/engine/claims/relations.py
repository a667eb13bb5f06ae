"""The relations a claim states, evaluated on the trajectories of its experiments."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from bcsignal.core.errors import BcsignalError
from bcsignal.engine.claims.results import ClaimResult, ReadoutResult
from bcsignal.engine.trajectory import Trajectory
from bcsignal.spec.claims import (
    DEFAULT_FOLD,
    DEFAULT_ORDER_FOLD,
    DEFAULT_PEAK_FRACTION,
    DEFAULT_RISE,
    DEFAULT_TOLERANCE,
    TIME_COURSE_RELATIONS,
    TINY,
    Claim,
)


def _ratio(num: float, den: float) -> float:
    if abs(den) < TINY:
        return math.inf if abs(num) >= TINY else 1.0
    return num / den


def _log(x: float) -> float:
    if x <= 0:
        return -math.inf
    return math.log(x)


def _observe_time(spec: Mapping[str, Any]) -> float | None:
    at = spec.get("at", "end")
    return None if at == "end" else float(at)


def _value(traj: Trajectory, readout: str, at: float | None) -> float:
    return traj.end(readout) if at is None else traj.at(readout, at)


def _pairwise(claim: Claim, readout: str, trajs: Mapping[str, Trajectory]) -> ReadoutResult:
    spec = claim.spec
    at = _observe_time(spec)
    control = _value(trajs[spec["control"]], readout, at)
    perturbed = _value(trajs[spec["perturbed"]], readout, at)
    values = {spec["control"]: control, spec["perturbed"]: perturbed}
    rel = claim.relation
    if rel == "increase":
        fold = float(spec.get("fold", DEFAULT_FOLD))
        ratio = _ratio(perturbed, control)
        return ReadoutResult(
            readout, values, ratio, f"perturbed/control >= {fold:g}", _log(ratio) - math.log(fold)
        )
    if rel == "decrease":
        fold = float(spec.get("fold", DEFAULT_FOLD))
        ratio = _ratio(control, perturbed)
        return ReadoutResult(
            readout, values, ratio, f"control/perturbed >= {fold:g}", _log(ratio) - math.log(fold)
        )
    ratio = _ratio(perturbed, control)
    if rel == "no_change":
        tol = float(spec.get("tolerance", DEFAULT_TOLERANCE))
        margin = math.log1p(tol) - abs(_log(ratio)) if ratio > 0 else -math.inf
        return ReadoutResult(readout, values, ratio, f"|perturbed/control - 1| <= {tol:g}", margin)
    frac = float(spec["fraction"])
    if rel == "at_least_fraction":
        return ReadoutResult(
            readout, values, ratio, f"perturbed/control >= {frac:g}", _log(ratio) - math.log(frac)
        )
    if rel == "at_most_fraction":
        margin = math.log(frac) - _log(ratio) if ratio > 0 else math.inf
        return ReadoutResult(readout, values, ratio, f"perturbed/control <= {frac:g}", margin)
    raise BcsignalError(f"unknown relation {rel!r}", where=f"claim {claim.id}")


def _time_course(claim: Claim, readout: str, trajs: Mapping[str, Trajectory]) -> ReadoutResult:
    spec = claim.spec
    traj = trajs[spec["condition"]]
    series = traj.values[readout]
    baseline = float(series[0])
    after = float(spec["after"])
    value_after = traj.at(readout, after)
    fraction = float(spec.get("fraction", DEFAULT_PEAK_FRACTION))
    rise = float(spec.get("rise", DEFAULT_RISE))
    if claim.relation == "transient":
        t1, t2 = (float(t) for t in spec["peak_window"])
        upto = traj.times <= after
        k = int(series[upto].argmax())
        peak, t_peak = float(series[upto][k]), float(traj.times[upto][k])
        # time-window part: log-distance of the peak time inside [t1, t2]
        inside = min(_log(t_peak / t1) if t1 > 0 else math.inf, _log(t2 / t_peak) if t_peak > 0 else math.inf)
        rise_part = _log(_ratio(peak, baseline)) - math.log(rise)
        fall_part = _log(_ratio(fraction * peak, value_after))
        margin = min(inside, rise_part, fall_part)
        values = {"t=0": baseline, f"peak@{t_peak:g}": peak, f"t={after:g}": value_after}
        expected = f"peak in [{t1:g}, {t2:g}] min, >= {rise:g}x t=0, then <= {fraction:g}x peak at {after:g}"
        return ReadoutResult(
            readout, values, _ratio(value_after, peak), expected, margin, f"peak at {t_peak:g} min"
        )
    # sustained
    upto = traj.times <= after
    peak = float(series[upto].max())
    rise_part = _log(_ratio(value_after, baseline)) - math.log(rise)
    hold_part = _log(_ratio(value_after, fraction * peak))
    values = {"t=0": baseline, "peak": peak, f"t={after:g}": value_after}
    expected = f"value at {after:g} >= {rise:g}x t=0 and >= {fraction:g}x peak"
    return ReadoutResult(readout, values, _ratio(value_after, baseline), expected, min(rise_part, hold_part))


def _ordering(claim: Claim, readout: str, trajs: Mapping[str, Trajectory]) -> ReadoutResult:
    spec = claim.spec
    at = _observe_time(spec)
    names = list(spec["conditions"])
    fold = float(spec.get("fold", DEFAULT_ORDER_FOLD))
    values = {n: _value(trajs[n], readout, at) for n in names}
    margins = []
    ratios = []
    for a, b in itertools.pairwise(names):
        r = _ratio(values[a], values[b]) if spec["order"] == "decreasing" else _ratio(values[b], values[a])
        ratios.append(r)
        margins.append(_log(r) - math.log(fold))
    sign = " > " if spec["order"] == "decreasing" else " < "
    expected = sign.join(names) + f" (each step >= {fold:g}x)"
    return ReadoutResult(readout, values, min(ratios), expected, min(margins))


def evaluate(
    claim: Claim,
    trajs: Mapping[str, Trajectory],
    model: str,
    *,
    suite: str | None = None,
    excuse: bool = False,
) -> ClaimResult:
    """Evaluate one claim on the trajectories of its experiments.

    With ``excuse``, a claim that carries a ``composite_exception`` is marked excused: it is reported
    but does not count as a failure (used when a paper's claims run against the composite).
    """
    result = ClaimResult(
        model=model, claim=claim, suite=suite, excused=excuse and claim.composite_exception is not None
    )
    for readout in claim.readouts:
        if claim.relation in TIME_COURSE_RELATIONS:
            result.readouts.append(_time_course(claim, readout, trajs))
        elif claim.relation == "ordering":
            result.readouts.append(_ordering(claim, readout, trajs))
        else:
            result.readouts.append(_pairwise(claim, readout, trajs))
    return result
