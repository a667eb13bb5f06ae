"""COPASI (python-copasi) as a second simulator: clean SBML import, announced value changes, time courses."""

from __future__ import annotations

import hashlib
import locale
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import missing

if TYPE_CHECKING:
    from bcsignal.spec.protocol import Protocol

#: COPASI's default deterministic method (LSODA) is used with these tolerances unless told otherwise.
RELATIVE_TOLERANCE = 1e-10
#: Absolute tolerance of LSODA (COPASI applies it to amounts in the model's quantity unit, nmol here).
ABSOLUTE_TOLERANCE = 1e-14
#: LSODA step limit per output interval.
MAXIMUM_NUM_STEPS = 1_000_000
#: Species concentrations below this are set to 0 before a time course: from such an initial value
#: (below about the square root of the smallest normal double) COPASI's LSODA run fails without a message.
VANISHING = 1e-150
#: COPASI prefixes each message with its severity and a timestamp.
_STAMP = re.compile(r">[A-Z_]+ [0-9T:.-]+< ")


#: Data models this process no longer uses. COPASI's data models are never removed from its root
#: container: after a removal, a later LSODA time course in the same process now and then fails
#: without a message, and RADAU5 on the same block may fail too (measured on the composite's
#: WT_chemo_72h then WT_TGFb_chemo_72h, each in its own data model: 4 of 7 processes failed when
#: each data model was removed after use, 0 of 8 when none was; it failed a CI run). An imported
#: SBML text is therefore imported once per process and its data model reused (`CopasiModel`
#: restores the imported initial values); a data model that cannot be reused is retired here.
_RETIRED: list[Any] = []
#: Idle imported data models by the SHA-256 of their SBML text, ready for the next `CopasiModel`.
_IDLE: dict[str, list[_Imported]] = {}


def _copasi() -> Any:
    """Import python-copasi lazily: it is large, and only exchange and cross-checks need it.

    Importing it sets every locale category to C; the character-type category is put back, or Python
    would read and write text files as ASCII for the rest of the process.
    """
    ctype = locale.setlocale(locale.LC_CTYPE)
    try:
        import COPASI
    except ImportError:
        raise missing("COPASI", "the COPASI simulator") from None
    finally:
        locale.setlocale(locale.LC_CTYPE, ctype)
    return COPASI


@dataclass
class CopasiMessages:
    """The messages COPASI queued during one operation, split by severity."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def drain_messages() -> CopasiMessages:
    """Empty COPASI's message queue and return what it held (errors include exceptions)."""
    copasi = _copasi()
    queue = copasi.CCopasiMessage
    found = CopasiMessages()
    error_types = {queue.ERROR, queue.EXCEPTION}
    warning_types = {queue.WARNING}
    while queue.size() > 0:
        message = queue.getFirstMessage()
        text = _STAMP.sub("", " ".join(str(message.getText()).split()))
        if message.getType() in error_types:
            found.errors.append(text)
        elif message.getType() in warning_types:
            found.warnings.append(text)
    return found


class CopasiRunError(BcsignalError):
    """A COPASI operation that failed; `silent` when COPASI gave no message at all."""

    def __init__(self, cause: str, *, silent: bool = False, **where: Any) -> None:
        super().__init__(cause, **where)
        self.silent = silent


def call(action: Callable[[], Any], failure: str, origin: str | Path) -> CopasiMessages:
    """Run one COPASI operation: empty the queue, call, drain the messages, raise on failure.

    The operation fails when it raises, returns a false value or queues an error; the error names
    COPASI's messages (or the exception). Returns the messages of a successful operation.
    """
    drain_messages()
    try:
        ok = bool(action())
    except Exception as exc:  # COPASI raises bare exceptions, sometimes with no message
        messages = drain_messages()
        cause = "; ".join(messages.errors) or str(exc) or "it raised an exception"
        raise BcsignalError(f"{failure}: {cause}", file=origin, tool="COPASI") from exc
    messages = drain_messages()
    if not ok or messages.errors:
        cause = "; ".join(messages.errors + messages.warnings) or "COPASI returned False"
        raise CopasiRunError(f"{failure}: {cause}", file=origin, tool="COPASI", silent=not messages.errors)
    return messages


