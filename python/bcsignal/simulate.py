"""Simulation with libroadrunner: quiet loading, explicit CVODE settings, steady states and protocols."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import roadrunner

from bcsignal.errors import BcsignalError
from bcsignal.screen import read_screened, screen_text

#: CVODE relative tolerance used for every claim simulation.
RELATIVE_TOLERANCE = 1e-8
#: CVODE absolute tolerance (nM, or dimensionless for scores).
ABSOLUTE_TOLERANCE = 1e-12
#: CVODE step limit per output interval.
MAXIMUM_NUM_STEPS = 200_000
#: Pre-equilibration integrates in chunks of these lengths (minutes) until converged.
PREEQUILIBRATION_HORIZONS = (1e3, 1e4, 1e5, 1e6, 1e7)
#: A state is steady when every |dx/dt| <= STEADY_RTOL*|x| + STEADY_ATOL (per minute).
STEADY_RTOL = 1e-7
#: Absolute floor of the steady-state test (nM per minute).
STEADY_ATOL = 1e-9
#: Output points per phase of a protocol (observation times are added to these).
POINTS_PER_PHASE = 241

_quiet = False


def quiet_native_logging() -> None:
    """Silence libroadrunner's console logging (it prints coloured text otherwise)."""
    global _quiet
    if not _quiet:
        roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
        roadrunner.Logger.disableConsoleLogging()
        _quiet = True


def configure(rr: roadrunner.RoadRunner) -> roadrunner.RoadRunner:
    """Select CVODE with bcsignal's explicit tolerances and step limit."""
    rr.setIntegrator("cvode")
    integrator = rr.integrator
    integrator.relative_tolerance = RELATIVE_TOLERANCE
    integrator.absolute_tolerance = ABSOLUTE_TOLERANCE
    integrator.maximum_num_steps = MAXIMUM_NUM_STEPS
    integrator.variable_step_size = False
    return rr


def load_sbml_text(sbml: str, *, origin: str | Path = "<string>") -> roadrunner.RoadRunner:
    """Compile SBML text (never a path or URL) into a configured RoadRunner."""
    if not sbml.lstrip().startswith("<"):
        raise BcsignalError("expected SBML text, got something that is not XML", file=origin)
    screen_text(sbml, origin)
    quiet_native_logging()
    try:
        rr = roadrunner.RoadRunner(sbml)
    except Exception as exc:  # libroadrunner raises bare RuntimeErrors
        raise BcsignalError(
            str(exc) or "could not load the model", file=origin, tool="libroadrunner"
        ) from exc
    return configure(rr)


def load_sbml_file(path: Path) -> roadrunner.RoadRunner:
    """Compile an SBML file into a configured RoadRunner."""
    return load_sbml_text(read_screened(Path(path)), origin=path)


@dataclass
class Trajectory:
    """Readouts of one experiment over time; time 0 is the start of the first phase."""

    times: np.ndarray
    values: dict[str, np.ndarray]

    def at(self, readout: str, time: float) -> float:
        """Return a readout at a time on the output grid (observation times are always on it)."""
        index = int(np.argmin(np.abs(self.times - time)))
        if not math.isclose(float(self.times[index]), time, rel_tol=1e-9, abs_tol=1e-9):
            raise BcsignalError(f"time {time} is not on the output grid")
        return float(self.values[readout][index])

    def end(self, readout: str) -> float:
        """Return a readout at the end of the protocol."""
        return float(self.values[readout][-1])


@dataclass(frozen=True)
class Phase:
    """One step of a protocol: set some knobs, then integrate for a duration (minutes)."""

    duration: float
    set: Mapping[str, float] = field(default_factory=dict)
    label: str = ""


