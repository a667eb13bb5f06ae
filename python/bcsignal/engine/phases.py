"""Shared phase prefixes: the state and outputs at the end of first phases, cached per parameter set."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bcsignal.core.errors import BcsignalError
from bcsignal.engine.trajectory import Trajectory, ValuesKey, phase_grid, values_key
from bcsignal.spec.protocol import Protocol

if TYPE_CHECKING:
    from bcsignal.engine.simulate import Simulator

#: One phase as it was integrated: the knob settings in force, its duration and its output grid.
Step = tuple[ValuesKey, float, tuple[float, ...]]
#: Where a protocol starts: the pre-equilibration knobs, the steady-state method and its target.
Origin = tuple[ValuesKey, str, float]


@dataclass(frozen=True)
class PrefixEnd:
    """The model at the end of a phase prefix: its time, state, knobs in force and outputs so far."""

    #: Model time at the start of the first phase (the end of pre-equilibration).
    start: float
    #: Model time at the end of the prefix (pre-equilibration time plus the phases' durations).
    time: float
    #: Floating-species amounts (the integrator's own state, so restoring them is exact).
    amounts: np.ndarray
    #: Values of the rate-rule variables.
    rates: tuple[float, ...]
    #: The output rows of the prefix, one column per selection of `PrefixCache.selections`.
    table: np.ndarray
    #: How the pre-equilibrated state was found (NEWTON or INTEGRATION).
    preequilibration: str


class PrefixCache:
    """States at the end of phase prefixes, by parameter partition, origin and the steps integrated.

    A prefix matches only when every step is equal: the same knob values, duration and output grid
    (CVODE restarts at each phase and stops at each output time, so equal steps from an equal state
    give bit-identical numbers; different grids are never merged).
    """

    def __init__(self) -> None:
        self._entries: dict[ValuesKey, dict[tuple[Origin, tuple[Step, ...]], PrefixEnd]] = {}
        #: Prefixes answered from the cache (phases not integrated again).
        self.hits = 0
        #: Phases skipped thanks to those hits.
        self.phases_skipped = 0
        #: The readouts a shared run selects (sorted): those declared with `select_readouts`, or every
        #: readout of the model when none were declared before the first shared run.
        self.readouts: tuple[str, ...] = ()
        #: The libroadrunner selections of those readouts, time first.
        self.columns: list[str] = []

    def longest(
        self, partition: ValuesKey, origin: Origin, steps: Sequence[Step]
    ) -> tuple[int, PrefixEnd] | None:
        """Return (number of phases, end) of the longest cached prefix of `steps`, or None."""
        entries = self._entries.get(partition)
        if not entries:
            return None
        for n in range(len(steps), 0, -1):
            end = entries.get((origin, tuple(steps[:n])))
            if end is not None:
                self.hits += 1
                self.phases_skipped += n
                return n, end
        return None

    def store(self, partition: ValuesKey, origin: Origin, steps: Sequence[Step], end: PrefixEnd) -> None:
        """Remember the end of the prefix `steps` under a partition."""
        self._entries.setdefault(partition, {})[(origin, tuple(steps))] = end

    def keep(self, partitions: Iterable[ValuesKey]) -> None:
        """Forget every partition but these."""
        kept = set(partitions)
        for partition in list(self._entries):
            if partition not in kept:
                del self._entries[partition]

    def clear(self) -> None:
        """Forget every prefix (the selected readouts stay)."""
        self._entries.clear()

    def __len__(self) -> int:
        """Return the number of prefixes cached over all partitions."""
        return sum(len(e) for e in self._entries.values())


def run_protocol(
    sim: Simulator, protocol: Protocol, readouts: Sequence[str], observed: tuple[float, ...], *, dense: bool
) -> Trajectory:
    """Pre-equilibrate, integrate the phases of a protocol and return the readouts (`Simulator.run`).

    With `Simulator.share_prefixes` (and the pre-equilibration cache on, `Simulator.caching`), the run
    starts from the longest cached prefix of its phases and caches each prefix it integrates, selecting
    every readout of the model so that a prefix serves experiments with other readouts; otherwise it
    integrates every phase from its own pre-equilibration, selecting only its readouts.
    """
    cache = sim.prefixes if sim.share_prefixes and sim.caching else None
    if cache is None:
        selections = _columns(sim, readouts)
    else:
        if not cache.columns:  # nothing declared: every readout, so that a prefix serves any experiment
            select_readouts(sim, sim.readout_ids)
        elif not set(readouts) <= set(cache.readouts):
            select_readouts(sim, readouts)
        selections = cache.columns
    pre = dict(protocol.preequilibration)
    origin = (values_key(pre), sim.steady_state_method, float(sim.integration_target))
    steps = steps_of(protocol, observed, dense=dense)
    found = cache.longest(sim._partition, origin, steps) if cache is not None else None
    chunks: list[np.ndarray] = []
    done = 0
    if found is None:
        sim.preequilibrate(pre)
        method, start = sim.last_preequilibration, float(sim._model.getTime())
    else:
        done, end = found
        _resume(sim, pre, steps[done - 1][0], end)
        method, start = end.preequilibration, end.start
        chunks.append(end.table)
    elapsed = sum(phase.duration for phase in protocol.phases[:done])
    for n in range(done, len(steps)):
        knobs, _, grid = steps[n]
        sim._apply(dict(knobs))
        chunks.append(_phase(sim, chunks, elapsed, start, grid, selections))
        elapsed += protocol.phases[n].duration
        if cache is not None:
            cache.store(sim._partition, origin, steps[: n + 1], _end(sim, start, np.vstack(chunks), method))
    columns = _columns(sim, readouts)
    table = np.vstack(chunks)
    if selections != columns:
        table = table[:, [0, *(selections.index(c) for c in columns[1:])]]
    return _trajectory(sim, table, columns, readouts, start, method)


def select_readouts(sim: Simulator, readouts: Iterable[str]) -> None:
    """Declare readouts that experiments will read, so that shared runs select only those (and earlier ones).

    Without a declaration, a shared run selects every readout of the model (353 columns in the composite)
    at every output time, so that a prefix serves any later experiment. `run_suites` declares the readouts
    of all its claims files first, `simulate_plan` those of its file. The selection only grows; a run
    reading an undeclared readout adds it, and growing forgets the cached prefixes (their output tables
    lack the new columns). Ids that are not readouts of the model are left out. What is selected changes
    no number.
    """
    cache = sim.prefixes
    wanted = {r for r in readouts if r in sim.readout_ids}
    if cache.columns and wanted <= set(cache.readouts):
        return
    cache.readouts = tuple(sorted(wanted | set(cache.readouts)))
    cache.columns = _columns(sim, cache.readouts)
    cache.clear()


def steps_of(protocol: Protocol, observed: Iterable[float], *, dense: bool) -> list[Step]:
    """Return the steps of a protocol's phases: the knobs in force, the duration and the output grid."""
    observed = tuple(observed)
    knobs = dict(protocol.preequilibration)
    steps: list[Step] = []
    elapsed = 0.0
    for phase in protocol.phases:
        knobs.update(phase.set)
        steps.append(
            (
                values_key(knobs),
                float(phase.duration),
                phase_grid(elapsed, phase.duration, observed, dense=dense),
            )
        )
        elapsed += phase.duration
    return steps