def new_data_model() -> Any:
    """Return a new, empty COPASI data model (give it back with `retire` when done)."""
    return _copasi().CRootContainer.addDatamodel()


def retire(data_model: Any) -> None:
    """Stop using a data model without removing it from COPASI (see `_RETIRED` for why)."""
    _RETIRED.append(data_model)


@dataclass
class _Imported:
    """One SBML text imported into a data model, with what a fresh import looked like."""

    data_model: Any
    messages: CopasiMessages
    #: the imported initial value of every species and global quantity that is not set by a rule
    initial: dict[str, float]


def _import(sbml: str, origin: str | Path) -> _Imported:
    """Import an SBML text into a new data model; raise (retiring the data model) if not clean."""
    data_model = new_data_model()
    try:
        messages = call(lambda: data_model.importSBMLFromString(sbml), "SBML import was not clean", origin)
    except BcsignalError:
        retire(data_model)
        raise
    model = data_model.getModel()
    assignment = _copasi().CModelEntity.Status_ASSIGNMENT
    initial = {
        m.getSBMLId(): float(m.getInitialConcentration())
        for m in model.getMetabolites()
        if m.getStatus() != assignment
    }
    initial.update(
        {
            v.getSBMLId(): float(v.getInitialValue())
            for v in model.getModelValues()
            if v.getStatus() != assignment
        }
    )
    return _Imported(data_model, messages, initial)


