"""SED-ML L1V3 and COMBINE/OMEX archives encoding every claim's experiment, and running them elsewhere.

Every phase of every claimed experiment is its own SED-ML model and task, so that a
SED-ML tool needs no repeated tasks, no chained simulations and no steady-state
solver to run it right:

* a phase's model is the SBML with model changes (``changeAttribute``): every knob
  in effect during the phase whose value differs from the SBML's, and every state
  variable's initial value (species concentrations, rate-rule parameters) at the
  phase's start, where it differs from the SBML's. bcsignal computes those states
  itself: the pre-equilibrated steady state for the first phase, the end of the
  phase before for the next ones;
* a phase's task is one uniform time course from 0 to the phase's duration, with
  CVODE and bcsignal's tolerances.

Data generators give each readout and the protocol time (time 0 = start of the
first phase, so a phase's times start at its own start); each claim has a plot of
its readouts in its experiments, and every task a report. Models and simulations
that phases share are written once. Titles and ids are plain ASCII without quotes,
so that generators pasting them into code (tellurium) cannot break.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import subprocess
import tempfile
import unicodedata
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import libsbml
import numpy as np

from bcsignal import paths
from bcsignal.annotate import DOI_URI, PUBMED_URI, Author, citation_text, creators_of, read_authors
from bcsignal.claims import (
    ClaimsFile,
    Experiment,
    claimed_experiments,
    load_claims,
    papers_of,
    simulate_experiments,
    title_of,
)
from bcsignal.copasi import sedml_time_course
from bcsignal.errors import BcsignalError, excerpt
from bcsignal.extras import ensure, require
from bcsignal.files import atomic_write_bytes
from bcsignal.isolate import run_isolated, stage
from bcsignal.limits import (
    MAX_ARCHIVE_BYTES,
    MAX_ARCHIVE_MEMBERS,
    MAX_COMPRESSION_RATIO,
    RATIO_FLOOR,
    max_bytes,
)
from bcsignal.screen import decode, screen_text
from bcsignal.simulate import (
    ABSOLUTE_TOLERANCE,
    MAXIMUM_NUM_STEPS,
    POINTS_PER_PHASE,
    RELATIVE_TOLERANCE,
    Simulator,
    Trajectory,
    new_simulator,
)

libsedml = require("libsedml", "SED-ML and OMEX exchange")
libcombine = require("libcombine", "SED-ML and OMEX exchange")

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
#: COMBINE format identifiers.
FORMAT_OMEX = "http://identifiers.org/combine.specifications/omex"
FORMAT_MANIFEST = "http://identifiers.org/combine.specifications/omex-manifest"
FORMAT_METADATA = "http://identifiers.org/combine.specifications/omex-metadata"
FORMAT_SBML = "http://identifiers.org/combine.specifications/sbml.level-3.version-2"
FORMAT_SEDML = "http://identifiers.org/combine.specifications/sed-ml.level-1.version-3"
#: Licence of the models and archives (the project's licence).
LICENCE_URI = "https://spdx.org/licenses/MIT"
#: Fixed timestamp of every archive member, so rebuilt archives are byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Output intervals per phase (the Simulator's dense grid has POINTS_PER_PHASE points per phase).
INTERVALS_PER_PHASE = POINTS_PER_PHASE - 1
#: Significant digits of the initial values and knob values written as model changes.
DIGITS = 12
#: Most bytes one model's SED-ML may have: a guard against runaway output (issue 20 asks for 50 kB, not
#: yet met: every phase writes every state; the composite's is about 350 kB).
MAX_SEDML_BYTES = 500_000
#: Longest plain title written (longer ones are cut at a word).
MAX_TITLE = 100
#: Suffix of an archive.
OMEX_SUFFIX = ".omex"

_SID = re.compile(r"[^A-Za-z0-9_]")
_XPATH_ID = re.compile(r"@id='([^']+)'")
_UNSAFE = re.compile(r"[^A-Za-z0-9_ ,.;:()\[\]+\-*/=%]")


def _sid(text: str) -> str:
    """Turn a name into an SId (letters, digits, underscores; not starting with a digit)."""
    sid = _SID.sub("_", text)
    return sid if sid and not sid[0].isdigit() else f"_{sid}"


def plain(text: str, limit: int = MAX_TITLE) -> str:
    """Return a title as plain ASCII without quotes, backslashes or markup, at most `limit` characters.

    Code generators paste SED-ML names into source code (tellurium writes them into Python
    string literals), so a name never carries a character that could end or escape a literal.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(_UNSAFE.sub(" ", ascii_text.replace("'", "")).split())
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - 3].rsplit(" ", 1)[0]
    return f"{cut}..."


