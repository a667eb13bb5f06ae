"""COPASI (python-copasi) as a second simulator: clean SBML import, announced value changes, time courses."""

from __future__ import annotations

import locale
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from bcsignal.errors import BcsignalError
from bcsignal.extras import missing

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


class CopasiModel:
    """One SBML model imported into its own COPASI data model.

    Every value change is announced with ``updateInitialValues`` (otherwise the
    next ``task.process(True)`` silently restores the old value), and every
    time course writes its end state back as the new initial state, so
    consecutive time courses continue from each other.
    """

    def __init__(self, sbml: str, *, origin: str | Path = "<string>") -> None:
        copasi = _copasi()
        self.origin = str(origin)
        drain_messages()
        self.data_model = copasi.CRootContainer.addDatamodel()
        try:
            ok = bool(self.data_model.importSBMLFromString(sbml))
        except Exception as exc:  # COPASI raises bare exceptions, sometimes with no message
            self.close()
            messages = drain_messages()
            cause = "; ".join(messages.errors) or str(exc) or "the import raised an exception"
            raise BcsignalError(f"SBML import failed: {cause}", file=origin, tool="COPASI") from exc
        self.import_messages = drain_messages()
        if not ok or self.import_messages.errors:
            self.close()
            cause = "; ".join(self.import_messages.errors) or "importSBMLFromString returned False"
            raise BcsignalError(f"SBML import was not clean: {cause}", file=origin, tool="COPASI")
        self.model = self.data_model.getModel()
        self._species = {m.getSBMLId(): m for m in self.model.getMetabolites()}
        self._values = {v.getSBMLId(): v for v in self.model.getModelValues()}
        self._compartments = {c.getSBMLId(): c for c in self.model.getCompartments()}
        self._setup: tuple[tuple[float, ...], float, float, int, bool] | None = None
        self._columns: dict[str, int] | None = None

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Remove the data model from COPASI's root container."""
        if getattr(self, "data_model", None) is not None:
            _copasi().CRootContainer.removeDatamodel(self.data_model)
            self.data_model = None

    def __enter__(self) -> CopasiModel:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- values -------------------------------------------------------------
    def initial_values(self) -> dict[str, float]:
        """Return the initial value of every species (concentration), global parameter and compartment."""
        values = {sid: float(m.getInitialConcentration()) for sid, m in self._species.items()}
        values.update({sid: float(v.getInitialValue()) for sid, v in self._values.items()})
        values.update({sid: float(c.getInitialValue()) for sid, c in self._compartments.items()})
        return values

    def set_values(self, values: Mapping[str, float]) -> None:
        """Set initial values of global parameters or species concentrations, announcing each change."""
        for sid, value in sorted(values.items()):
            if sid in self._values:
                entity = self._values[sid]
                entity.setInitialValue(float(value))
                self.model.updateInitialValues(entity.getInitialValueReference())
            elif sid in self._species:
                entity = self._species[sid]
                entity.setInitialConcentration(float(value))
                self.model.updateInitialValues(entity.getInitialConcentrationReference())
            else:
                raise BcsignalError(
                    f"no species or global parameter {sid!r}", file=self.origin, tool="COPASI"
                )

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
        copasi = _copasi()
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
            enum = copasi.CTaskEnum
            task.setMethodType(enum.Method_RADAU5 if _retried else enum.Method_deterministic)
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
        self._flush_vanishing()
        start = float(self.model.getInitialTime())
        drain_messages()
        try:
            ok = bool(task.process(True))
        except Exception as exc:
            messages = drain_messages()
            cause = "; ".join(messages.errors) or str(exc) or "the time course raised an exception"
            raise BcsignalError(f"time course failed: {cause}", file=self.origin, tool="COPASI") from exc
        messages = drain_messages()
        if not ok and not messages.errors and not _retried:
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
        if not ok or messages.errors:
            cause = "; ".join(messages.errors + messages.warnings) or "task.process returned False"
            raise BcsignalError(f"time course failed: {cause}", file=self.origin, tool="COPASI")
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


def _match_times(recorded: np.ndarray, grid: np.ndarray, origin: str) -> np.ndarray:
    """Return, for each requested time, the index of the recorded row at that time."""
    index = np.searchsorted(recorded, grid - 1e-9 * np.maximum(1.0, np.abs(grid)))
    index = np.clip(index, 0, len(recorded) - 1)
    if not np.allclose(recorded[index], grid, rtol=1e-9, atol=1e-9):
        raise BcsignalError("COPASI did not report every requested output time", tool="COPASI", where=origin)
    return index


def sedml_time_course(
    sedml: Path, task_id: str, model_id: str, readouts: Sequence[str]
) -> dict[str, np.ndarray]:
    """Run one task of a SED-ML file with COPASI's own SED-ML import and return its time series.

    COPASI reads the file, builds the task's model (`model_id`, whose source may be another model of
    the file) with its model changes and sets up its
    time course from the task's simulation; this runs that time course as imported and returns
    the time and the readouts (species concentrations, global quantities) by SBML id.
    """
    copasi = _copasi()
    drain_messages()
    data_model = copasi.CRootContainer.addDatamodel()
    try:
        options = copasi.SedmlImportOptions(task_id, model_id)
        try:
            ok = bool(data_model.importSEDML(str(sedml), None, True, options))
        except Exception as exc:
            messages = drain_messages()
            cause = "; ".join(messages.errors) or str(exc) or "the import raised an exception"
            raise BcsignalError(f"SED-ML import failed: {cause}", file=sedml, tool="COPASI") from exc
        messages = drain_messages()
        if not ok or messages.errors:
            cause = "; ".join(messages.errors) or "importSEDML returned False"
            raise BcsignalError(f"SED-ML import of task {task_id} failed: {cause}", file=sedml, tool="COPASI")
        task = data_model.getTask("Time-Course")
        if not task.isScheduled():
            raise BcsignalError(f"COPASI set up no time course for task {task_id}", file=sedml, tool="COPASI")
        task.setUpdateModel(False)
        task.getProblem().setTimeSeriesRequested(True)
        try:
            ok = bool(task.process(True))
        except Exception as exc:
            messages = drain_messages()
            cause = "; ".join(messages.errors) or str(exc) or "the time course raised an exception"
            raise BcsignalError(f"task {task_id} failed: {cause}", file=sedml, tool="COPASI") from exc
        messages = drain_messages()
        if not ok or messages.errors:
            cause = "; ".join(messages.errors) or "task.process returned False"
            raise BcsignalError(f"task {task_id} failed: {cause}", file=sedml, tool="COPASI")
        series = task.getTimeSeries()
        steps = int(series.getRecordedSteps())
        columns = {series.getSBMLId(i, data_model): i for i in range(1, series.getNumVariables())}
        out = {"time": np.array([series.getData(k, 0) for k in range(steps)])}
        for readout in readouts:
            if readout == "time":
                continue
            if readout not in columns:
                raise BcsignalError(f"COPASI's time series has no {readout}", file=sedml, tool="COPASI")
            column = columns[readout]
            out[readout] = np.array([series.getConcentrationData(k, column) for k in range(steps)])
        return out
    finally:
        copasi.CRootContainer.removeDatamodel(data_model)
