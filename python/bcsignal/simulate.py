"""Simulation with libroadrunner: quiet loading, explicit CVODE settings, steady states and protocols."""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np
import roadrunner

from bcsignal.errors import BcsignalError, native_message
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

#: At most this many compiled models are kept per process by `cached_simulator`.
SIMULATOR_CACHE_SIZE = 16

_quiet = False
_jit_configured = False


def quiet_native_logging() -> None:
    """Silence libroadrunner's console logging (it prints coloured text otherwise)."""
    global _quiet
    if not _quiet:
        roadrunner.Logger.setLevel(roadrunner.Logger.LOG_FATAL)
        roadrunner.Logger.disableConsoleLogging()
        _quiet = True


def configure_jit() -> None:
    """Compile with LLVM's LLJIT backend at optimisation level NONE (once per process).

    Measured on the paper models (benchmarks/RESULTS.md): about 3x faster compilation than the
    default MCJIT backend, with bit-identical claim margins and the same simulation speed.
    """
    global _jit_configured
    if not _jit_configured:
        roadrunner.Config.setValue(roadrunner.Config.LLVM_BACKEND, roadrunner.Config.LLJIT)
        roadrunner.Config.setValue(roadrunner.Config.LLJIT_OPTIMIZATION_LEVEL, roadrunner.Config.NONE)
        _jit_configured = True


def configure(rr: roadrunner.RoadRunner) -> roadrunner.RoadRunner:
    """Select CVODE with bcsignal's explicit tolerances and step limit."""
    rr.setIntegrator("cvode")
    integrator = rr.integrator
    integrator.relative_tolerance = RELATIVE_TOLERANCE
    integrator.absolute_tolerance = ABSOLUTE_TOLERANCE
    integrator.maximum_num_steps = MAXIMUM_NUM_STEPS
    integrator.variable_step_size = False
    return rr


def load_sbml_text(
    sbml: str,
    *,
    origin: str | Path = "<string>",
    runner: Callable[[str], roadrunner.RoadRunner] = roadrunner.RoadRunner,
) -> roadrunner.RoadRunner:
    """Compile SBML text (never a path or URL) into a configured RoadRunner.

    `runner` is the class to compile with: RoadRunner, or a subclass such as tellurium's
    ExtendedRoadRunner.
    """
    if not sbml.lstrip().startswith("<"):
        raise BcsignalError("expected SBML text, got something that is not XML", file=origin)
    screen_text(sbml, origin)
    quiet_native_logging()
    configure_jit()
    try:
        rr = runner(sbml)
    except Exception as exc:  # libroadrunner raises bare RuntimeErrors
        raise BcsignalError(
            native_message(str(exc)) or "could not load the model", file=origin, tool="libroadrunner"
        ) from exc
    return configure(rr)


def load_sbml_file(
    path: Path, *, runner: Callable[[str], roadrunner.RoadRunner] = roadrunner.RoadRunner
) -> roadrunner.RoadRunner:
    """Compile an SBML file into a configured RoadRunner (or a subclass, see `load_sbml_text`)."""
    return load_sbml_text(read_screened(Path(path)), origin=path, runner=runner)


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


def phase_grid(start: float, duration: float, observe: Iterable[float], *, dense: bool) -> tuple[float, ...]:
    """Return the output times of a phase, in protocol time.

    They are the phase's start and end, the observation times inside it and, with ``dense``,
    POINTS_PER_PHASE evenly spaced points.
    """
    inside = tuple(sorted({float(t) for t in observe if start < t < start + duration}))
    return _grid(float(start), float(duration), inside, dense)


@lru_cache(maxsize=1024)
def _grid(start: float, duration: float, inside: tuple[float, ...], dense: bool) -> tuple[float, ...]:
    grid = np.linspace(start, start + duration, POINTS_PER_PHASE if dense else 2)
    return tuple(np.unique(np.concatenate([grid, inside])).tolist())


#: A set of parameter or knob values as a hashable key: sorted (id, value) pairs.
ValuesKey = tuple[tuple[str, float], ...]
#: A model state: time, floating-species concentrations and the values of rate-rule variables.
State = tuple[float, np.ndarray, list[float]]


def values_key(values: Mapping[str, float]) -> ValuesKey:
    """Return a hashable key of a set of parameter values."""
    return tuple(sorted((k, float(v)) for k, v in values.items()))