def _resume(sim: Simulator, pre: dict[str, float], knobs: ValuesKey, end: PrefixEnd) -> None:
    """Put the model where a cached prefix ended: reset under the pre-equilibration knobs, then its state."""
    sim._restore_initial(pre)
    sim._apply(dict(knobs))
    model = sim._model
    model.setFloatingSpeciesAmounts(end.amounts)
    for rid, value in zip(sim._rate_rule_ids, end.rates, strict=True):
        model.setValue(rid, value)
    model.setTime(end.time)


def _end(sim: Simulator, start: float, table: np.ndarray, method: str) -> PrefixEnd:
    """Return the model's current state as the end of a prefix whose outputs are `table`."""
    model = sim._model
    return PrefixEnd(
        start=start,
        time=float(model.getTime()),
        amounts=np.array(model.getFloatingSpeciesAmounts()),
        rates=tuple(float(model.getValue(r)) for r in sim._rate_rule_ids),
        table=table,
        preequilibration=method,
    )


def _columns(sim: Simulator, readouts: Sequence[str]) -> list[str]:
    """Return the selections of libroadrunner for these readouts: time, then each species' concentration."""
    return ["time", *(f"[{r}]" if r in sim._species else r for r in readouts)]


def _phase(
    sim: Simulator,
    chunks: Sequence[np.ndarray],
    elapsed: float,
    start: float,
    grid: Sequence[float],
    selections: list[str],
) -> np.ndarray:
    """Integrate one phase over its grid; return its rows (without the first when it continues `chunks`)."""
    out = sim._simulate(
        f"in phase starting at t={elapsed:g} min", times=[start + t for t in grid], selections=selections
    )
    data = np.asarray(out)
    return data if not chunks else data[1:]


def _trajectory(
    sim: Simulator,
    table: np.ndarray,
    selections: list[str],
    readouts: Sequence[str],
    start: float,
    method: str,
) -> Trajectory:
    """Return the trajectory of an output table (time, then one column per readout)."""
    if not np.isfinite(table).all():
        column = int(np.argwhere(~np.isfinite(table))[0][1])
        raise BcsignalError(
            f"the simulation gave a non-finite value of {selections[column]}",
            tool="libroadrunner",
            where=sim.name,
        )
    times = table[:, 0] - start
    values = {r: table[:, i + 1] for i, r in enumerate(readouts)}
    return Trajectory(times=times, values=values, preequilibration=method)
