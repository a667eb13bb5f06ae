"""The relations a claim can state, one small class each (`RELATIONS`).

Each says which experiments a claim reads, at which times, what is impossible about it at parse time,
how it is evaluated on trajectories, and what a plot marks. A new relation is one `Relation` subclass
registered in `RELATIONS`, plus its form in the claims schema.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from bcsignal.core.errors import BcsignalError

#: Default fold for increase/decrease when the paper does not quantify it.
DEFAULT_FOLD = 1.5
#: Default tolerance of a no_change claim (relative).
DEFAULT_TOLERANCE = 0.10
#: Default fraction of the peak for transient/sustained claims.
DEFAULT_PEAK_FRACTION = 0.5
#: Default minimal rise of the peak over the value at time 0 (transient/sustained).
DEFAULT_RISE = 1.5
#: Default fold between neighbours of an ordering claim.
DEFAULT_ORDER_FOLD = 1.05
#: Values below this are treated as zero when forming ratios (nM or dimensionless).
TINY = 1e-12

Spec = Mapping[str, Any]


class Series(Protocol):
    """What a relation reads of an experiment: readouts over time (`engine.trajectory.Trajectory`)."""

    @property
    def times(self) -> Any:
        """Return the output times (a numpy array)."""
        ...

    @property
    def values(self) -> Mapping[str, Any]:
        """Return readout -> its values at the output times."""
        ...

    def at(self, readout: str, time: float) -> float:
        """Return a readout at a time on the output grid."""
        ...

    def end(self, readout: str) -> float:
        """Return a readout at the end of the protocol."""
        ...


@dataclass
class ReadoutResult:
    """The outcome of one claim for one readout."""

    readout: str
    values: dict[str, float]
    observed: float
    expected: str
    margin: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Return whether the relation holds (margin >= 0)."""
        return self.margin >= 0


@dataclass(frozen=True)
class Mark:
    """What a claim's plot marks on its time axis: a line at `start`, or a band from `start` to `end`."""

    start: float
    end: float | None = None


def ratio(num: float, den: float) -> float:
    """Return num/den, with values below TINY treated as zero (0/0 is 1, x/0 is infinite)."""
    if abs(den) < TINY:
        return math.inf if abs(num) >= TINY else 1.0
    return num / den


def log(x: float) -> float:
    """Return the natural logarithm, minus infinity for x <= 0."""
    return -math.inf if x <= 0 else math.log(x)


def observed_at(spec: Spec) -> float | None:
    """Return the time a claim's `at` field names, or None for the end of the protocol."""
    at = spec.get("at", "end")
    return None if at == "end" else float(at)


def value(traj: Series, readout: str, at: float | None) -> float:
    """Return a readout at a time (None: at the end)."""
    return traj.end(readout) if at is None else traj.at(readout, at)


class Relation:
    """A relation between a readout's values in a claim's experiments (`name` as in claims files)."""

    name: ClassVar[str]
    #: Whether the relation reads a whole time course (its experiments are then sampled densely).
    dense: ClassVar[bool] = False

    def experiments(self, spec: Spec) -> list[str]:
        """Return the experiments the claim reads, in order."""
        return [spec["control"], spec["perturbed"]]

    def roles(self, spec: Spec) -> dict[str, str]:
        """Return experiment -> its role, as a plot's legend names it."""
        return {spec["control"]: "control", spec["perturbed"]: "perturbed"}

    def times(self, spec: Spec) -> list[float]:
        """Return the times the claim reads (they are put on the output grid)."""
        at = observed_at(spec)
        return [] if at is None else [at]

    def marks(self, spec: Spec) -> list[Mark]:
        """Return what a plot of the claim marks on the time axis."""
        return [Mark(t) for t in self.times(spec)]

    def problem(self, spec: Spec, horizon: float) -> str | None:
        """Return what is impossible about the claim's times and thresholds, or None."""
        at = spec.get("at", "end")
        if at != "end" and at > horizon:
            return f"field at: {at} min is after the end of the protocol ({horizon:g} min)"
        return None

    def evaluate(self, spec: Spec, readout: str, trajs: Mapping[str, Series]) -> ReadoutResult:
        """Return the outcome for one readout on the trajectories of the claim's experiments."""
        raise NotImplementedError


