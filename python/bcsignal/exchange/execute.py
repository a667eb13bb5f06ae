"""Running an archive in other simulators: tellurium, the BioSimulators command-line simulators, COPASI."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import libsbml
import numpy as np

from bcsignal.engine.copasi import _copasi, call, new_data_model, retire
from bcsignal.errors import BcsignalError, excerpt
from bcsignal.exchange.omex import check_sources, checked_members, sedml_member, sedml_text
from bcsignal.exchange.sedml import libsedml
from bcsignal.extras import ensure, require
from bcsignal.isolate import run_isolated, stage

_XPATH_ID = re.compile(r"@id='([^']+)'")

#: Results of an archive: phase task id -> {"time": protocol times, readout: values}.
ArchiveResults = dict[str, dict[str, np.ndarray]]
#: Seconds one simulator may take for one archive.
SIMULATOR_TIMEOUT = 1800.0


def _generator_map(doc: Any) -> dict[str, tuple[str, str]]:
    """Map each data generator to (task id, readout id or "time")."""
    out = {}
    for dg in doc.getListOfDataGenerators():
        if dg.getNumVariables() != 1:
            raise BcsignalError(
                f"data generator {excerpt(dg.getId())}: expected one variable", tool="libsedml"
            )
        variable = dg.getVariable(0)
        if variable.isSetSymbol():
            target = "time"
        else:
            match = _XPATH_ID.search(variable.getTarget())
            if match is None:
                raise BcsignalError(f"cannot read target {excerpt(variable.getTarget())}", tool="libsedml")
            target = match.group(1)
        out[dg.getId()] = (variable.getTaskReference(), target)
    return out


def _checked_doc(archive: Path) -> Any:
    """Return an archive's SED-ML document after the archive's members and model sources are checked."""
    sedml = sedml_text(archive)
    doc = libsedml.readSedMLFromString(sedml)
    with zipfile.ZipFile(archive) as zf:
        check_sources(doc, archive, zf.namelist())
    return doc


def _by_task(doc: Any, data: Mapping[str, np.ndarray], tool: str, archive: Path) -> ArchiveResults:
    out: ArchiveResults = {}
    for dg_id, (task, target) in _generator_map(doc).items():
        if dg_id not in data:
            raise BcsignalError(f"{tool} gave no values of data generator {dg_id}", file=archive, tool=tool)
        out.setdefault(task, {})[target] = np.asarray(data[dg_id], dtype=float).ravel()
    return out


def _tellurium_data(archive: str, outputs: str) -> dict[str, np.ndarray]:
    """In a child: run an archive with tellurium, outputs on, and return every data generator's values."""
    os.environ["MPLBACKEND"] = "Agg"  # plots are written to files, never shown
    tellurium = require("tellurium", "running an archive in tellurium")  # large; imported only here
    tellurium.setDefaultPlottingEngine("matplotlib")  # its generated code saves plots only with matplotlib

    stage("tellurium", "running the archive")
    with tempfile.TemporaryDirectory(prefix="bcsignal-tellurium-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tellurium's generated code uses deprecated numpy calls
        try:
            results = tellurium.executeCombineArchive(
                archive, workingDir=tmp, createOutputs=True, saveOutputs=True, outputDir=outputs
            )
        except Exception as exc:
            raise BcsignalError(f"execution failed: {exc}", file=archive, tool="tellurium") from exc
    if len(results) != 1:
        raise BcsignalError(f"expected one SED-ML file, tellurium ran {len(results)}", file=archive)
    (result,) = results.values()
    return {k: np.asarray(v, dtype=float).ravel() for k, v in result["dataGenerators"].items()}


def tellurium_files(doc: Any, sedml_location: str) -> dict[str, str]:
    """Return the file tellurium writes for each report (CSV) and plot (PDF) of a SED-ML document.

    tellurium names them after the SED-ML file and the output: ``<sedml stem>_<output id>.<format>``.
    """
    stem = PurePosixPath(sedml_location).stem
    out = {}
    for output in doc.getListOfOutputs():
        if isinstance(output, (libsedml.SedReport, libsedml.SedPlot2D)):
            suffix = "csv" if isinstance(output, libsedml.SedReport) else "pdf"
            out[output.getId()] = f"{stem}_{output.getId()}.{suffix}"
    return out


def _tellurium_reports(
    doc: Any, folder: Path, files: Mapping[str, str], archive: Path
) -> dict[str, np.ndarray]:
    """Read the reports tellurium wrote (one column per data set) and check every plot was written."""
    data: dict[str, np.ndarray] = {}
    for output in doc.getListOfOutputs():
        if output.getId() not in files:
            continue
        path = folder / files[output.getId()]
        if not path.is_file() or path.stat().st_size == 0:
            raise BcsignalError(f"tellurium wrote no {path.name}", file=archive, tool="tellurium")
        if isinstance(output, libsedml.SedReport):
            with path.open(encoding="utf-8", newline="") as handle:
                header, *rows = list(csv.reader(handle))
            labels = [d.getLabel() for d in output.getListOfDataSets()]
            if header != labels:
                raise BcsignalError(f"{path.name} has columns {header}, not {labels}", tool="tellurium")
            for k, dataset in enumerate(output.getListOfDataSets()):
                data[dataset.getDataReference()] = np.array([float(row[k]) for row in rows])
    return data


def run_with_tellurium(
    archive: Path, outputs: Path | None = None, *, timeout: float | None = None
) -> ArchiveResults:
    """Execute an archive with tellurium.executeCombineArchive, plots and reports written as files.

    tellurium writes every report (CSV) and every plot (PDF, matplotlib) into `outputs` (a
    temporary folder when not given); the values returned by task are the ones of the report
    files, which must equal tellurium's data generators. Fails when a report or a plot is missing.
    The archive is checked first (member limits, SED-ML screened, every model source a member), and
    tellurium runs in an isolated child process with bcsignal's memory limit and time limit (or
    `timeout` seconds).
    """
    ensure("tellurium", "running an archive in tellurium")
    doc = _checked_doc(archive)
    files = tellurium_files(doc, sedml_member(archive))
    with tempfile.TemporaryDirectory(prefix="bcsignal-outputs-") as tmp:
        folder = outputs or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = run_isolated(
            partial(_tellurium_data, str(archive), str(folder)), origin=archive, timeout=timeout
        )
        written = _tellurium_reports(doc, folder, files, archive)
    for dg_id, values in written.items():
        if dg_id not in data or not np.array_equal(values, data[dg_id]):
            raise BcsignalError(f"the report of {dg_id} differs from tellurium's values", tool="tellurium")
    return _by_task(doc, written, "tellurium", archive)


def _run_biosimulators(executable: Path, arguments: list[str], archive: Path, **settings: str) -> str:
    """Run a BioSimulators command (its own venv, `settings` in its environment); return its output.

    A missing executable, a failure to start, a timeout or a non-zero exit raises, naming the archive.
    """
    tool = executable.name
    if not executable.is_file():
        raise BcsignalError(
            f"{executable} is missing (`make simulators` installs the BioSimulators simulators)", tool=tool
        )
    env = {**os.environ, "MPLBACKEND": "Agg", **settings}
    env.pop("PYTHONPATH", None)
    try:
        done = subprocess.run(
            [str(executable), *arguments],
            capture_output=True,
            text=True,
            env=env,
            timeout=SIMULATOR_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BcsignalError(f"cannot run {executable}: {exc}", file=archive, tool=tool) from exc
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).split())[-2000:]
        raise BcsignalError(f"exit status {done.returncode}: {tail}", file=archive, tool=tool)
    return f"{done.stdout}\n{done.stderr}"


