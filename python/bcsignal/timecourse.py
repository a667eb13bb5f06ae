"""One-line time courses of any model: CVODE at explicit tolerances, within caps on the request."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import roadrunner

from bcsignal.errors import BcsignalError
from bcsignal.limits import MAX_POINTS, MAX_VALUES
from bcsignal.simulate import ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE, configure

#: The only integrator bcsignal runs: the fixed-step ones return silent garbage on stiff models.
INTEGRATOR = "cvode"
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\S+)\s*$")


def number(value: object, what: str) -> float:
    """Return a finite float from a number or its text, or raise naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BcsignalError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise BcsignalError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise BcsignalError(f"{what} must be finite, got {value!r}")
    return number


def parse_assignment(text: str) -> tuple[str, float]:
    """Parse ``id=value`` (a --set argument) into an id and a finite number."""
    match = _ASSIGNMENT.match(text)
    if match is None:
        raise BcsignalError(f"--set {text!r}: expected id=value, e.g. IGF1_dose=10")
    return match.group(1), number(match.group(2), f"--set {match.group(1)}")


@dataclass(frozen=True)
class Request:
    """A time course from 0 to `until` with `points` evenly spaced outputs, after setting some values.

    `values` sets constant global parameters, species initial concentrations or compartment sizes;
    initial assignments that depend on them are evaluated again.
    """

    until: float
    points: int
    values: Mapping[str, float] = field(default_factory=dict)
    integrator: str = INTEGRATOR

    def checked(self) -> Request:
        """Return the request with its numbers checked against bcsignal's caps, or raise."""
        until = number(self.until, "--until (end time)")
        if until <= 0:
            raise BcsignalError(f"--until must be > 0, got {self.until!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, int):
            raise BcsignalError(f"--points must be an integer, got {self.points!r}")
        if not 2 <= self.points <= MAX_POINTS:
            raise BcsignalError(f"--points must be between 2 and {MAX_POINTS}, got {self.points}")
        if self.integrator.lower() != INTEGRATOR:
            raise BcsignalError(
                f"integrator {self.integrator!r} is not offered: bcsignal simulates with CVODE only "
                "(fixed-step integrators give silent garbage on stiff models)"
            )
        values = {str(k): number(v, f"--set {k}") for k, v in self.values.items()}
        return Request(until=until, points=self.points, values=values)


@dataclass
class TimeCourse:
    """Simulated values: one row per output time, one column per selection (time first)."""

    columns: list[str]
    data: np.ndarray

    def column(self, name: str) -> np.ndarray:
        """Return one column by name."""
        try:
            return self.data[:, self.columns.index(name)]
        except ValueError:
            raise BcsignalError(f"no column {name!r}; columns: {', '.join(self.columns)}") from None

    def to_csv(self) -> str:
        """Return CSV text: a header of ids, then one row per time point, full precision."""
        out = io.StringIO()
        out.write(",".join(self.columns) + "\n")
        np.savetxt(out, self.data, delimiter=",", fmt="%.17g")
        return out.getvalue()


def _apply(rr: roadrunner.RoadRunner, values: Mapping[str, float], origin: str) -> None:
    model = rr.model
    species = set(model.getFloatingSpeciesIds()) | set(model.getBoundarySpeciesIds())
    compartments = set(model.getCompartmentIds())
    ruled = set(rr.getAssignmentRuleIds()) | set(model.getRateRuleSymbols())
    parameters = set(model.getGlobalParameterIds()) - ruled
    for key, value in values.items():
        if key in species:
            if value < 0:
                raise BcsignalError(f"--set {key}: a concentration must be >= 0, got {value:g}", file=origin)
            rr.setValue(f"init([{key}])", value)
        elif key in compartments - ruled:
            if value <= 0:
                raise BcsignalError(
                    f"--set {key}: a compartment size must be > 0, got {value:g}", file=origin
                )
            rr.setValue(f"init({key})", value)
        elif key in parameters:
            rr.setValue(f"init({key})", value)
        else:
            raise BcsignalError(
                f"--set {key}: not a species, compartment or constant parameter of the model", file=origin
            )
    rr.reset()
    for key, value in values.items():
        selection = f"[{key}]" if key in species else key
        if not math.isclose(float(rr.getValue(selection)), value, rel_tol=1e-12, abs_tol=0.0):
            raise BcsignalError(
                f"--set {key}: the model's own rules or initial assignments override it", file=origin
            )


def selections(rr: roadrunner.RoadRunner) -> list[str]:
    """Return the default output: time, every floating species (concentration), every rule variable."""
    model = rr.model
    ruled = [p for p in model.getGlobalParameterIds() if p in set(rr.getAssignmentRuleIds())]
    ruled += [p for p in model.getRateRuleSymbols() if p in set(model.getGlobalParameterIds())]
    return ["time", *(f"[{s}]" for s in model.getFloatingSpeciesIds()), *dict.fromkeys(ruled)]


def _cvode_message(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text.split("; In ", 1)[0] or "CVODE failed"


def run(rr: roadrunner.RoadRunner, request: Request, *, origin: str = "<model>") -> TimeCourse:
    """Simulate a compiled model from its initial state according to a (checked) request."""
    request = request.checked()
    configure(rr)
    _apply(rr, request.values, origin)
    chosen = selections(rr)
    if "time" in [c.strip("[]") for c in chosen[1:]]:
        raise BcsignalError(
            "the model has a species or variable named 'time', which would clash with the time column "
            "of the output; rename it",
            file=origin,
        )
    if request.points * len(chosen) > MAX_VALUES:
        raise BcsignalError(
            f"{request.points} points x {len(chosen)} columns is over the limit of {MAX_VALUES} values; "
            "ask for fewer points",
            file=origin,
        )
    try:
        result = rr.simulate(0.0, request.until, request.points, selections=chosen)
        data = np.array(result, dtype=float)
    except (MemoryError, Exception) as exc:  # libroadrunner raises bare RuntimeErrors
        if isinstance(exc, MemoryError) or "bad_alloc" in str(exc):
            raise BcsignalError(
                f"ran out of memory simulating {request.points} points x {len(chosen)} columns "
                "(a user's model runs within BCSIGNAL_MAX_MEMORY)",
                file=origin,
                tool="libroadrunner",
            ) from exc
        raise BcsignalError(
            f"{_cvode_message(exc)} (CVODE, rtol {RELATIVE_TOLERANCE:g}, atol {ABSOLUTE_TOLERANCE:g})",
            file=origin,
            tool="libroadrunner",
        ) from exc
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        row, col = (int(i) for i in bad[0])
        raise BcsignalError(
            f"the solution is not finite: {chosen[col]} = {data[row, col]} at t = {data[row, 0]:g}",
            file=origin,
            tool="libroadrunner",
        )
    return TimeCourse(columns=[c.strip("[]") for c in chosen], data=data)