def phase_task_id(experiment: str, phase: int) -> str:
    """Return the id of the task that runs phase `phase` (1-based) of an experiment."""
    return f"{_sid(experiment)}__p{phase}"


# ---------------------------------------------------------------------------
# Each experiment as phases that start from known states
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PhaseRun:
    """One phase of an experiment as a SED-ML model and task: its knobs and the state it starts from."""

    task: str
    index: int
    start: float
    duration: float
    #: the value in effect of every knob any experiment sets, sorted by id
    knobs: tuple[tuple[str, float], ...]
    #: the value of every state variable at the phase's start, sorted by id
    state: tuple[tuple[str, float], ...]

    def local_times(self) -> np.ndarray:
        """Return the output times of the phase's time course (0 to its duration)."""
        return np.linspace(0.0, self.duration, INTERVALS_PER_PHASE + 1)

    def times(self) -> np.ndarray:
        """Return the protocol times of the phase's output rows."""
        return self.start + self.local_times()


@dataclass(frozen=True)
class Plan:
    """An experiment laid out as phases, each run from the state bcsignal computed for its start."""

    experiment: Experiment
    readouts: tuple[str, ...]
    phases: tuple[PhaseRun, ...]

    def times(self) -> np.ndarray:
        """Return the protocol time of every output row of every phase (boundaries appear twice)."""
        return np.concatenate([p.times() for p in self.phases])


def _rounded(value: float) -> float:
    return float(format(value, f".{DIGITS}g"))


def sbml_values(sbml: str) -> dict[str, float]:
    """Return the SBML's value of every species (initial concentration) and global parameter."""
    doc = libsbml.readSBMLFromString(sbml)
    model = doc.getModel()
    if model is None:
        raise BcsignalError("the SBML has no model", tool="libsbml")
    if model.getNumInitialAssignments():
        # an initial assignment overrides a changed initial value in every SED-ML tool
        raise BcsignalError("initial assignments cannot be encoded as SED-ML initial values", tool="libsbml")
    values: dict[str, float] = {}
    for s in model.getListOfSpecies():
        if not s.isSetInitialConcentration():
            raise BcsignalError(f"species {s.getId()} has no initial concentration", tool="libsbml")
        values[s.getId()] = float(s.getInitialConcentration())
    values.update({p.getId(): float(p.getValue()) for p in model.getListOfParameters()})
    return values