class Pairwise(Relation):
    """A perturbed experiment compared with its control, at one time (`at`) or at the end."""

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return the observed quantity, the expectation in words and the margin."""
        raise NotImplementedError

    def evaluate(self, spec: Spec, readout: str, trajs: Mapping[str, Series]) -> ReadoutResult:
        """Return perturbed against control for one readout."""
        at = observed_at(spec)
        control = value(trajs[spec["control"]], readout, at)
        perturbed = value(trajs[spec["perturbed"]], readout, at)
        observed, expected, margin = self.compare(spec, control, perturbed)
        return ReadoutResult(
            readout, {spec["control"]: control, spec["perturbed"]: perturbed}, observed, expected, margin
        )


class Increase(Pairwise):
    """The perturbed value is at least `fold` times the control's."""

    name = "increase"

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return perturbed/control against the fold."""
        fold = float(spec.get("fold", DEFAULT_FOLD))
        r = ratio(perturbed, control)
        return r, f"perturbed/control >= {fold:g}", log(r) - math.log(fold)


class Decrease(Pairwise):
    """The control value is at least `fold` times the perturbed one."""

    name = "decrease"

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return control/perturbed against the fold."""
        fold = float(spec.get("fold", DEFAULT_FOLD))
        r = ratio(control, perturbed)
        return r, f"control/perturbed >= {fold:g}", log(r) - math.log(fold)


class NoChange(Pairwise):
    """The perturbed value is within `tolerance` of the control's."""

    name = "no_change"

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return perturbed/control against the tolerance."""
        tol = float(spec.get("tolerance", DEFAULT_TOLERANCE))
        r = ratio(perturbed, control)
        margin = math.log1p(tol) - abs(log(r)) if r > 0 else -math.inf
        return r, f"|perturbed/control - 1| <= {tol:g}", margin


class AtLeastFraction(Pairwise):
    """The perturbed value is at least `fraction` of the control's."""

    name = "at_least_fraction"

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return perturbed/control against the fraction."""
        frac = float(spec["fraction"])
        r = ratio(perturbed, control)
        return r, f"perturbed/control >= {frac:g}", log(r) - math.log(frac)

    def problem(self, spec: Spec, horizon: float) -> str | None:
        """Refuse a fraction above 1 (an increase)."""
        found = super().problem(spec, horizon)
        if found is None and spec["fraction"] > 1:
            return "field fraction: above 1 this is an increase; use relation increase"
        return found


class AtMostFraction(Pairwise):
    """The perturbed value is at most `fraction` of the control's."""

    name = "at_most_fraction"

    def compare(self, spec: Spec, control: float, perturbed: float) -> tuple[float, str, float]:
        """Return perturbed/control against the fraction."""
        frac = float(spec["fraction"])
        r = ratio(perturbed, control)
        margin = math.log(frac) - log(r) if r > 0 else math.inf
        return r, f"perturbed/control <= {frac:g}", margin

    def problem(self, spec: Spec, horizon: float) -> str | None:
        """Refuse a fraction of 1 or more."""
        found = super().problem(spec, horizon)
        if found is None and spec["fraction"] >= 1:
            return "field fraction: an at_most_fraction claim needs a fraction below 1"
        return found


class TimeCourse(Relation):
    """A readout's course in one experiment (`condition`): its peak and its value `after` a time."""

    dense = True

    def experiments(self, spec: Spec) -> list[str]:
        """Return the one experiment the claim reads."""
        return [spec["condition"]]

    def roles(self, spec: Spec) -> dict[str, str]:
        """Return the one experiment as the plot's condition."""
        return {spec["condition"]: "condition"}

    def times(self, spec: Spec) -> list[float]:
        """Return `at` (if given), then `after`."""
        return [*super().times(spec), float(spec["after"])]

    def problem(self, spec: Spec, horizon: float) -> str | None:
        """Refuse an `after` beyond the end of the protocol."""
        found = super().problem(spec, horizon)
        if found is None and spec["after"] > horizon:
            return f"field after: {spec['after']} min is after the end of the protocol ({horizon:g} min)"
        return found