def run_with_biosimulators(archive: Path, executable: Path, outputs: Path | None = None) -> ArchiveResults:
    """Execute an archive with a BioSimulators command-line simulator (biosimulators-copasi, ...).

    The simulator writes its reports as CSV into `outputs` (plots are executed, not rendered); the
    values of every report are returned by task. Fails when the simulator exits with an error, or
    its log records a task or output that did not succeed.
    """
    doc = _checked_doc(archive)
    tool = executable.name
    with tempfile.TemporaryDirectory(prefix="bcsignal-biosimulators-") as tmp:
        folder = outputs or Path(tmp) / "outputs"
        # plots are executed but not rendered (biosimulators-utils reads VIZ_FORMATS; PLOT_FORMATS, set
        # before, was ignored): rendering 50 PDFs took minutes and once ended the run with exit status 1
        # (Morandi_BCR2014), and the values are in the reports
        _run_biosimulators(
            executable, ["-i", str(archive), "-o", str(folder)], archive, REPORT_FORMATS="csv", VIZ_FORMATS=""
        )
        _check_biosimulators_log(folder / "log.yml", archive, tool)
        data: dict[str, np.ndarray] = {}
        for output in doc.getListOfOutputs():
            if not isinstance(output, libsedml.SedReport):
                continue
            found = sorted(folder.glob(f"**/{output.getId()}.csv"))
            if len(found) != 1:
                raise BcsignalError(f"expected one {output.getId()}.csv, found {len(found)}", tool=tool)
            rows = _report_rows(found[0])
            for dataset in output.getListOfDataSets():
                if dataset.getLabel() not in rows:
                    raise BcsignalError(f"{found[0].name} has no row {dataset.getLabel()}", tool=tool)
                data[dataset.getDataReference()] = rows[dataset.getLabel()]
    return _by_task(doc, data, tool, archive)