class CopasiModel:
    """One SBML model in a COPASI data model of its own while it is open.

    Every value change is announced with ``updateInitialValues`` (otherwise the
    next ``task.process(True)`` silently restores the old value), and every
    time course writes its end state back as the new initial state, so
    consecutive time courses continue from each other. An SBML text is imported
    once per process: a later `CopasiModel` of the same text reuses the idle data
    model with the imported initial values restored (see `_RETIRED`).
    """

    def __init__(self, sbml: str, *, origin: str | Path = "<string>") -> None:
        self.origin = str(origin)
        self._key = hashlib.sha256(sbml.encode("utf-8")).hexdigest()
        idle = _IDLE.get(self._key)
        reused = bool(idle)
        self._imported = idle.pop() if idle else _import(sbml, origin)
        self.data_model = self._imported.data_model
        self.import_messages = self._imported.messages
        self.model = self.data_model.getModel()
        self._species = {m.getSBMLId(): m for m in self.model.getMetabolites()}
        self._values = {v.getSBMLId(): v for v in self.model.getModelValues()}
        self._compartments = {c.getSBMLId(): c for c in self.model.getCompartments()}
        self._setup: tuple[tuple[float, ...], float, float, int, bool] | None = None
        self._columns: dict[str, int] | None = None
        if reused:
            self.set_values(self._imported.initial)

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Give the data model back for reuse by the next `CopasiModel` of the same SBML text."""
        if getattr(self, "data_model", None) is not None:
            _IDLE.setdefault(self._key, []).append(self._imported)
            self.data_model = None

    def __enter__(self) -> CopasiModel:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- values -------------------------------------------------------------
    @property
    def compartment_ids(self) -> frozenset[str]:
        """Return the SBML ids of the compartments."""
        return frozenset(self._compartments)

    def initial_values(self) -> dict[str, float]:
        """Return the initial value of every species (concentration), global parameter and compartment."""
        values = {sid: float(m.getInitialConcentration()) for sid, m in self._species.items()}
        values.update({sid: float(v.getInitialValue()) for sid, v in self._values.items()})
        values.update({sid: float(c.getInitialValue()) for sid, c in self._compartments.items()})
        return values

    def set_values(self, values: Mapping[str, float]) -> None:
        """Set initial values of global parameters or species concentrations, and announce the change.

        Every value is set first, then COPASI recomputes what depends on the changed values (amounts,
        initial assignments) in one pass: announcing each value on its own costs about 20 ms per
        value on the composite. Nothing is changed if an id is unknown.
        """
        unknown = sorted(sid for sid in values if sid not in self._values and sid not in self._species)
        if unknown:
            raise BcsignalError(
                f"no species or global parameter {', '.join(map(repr, unknown))}",
                file=self.origin,
                tool="COPASI",
            )
        if not values:
            return
        changed = _copasi().ObjectStdVector()
        for sid, value in sorted(values.items()):
            if sid in self._values:
                quantity = self._values[sid]
                quantity.setInitialValue(float(value))
                changed.append(quantity.getInitialValueReference())
            else:
                species = self._species[sid]
                species.setInitialConcentration(float(value))
                changed.append(species.getInitialConcentrationReference())
        self.model.updateInitialValues(changed)

    def _flush_vanishing(self) -> None:
        """Set species whose initial concentration is a vanishing number (below VANISHING) to 0.

        COPASI's time course fails without a message from such a state; a species decaying over a long
        run (chained time courses) reaches one.
        """
        tiny = {
            sid: 0.0
            for sid, m in self._species.items()
            if 0.0 < abs(float(m.getInitialConcentration())) < VANISHING
        }
        if tiny:
            self.set_values(tiny)

    # -- simulation -----------------------------------------------------------
    def _configure(
        self, task: Any, grid: np.ndarray, setup: tuple[tuple[float, ...], float, float, int, bool]
    ) -> None:
        """Set up the time course: LSODA (RADAU5 on a retry), the output times and the tolerances."""
        _, relative_tolerance, absolute_tolerance, maximum_num_steps, retried = setup
        enum = _copasi().CTaskEnum
        task.setMethodType(enum.Method_RADAU5 if retried else enum.Method_deterministic)
        task.setUpdateModel(True)
        problem = task.getProblem()
        problem.setTimeSeriesRequested(True)
        problem.setAutomaticStepSize(False)
        problem.setOutputStartTime(0.0)
        problem.setDuration(float(grid[-1]))
        problem.setStepNumber(1)
        problem.setUseValues(True)
        problem.setValues(" ".join(repr(float(t)) for t in grid[1:]))
        method = task.getMethod()
        method.getParameter("Relative Tolerance").setDblValue(relative_tolerance)
        method.getParameter("Absolute Tolerance").setDblValue(absolute_tolerance)
        method.getParameter("Max Internal Steps").setUIntValue(maximum_num_steps)
        self._setup = setup

    def time_course(
        self,
        times: Sequence[float] | np.ndarray,
        readouts: Iterable[str],
        *,
        relative_tolerance: float = RELATIVE_TOLERANCE,
        absolute_tolerance: float = ABSOLUTE_TOLERANCE,
        maximum_num_steps: int = MAXIMUM_NUM_STEPS,
        _retried: bool = False,
    ) -> dict[str, np.ndarray]:
        """Integrate from the current initial state and return the readouts at `times` (from 0, increasing).

        The end state becomes the new initial state, so the next call continues from it.
        """
        grid = np.asarray(times, dtype=float)
        if grid.size < 2 or grid[0] != 0.0 or np.any(np.diff(grid) <= 0):
            raise BcsignalError("output times must start at 0 and increase", tool="COPASI", where=self.origin)
        wanted = list(readouts)
        unknown = [r for r in wanted if r not in self._species and r not in self._values]
        if unknown:
            raise BcsignalError(
                f"no species or variable {', '.join(unknown)}", file=self.origin, tool="COPASI"
            )
        task = self.data_model.getTask("Time-Course")
        setup = (tuple(grid.tolist()), relative_tolerance, absolute_tolerance, maximum_num_steps, _retried)
        if setup != self._setup:  # consecutive blocks share one setup; configuring costs time
            self._configure(task, grid, setup)
        self._flush_vanishing()
        start = float(self.model.getInitialTime())
        try:
            call(lambda: task.process(True), "time course failed", self.origin)
        except CopasiRunError as exc:
            if not exc.silent or _retried:
                raise
            # COPASI's LSODA sometimes returns False with no message (seen on the composite's
            # WT_TGFb_chemo_72h, not in every process): run the block once more with RADAU5, the same
            # tolerances; a second failure is an error.
            self._setup = None
            return self.time_course(
                grid,
                wanted,
                relative_tolerance=relative_tolerance,
                absolute_tolerance=absolute_tolerance,
                maximum_num_steps=maximum_num_steps,
                _retried=True,
            )
        series = task.getTimeSeries()
        steps = int(series.getRecordedSteps())
        if self._columns is None:
            self._columns = {
                series.getSBMLId(i, self.data_model): i for i in range(1, series.getNumVariables())
            }
        columns = self._columns
        recorded = np.array([series.getData(k, 0) for k in range(steps)]) - start
        out: dict[str, np.ndarray] = {}
        for readout in wanted:
            column = columns[readout]
            out[readout] = np.array([series.getConcentrationData(k, column) for k in range(steps)])
        keep = _match_times(recorded, grid, self.origin)
        out = {k: v[keep] for k, v in out.items()}
        out["time"] = grid.copy()
        return out


@dataclass
class ProtocolRun:
    """A protocol run in COPASI: each phase's readouts, and the state pre-equilibration reached."""

    phases: list[dict[str, np.ndarray]]
    #: every species concentration and global quantity after pre-equilibration (before the phases)
    preequilibrated: dict[str, float]


