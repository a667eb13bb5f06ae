"""One-line time courses of any model: CVODE at explicit tolerances, within caps on the request."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import roadrunner
from roadrunner._roadrunner import NamedArray

from bcsignal.core.errors import BcsignalError
from bcsignal.core.limits import MAX_POINTS, MAX_VALUES
from bcsignal.engine.simulate import ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE, configure

#: The only integrator bcsignal runs: the fixed-step ones return silent garbage on stiff models.
INTEGRATOR = "cvode"
#: Significant digits of the values `bcsignal simulate` writes (17 would print every binary digit).
CSV_PRECISION = 10
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


def value_name(key: str) -> str:
    """Return how an error names one entry of the `values` argument: ``values['k']``."""
    return f"values[{key!r}]"


@dataclass(frozen=True)
class Request:
    """A time course from `start` to `until` with `points` evenly spaced outputs, after setting some values.

    `values` sets constant global parameters, species initial concentrations or compartment sizes;
    initial assignments that depend on them are evaluated again. The state at `start` is the model's
    initial state (as in ``RoadRunner.simulate(start, until, points)``). `selections` are libroadrunner
    selections (``"time"``, ``"S"``, ``"[S]"``, a parameter id, ...); None selects time, every floating
    species as a concentration and every variable defined by a rule.

    Errors name the arguments as the Python API calls them (``until``, ``values['k']``); the command
    line translates them into its flags.
    """

    until: float
    points: int
    values: Mapping[str, float] = field(default_factory=dict)
    integrator: str = INTEGRATOR
    start: float = 0.0
    selections: tuple[str, ...] | None = None

    def checked(self) -> Request:
        """Return the request with its numbers checked against bcsignal's caps, or raise."""
        start = number(self.start, "start (start time)")
        until = number(self.until, "until (end time)")
        if until <= start:
            raise BcsignalError(f"until must be after start ({start:g}), got {self.until!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, int):
            raise BcsignalError(f"points must be an integer, got {self.points!r}")
        if not 2 <= self.points <= MAX_POINTS:
            raise BcsignalError(f"points must be between 2 and {MAX_POINTS}, got {self.points}")
        if self.integrator.lower() != INTEGRATOR:
            raise BcsignalError(
                f"integrator {self.integrator!r} is not offered: bcsignal simulates with CVODE only "
                "(fixed-step integrators give silent garbage on stiff models)"
            )
        values = {str(k): number(v, value_name(str(k))) for k, v in self.values.items()}
        selections = self.selections
        if selections is not None:
            if isinstance(selections, str) or not all(isinstance(x, str) and x for x in selections):
                raise BcsignalError(
                    f"selections must be a list of ids such as ['time', 'S'], got {selections!r}"
                )
            if not selections:
                raise BcsignalError("selections is empty: name at least one id, e.g. ['time', 'S']")
            selections = tuple(selections)
        return Request(until=until, points=self.points, values=values, start=start, selections=selections)


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

    def to_csv(self, precision: int = CSV_PRECISION) -> str:
        """Return CSV text: a header of ids, then one row per time point, `precision` significant digits."""
        if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 17:
            raise BcsignalError(f"precision must be a whole number from 1 to 17, got {precision!r}")
        out = io.StringIO()
        out.write(",".join(self.columns) + "\n")
        np.savetxt(out, self.data, delimiter=",", fmt=f"%.{precision}g")
        return out.getvalue()

    def named_array(self) -> NamedArray:
        """Return the values as libroadrunner's NamedArray (what ``RoadRunner.simulate`` returns)."""
        array = NamedArray(self.data.shape)
        array[:] = self.data
        array.colnames = list(self.columns)
        return array


def _apply(rr: roadrunner.RoadRunner, values: Mapping[str, float], origin: str) -> None:
    model = rr.model
    species = set(model.getFloatingSpeciesIds()) | set(model.getBoundarySpeciesIds())
    compartments = set(model.getCompartmentIds())
    ruled = set(rr.getAssignmentRuleIds()) | set(model.getRateRuleSymbols())
    parameters = set(model.getGlobalParameterIds()) - ruled
    for key, value in values.items():
        if key in species:
            if value < 0:
                raise BcsignalError(
                    f"{value_name(key)}: a concentration must be >= 0, got {value:g}", file=origin
                )
            rr.setValue(f"init([{key}])", value)
        elif key in compartments - ruled:
            if value <= 0:
                raise BcsignalError(
                    f"{value_name(key)}: a compartment size must be > 0, got {value:g}", file=origin
                )
            rr.setValue(f"init({key})", value)
        elif key in parameters:
            rr.setValue(f"init({key})", value)
        else:
            raise BcsignalError(
                f"{value_name(key)}: not a species, compartment or constant parameter of the model",
                file=origin,
            )
    rr.reset()
    for key, value in values.items():
        selection = f"[{key}]" if key in species else key
        if not math.isclose(float(rr.getValue(selection)), value, rel_tol=1e-12, abs_tol=0.0):
            raise BcsignalError(
                f"{value_name(key)}: the model's own rules or initial assignments override it", file=origin
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


def _check_selections(rr: roadrunner.RoadRunner, chosen: list[str], origin: str) -> None:
    """Raise naming the first selection libroadrunner does not know."""
    for selection in chosen:
        try:
            rr.getValue(selection)
        except Exception:  # libroadrunner raises bare RuntimeErrors
            raise BcsignalError(
                f"selections: {selection!r} is not a selection of the model (an id such as 'S', "
                "'[S]' for a concentration, or 'time')",
                file=origin,
            ) from None


def run(rr: roadrunner.RoadRunner, request: Request, *, origin: str = "<model>") -> TimeCourse:
    """Simulate a compiled model from its initial state according to a (checked) request."""
    request = request.checked()
    configure(rr)
    _apply(rr, request.values, origin)
    if request.selections is None:
        chosen = selections(rr)
        columns = [c.strip("[]") for c in chosen]
    else:
        chosen = list(request.selections)
        _check_selections(rr, chosen, origin)
        columns = list(chosen)
    if "time" in columns[1:]:
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
        result = rr.simulate(request.start, request.until, request.points, selections=chosen)
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
            f"the solution is not finite: {chosen[col]} = {data[row, col]} at "
            + (f"t = {data[row, 0]:g}" if chosen[0] == "time" else f"output point {row + 1}"),
            file=origin,
            tool="libroadrunner",
        )
    return TimeCourse(columns=columns, data=data)