class Simulator:
    """One compiled model that runs protocols, resetting every knob and parameter each time.

    Before each experiment every settable parameter is reset to its base value: the SBML value, or
    the override set with `set_overrides` (a robustness sample, say); the protocol's knob settings
    come on top. Pre-equilibrated states are cached by their knob settings within the partition of
    the current overrides, so experiments that share a cell line and pre-treatment share one
    steady-state computation, and a state computed under one parameter set is never reused under
    another.
    """

    def __init__(self, rr: roadrunner.RoadRunner, *, name: str = "model") -> None:
        self.rr = rr
        self.name = name
        model = self._model = rr.model  # one handle; the simulator never reloads rr
        self.parameter_ids: list[str] = list(model.getGlobalParameterIds())
        self._nominal = {pid: float(rr[pid]) for pid in self.parameter_ids}
        self._rate_rule_ids: list[str] = list(model.getRateRuleSymbols())
        species = set(model.getFloatingSpeciesIds()) | set(model.getBoundarySpeciesIds())
        self._state_ids: list[str] = list(model.getFloatingSpeciesIds()) + self._rate_rule_ids
        self._rate_rule_rates = [f"{r}'" for r in self._rate_rule_ids]
        self._species = frozenset(species)
        settable = set(self.parameter_ids) - set(self._rate_rule_ids) - set(rr.getAssignmentRuleIds())
        #: Parameters the simulator sets before each experiment (not defined by a rule), in model order.
        self.settable_ids: list[str] = [pid for pid in self.parameter_ids if pid in settable]
        self._position = {pid: i for i, pid in enumerate(self.settable_ids)}
        self._index = np.array([self.parameter_ids.index(pid) for pid in self.settable_ids], dtype=np.intc)
        self._nominal_values = np.array([self._nominal[pid] for pid in self.settable_ids], dtype=float)
        self._base = self._nominal_values.copy()
        self._overrides: dict[str, float] = {}
        self._partition: ValuesKey = ()
        self._cache: dict[ValuesKey, dict[ValuesKey, State]] = {}
        #: Whether pre-equilibrated states are cached (False: every experiment computes its own).
        self.caching = True
        #: Pre-equilibrations answered from the cache.
        self.cache_hits = 0
        #: Protocols run (experiments simulated).
        self.runs = 0

    @property
    def knob_ids(self) -> frozenset[str]:
        """Return the ids a protocol may set: constant global parameters not defined by a rule."""
        return frozenset(self.settable_ids)

    @property
    def readout_ids(self) -> frozenset[str]:
        """Return the ids a trajectory may report: species and global parameters."""
        model = self.rr.model
        return frozenset(
            [*model.getFloatingSpeciesIds(), *model.getBoundarySpeciesIds(), *self.parameter_ids]
        )

    # -- state handling -------------------------------------------------

    # -- parameters -----------------------------------------------------
    def nominal(self, parameter: str) -> float:
        """Return the value a parameter has in the SBML file."""
        return self._nominal[parameter]

    @property
    def overrides(self) -> Mapping[str, float]:
        """Return the current parameter overrides (empty: every parameter at its SBML value)."""
        return MappingProxyType(self._overrides)

    def set_overrides(self, values: Mapping[str, float]) -> None:
        """Use these parameter values instead of the SBML ones, until the next call (``{}`` restores).

        Knob settings of a protocol still apply on top. Changing the overrides changes the partition
        of the pre-equilibration cache; only the nominal partition and the current one are kept.
        """
        unknown = sorted(set(values) - set(self._position))
        if unknown:
            raise BcsignalError(
                f"cannot override {', '.join(unknown)}: not a constant parameter of the model",
                where=self.name,
            )
        invalid = sorted(k for k, v in values.items() if not math.isfinite(float(v)))
        if invalid:
            raise BcsignalError(f"override of {', '.join(invalid)} is not a finite number", where=self.name)
        self._overrides = {k: float(v) for k, v in values.items()}
        base = self._nominal_values.copy()
        for pid, value in self._overrides.items():
            base[self._position[pid]] = value
        self._base = base
        self._partition = values_key(self._overrides)
        for partition in list(self._cache):
            if partition not in ((), self._partition):
                del self._cache[partition]

    def clear_cache(self) -> None:
        """Forget every pre-equilibrated state (the next experiments compute them again)."""
        self._cache.clear()

    # -- state handling -------------------------------------------------
    def _apply(self, knobs: Mapping[str, float]) -> None:
        values = self._base
        if knobs:
            unknown = sorted(set(knobs) - set(self._position))
            if unknown:
                raise BcsignalError(
                    f"cannot set {', '.join(unknown)}: not a constant parameter of the model",
                    where=self.name,
                )
            values = values.copy()
            for pid, value in knobs.items():
                values[self._position[pid]] = value
        self._model.setGlobalParameterValues(self._index, values)

    def _restore_initial(self, knobs: Mapping[str, float]) -> None:
        # parameters first, then reset: initial assignments are evaluated at reset, with the values
        # in place (a knob, an override or a mechanism cut they depend on)
        self._apply(knobs)
        self.rr.reset()
        self._apply(knobs)
        self.rr.reset()
        self._model.setTime(0.0)

    def _state(self) -> State:
        model = self._model
        rates = [float(model.getValue(r)) for r in self._rate_rule_ids]
        return float(model.getTime()), np.array(model.getFloatingSpeciesConcentrations()), rates

    def _set_state(self, state: State) -> None:
        time, conc, rates = state
        model = self._model
        model.setFloatingSpeciesConcentrations(conc)
        for rid, value in zip(self._rate_rule_ids, rates, strict=True):
            model.setValue(rid, value)
        model.setTime(time)

    def derivatives(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Return (state, d state/dt, ids) at the current point."""
        model = self._model
        x = np.array(model.getFloatingSpeciesConcentrations())
        dx = np.array(model.getFloatingSpeciesConcentrationRates())
        if self._rate_rule_ids:
            x = np.concatenate([x, [model.getValue(r) for r in self._rate_rule_ids]])
            dx = np.concatenate([dx, [self.rr.getValue(r) for r in self._rate_rule_rates]])
        return x, dx, list(self._state_ids)

    def residual(self) -> tuple[float, str]:
        """Return the worst steady-state residual |dx/dt| / (STEADY_RTOL*|x| + STEADY_ATOL) and its id.

        A non-finite state or rate gives NaN (never steady).
        """
        x, dx, ids = self.derivatives()
        if not ids:
            return 0.0, ""
        scaled = np.abs(dx) / (STEADY_RTOL * np.abs(x) + STEADY_ATOL)
        worst = int(np.argmax(scaled))  # the first NaN, if any
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
        key = values_key(knobs)
        cache = self._cache.setdefault(self._partition, {}) if self.caching else {}
        if key in cache:
            self.cache_hits += 1
            self._restore_initial(knobs)
            self._set_state(cache[key])
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
        if not worst <= 1.0:  # also catches NaN
            raise BcsignalError(
                f"no steady state for knobs {dict(knobs)}: d{which}/dt still {worst:.3g}x the tolerance "
                f"after {time:g} min",
                where=self.name,
            )
        state = self._state()
        cache[key] = state
        self._set_state(state)

    def preequilibration_time(self, knobs: Mapping[str, float]) -> float:
        """Return how long (minutes) pre-equilibration with these knobs integrates to reach steady state."""
        self.preequilibrate(knobs)
        return float(self.rr.model.getTime())

    def run(
        self,
        protocol: Protocol,
        readouts: Sequence[str],
        observe: Iterable[float] = (),
        *,
        dense: bool = True,
    ) -> Trajectory:
        """Pre-equilibrate, run the phases and return the readouts; `observe` adds output times.

        With ``dense`` each phase is sampled at POINTS_PER_PHASE points (time courses need them);
        without, only at its start, its end and the observation times inside it.
        """
        self.runs += 1
        knobs = dict(protocol.preequilibration)
        self.preequilibrate(knobs)
        observed = tuple(observe)

        selections = ["time", *(f"[{r}]" if r in self._species else r for r in readouts)]
        start = float(self._model.getTime())
        elapsed = 0.0
        chunks: list[np.ndarray] = []
        for phase in protocol.phases:
            knobs.update(phase.set)
            self._apply(knobs)
            grid = phase_grid(elapsed, phase.duration, observed, dense=dense)
            try:
                out = self.rr.simulate(times=[start + t for t in grid], selections=selections)
            except Exception as exc:
                raise BcsignalError(
                    f"CVODE failed in phase starting at t={elapsed:g} min: {exc}",
                    tool="libroadrunner",
                    where=self.name,
                ) from exc
            data = np.asarray(out)
            chunks.append(data if not chunks else data[1:])
            elapsed += phase.duration
        table = np.vstack(chunks)
        if not np.isfinite(table).all():
            column = int(np.argwhere(~np.isfinite(table))[0][1])
            raise BcsignalError(
                f"the simulation gave a non-finite value of {selections[column]}",
                tool="libroadrunner",
                where=self.name,
            )
        times = table[:, 0] - start
        values = {r: table[:, i + 1] for i, r in enumerate(readouts)}
        return Trajectory(times=times, values=values)


def new_simulator(sbml: str, *, name: str = "model", origin: str | Path = "<string>") -> Simulator:
    """Compile SBML text into a Simulator."""
    return Simulator(load_sbml_text(sbml, origin=origin), name=name)


_simulators: OrderedDict[tuple[int, str, str], Simulator] = OrderedDict()
_simulators_lock = threading.Lock()


def cached_simulator(sbml: str, *, name: str = "model", origin: str | Path = "<string>") -> Simulator:
    """Return this thread's Simulator of an SBML text, compiling it only on first use in the process.

    The simulator comes back with no parameter overrides; its pre-equilibration cache is kept (the
    states depend only on the SBML and the parameter values). Each thread gets its own simulator (one
    RoadRunner must not run two simulations at once); the SIMULATOR_CACHE_SIZE most recently used
    are kept.
    """
    key = (threading.get_ident(), name, hashlib.sha256(sbml.encode("utf-8")).hexdigest())
    with _simulators_lock:
        sim = _simulators.get(key)
        if sim is None:
            sim = new_simulator(sbml, name=name, origin=origin)
            _simulators[key] = sim
            while len(_simulators) > SIMULATOR_CACHE_SIZE:
                _simulators.popitem(last=False)
        else:
            _simulators.move_to_end(key)
            sim.set_overrides({})
    return sim


def steady_state_lines(sim: Simulator) -> list[str]:
    """Return the unperturbed steady state as Antimony assignment lines."""
    sim.preequilibrate({})
    x, _, ids = sim.derivatives()
    return [f"{i} = {v:.10g}" for i, v in zip(ids, x, strict=True)]