@dataclass(frozen=True)
class Protocol:
    """Pre-equilibrate with some knobs, then run phases one after the other."""

    phases: tuple[Phase, ...]
    preequilibration: Mapping[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        """Return the total duration of the phases (minutes)."""
        return sum(p.duration for p in self.phases)


def _selection(rr: roadrunner.RoadRunner, symbol: str) -> str:
    if symbol in rr.model.getFloatingSpeciesIds() or symbol in rr.model.getBoundarySpeciesIds():
        return f"[{symbol}]"
    return symbol


class Simulator:
    """One compiled model that runs protocols, resetting every knob and parameter each time.

    Pre-equilibrated states are cached by their knob settings, so experiments
    that share a cell line and pre-treatment share one steady-state computation.
    """

    def __init__(self, rr: roadrunner.RoadRunner, *, name: str = "model") -> None:
        self.rr = rr
        self.name = name
        model = rr.model
        self.parameter_ids: list[str] = list(model.getGlobalParameterIds())
        self._nominal = {pid: float(rr[pid]) for pid in self.parameter_ids}
        self._rate_rule_ids: list[str] = list(model.getRateRuleSymbols())
        self._settable = set(self.parameter_ids) - set(self._rate_rule_ids)
        self._settable -= set(rr.getAssignmentRuleIds())
        self._cache: dict[tuple[tuple[str, float], ...], tuple[float, np.ndarray, list[float]]] = {}
        self.cache_hits = 0

    @property
    def knob_ids(self) -> frozenset[str]:
        """Return the ids a protocol may set: constant global parameters not defined by a rule."""
        return frozenset(self._settable)

    @property
    def readout_ids(self) -> frozenset[str]:
        """Return the ids a trajectory may report: species and global parameters."""
        model = self.rr.model
        return frozenset(
            [*model.getFloatingSpeciesIds(), *model.getBoundarySpeciesIds(), *self.parameter_ids]
        )

    # -- state handling -------------------------------------------------
    def nominal(self, parameter: str) -> float:
        """Return the value a parameter has in the SBML file."""
        return self._nominal[parameter]

    def _apply(self, values: Mapping[str, float]) -> None:
        unknown = sorted(set(values) - self._settable)
        if unknown:
            raise BcsignalError(
                f"cannot set {', '.join(unknown)}: not a constant parameter of the model",
                where=self.name,
            )
        for pid in self._settable:
            self.rr.model.setValue(pid, values.get(pid, self._nominal[pid]))

    def _restore_initial(self, values: Mapping[str, float]) -> None:
        self.rr.reset()
        self._apply(values)
        self.rr.model.setTime(0.0)

    def _state(self) -> tuple[float, np.ndarray, list[float]]:
        model = self.rr.model
        rates = [float(model.getValue(r)) for r in self._rate_rule_ids]
        return float(model.getTime()), np.array(model.getFloatingSpeciesConcentrations()), rates

    def _set_state(self, state: tuple[float, np.ndarray, list[float]]) -> None:
        time, conc, rates = state
        model = self.rr.model
        model.setFloatingSpeciesConcentrations(conc)
        for rid, value in zip(self._rate_rule_ids, rates, strict=True):
            model.setValue(rid, value)
        model.setTime(time)

    def derivatives(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return (state, d state/dt, ids) at the current point."""
        model = self.rr.model
        ids = list(model.getFloatingSpeciesIds()) + self._rate_rule_ids
        x = np.concatenate(
            [
                np.array(model.getFloatingSpeciesConcentrations()),
                [model.getValue(r) for r in self._rate_rule_ids],
            ]
        )
        dx = np.concatenate(
            [
                np.array(model.getFloatingSpeciesConcentrationRates()),
                [self.rr.getValue(f"{r}'") for r in self._rate_rule_ids],
            ]
        )
        return x, dx, ids

    def residual(self) -> tuple[float, str]:
        """Return the worst steady-state residual |dx/dt| / (STEADY_RTOL*|x| + STEADY_ATOL) and its id."""
        x, dx, ids = self.derivatives()
        if not ids:
            return 0.0, ""
        scaled = np.abs(dx) / (STEADY_RTOL * np.abs(x) + STEADY_ATOL)
        worst = int(np.argmax(scaled))
        return float(scaled[worst]), ids[worst]

    def _integrate(self, start: float, end: float) -> None:
        try:
            self.rr.simulate(start, end, 2)
        except Exception as exc:
            raise BcsignalError(
                f"CVODE failed between t={start:g} and t={end:g} min: {exc}",
                tool="libroadrunner",
                where=self.name,
            ) from exc

    def preequilibrate(self, knobs: Mapping[str, float]) -> None:
        """Bring the model to the steady state of the given knob settings (cached)."""
        key = tuple(sorted((k, float(v)) for k, v in knobs.items()))
        if key in self._cache:
            self.cache_hits += 1
            self._restore_initial(knobs)
            self._set_state(self._cache[key])
            return
        self._restore_initial(knobs)
        time = 0.0
        for horizon in PREEQUILIBRATION_HORIZONS:
            worst, _ = self.residual()
            if worst <= 1.0:
                break
            self._integrate(time, time + horizon)
            time += horizon
        worst, which = self.residual()
        if worst > 1.0:
            raise BcsignalError(
                f"no steady state for knobs {dict(knobs)}: d{which}/dt still {worst:.3g}x the tolerance "
                f"after {time:g} min",
                where=self.name,
            )
        state = self._state()
        self._cache[key] = state
        self._set_state(state)

    def run(self, protocol: Protocol, readouts: Sequence[str], observe: Iterable[float] = ()) -> Trajectory:
        """Pre-equilibrate, run the phases and return the readouts; `observe` adds output times."""
        knobs = dict(protocol.preequilibration)
        self.preequilibrate(knobs)
        selections = ["time", *(_selection(self.rr, r) for r in readouts)]
        start = float(self.rr.model.getTime())
        extra = sorted(set(float(t) for t in observe))
        elapsed = 0.0
        chunks: list[np.ndarray] = []
        for phase in protocol.phases:
            knobs.update(phase.set)
            self._apply(knobs)
            grid = np.linspace(elapsed, elapsed + phase.duration, POINTS_PER_PHASE)
            inside = [t for t in extra if elapsed < t < elapsed + phase.duration]
            grid = np.unique(np.concatenate([grid, inside]))
            try:
                out = self.rr.simulate(times=list(start + grid), selections=selections)
            except Exception as exc:
                raise BcsignalError(
                    f"CVODE failed in phase starting at t={elapsed:g} min: {exc}",
                    tool="libroadrunner",
                    where=self.name,
                ) from exc
            data = np.array(out)
            chunks.append(data if not chunks else data[1:])
            elapsed += phase.duration
        table = np.vstack(chunks)
        times = table[:, 0] - start
        values = {r: table[:, i + 1] for i, r in enumerate(readouts)}
        return Trajectory(times=times, values=values)


def new_simulator(sbml: str, *, name: str = "model", origin: str | Path = "<string>") -> Simulator:
    """Compile SBML text into a Simulator."""
    return Simulator(load_sbml_text(sbml, origin=origin), name=name)


def steady_state_lines(sim: Simulator) -> list[str]:
    """Return the unperturbed steady state as Antimony assignment lines."""
    sim.preequilibrate({})
    x, _, ids = sim.derivatives()
    return [f"{i} = {v:.10g}" for i, v in zip(ids, x, strict=True)]
