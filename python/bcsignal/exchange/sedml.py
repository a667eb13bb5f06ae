"""The SED-ML L1V3 document of an archive: a model and a task per phase, data generators, reports, plots."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import libsbml

from bcsignal.errors import BcsignalError
from bcsignal.exchange.schedule import INTERVALS_PER_PHASE, PhaseRun, Plan, State, plain, sbml_values, to_sid
from bcsignal.extras import require
from bcsignal.simulate import ABSOLUTE_TOLERANCE, MAXIMUM_NUM_STEPS, RELATIVE_TOLERANCE
from bcsignal.spec.claims import ClaimsFile

libsedml = require("libsedml", "SED-ML and OMEX exchange")

#: SED-ML level and version written: L1V3 holds everything the archives use (BioSimulators warns that it
#: supports few L1V4 features), and every simulator tested reads it.
SEDML_LEVEL, SEDML_VERSION = 1, 3
#: Namespace of the SBML the XPath targets address.
SBML_NS = "http://www.sbml.org/sbml/level3/version2/core"
#: KiSAO terms: CVODE and its relative/absolute tolerance and step limit.
KISAO_CVODE = "KISAO:0000019"
KISAO_RELATIVE_TOLERANCE = "KISAO:0000209"
KISAO_ABSOLUTE_TOLERANCE = "KISAO:0000211"
KISAO_MAXIMUM_NUM_STEPS = "KISAO:0000415"
#: SED-ML symbol of simulation time.
TIME_SYMBOL = "urn:sedml:symbol:time"
#: Most bytes one model's SED-ML may have (issue 20): the states are SBML files, the SED-ML sets knobs.
MAX_SEDML_BYTES = 50_000


def _xpath(kind: str, sid: str) -> str:
    element = {"species": "listOfSpecies/sbml:species", "parameter": "listOfParameters/sbml:parameter"}[kind]
    return f"/sbml:sbml/sbml:model/sbml:{element}[@id='{sid}']"


def _symbol_kinds(sbml: str) -> dict[str, str]:
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    kinds = {s.getId(): "species" for s in model.getListOfSpecies()}
    kinds.update({p.getId(): "parameter" for p in model.getListOfParameters()})
    return kinds


def _check(code: int, what: str) -> None:
    if code != libsedml.LIBSEDML_OPERATION_SUCCESS:
        raise BcsignalError(f"{what} failed (libsedml code {code})", tool="libsedml")


def _math(formula: str) -> Any:
    node = libsedml.parseL3Formula(formula)
    if node is None:
        raise BcsignalError(f"cannot parse {formula!r}", tool="libsedml")
    return node


def _notes(paragraphs: Sequence[str]) -> str:
    body = "".join(f"<p>{plain(p, limit=10_000)}</p>" for p in paragraphs)
    return f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'


def _add_algorithm(sim: Any) -> None:
    algorithm = sim.createAlgorithm()
    _check(algorithm.setKisaoID(KISAO_CVODE), "setting the algorithm")
    for kisao, value in (
        (KISAO_RELATIVE_TOLERANCE, repr(RELATIVE_TOLERANCE)),
        (KISAO_ABSOLUTE_TOLERANCE, repr(ABSOLUTE_TOLERANCE)),
        (KISAO_MAXIMUM_NUM_STEPS, str(MAXIMUM_NUM_STEPS)),
    ):
        parameter = algorithm.createAlgorithmParameter()
        _check(parameter.setKisaoID(kisao), "setting an algorithm parameter")
        _check(parameter.setValue(value), "setting an algorithm parameter value")


def _describe(knobs: Sequence[tuple[str, float]], defaults: Mapping[str, float]) -> str:
    """Name the knobs set away from the SBML's values (after a colon), or nothing."""
    changed = [f"{k} = {v:g}" for k, v in knobs if v != defaults.get(k)]
    return f": {', '.join(changed)}" if changed else ""