def run_protocol(
    copasi: CopasiModel,
    protocol: Protocol,
    grids: Sequence[Sequence[float] | np.ndarray],
    readouts: Sequence[str],
    *,
    preequilibration_time: float,
    preequilibrated: Mapping[str, float] | None = None,
    **tolerances: Any,
) -> ProtocolRun:
    """Run a claim protocol in COPASI: pre-equilibrate, then each phase on its output times.

    The protocol's pre-equilibration knobs are set and the model integrated for
    `preequilibration_time` minutes (the span bcsignal's engine integrated), unless a
    `preequilibrated` state (from an earlier run with the same knobs) is given, which is set instead.
    Each phase then sets its knobs and runs from 0 to its duration on `grids[i]` (times from the
    phase's start, the first 0). `tolerances` are passed to `CopasiModel.time_course`.
    """
    if len(grids) != len(protocol.phases):
        raise BcsignalError("one output grid per phase is needed", tool="COPASI", where=copasi.origin)
    copasi.set_values({k: float(v) for k, v in protocol.preequilibration.items()})
    if preequilibrated is not None:
        copasi.set_values(preequilibrated)
    elif preequilibration_time > 0:
        copasi.time_course([0.0, preequilibration_time], readouts, **tolerances)
    state = {k: v for k, v in copasi.initial_values().items() if k not in copasi.compartment_ids}
    out = []
    for phase, grid in zip(protocol.phases, grids, strict=True):
        copasi.set_values({k: float(v) for k, v in phase.set.items()})
        out.append(copasi.time_course(grid, readouts, **tolerances))
    return ProtocolRun(phases=out, preequilibrated=state)


def _match_times(recorded: np.ndarray, grid: np.ndarray, origin: str) -> np.ndarray:
    """Return, for each requested time, the index of the recorded row at that time."""
    index = np.searchsorted(recorded, grid - 1e-9 * np.maximum(1.0, np.abs(grid)))
    index = np.clip(index, 0, len(recorded) - 1)
    if not np.allclose(recorded[index], grid, rtol=1e-9, atol=1e-9):
        raise BcsignalError("COPASI did not report every requested output time", tool="COPASI", where=origin)
    return index
