"""Simulation with libroadrunner: quiet loading, explicit CVODE settings, steady states and protocols."""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import roadrunner

from bcsignal.core.errors import BcsignalError, native_message
from bcsignal.core.screen import read_screened, screen_text
from bcsignal.engine import newton, phases
from bcsignal.engine.newton import STEADY_ATOL as STEADY_ATOL
from bcsignal.engine.newton import STEADY_RTOL as STEADY_RTOL
from bcsignal.engine.trajectory import (
    State,
    Trajectory,
    ValuesKey,
    values_key,
)
from bcsignal.spec.protocol import Protocol

#: CVODE relative tolerance used for every claim simulation.
RELATIVE_TOLERANCE = 1e-8
#: CVODE absolute tolerance (nM, or dimensionless for scores).
ABSOLUTE_TOLERANCE = 1e-12
#: CVODE step limit per output interval.
MAXIMUM_NUM_STEPS = 200_000
#: Pre-equilibration integrates in chunks of these lengths (minutes) until converged.
PREEQUILIBRATION_HORIZONS = (1e3, 1e4, 1e5, 1e6, 1e7)

#: Pre-equilibration methods: how each experiment's starting steady state was found.
NEWTON, INTEGRATION = "newton", "integration"
#: What `Simulator.steady_state_method` accepts: Newton with an integration fallback, or integration only.
STEADY_STATE_METHODS = (NEWTON, INTEGRATION)
#: Relative step of the finite-difference Jacobian (with absolute floor JACOBIAN_STEP_FLOOR).
JACOBIAN_STEP = 1e-7
#: Absolute floor of the finite-difference step (nM).
JACOBIAN_STEP_FLOOR = 1e-10

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
        self._readout_ids = frozenset([*species, *self.parameter_ids])
        settable = set(self.parameter_ids) - set(self._rate_rule_ids) - set(rr.getAssignmentRuleIds())
        #: Parameters the simulator sets before each experiment (not defined by a rule), in model order.
        self.settable_ids: list[str] = [pid for pid in self.parameter_ids if pid in settable]
        self._position = {pid: i for i, pid in enumerate(self.settable_ids)}
        self._index = np.array([self.parameter_ids.index(pid) for pid in self.settable_ids], dtype=np.intc)
        self._nominal_values = np.array([self._nominal[pid] for pid in self.settable_ids], dtype=float)
        self._base = self._nominal_values.copy()
        self._overrides: dict[str, float] = {}
        self._partition: ValuesKey = ()
        self._cache: dict[ValuesKey, dict[ValuesKey, tuple[State, str]]] = {}
        #: Whether pre-equilibrated states are cached (False: every experiment computes its own).
        self.caching = True
        #: Pre-equilibrations answered from the cache.
        self.cache_hits = 0
        #: Protocols run (experiments simulated).
        self.runs = 0
        #: Whether phase prefixes are shared: an experiment whose first phases (knobs, durations, output
        #: grids) equal those of an earlier one under the same parameters starts where that one got to.
        self.share_prefixes = True
        #: The states at the end of phase prefixes (partitioned like the pre-equilibration cache).
        self.prefixes = phases.PrefixCache()
        #: NEWTON: solve for each steady state and integrate only when that fails; INTEGRATION: integrate.
        self.steady_state_method = INTEGRATION
        #: Integration pre-equilibrates until the worst scaled residual is at most this (1: the steady-state
        #: test; smaller values give a tighter reference, as the Newton-versus-integration test uses).
        self.integration_target = 1.0
        #: Pre-equilibrations Newton solved.
        self.newton_solves = 0
        #: Pre-equilibrations that fell back to integration, by reason.
        self.fallbacks: Counter[str] = Counter()
        #: How the most recent pre-equilibration found its state (NEWTON or INTEGRATION).
        self.last_preequilibration = ""
        self._n_species = len(model.getFloatingSpeciesIds())
        # nominal steady states by knob setting: where Newton starts for other parameter sets
        self._starts: dict[ValuesKey, np.ndarray] = {}
        self._reduced: tuple[np.ndarray, np.ndarray] | None = None
        self._lift: np.ndarray | None = None

    @property
    def knob_ids(self) -> frozenset[str]:
        """Return the ids a protocol may set: constant global parameters not defined by a rule."""
        return frozenset(self.settable_ids)

    @property
    def readout_ids(self) -> frozenset[str]:
        """Return the ids a trajectory may report: species and global parameters."""
        return self._readout_ids

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
        self.prefixes.keep(((), self._partition))

    @property
    def prefix_hits(self) -> int:
        """Return how many experiments started from a shared phase prefix."""
        return self.prefixes.hits

    def clear_cache(self) -> None:
        """Forget every pre-equilibrated state and phase prefix (the next experiments compute them again)."""
        self._cache.clear()
        self.prefixes.clear()

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

    def _simulate(self, during: str, *args: Any, **kwargs: Any) -> Any:
        """Return `rr.simulate(*args, **kwargs)`; a CVODE failure becomes a BcsignalError naming `during`."""
        try:
            return self.rr.simulate(*args, **kwargs)
        except Exception as exc:
            raise BcsignalError(
                f"CVODE failed {during}: {exc}", tool="libroadrunner", where=self.name
            ) from exc

    def _integrate(self, start: float, end: float) -> None:
        self._simulate(f"between t={start:g} and t={end:g} min", start, end, 2)

    def preequilibrate(self, knobs: Mapping[str, float]) -> None:
        """Bring the model to the steady state of the given knob settings (cached).

        With `steady_state_method` NEWTON the steady state is solved for (`solve_steady_state`),
        starting, under parameter overrides, from the nominal steady state of the same knobs; when the
        solve fails, lands on a state that is not steady, negative or unstable, pre-equilibration
        integrates from the initial state instead, as with INTEGRATION. `last_preequilibration` and the
        trajectory of `run` record which method gave the state.
        """
        if self.steady_state_method not in STEADY_STATE_METHODS:
            raise BcsignalError(
                f"unknown steady-state method {self.steady_state_method!r} "
                f"(expected one of {', '.join(STEADY_STATE_METHODS)})",
                where=self.name,
            )
        key = values_key(knobs)
        cache = self._cache.setdefault(self._partition, {}) if self.caching else {}
        if key in cache:
            self.cache_hits += 1
            self._restore_initial(knobs)
            state, method = cache[key]
            self._set_state(state)
            self.last_preequilibration = method
            return
        method = INTEGRATION
        if self.steady_state_method == NEWTON:
            start = self._newton_start(knobs, key)
            self._restore_initial(knobs)
            reason = self.solve_steady_state(start)
            if reason is None:
                method = NEWTON
                self.newton_solves += 1
            else:
                self.fallbacks[reason] += 1
        if method == INTEGRATION:
            self._restore_initial(knobs)
            self._integrate_to_steady_state(knobs)
        state = self._state()
        if not self._partition:
            self._starts[key] = np.concatenate([state[1], state[2]])
        cache[key] = (state, method)
        self._set_state(state)
        self.last_preequilibration = method

    def _integrate_to_steady_state(self, knobs: Mapping[str, float]) -> None:
        time = 0.0
        target = self.integration_target
        for horizon in PREEQUILIBRATION_HORIZONS:
            worst, _ = self.residual()
            if worst <= target:
                break
            self._integrate(time, time + horizon)
            time += horizon
        worst, which = self.residual()
        if not worst <= target:  # also catches NaN
            raise BcsignalError(
                f"no steady state for knobs {dict(knobs)}: d{which}/dt still {worst:.3g}x the tolerance "
                f"after {time:g} min",
                where=self.name,
            )

    def _newton_start(self, knobs: Mapping[str, float], key: ValuesKey) -> np.ndarray | None:
        """Return the nominal steady state of these knobs (computed first if need be); None when nominal."""
        if not self._partition:
            return None
        if key not in self._starts:
            base, partition = self._base, self._partition
            try:
                self._base, self._partition = self._nominal_values, ()
                self.preequilibrate(knobs)
            except BcsignalError:
                return None  # no nominal steady state: Newton starts from the initial state
            finally:
                self._base, self._partition = base, partition
        return self._starts.get(key)

    # -- Newton ---------------------------------------------------------
    def _vector(self) -> np.ndarray:
        """Return the state as one vector: floating-species concentrations, then rate-rule variables."""
        model = self._model
        x = np.array(model.getFloatingSpeciesConcentrations())
        if self._rate_rule_ids:
            x = np.concatenate([x, [model.getValue(r) for r in self._rate_rule_ids]])
        return x

    def _rates_at(self, x: np.ndarray) -> np.ndarray:
        """Put the model in state `x` and return d x/dt there."""
        model = self._model
        n = self._n_species
        model.setFloatingSpeciesConcentrations(x[:n])
        for rid, value in zip(self._rate_rule_ids, x[n:], strict=True):
            model.setValue(rid, float(value))
        dx = np.array(model.getFloatingSpeciesConcentrationRates())
        if self._rate_rule_ids:
            dx = np.concatenate([dx, [model.getValue(r) for r in self._rate_rule_rates]])
        return dx

    def _jacobian(self, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        """Return the Jacobian d f/d x by forward differences (one rate evaluation per state)."""
        jac = np.empty((len(x), len(x)))
        for j in range(len(x)):
            h = JACOBIAN_STEP * abs(x[j]) + JACOBIAN_STEP_FLOOR
            shifted = x.copy()
            shifted[j] += h
            jac[:, j] = (self._rates_at(shifted) - f) / h
        return jac

    def conservation_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """Return (W, Q): the conservation laws as rows and a basis of the subspace they leave free.

        Rows of W are conservation laws in concentrations (W dx/dt = 0); the columns of Q are an
        orthonormal basis of the stoichiometric subspace (W Q = 0). A conservation law is a left null
        vector l of the stoichiometry matrix (l N = 0) weighted by the volume of each species'
        compartment (amounts are conserved, not concentrations); rate-rule variables take part in none.
        """
        if self._reduced is None:
            model = self._model
            species = list(model.getFloatingSpeciesIds())
            n = len(self._state_ids)
            weights = np.zeros((0, n))
            if species:
                stoich = self.rr.getFullStoichiometryMatrix()
                rows = [species.index(r) for r in stoich.rownames]
                matrix = np.zeros((len(species), np.asarray(stoich).shape[1]))
                matrix[rows, :] = np.asarray(stoich)
                volumes = np.asarray(model.getCompartmentVolumes())
                volume = np.array(
                    [volumes[model.getCompartmentIndexForFloatingSpecies(i)] for i in range(len(species))]
                )
                if matrix.shape[1] == 0:
                    left = np.eye(len(species))
                else:
                    u, sv, _ = np.linalg.svd(matrix, full_matrices=True)
                    rank = int((sv > sv.max(initial=0.0) * 1e-10).sum())
                    left = u[:, rank:].T
                weights = np.zeros((left.shape[0], n))
                weights[:, : len(species)] = left * volume
            if weights.shape[0]:
                _, sv, vt = np.linalg.svd(weights, full_matrices=True)
                basis = vt[int((sv > sv.max() * 1e-10).sum()) :].T
            else:
                basis = np.eye(n)
            self._reduced = (weights, basis)
        return self._reduced

    def solve_steady_state(self, start: np.ndarray | None = None) -> str | None:
        """Solve for the steady state by damped Newton on the conservation-reduced system.

        The model must be at its initial state (its conserved totals are read there); `start` (default:
        that state) is where Newton begins. On success the model is left at the steady state and None is
        returned; otherwise the reason, and the caller integrates instead. A solution is accepted only
        if it passes the same steady-state test as integration (`residual` <= 1), keeps the conserved
        totals, has no concentration below -NEGATIVE_FLOOR (smaller negatives are set to 0) and is
        stable (every eigenvalue of the reduced Jacobian has a real part below STABILITY_LIMIT).
        """
        if self._model.getNumEvents():
            return "the model has events"
        if not self._state_ids:
            return None
        weights, basis = self.conservation_matrix()
        if self._lift is None:  # least-norm lift of a change of the conserved totals to the state
            self._lift = np.linalg.pinv(weights) if weights.shape[0] else np.zeros((len(self._state_ids), 0))
        initial = self._vector()
        totals = weights @ initial
        total_scale = STEADY_RTOL * (np.abs(weights) @ np.abs(initial)) + STEADY_ATOL
        x = initial.copy() if start is None else np.array(start, dtype=float)
        if x.shape != initial.shape or not np.isfinite(x).all():
            x = initial.copy()
        self._model.setTime(0.0)

        system = newton.Reduced(
            self._rates_at, self._jacobian, weights, totals, total_scale, basis, self._lift
        )
        f = self._rates_at(x)
        if not np.isfinite(f).all():
            return "non-finite rates at the starting point"
        solved = newton.iterate(system, x, f)
        if isinstance(solved, str):
            return solved
        accepted = newton.accept(system, solved)
        if isinstance(accepted, str):
            return accepted
        self._rates_at(accepted)  # leave the model at the solution
        self._model.setTime(0.0)
        return None

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
        without, only at its start, its end and the observation times inside it. With `share_prefixes`
        the run starts where an earlier one with the same first phases ended (`engine.phases`).
        """
        self.runs += 1
        return phases.run_protocol(self, protocol, readouts, tuple(observe), dense=dense)


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