_DOCUMENT_NOTES = (
    "Each phase of an experiment is one model and one time course. The model's source is an "
    "SBML file of the phase start: the knobs in effect during the phase and every state variable "
    "at its value at the phase start, as computed by bcsignal (the pre-equilibrated steady state, "
    "or the end of the phase before); the model's name lists the knobs set. Data "
    "generators named time give the protocol time (0 = start of the first phase). Minutes, nM."
)


class _Writer:
    """Builds one SED-ML document, writing each distinct model and simulation once."""

    def __init__(self, sbml: str, sources: Mapping[State, str], claims: ClaimsFile) -> None:
        self.kinds = _symbol_kinds(sbml)
        self.defaults = sbml_values(sbml)
        self.sources = sources
        self.claims = claims
        self.doc = libsedml.SedDocument(SEDML_LEVEL, SEDML_VERSION)
        _check(self.doc.getNamespaces().add(SBML_NS, "sbml"), "declaring the SBML namespace")
        self.models: dict[State, str] = {}
        self.simulations: dict[float, str] = {}
        #: data generator id of each (task, readout or "time")
        self.generators: dict[tuple[str, str], str] = {}

    def model(self, name: str, run: PhaseRun) -> str:
        """Return the id of the model a phase runs: the SBML file of its start, unchanged."""
        key = run.initial_values()
        if key in self.models:
            return self.models[key]
        for sid, _ in key:
            if sid not in self.kinds:
                raise BcsignalError(f"{sid} is not in the model", file=self.claims.path)
        mid = self.models[key] = f"model{self.doc.getNumModels() + 1}"
        model = self.doc.createModel()
        _check(model.setId(mid), f"setting model id {mid}")
        model.setName(plain(f"start of {name} phase {run.index}{_describe(run.knobs, self.defaults)}"))
        _check(model.setLanguage("urn:sedml:language:sbml.level-3.version-2"), "setting the model language")
        _check(model.setSource(self.sources[key]), "setting the model source")
        return mid

    def simulation(self, duration: float) -> str:
        """Return the id of the uniform time course from 0 to `duration`."""
        if duration in self.simulations:
            return self.simulations[duration]
        sid = self.simulations[duration] = f"sim{len(self.simulations) + 1}"
        sim = self.doc.createUniformTimeCourse()
        _check(sim.setId(sid), "setting a simulation id")
        sim.setName(f"{duration:g} min")
        sim.setInitialTime(0.0)
        sim.setOutputStartTime(0.0)
        sim.setOutputEndTime(duration)
        sim.setNumberOfSteps(INTERVALS_PER_PHASE)
        _add_algorithm(sim)
        return sid

    def task(self, name: str, run: PhaseRun, readouts: Sequence[str]) -> None:
        """Write a phase's task, its time and readout data generators and its report."""
        task = self.doc.createTask()
        _check(task.setId(run.task), f"setting task id {run.task}")
        task.setName(plain(f"{name} phase {run.index}"))
        task.setModelReference(self.model(name, run))
        task.setSimulationReference(self.simulation(run.duration))
        report = self.doc.createReport()
        _check(report.setId(f"report_{run.task}"), "setting a report id")
        report.setName(plain(f"{name} phase {run.index}"))
        for label in ("time", *readouts):
            generator = self.time_generator(run) if label == "time" else self.readout_generator(run, label)
            dataset = report.createDataSet()
            _check(dataset.setId(f"d{self.doc.getNumDataGenerators()}"), "setting a data set id")
            dataset.setLabel(label)
            dataset.setDataReference(generator)

    def _generator(self, run: PhaseRun, label: str) -> tuple[Any, str]:
        """Create the data generator of `label` in a phase (short ids: g1, its variable g1v)."""
        gid = self.generators[(run.task, label)] = f"g{self.doc.getNumDataGenerators() + 1}"
        dg = self.doc.createDataGenerator()
        _check(dg.setId(gid), "setting a data generator id")
        variable = dg.createVariable()
        _check(variable.setId(f"{gid}v"), "setting a variable id")
        variable.setTaskReference(run.task)
        return dg, gid

    def time_generator(self, run: PhaseRun) -> str:
        """Write the data generator of a phase's protocol time (its task's time plus the phase start)."""
        dg, gid = self._generator(run, "time")
        dg.getVariable(0).setSymbol(TIME_SYMBOL)
        if run.start:
            offset = dg.createParameter()
            offset.setId(f"{gid}t0")
            offset.setValue(run.start)
            dg.setMath(_math(f"{gid}v + {gid}t0"))
        else:
            dg.setMath(_math(f"{gid}v"))
        return gid

    def readout_generator(self, run: PhaseRun, label: str) -> str:
        """Write the data generator of one readout in one phase."""
        if label not in self.kinds:
            raise BcsignalError(f"readout {label} is not in the model", file=self.claims.path)
        dg, gid = self._generator(run, label)
        dg.getVariable(0).setTarget(_xpath(self.kinds[label], label))
        dg.setMath(_math(f"{gid}v"))
        return gid

    def plots(self, layout: Mapping[str, Plan]) -> None:
        """Write one plot per claim: its readouts in every phase of its experiments."""
        curves = 0
        for claim in self.claims.claims:
            names = list(dict.fromkeys(claim.experiments()))
            plot = self.doc.createPlot2D()
            _check(plot.setId(f"plot_{to_sid(claim.id)}"), "setting a plot id")
            plot.setName(plain(f"{claim.id}: {claim.statement}"))
            for readout, name, run in (
                (r, n, p) for r in claim.readouts for n in names for p in layout[n].phases
            ):
                curve = plot.createCurve()  # L1V3: no curve type or order (L1V4 attributes)
                curves += 1
                _check(curve.setId(f"c{curves}"), "setting a curve id")
                curve.setName(plain(f"{readout} {name}" + (f" {run.index}" if run.index > 1 else "")))
                curve.setXDataReference(self.generators[(run.task, "time")])
                curve.setYDataReference(self.generators[(run.task, readout)])