#: The OMEX metadata statements libcombine writes (Dublin Core terms, as the OMEX metadata specification
#: has them) that BioSimulations' validator reads in its own vocabulary (Dublin Core elements) instead,
#: and so reports as ignored; bcsignal writes the same record in that vocabulary too.
OMEX_SPEC_TERMS = frozenset(
    f"http://purl.org/dc/terms/{term}" for term in ("description", "created", "modified", "creator")
)
_IGNORED = re.compile(r"^\s*- \((?P<subject>[^,]*), (?P<predicate>[^,]*), ")


def biosimulators_validation(archive: Path, executable: Path) -> list[str]:
    """Validate an archive with BioSimulators' `validate-project`; return the warnings bcsignal could fix.

    `executable` is `biosimulators-utils`. An error, or a non-zero exit, raises; a statement BioSimulations
    ignores only because it is an OMEX-specification term of libcombine's (`OMEX_SPEC_TERMS`) is not
    returned; every other warning line is.
    """
    text = _run_biosimulators(executable, ["validate-project", str(archive)], archive)
    # a warning: a "BioSimulatorsWarning: ..." line, its indented items, then the "warnings.warn(" echo
    problems = []
    in_warning = False
    for line in text.splitlines():
        stripped = line.strip()
        if "BioSimulatorsWarning" in line:
            in_warning = True
        elif stripped.startswith("warnings.warn("):
            in_warning = False
        elif in_warning and stripped != "- Some statements were ignored:":
            match = _IGNORED.match(line)
            if not (match and match["predicate"] in OMEX_SPEC_TERMS):
                problems.append(stripped)
    return problems