class Transient(TimeCourse):
    """The readout peaks inside `peak_window`, `rise` times its start, then falls to `fraction` of it."""

    name = "transient"

    def times(self, spec: Spec) -> list[float]:
        """Return `at`, `after` and the ends of the peak window."""
        return [*super().times(spec), *(float(t) for t in spec["peak_window"])]

    def marks(self, spec: Spec) -> list[Mark]:
        """Return lines at `at` and `after`, and the peak window as a band."""
        t1, t2 = spec["peak_window"]
        return [
            *(Mark(t) for t in Relation.times(self, spec)),
            Mark(float(spec["after"])),
            Mark(float(t1), float(t2)),
        ]

    def problem(self, spec: Spec, horizon: float) -> str | None:
        """Refuse a peak window out of order, beyond the protocol, or not before `after`."""
        found = Relation.problem(self, spec, horizon)
        if found is not None:
            return found
        t1, t2 = spec["peak_window"]
        if not t1 < t2:
            return f"field peak_window: start {t1} must be before end {t2}"
        if t2 > horizon or spec["after"] > horizon:
            return f"field peak_window/after: beyond the end of the protocol ({horizon:g} min)"
        if spec["after"] <= t2:
            return "field after: must come after the peak window"
        return None

    def evaluate(self, spec: Spec, readout: str, trajs: Mapping[str, Series]) -> ReadoutResult:
        """Return the peak's time, rise and fall as one margin (the smallest of the three)."""
        traj = trajs[spec["condition"]]
        series = traj.values[readout]
        baseline, after = float(series[0]), float(spec["after"])
        value_after = traj.at(readout, after)
        fraction = float(spec.get("fraction", DEFAULT_PEAK_FRACTION))
        rise = float(spec.get("rise", DEFAULT_RISE))
        t1, t2 = (float(t) for t in spec["peak_window"])
        upto = traj.times <= after
        k = int(series[upto].argmax())
        peak, t_peak = float(series[upto][k]), float(traj.times[upto][k])
        # time-window part: log-distance of the peak time inside [t1, t2]
        inside = min(log(t_peak / t1) if t1 > 0 else math.inf, log(t2 / t_peak) if t_peak > 0 else math.inf)
        rise_part = log(ratio(peak, baseline)) - math.log(rise)
        fall_part = log(ratio(fraction * peak, value_after))
        values = {"t=0": baseline, f"peak@{t_peak:g}": peak, f"t={after:g}": value_after}
        expected = f"peak in [{t1:g}, {t2:g}] min, >= {rise:g}x t=0, then <= {fraction:g}x peak at {after:g}"
        margin = min(inside, rise_part, fall_part)
        return ReadoutResult(
            readout, values, ratio(value_after, peak), expected, margin, f"peak at {t_peak:g} min"
        )


class Sustained(TimeCourse):
    """The readout `after` a time is at least `rise` times its start and `fraction` of its peak."""

    name = "sustained"

    def evaluate(self, spec: Spec, readout: str, trajs: Mapping[str, Series]) -> ReadoutResult:
        """Return the rise and the hold as one margin (the smaller)."""
        traj = trajs[spec["condition"]]
        series = traj.values[readout]
        baseline, after = float(series[0]), float(spec["after"])
        value_after = traj.at(readout, after)
        fraction = float(spec.get("fraction", DEFAULT_PEAK_FRACTION))
        rise = float(spec.get("rise", DEFAULT_RISE))
        peak = float(series[traj.times <= after].max())
        rise_part = log(ratio(value_after, baseline)) - math.log(rise)
        hold_part = log(ratio(value_after, fraction * peak))
        values = {"t=0": baseline, "peak": peak, f"t={after:g}": value_after}
        expected = f"value at {after:g} >= {rise:g}x t=0 and >= {fraction:g}x peak"
        return ReadoutResult(
            readout, values, ratio(value_after, baseline), expected, min(rise_part, hold_part)
        )


class Ordering(Relation):
    """The readout is ordered across `conditions` (increasing or decreasing), each step by `fold`."""

    name = "ordering"

    def experiments(self, spec: Spec) -> list[str]:
        """Return the conditions, in order."""
        return list(spec["conditions"])

    def roles(self, spec: Spec) -> dict[str, str]:
        """Return each condition by its position."""
        return {n: f"condition {i + 1}" for i, n in enumerate(spec["conditions"])}

    def evaluate(self, spec: Spec, readout: str, trajs: Mapping[str, Series]) -> ReadoutResult:
        """Return the smallest step between neighbours against the fold."""
        at = observed_at(spec)
        names = list(spec["conditions"])
        fold = float(spec.get("fold", DEFAULT_ORDER_FOLD))
        values = {n: value(trajs[n], readout, at) for n in names}
        ratios = [
            ratio(values[a], values[b]) if spec["order"] == "decreasing" else ratio(values[b], values[a])
            for a, b in itertools.pairwise(names)
        ]
        sign = " > " if spec["order"] == "decreasing" else " < "
        expected = sign.join(names) + f" (each step >= {fold:g}x)"
        return ReadoutResult(
            readout, values, min(ratios), expected, min(log(r) - math.log(fold) for r in ratios)
        )


#: Every relation, by its name in claims files.
RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Increase(),
        Decrease(),
        NoChange(),
        AtLeastFraction(),
        AtMostFraction(),
        Transient(),
        Sustained(),
        Ordering(),
    )
}
#: Relations that read a whole time course (a peak); their experiments are sampled densely.
TIME_COURSE_RELATIONS = frozenset(name for name, r in RELATIONS.items() if r.dense)


def relation(name: str, *, claim: str = "") -> Relation:
    """Return the relation of a name, or our error naming the claim."""
    found = RELATIONS.get(name)
    if found is None:
        raise BcsignalError(f"unknown relation {name!r}", where=f"claim {claim}" if claim else None)
    return found