def _compact(text: str) -> str:
    """Return libsedml's XML without the whitespace between its elements (the document's size halves)."""
    return re.sub(r">\s+<", "><", text)


def sedml_document(
    model_id: str, sbml: str, sources: Mapping[State, str], claims: ClaimsFile, layout: Mapping[str, Plan]
) -> str:
    """Return the SED-ML L1V3 text that encodes every claimed experiment, its plots and reports.

    `sources` names the archive member that holds each phase start (`state_locations`). A task
    that phases of several experiments share reports the readouts of all of them.
    """
    writer = _Writer(sbml, sources, claims)
    intro = (
        f"{model_id}: every experiment of the claims in models/{model_id}.claims.yaml, encoded by bcsignal."
    )
    writer.doc.setNotes(_notes([intro, _DOCUMENT_NOTES]))
    tasks: dict[str, tuple[str, PhaseRun, list[str]]] = {}
    for name, plan in layout.items():
        for run in plan.phases:
            readouts = tasks.setdefault(run.task, (name, run, []))[2]
            readouts.extend(r for r in plan.readouts if r not in readouts)
    for name, run, readouts in tasks.values():
        writer.task(name, run, readouts)
    writer.plots(layout)
    text = _compact(libsedml.writeSedMLToString(writer.doc))
    problems = sedml_errors(text)
    if problems:
        raise BcsignalError("the SED-ML written is invalid: " + "; ".join(problems), tool="libsedml")
    return text


def sedml_errors(text: str) -> list[str]:
    """Return libsedml's errors (severity error or fatal) from reading a SED-ML text back."""
    doc = libsedml.readSedMLFromString(text)
    log = doc.getErrorLog()
    return [
        " ".join(log.getError(i).getMessage().split())
        for i in range(log.getNumErrors())
        if log.getError(i).getSeverity() >= libsedml.LIBSEDML_SEV_ERROR
    ]