def _report_rows(path: Path) -> dict[str, np.ndarray]:
    """Read a BioSimulators CSV report: one row per data set, its label first, then its values."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: np.array([float(v) for v in row[1:] if v != ""]) for row in rows if row}


def _check_biosimulators_log(path: Path, archive: Path, tool: str) -> None:
    """Refuse a run whose log records any task or output that did not succeed."""
    import yaml

    try:
        log = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BcsignalError(f"cannot read the simulator's log: {exc}", file=path, tool=tool) from exc
    failed = []
    for document in log.get("sedDocuments") or []:
        for kind in ("tasks", "outputs"):
            for item in document.get(kind) or []:
                if item.get("status") != "SUCCEEDED":
                    failed.append(f"{item.get('id')}: {item.get('status')} {item.get('exception') or ''}")
    if log.get("status") != "SUCCEEDED" or failed:
        raise BcsignalError(f"status {log.get('status')}; " + "; ".join(failed[:5]), file=archive, tool=tool)


def _evaluate(dg: Any, values: Mapping[str, np.ndarray]) -> np.ndarray:
    """Evaluate a data generator's math at every row with libsbml's evaluator of formulas."""
    names = {p.getId(): float(p.getValue()) for p in dg.getListOfParameters()}
    formula = libsedml.formulaToL3String(dg.getMath())
    node = libsbml.parseL3Formula(formula)
    if node is None:
        raise BcsignalError(f"cannot parse {excerpt(formula)}", tool="libsbml")
    rows = len(next(iter(values.values())))
    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    parameters = {}
    for sid in [*names, *values]:
        parameter = model.createParameter()
        parameter.setId(sid)
        parameter.setConstant(True)  # libsbml's evaluator reads the values of constant parameters
        parameters[sid] = parameter
    for sid, value in names.items():
        parameters[sid].setValue(value)
    out = np.empty(rows)
    for i in range(rows):
        for sid, column in values.items():
            parameters[sid].setValue(float(column[i]))
        libsbml.SBMLTransforms.clearComponentValues(model)  # it caches the values it read
        out[i] = libsbml.SBMLTransforms.evaluateASTNode(node, model)
    return out


def run_with_copasi(archive: Path) -> ArchiveResults:
    """Execute an archive with COPASI's own SED-ML import, one task at a time.

    COPASI's importer reads the SED-ML document, applies the chosen task's model changes to
    its model and sets up its time course; COPASI runs it. The data generators' math is
    evaluated with libsbml's formula evaluator.
    """
    doc = _checked_doc(archive)
    generators = _generator_map(doc)
    with tempfile.TemporaryDirectory(prefix="bcsignal-copasi-") as tmp:
        try:
            with zipfile.ZipFile(archive) as zf:
                checked_members(zf, archive)  # before anything is written
                zf.extractall(tmp)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BcsignalError(f"cannot extract the archive: {cause}", file=archive) from exc
        (sedml_path,) = [p for p in Path(tmp).iterdir() if p.suffix == ".sedml"]
        variables: dict[str, dict[str, np.ndarray]] = {}
        for task in doc.getListOfTasks():
            targets = {t for (tid, t) in generators.values() if tid == task.getId()}
            variables[task.getId()] = sedml_time_course(
                sedml_path, task.getId(), task.getModelReference(), sorted(targets)
            )
        data: dict[str, np.ndarray] = {}
        for dg in doc.getListOfDataGenerators():
            task_id, target = generators[dg.getId()]
            variable = dg.getVariable(0)
            data[dg.getId()] = _evaluate(dg, {variable.getId(): variables[task_id][target]})
    return _by_task(doc, data, "COPASI", archive)


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
    data_model = new_data_model()
    try:
        options = copasi.SedmlImportOptions(task_id, model_id)
        call(
            lambda: data_model.importSEDML(str(sedml), None, True, options),
            f"SED-ML import of task {task_id} failed",
            sedml,
        )
        task = data_model.getTask("Time-Course")
        if not task.isScheduled():
            raise BcsignalError(f"COPASI set up no time course for task {task_id}", file=sedml, tool="COPASI")
        task.setUpdateModel(False)
        task.getProblem().setTimeSeriesRequested(True)
        call(lambda: task.process(True), f"task {task_id} failed", sedml)
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
        retire(data_model)