def _exact(values: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    out = []
    for sid, value in sorted(values.items()):
        if not math.isfinite(value):
            raise BcsignalError(f"{sid} is not finite at a phase start", where=sid)
        out.append((sid, _rounded(value)))
    return tuple(out)


def plan_experiments(claims: ClaimsFile, sim: Simulator, sbml: str) -> dict[str, Plan]:
    """Lay out every claimed experiment as phases, with the start state of each computed by `sim`.

    The first phase starts from the pre-equilibrated steady state of the experiment's cell line; each
    later one from the end of the phases before it, simulated by bcsignal exactly as a claim is.
    """
    base = sbml_values(sbml)
    out = {}
    # every knob an experiment sets, at its value in effect, in every phase's model
    changed = sorted(
        {k for e in claims.experiments.values() for p in e.protocol.phases for k in p.set}
        | {k for e in claims.experiments.values() for k in e.protocol.preequilibration}
    )
    for name, (readouts, _) in claimed_experiments(claims).items():
        experiment = claims.experiments[name]
        protocol = experiment.protocol
        knobs = {k: base[k] for k in changed} | {k: float(v) for k, v in protocol.preequilibration.items()}
        runs = []
        start = 0.0
        for index, phase in enumerate(protocol.phases, start=1):
            if phase.duration <= 0:
                raise BcsignalError("every phase needs a positive duration", where=f"experiment {name}")
            if index == 1:
                sim.preequilibrate(knobs)
            else:
                sim.run(replace(protocol, phases=protocol.phases[: index - 1]), [], dense=True)
            state, _, ids = sim.derivatives()
            knobs.update({k: float(v) for k, v in phase.set.items()})
            runs.append(
                PhaseRun(
                    task=phase_task_id(name, index),
                    index=index,
                    start=start,
                    duration=float(phase.duration),
                    knobs=_exact(knobs),
                    state=_exact(dict(zip(ids, (float(x) for x in state), strict=True))),
                )
            )
            start += float(phase.duration)
        out[name] = Plan(experiment=experiment, readouts=tuple(readouts), phases=tuple(runs))
    return out


# ---------------------------------------------------------------------------
# SED-ML
# ---------------------------------------------------------------------------
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


def _value_text(value: float) -> str:
    return format(value, f".{DIGITS}g")


def _describe(knobs: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in knobs) or "every knob at its default"


def sedml_document(
    model_id: str, sbml: str, sbml_location: str, claims: ClaimsFile, layout: Mapping[str, Plan]
) -> str:
    """Return the SED-ML L1V3 text that encodes every claimed experiment, its plots and reports."""
    kinds = _symbol_kinds(sbml)
    doc = libsedml.SedDocument(SEDML_LEVEL, SEDML_VERSION)
    _check(doc.getNamespaces().add(SBML_NS, "sbml"), "declaring the SBML namespace")
    doc.setNotes(
        _notes(
            [
                f"{model_id}: every experiment of the claims in models/{model_id}.claims.yaml, "
                "encoded by bcsignal.",
                "Each phase of an experiment is one model and one time course: the model changes set the "
                "knobs in effect and every state variable to its value at the phase start, as computed by "
                "bcsignal (the pre-equilibrated steady state, or the end of the phase before). Data "
                "generators named time give the protocol time (0 = start of the first phase). Minutes, nM.",
            ]
        )
    )
    models: dict[tuple[Any, ...], str] = {}
    simulations: dict[float, str] = {}

    def add_model(mid: str, title: str, source: str, changes: Sequence[tuple[str, float]]) -> str:
        model = doc.createModel()
        _check(model.setId(mid), f"setting model id {mid}")
        model.setName(plain(title))
        _check(model.setLanguage("urn:sedml:language:sbml.level-3.version-2"), "setting the model language")
        _check(model.setSource(source), "setting the model source")
        for sid, value in changes:
            if sid not in kinds:
                raise BcsignalError(f"{sid} is not in the model", file=claims.path)
            attribute = "initialConcentration" if kinds[sid] == "species" else "value"
            change = model.createChangeAttribute()
            _check(change.setTarget(f"{_xpath(kinds[sid], sid)}/@{attribute}"), f"targeting {sid}")
            _check(change.setNewValue(_value_text(value)), f"setting {sid}")
        return mid

    for name, plan in layout.items():
        for run in plan.phases:
            model_key = (run.knobs, run.state)
            if model_key not in models:
                models[model_key] = add_model(
                    f"model{doc.getNumModels() + 1}",
                    f"{_describe(run.knobs)}; the state at the start of {name} phase {run.index}",
                    sbml_location,
                    (*run.knobs, *run.state),
                )
            if run.duration not in simulations:
                sid_ = simulations[run.duration] = f"sim{len(simulations) + 1}"
                sim = doc.createUniformTimeCourse()
                _check(sim.setId(sid_), "setting a simulation id")
                sim.setName(f"{run.duration:g} min")
                sim.setInitialTime(0.0)
                sim.setOutputStartTime(0.0)
                sim.setOutputEndTime(run.duration)
                sim.setNumberOfSteps(INTERVALS_PER_PHASE)
                _add_algorithm(sim)
            task = doc.createTask()
            _check(task.setId(run.task), f"setting task id {run.task}")
            task.setName(plain(f"{name} phase {run.index}"))
            task.setModelReference(models[model_key])
            task.setSimulationReference(simulations[run.duration])

            time_dg = doc.createDataGenerator()
            _check(time_dg.setId(f"{run.task}_time"), "setting a data generator id")
            time_dg.setName("time")
            variable = time_dg.createVariable()
            variable.setId(f"{run.task}_t")
            variable.setSymbol(TIME_SYMBOL)
            variable.setTaskReference(run.task)
            if run.start:
                offset = time_dg.createParameter()
                offset.setId(f"{run.task}_t0")
                offset.setValue(run.start)
                time_dg.setMath(_math(f"{run.task}_t + {run.task}_t0"))
            else:
                time_dg.setMath(_math(f"{run.task}_t"))
            report = doc.createReport()
            _check(report.setId(f"report_{run.task}"), "setting a report id")
            report.setName(plain(f"{name} phase {run.index}"))
            for label in ("time", *plan.readouts):
                if label != "time":
                    if label not in kinds:
                        raise BcsignalError(f"readout {label} is not in the model", file=claims.path)
                    dg = doc.createDataGenerator()
                    _check(dg.setId(f"{run.task}_{_sid(label)}"), "setting a data generator id")
                    dg.setName(label)
                    variable = dg.createVariable()
                    variable.setId(f"{run.task}_{_sid(label)}_v")
                    variable.setTarget(_xpath(kinds[label], label))
                    variable.setTaskReference(run.task)
                    dg.setMath(_math(f"{run.task}_{_sid(label)}_v"))
                dataset = report.createDataSet()
                _check(dataset.setId(f"report_{run.task}_{_sid(label)}"), "setting a data set id")
                dataset.setLabel(label)
                dataset.setDataReference(f"{run.task}_{_sid(label)}")

    for claim in claims.claims:
        names = list(dict.fromkeys(claim.experiments()))
        plot = doc.createPlot2D()
        _check(plot.setId(f"plot_{_sid(claim.id)}"), "setting a plot id")
        plot.setName(plain(f"{claim.id}: {claim.statement}"))
        order = 0
        for readout in claim.readouts:
            for name in names:
                for run in layout[name].phases:
                    curve = plot.createCurve()
                    order += 1
                    _check(curve.setId(f"plot_{_sid(claim.id)}_{order}"), "setting a curve id")
                    curve.setName(plain(f"{readout} {name}" + (f" {run.index}" if run.index > 1 else "")))
                    curve.setOrder(order)
                    curve.setType("points")
                    curve.setXDataReference(f"{run.task}_time")
                    curve.setYDataReference(f"{run.task}_{_sid(readout)}")

    text: str = libsedml.writeSedMLToString(doc)
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


# ---------------------------------------------------------------------------
# OMEX
# ---------------------------------------------------------------------------
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_DC = "http://purl.org/dc/elements/1.1/"
_DCTERMS = "http://purl.org/dc/terms/"
_BQMODEL = "http://biomodels.net/model-qualifiers/"
_VCARD = "http://www.w3.org/2006/vcard/ns#"
_PREFIXES = {"rdf": _RDF, "rdfs": _RDFS, "dc": _DC, "dcterms": _DCTERMS, "bqmodel": _BQMODEL, "vCard": _VCARD}


def manifest_xml(members: Sequence[tuple[str, str]], master: str) -> str:
    """Return the OMEX manifest (written by libcombine) for (location, format) members."""
    manifest = libcombine.CaOmexManifest()
    root = manifest.createContent()
    root.setLocation(".")
    root.setFormat(FORMAT_OMEX)
    for location, fmt in members:
        content = manifest.createContent()
        content.setLocation(f"./{location}")
        content.setFormat(fmt)
        if location == master:
            content.setMaster(True)
    text: str = libcombine.writeOMEXToString(manifest)
    return text


def model_description(claims: ClaimsFile) -> str:
    """Return a model's description from its claims file: its own, or the claims it encodes."""
    own = claims.curation.get("description")
    if own:
        return plain(str(own), limit=10_000)
    statements = "; ".join(plain(c.statement, limit=10_000) for c in claims.claims)
    return plain(
        f"The mechanism of {title_of(claims)}, encoded by bcsignal with {len(claims.claims)} claims checked "
        f"by machine and every experiment they use as SED-ML: {statements}",
        limit=10_000,
    )


def dates(sbml: str, claims: ClaimsFile) -> tuple[str, str]:
    """Return the created and modified dates: the build's, from the SBML's model history.

    An SBML without a history (a model built outside `bcsignal build`) has the claims file's
    `curation: created` as both.
    """
    model = libsbml.readSBMLFromString(sbml).getModel()
    history = model.getModelHistory() if model is not None and model.isSetModelHistory() else None
    created = str(claims.curation["created"])
    if history is None or not history.isSetCreatedDate():
        return created, created
    created = str(history.getCreatedDate().getDateAsString())
    modified = [history.getModifiedDate(i).getDateAsString() for i in range(history.getNumModifiedDates())]
    return created, str(max(modified, default=created))


def metadata_rdf(model_id: str, claims: ClaimsFile, sbml: str, authors: Sequence[Author]) -> str:
    """Return OMEX metadata of the archive: libcombine's description, creators and dates, and more.

    libcombine writes the description (from the claims file), the creators (the authors file,
    CITATION.cff), the created and modified dates (the build's, from the SBML's history). The
    title, licence, citations and references to the papers are added to its RDF, each resource
    with an ``rdfs:label``.
    """
    import xml.etree.ElementTree as ET

    description = libcombine.OmexDescription()
    description.setAbout(".")
    description.setDescription(model_description(claims))
    for author in creators_of(claims.curation, list(authors)):
        card = libcombine.VCard()
        if author.name:
            card.setFamilyName(plain(author.name, limit=1000))
        else:
            card.setGivenName(plain(author.given_name, limit=1000))
            card.setFamilyName(plain(author.family_name, limit=1000))
        if author.organisation:
            card.setOrganization(plain(author.organisation, limit=1000))
        if author.email:
            card.setEmail(f"mailto:{author.email}")
        description.addCreator(card)
    created, modified = dates(sbml, claims)
    description.setCreated(libcombine.Date(created))
    description.addModification(libcombine.Date(modified))
    for prefix, uri in _PREFIXES.items():
        ET.register_namespace(prefix, uri)
    root = ET.fromstring(description.toXML())
    about = root.find(f"{{{_RDF}}}Description")
    if about is None:
        raise BcsignalError("libcombine wrote no rdf:Description", tool="libcombine")

    labels: dict[str, str] = {}

    def refer(tag: str, uri: str, label: str) -> None:
        ET.SubElement(about, tag, {f"{{{_RDF}}}resource": uri})
        labels.setdefault(uri, label)

    title = ET.Element(f"{{{_DC}}}title")
    title.text = plain(f"{model_id}: {title_of(claims)}", limit=1000)
    about.insert(0, title)
    for author in authors:
        if author.orcid:
            refer(f"{{{_DCTERMS}}}creator", author.orcid, plain(author.full_name, limit=1000))
    refer(f"{{{_DCTERMS}}}license", LICENCE_URI, "MIT License")
    for paper in papers_of(claims):
        citation = ET.SubElement(about, f"{{{_DCTERMS}}}bibliographicCitation")
        text = plain(citation_text(paper), limit=10_000)
        citation.text = text
        refer(f"{{{_BQMODEL}}}isDescribedBy", PUBMED_URI.format(paper["pubmed"]), f"PubMed {paper['pubmed']}")
        refer(f"{{{_BQMODEL}}}isDescribedBy", DOI_URI.format(paper["doi"]), f"doi:{paper['doi']}")
    for uri, label in labels.items():
        node = ET.SubElement(root, f"{{{_RDF}}}Description", {f"{{{_RDF}}}about": uri})
        ET.SubElement(node, f"{{{_RDFS}}}label").text = label
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def zip_members(members: Sequence[tuple[str, bytes]]) -> bytes:
    """Zip members in the given order with fixed timestamps and permissions (byte-identical rebuilds)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True)
class Archive:
    """One model's COMBINE archive and how its experiments are laid out."""

    model_id: str
    data: bytes
    layout: Mapping[str, Plan]


def build_archive(
    model_id: str,
    sbml: str,
    claims: ClaimsFile,
    sim: Simulator | None = None,
    *,
    authors: Sequence[Author] = (),
    extra: Sequence[tuple[str, bytes]] = (),
) -> Archive:
    """Build the archive of a model: flat SBML, SED-ML, manifest, metadata, and `extra` SBML members.

    `extra` holds further SBML files (location, content), such as a composite's comp file; the
    SED-ML runs the flat file.
    """
    sim = sim or new_simulator(sbml, name=model_id)
    layout = plan_experiments(claims, sim, sbml)
    sbml_location = f"{model_id}.xml"
    sedml_location = f"{model_id}.sedml"
    sedml = sedml_document(model_id, sbml, sbml_location, claims, layout)
    if len(sedml.encode("utf-8")) > MAX_SEDML_BYTES:
        raise BcsignalError(
            f"the SED-ML has {len(sedml.encode('utf-8'))} bytes, over the limit of {MAX_SEDML_BYTES}",
            file=claims.path,
        )
    sbml_members = sorted([(sbml_location, sbml.encode("utf-8")), *extra])
    content = [
        *((location, FORMAT_SBML) for location, _ in sbml_members),
        (sedml_location, FORMAT_SEDML),
        ("metadata.rdf", FORMAT_METADATA),
    ]
    manifest = manifest_xml(content, master=sedml_location)
    members = [
        ("manifest.xml", manifest.encode("utf-8")),
        ("metadata.rdf", metadata_rdf(model_id, claims, sbml, authors).encode("utf-8")),
        *sbml_members,
        (sedml_location, sedml.encode("utf-8")),
    ]
    return Archive(model_id=model_id, data=zip_members(members), layout=layout)


def model_archive(model_id: str) -> Archive:
    """Build the archive of a shipped model from sbml/, its claims file and CITATION.cff.

    A composite's archive also carries its comp file (sbml/<id>_comp.xml) next to the flat one.
    """
    path = paths.sbml_path(model_id)
    sbml = path.read_text(encoding="utf-8")
    claims = load_claims(paths.claims_path(model_id))
    comp = path.with_name(f"{model_id}_comp.xml")
    extra = [(comp.name, comp.read_bytes())] if comp.is_file() else []
    return build_archive(
        model_id,
        sbml,
        claims,
        new_simulator(sbml, name=model_id, origin=path),
        authors=read_authors(paths.authors_path()),
        extra=extra,
    )


def omex_dir() -> Path:
    """Return the folder archives are written to."""
    return paths.build_dir() / "omex"


def export(model_ids: Sequence[str], folder: Path | None = None) -> list[Path]:
    """Write build/omex/<model>.omex for each model; return the paths."""
    folder = folder or omex_dir()
    written = []
    for mid in model_ids:
        target = folder / f"{mid}{OMEX_SUFFIX}"
        atomic_write_bytes(target, model_archive(mid).data)
        written.append(target)
    return written


def checked_members(zf: zipfile.ZipFile, origin: str | Path) -> list[zipfile.ZipInfo]:
    """Return an archive's members after checking them before anything is inflated or extracted.

    Refused: more than MAX_ARCHIVE_MEMBERS members, a member that would inflate beyond the model size
    limit (BCSIGNAL_MAX_BYTES), members that would inflate beyond MAX_ARCHIVE_BYTES together, and a
    member over 64 KiB compressed more than MAX_COMPRESSION_RATIO to 1 (a zip bomb). The sizes are
    the ones the archive declares; Python's zipfile never inflates a member beyond its declared size.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise BcsignalError(
            f"the archive has {len(infos)} members, over the limit of {MAX_ARCHIVE_MEMBERS}",
            file=origin,
            tool="screen",
        )
    per_member = max_bytes()
    total = 0
    for info in infos:
        name = excerpt(info.filename)
        if info.file_size > per_member:
            raise BcsignalError(
                f"member {name} would inflate to {info.file_size} bytes, over the limit of {per_member} "
                "(set BCSIGNAL_MAX_BYTES to change it)",
                file=origin,
                tool="screen",
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_COMPRESSION_RATIO:
            raise BcsignalError(
                f"member {name} is compressed {ratio:.0f} to 1, over the limit of {MAX_COMPRESSION_RATIO} "
                "to 1 (a zip bomb?)",
                file=origin,
                tool="screen",
            )
        total += info.file_size
    if total > MAX_ARCHIVE_BYTES:
        raise BcsignalError(
            f"the archive's members would inflate to {total} bytes, over the limit of {MAX_ARCHIVE_BYTES}",
            file=origin,
            tool="screen",
        )
    return infos


def read_member(archive: Path | bytes, suffix: str) -> tuple[str, bytes]:
    """Return the name and content of the one archive member whose name ends with `suffix`.

    The archive's members are checked (`checked_members`) before any is inflated.
    """
    origin = "<archive>" if isinstance(archive, bytes) else archive
    try:
        with zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else archive) as zf:
            checked_members(zf, origin)
            names = [n for n in zf.namelist() if n.endswith(suffix)]
            if len(names) != 1:
                raise BcsignalError(f"expected one *{suffix} member, found {len(names)}", file=origin)
            return names[0], zf.read(names[0])
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
        raise BcsignalError(f"cannot read the archive: {exc}", file=origin) from exc


def _sedml_text(archive: Path) -> str:
    """Return an archive's SED-ML, checked: members within the limits, UTF-8, screened XML."""
    _, data = read_member(archive, ".sedml")
    text = decode(data, archive)
    screen_text(text, archive)
    return text


def _check_sources(doc: Any, archive: Path, members: Sequence[str]) -> None:
    """Refuse a SED-ML model whose source is neither a member of the archive nor an earlier model (#id)."""
    names = {str(PurePosixPath(m)) for m in members}
    earlier: set[str] = set()
    for model in doc.getListOfModels():
        source = model.getSource()
        earlier.add(model.getId())
        if source.startswith("#") and source[1:] in earlier - {model.getId()}:
            continue  # another model of the document, defined before this one (no cycle)
        relative = source[2:] if source.startswith("./") else source
        if (
            re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", source)
            or PurePosixPath(source).is_absolute()
            or ".." in PurePosixPath(relative).parts
            or str(PurePosixPath(relative)) not in names
        ):
            raise BcsignalError(
                f"model {excerpt(model.getId())}: source {excerpt(source)} is not a member of the archive",
                file=archive,
                tool="screen",
            )


# ---------------------------------------------------------------------------
# Running an archive
# ---------------------------------------------------------------------------
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
    sedml = _sedml_text(archive)
    doc = libsedml.readSedMLFromString(sedml)
    with zipfile.ZipFile(archive) as zf:
        _check_sources(doc, archive, zf.namelist())
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


def run_with_tellurium(
    archive: Path, outputs: Path | None = None, *, timeout: float | None = None
) -> ArchiveResults:
    """Execute an archive with tellurium.executeCombineArchive, plots and reports included.

    Returns every data generator's values by task. The plots and reports tellurium writes go to
    `outputs` (a temporary folder when not given). The archive is checked first (member limits,
    SED-ML screened, every model source a member), and tellurium runs in an isolated child process
    with bcsignal's memory limit and time limit (or `timeout` seconds).
    """
    ensure("tellurium", "running an archive in tellurium")
    doc = _checked_doc(archive)
    with tempfile.TemporaryDirectory(prefix="bcsignal-outputs-") as tmp:
        folder = outputs or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = run_isolated(
            partial(_tellurium_data, str(archive), str(folder)), origin=archive, timeout=timeout
        )
    return _by_task(doc, data, "tellurium", archive)


def run_with_biosimulators(archive: Path, executable: Path, outputs: Path | None = None) -> ArchiveResults:
    """Execute an archive with a BioSimulators command-line simulator (biosimulators-copasi, ...).

    The simulator writes its reports as CSV into `outputs` (plots are executed, not rendered); the
    values of every report are returned by task. Fails when the simulator exits with an error, or
    its log records a task or output that did not succeed.
    """
    doc = _checked_doc(archive)
    tool = executable.name
    if not executable.is_file():
        raise BcsignalError(
            f"{executable} is missing (`make simulators` installs the BioSimulators simulators)", tool=tool
        )
    with tempfile.TemporaryDirectory(prefix="bcsignal-biosimulators-") as tmp:
        folder = outputs or Path(tmp) / "outputs"
        # plots are executed but not rendered: rendering 50 PDFs took minutes and once ended the run with
        # exit status 1 (Morandi_BCR2014), and the values are in the reports
        env = {**os.environ, "REPORT_FORMATS": "csv", "PLOT_FORMATS": "", "MPLBACKEND": "Agg"}
        env.pop("PYTHONPATH", None)
        try:
            done = subprocess.run(
                [str(executable), "-i", str(archive), "-o", str(folder)],
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


# ---------------------------------------------------------------------------
# Comparing an archive's results with bcsignal's own simulation
# ---------------------------------------------------------------------------
@dataclass
class Disagreement:
    """The worst relative difference of one readout of one experiment, and where it is."""

    experiment: str
    readout: str
    time: float
    archive: float
    bcsignal: float

    @property
    def relative(self) -> float:
        """Return |archive - bcsignal| / |bcsignal| (absolute when bcsignal's value is 0)."""
        return abs(self.archive - self.bcsignal) / (abs(self.bcsignal) or 1.0)


def reference_trajectories(
    claims: ClaimsFile, sim: Simulator, layout: Mapping[str, Plan]
) -> dict[str, Trajectory]:
    """Simulate every claimed experiment with bcsignal at its claims' times and the archive's output times."""
    extra = {name: [float(t) for t in plan.times() if t > 0] for name, plan in layout.items()}
    return simulate_experiments(claims, sim, extra)


def compare(
    results: ArchiveResults,
    reference: Mapping[str, Trajectory],
    layout: Mapping[str, Plan],
    *,
    rtol: float = 1e-4,
    atol: float = 1e-9,
) -> list[Disagreement]:
    """Compare an archive's output with bcsignal's trajectories at every output time of every phase.

    Every phase task must report the protocol time and every readout of its experiment at the
    phase's output times. Returns the worst disagreement per experiment and readout that exceeds
    |a - b| <= atol + rtol*|b|; an empty list means agreement.
    """
    bad: list[Disagreement] = []
    for name, plan in layout.items():
        traj = reference[name]
        worst: dict[str, Disagreement] = {}
        for run in plan.phases:
            if run.task not in results:
                raise BcsignalError(f"the archive's results have no task {run.task}")
            got = results[run.task]
            expected = run.times()
            times = got.get("time")
            if times is None or times.shape != expected.shape or not np.allclose(times, expected, 1e-9, 1e-9):
                raise BcsignalError(
                    f"task {run.task} did not report the phase's {expected.size} output times"
                )
            index = np.array([int(np.argmin(np.abs(traj.times - t))) for t in expected])
            if not np.allclose(traj.times[index], expected, rtol=1e-9, atol=1e-9):
                raise BcsignalError(f"bcsignal has no output at some time of task {run.task}")
            for readout in plan.readouts:
                if readout not in got or got[readout].shape != expected.shape:
                    raise BcsignalError(f"task {run.task} did not report {readout} at every output time")
                b = traj.values[readout][index]
                a = got[readout]
                excess = np.abs(a - b) - (atol + rtol * np.abs(b))
                if np.all(excess <= 0):
                    continue
                i = int(np.argmax(np.where(excess > 0, np.abs(a - b) / np.maximum(np.abs(b), 1e-300), -1)))
                miss = Disagreement(name, readout, float(expected[i]), float(a[i]), float(b[i]))
                if readout not in worst or miss.relative > worst[readout].relative:
                    worst[readout] = miss
        bad.extend(worst.values())
    return bad
