"""SED-ML L1V4 and COMBINE/OMEX archives encoding every claim's experiment, and running them elsewhere.

Each experiment of a claims file becomes one SED-ML repeated task over equal
time blocks (``resetModel="false"``, so every block continues from the end
state of the one before):

* the cell line's pre-equilibration knobs are model changes of a derived SED-ML
  model;
* pre-equilibration is the first blocks of the repeated task: a long time
  course, exactly as long as the integration bcsignal's Simulator needs to
  reach its steady state, whose end state feeds the protocol;
* each phase is a run of blocks; knobs that phases change are set at the start
  of every block from vector ranges (``setValue``), so a phase's changes take
  effect exactly at its start.

The block length divides every phase duration and the pre-equilibration
time, so the one time course every block runs fits all of them. Data generators give each readout and the
protocol time (time 0 = start of the first phase); each claim has a plot of
its readouts in its experiments, and a report per experiment.
"""

from __future__ import annotations

import io
import math
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial, reduce
from html import escape
from pathlib import Path, PurePosixPath
from typing import Any

import libsbml
import numpy as np

from bcsignal import paths
from bcsignal.annotate import DOI_URI, PUBMED_URI, citation_text
from bcsignal.claims import (
    ClaimsFile,
    Experiment,
    claimed_experiments,
    load_claims,
    papers_of,
    simulate_experiments,
    title_of,
)
from bcsignal.copasi import CopasiModel
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
from bcsignal.screen import decode, read_screened, screen_text
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

#: SED-ML level and version written.
SEDML_LEVEL, SEDML_VERSION = 1, 4
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
FORMAT_SEDML = "http://identifiers.org/combine.specifications/sed-ml"
#: Licence of the models and archives (the project's licence).
LICENCE_URI = "https://spdx.org/licenses/MIT"
#: Fixed timestamp of every archive member, so rebuilt archives are byte-identical.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Output rows per phase (the Simulator's grid has the same number of points per phase).
INTERVALS_PER_PHASE = POINTS_PER_PHASE - 1
#: Most blocks one experiment may need (a guard against durations with a tiny common divisor).
MAXIMUM_BLOCKS = 20_000
#: Suffix of an archive.
OMEX_SUFFIX = ".omex"

_SID = re.compile(r"[^A-Za-z0-9_]")
_XPATH_ID = re.compile(r"@id='([^']+)'")


def _sid(text: str) -> str:
    """Turn a name into an SId (letters, digits, underscores; not starting with a digit)."""
    sid = _SID.sub("_", text)
    return sid if sid and not sid[0].isdigit() else f"_{sid}"


def experiment_task_id(experiment: str) -> str:
    """Return the id of the repeated task that encodes an experiment."""
    return f"exp_{_sid(experiment)}"


# ---------------------------------------------------------------------------
# Time layout of an experiment
# ---------------------------------------------------------------------------
def _fraction(x: float) -> Fraction:
    return Fraction(x).limit_denominator(10**6)


def _gcd(a: Fraction, b: Fraction) -> Fraction:
    return Fraction(
        math.gcd(a.numerator * b.denominator, b.numerator * a.denominator), a.denominator * b.denominator
    )


@dataclass(frozen=True)
class Schedule:
    """An experiment laid out as equal blocks: pre-equilibration blocks, then each phase's blocks."""

    experiment: Experiment
    block: float
    steps: int
    preequilibration_blocks: int
    phase_blocks: tuple[int, ...]
    #: value of every knob a phase changes, at each block (pre-equilibration blocks included)
    knob_values: Mapping[str, tuple[float, ...]]

    @property
    def blocks(self) -> int:
        """Return the number of blocks (iterations of the repeated task)."""
        return self.preequilibration_blocks + sum(self.phase_blocks)

    @property
    def preequilibration_time(self) -> float:
        """Return the length of the pre-equilibration time course (minutes)."""
        return self.block * self.preequilibration_blocks

    def times(self) -> np.ndarray:
        """Return the protocol time of every output row (a block's first row repeats the last one's end)."""
        local = np.linspace(0.0, self.block, self.steps + 1)
        rows = [k * self.block + local for k in range(self.blocks)]
        return np.concatenate(rows) - self.preequilibration_time


def make_schedule(
    experiment: Experiment, preequilibration_time: float, defaults: Mapping[str, float]
) -> Schedule:
    """Lay out an experiment whose pre-equilibration lasts `preequilibration_time` minutes.

    The block length is the greatest common divisor of the phase durations and
    the pre-equilibration time, so every phase and the pre-equilibration are
    whole numbers of blocks.
    """
    protocol = experiment.protocol
    durations = [_fraction(p.duration) for p in protocol.phases]
    if any(d <= 0 for d in durations):
        raise BcsignalError("every phase needs a positive duration", where=f"experiment {experiment.name}")
    pre = _fraction(preequilibration_time)
    block = reduce(_gcd, durations + ([pre] if pre > 0 else []))
    phase_blocks = tuple(int(d / block) for d in durations)
    pre_blocks = int(pre / block)
    if pre_blocks + sum(phase_blocks) > MAXIMUM_BLOCKS:
        raise BcsignalError(
            f"{pre_blocks + sum(phase_blocks)} blocks of {float(block):g} min: the phase durations and the "
            f"pre-equilibration time ({preequilibration_time:g} min) have too small a common divisor",
            where=f"experiment {experiment.name}",
        )
    steps = max(1, math.ceil(INTERVALS_PER_PHASE / max(phase_blocks)))
    changing = sorted({k for p in protocol.phases for k in p.set})
    current = {k: float(protocol.preequilibration.get(k, defaults[k])) for k in changing}
    values: dict[str, list[float]] = {k: [current[k]] * pre_blocks for k in changing}
    for phase, count in zip(protocol.phases, phase_blocks, strict=True):
        current.update({k: float(v) for k, v in phase.set.items()})
        for k in changing:
            values[k] += [current[k]] * count
    return Schedule(
        experiment=experiment,
        block=float(block),
        steps=steps,
        preequilibration_blocks=pre_blocks,
        phase_blocks=phase_blocks,
        knob_values={k: tuple(v) for k, v in values.items()},
    )


def schedules(claims: ClaimsFile, sim: Simulator) -> dict[str, Schedule]:
    """Lay out every claimed experiment, with the pre-equilibration time the Simulator needs."""
    out = {}
    for name in claimed_experiments(claims):
        experiment = claims.experiments[name]
        t_pre = sim.preequilibration_time(experiment.protocol.preequilibration)
        defaults = {k: sim.nominal(k) for k in claims.knobs}
        out[name] = make_schedule(experiment, t_pre, defaults)
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


def _notes(paragraphs: Iterable[str]) -> str:
    body = "".join(f"<p>{escape(p, quote=False)}</p>" for p in paragraphs)
    return f'<body xmlns="http://www.w3.org/1999/xhtml">{body}</body>'


def _value_token(value: float) -> str:
    return format(value, "g").replace("-", "m").replace(".", "p").replace("+", "")


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


def sedml_document(
    model_id: str, sbml: str, sbml_location: str, claims: ClaimsFile, layout: Mapping[str, Schedule]
) -> str:
    """Return the SED-ML L1V4 text that encodes every claimed experiment, its plots and reports."""
    kinds = _symbol_kinds(sbml)
    readouts = {name: r for name, (r, _) in claimed_experiments(claims).items()}
    doc = libsedml.SedDocument(SEDML_LEVEL, SEDML_VERSION)
    _check(doc.getNamespaces().add(SBML_NS, "sbml"), "declaring the SBML namespace")
    doc.setNotes(
        _notes(
            [
                f"{model_id}: every experiment of the claims in models/{model_id}.claims.yaml, "
                "encoded by bcsignal.",
                "Described by: " + "; ".join(citation_text(p) for p in papers_of(claims)),
                "Each experiment is one repeated task over equal time blocks that continue from each other "
                "(resetModel=false). The first blocks are the pre-equilibration: a long time course with the "
                "cell line's knobs (model changes) that brings the model to steady state; then come the "
                "phases, whose knob changes are set at the start of each block. Data generators named "
                "'time' give the protocol time: 0 is the start of the first phase, negative times are the "
                "pre-equilibration. Times in minutes, concentrations in nM.",
            ]
        )
    )
    model_ids: dict[tuple[tuple[str, float], ...], str] = {}
    for schedule in layout.values():
        pre = tuple(sorted((k, float(v)) for k, v in schedule.experiment.protocol.preequilibration.items()))
        if pre in model_ids:
            continue
        mid = "model" if not pre else "model_" + "_".join(f"{_sid(k)}_{_value_token(v)}" for k, v in pre)
        if mid in model_ids.values():
            raise BcsignalError(f"two cell lines would both be SED-ML model {mid}", file=claims.path)
        model_ids[pre] = mid
        model = doc.createModel()
        _check(model.setId(mid), f"setting model id {mid}")
        model.setName(
            "unperturbed cells" if not pre else "cells with " + ", ".join(f"{k} = {v:g}" for k, v in pre)
        )
        _check(model.setLanguage("urn:sedml:language:sbml.level-3.version-2"), "setting the model language")
        _check(model.setSource(sbml_location), "setting the model source")
        for knob, value in pre:
            change = model.createChangeAttribute()
            _check(change.setTarget(_xpath(kinds[knob], knob) + "/@value"), f"targeting {knob}")
            _check(change.setNewValue(repr(value)), f"setting {knob}")

    for name, schedule in layout.items():
        experiment = schedule.experiment
        pre = tuple(sorted((k, float(v)) for k, v in experiment.protocol.preequilibration.items()))
        mid = model_ids[pre]
        rid = experiment_task_id(name)
        sim = doc.createUniformTimeCourse()
        _check(sim.setId(f"{rid}_block"), "setting a simulation id")
        sim.setName(f"one block of {schedule.block:g} min")
        sim.setInitialTime(0.0)
        sim.setOutputStartTime(0.0)
        sim.setOutputEndTime(schedule.block)
        sim.setNumberOfSteps(schedule.steps)
        _add_algorithm(sim)
        task = doc.createTask()
        _check(task.setId(f"{rid}_step"), "setting a task id")
        task.setModelReference(mid)
        task.setSimulationReference(f"{rid}_block")
        repeated = doc.createRepeatedTask()
        _check(repeated.setId(rid), f"setting task id {rid}")
        repeated.setName(experiment.description or name)
        repeated.setResetModel(False)
        repeated.setConcatenate(True)
        repeated.setNotes(_notes(_protocol_notes(schedule)))
        master = repeated.createVectorRange()
        _check(master.setId(f"{rid}_block_index"), "setting a range id")
        master.setValues([float(k) for k in range(schedule.blocks)])
        repeated.setRangeId(f"{rid}_block_index")
        for knob, values in schedule.knob_values.items():
            rng = repeated.createVectorRange()
            range_id = f"{rid}_{_sid(knob)}"
            _check(rng.setId(range_id), "setting a range id")
            rng.setValues(list(values))
            change = repeated.createTaskChange()
            change.setModelReference(mid)
            _check(change.setTarget(_xpath(kinds[knob], knob)), f"targeting {knob}")
            change.setRange(range_id)
            change.setMath(_math(range_id))
        sub = repeated.createSubTask()
        sub.setTask(f"{rid}_step")
        sub.setOrder(1)

        time_dg = doc.createDataGenerator()
        _check(time_dg.setId(f"{rid}_time"), "setting a data generator id")
        time_dg.setName("time (min)")
        variable = time_dg.createVariable()
        variable.setId(f"{rid}_t")
        variable.setSymbol(TIME_SYMBOL)
        variable.setTaskReference(rid)
        variable.setModelReference(mid)
        offset = time_dg.createParameter()
        offset.setId(f"{rid}_t_pre")
        offset.setValue(schedule.preequilibration_time)
        time_dg.setMath(_math(f"{rid}_t - {rid}_t_pre"))
        for readout in readouts[name]:
            if readout not in kinds:
                raise BcsignalError(f"readout {readout} is not in the model", file=claims.path)
            dg = doc.createDataGenerator()
            _check(dg.setId(f"{rid}_{_sid(readout)}"), "setting a data generator id")
            dg.setName(f"{readout} ({name})")
            variable = dg.createVariable()
            variable.setId(f"{rid}_{_sid(readout)}_v")
            variable.setTarget(_xpath(kinds[readout], readout))
            variable.setTaskReference(rid)
            variable.setModelReference(mid)
            dg.setMath(_math(f"{rid}_{_sid(readout)}_v"))

    for claim in claims.claims:
        names = claim.experiments()
        plot = doc.createPlot2D()
        _check(plot.setId(f"plot_{_sid(claim.id)}"), "setting a plot id")
        plot.setName(f"{claim.id}: {claim.statement}")
        x_axis = plot.createXAxis()
        x_axis.setType("linear")
        x_axis.setName("time since the first phase started (min)")
        x_axis.setMin(0.0)
        x_axis.setMax(max(layout[n].experiment.protocol.duration for n in names))
        y_axis = plot.createYAxis()
        y_axis.setType("linear")
        y_axis.setName(", ".join(claim.readouts))
        order = 0
        for readout in claim.readouts:
            for name in dict.fromkeys(names):
                rid = experiment_task_id(name)
                curve = plot.createCurve()
                order += 1
                _check(curve.setId(f"plot_{_sid(claim.id)}_{order}"), "setting a curve id")
                curve.setName(f"{readout}, {name}")
                curve.setOrder(order)
                curve.setType("points")
                curve.setXDataReference(f"{rid}_time")
                curve.setYDataReference(f"{rid}_{_sid(readout)}")
        for name in dict.fromkeys(names):
            rid = experiment_task_id(name)
            report = doc.createReport()
            _check(report.setId(f"report_{_sid(claim.id)}__{_sid(name)}"), "setting a report id")
            report.setName(f"{claim.id}: {', '.join(claim.readouts)} in {name}")
            for dg_id, label in [(f"{rid}_time", "time"), *((f"{rid}_{_sid(r)}", r) for r in claim.readouts)]:
                dataset = report.createDataSet()
                _check(dataset.setId(f"{report.getId()}_{_sid(label)}"), "setting a data set id")
                dataset.setLabel(label)
                dataset.setDataReference(dg_id)

    text: str = libsedml.writeSedMLToString(doc)
    problems = sedml_errors(text)
    if problems:
        raise BcsignalError("the SED-ML written is invalid: " + "; ".join(problems), tool="libsedml")
    return text


def _protocol_notes(schedule: Schedule) -> list[str]:
    protocol = schedule.experiment.protocol
    pre = ", ".join(f"{k} = {v:g}" for k, v in sorted(protocol.preequilibration.items())) or "no knob changed"
    lines = [
        f"Pre-equilibration: {schedule.preequilibration_blocks} block(s) of {schedule.block:g} min "
        f"({schedule.preequilibration_time:g} min) with {pre}.",
    ]
    for i, (phase, count) in enumerate(zip(protocol.phases, schedule.phase_blocks, strict=True), start=1):
        sets = ", ".join(f"{k} = {v:g}" for k, v in sorted(phase.set.items())) or "no change"
        label = f" ({phase.label})" if phase.label else ""
        lines.append(f"Phase {i}{label}: {sets}; {phase.duration:g} min = {count} block(s).")
    return lines


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
def manifest_xml(members: Sequence[tuple[str, str]], master: str) -> str:
    """Return the OMEX manifest for (location, format) members."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<omexManifest xmlns="http://identifiers.org/combine.specifications/omex-manifest">',
        f'  <content location="." format="{FORMAT_OMEX}"/>',
    ]
    for location, fmt in members:
        flag = ' master="true"' if location == master else ""
        lines.append(f'  <content location="./{escape(location)}" format="{escape(fmt)}"{flag}/>')
    lines.append("</omexManifest>")
    return "\n".join(lines) + "\n"


def metadata_rdf(model_id: str, claims: ClaimsFile) -> str:
    """Return OMEX metadata: title, description, creators, dates, licence and the paper citation."""
    papers = papers_of(claims)
    created = str(claims.curation["created"])
    title = f"{model_id}: {title_of(claims)}"
    description = (
        f"The bcsignal model {model_id} with a SED-ML description of every experiment its claims use, "
        "with plots and reports of the claims' readouts."
    )
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:vCard="http://www.w3.org/2006/vcard/ns#" '
        'xmlns:bqmodel="http://biomodels.net/model-qualifiers/">',
        '  <rdf:Description rdf:about=".">',
        f"    <dc:title>{escape(title)}</dc:title>",
        f"    <dcterms:description>{escape(description)}</dcterms:description>",
    ]
    for person in claims.curation["creators"]:
        out += [
            '    <dcterms:creator rdf:parseType="Resource">',
            '      <vCard:hasName rdf:parseType="Resource">',
            f"        <vCard:family-name>{escape(str(person['family_name']))}</vCard:family-name>",
            f"        <vCard:given-name>{escape(str(person['given_name']))}</vCard:given-name>",
            "      </vCard:hasName>",
        ]
        if person.get("email"):
            out.append(f'      <vCard:hasEmail rdf:resource="mailto:{escape(str(person["email"]))}"/>')
        if person.get("organisation"):
            organisation = escape(str(person["organisation"]))
            out.append(f"      <vCard:organization-name>{organisation}</vCard:organization-name>")
        out.append("    </dcterms:creator>")
    for tag in ("created", "modified"):
        out += [
            f'    <dcterms:{tag} rdf:parseType="Resource">',
            f"      <dcterms:W3CDTF>{escape(created)}</dcterms:W3CDTF>",
            f"    </dcterms:{tag}>",
        ]
    out += [
        f'    <dcterms:license rdf:resource="{LICENCE_URI}"/>',
    ]
    for paper in papers:
        out += [
            "    <dcterms:bibliographicCitation>"
            f"{escape(citation_text(paper))}</dcterms:bibliographicCitation>",
            f'    <bqmodel:isDescribedBy rdf:resource="{PUBMED_URI.format(paper["pubmed"])}"/>',
            f'    <bqmodel:isDescribedBy rdf:resource="{DOI_URI.format(paper["doi"])}"/>',
        ]
    out += [
        "  </rdf:Description>",
        "</rdf:RDF>",
    ]
    return "\n".join(out) + "\n"


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
    layout: Mapping[str, Schedule]


def build_archive(model_id: str, sbml: str, claims: ClaimsFile, sim: Simulator | None = None) -> Archive:
    """Build the archive of a model: flattened SBML, SED-ML, manifest and metadata."""
    sim = sim or new_simulator(sbml, name=model_id)
    layout = schedules(claims, sim)
    sbml_location = f"{model_id}.xml"
    sedml_location = f"{model_id}.sedml"
    sedml = sedml_document(model_id, sbml, sbml_location, claims, layout)
    content = [
        (sbml_location, FORMAT_SBML),
        (sedml_location, FORMAT_SEDML),
        ("metadata.rdf", FORMAT_METADATA),
    ]
    manifest = manifest_xml([("manifest.xml", FORMAT_MANIFEST), *content], master=sedml_location)
    members = [
        ("manifest.xml", manifest.encode("utf-8")),
        ("metadata.rdf", metadata_rdf(model_id, claims).encode("utf-8")),
        (sbml_location, sbml.encode("utf-8")),
        (sedml_location, sedml.encode("utf-8")),
    ]
    return Archive(model_id=model_id, data=zip_members(members), layout=layout)


def model_archive(model_id: str) -> Archive:
    """Build the archive of a shipped model from sbml/ and its claims file."""
    path = paths.sbml_path(model_id)
    sbml = path.read_text(encoding="utf-8")
    claims = load_claims(paths.claims_path(model_id))
    return build_archive(model_id, sbml, claims, new_simulator(sbml, name=model_id, origin=path))


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
    """Refuse a SED-ML model whose source is not a member of the archive (a URL, an absolute path...)."""
    names = {str(PurePosixPath(m)) for m in members}
    for model in doc.getListOfModels():
        source = model.getSource()
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
#: Results of an archive: experiment task id -> {"time": protocol times, readout: values}.
ArchiveResults = dict[str, dict[str, np.ndarray]]


def _generator_map(doc: Any) -> dict[str, tuple[str, str]]:
    """Map each data generator to (task id, readout id or "time")."""
    out = {}
    for dg in doc.getListOfDataGenerators():
        variable = dg.getVariable(0)
        if variable.isSetSymbol():
            target = "time"
        else:
            match = _XPATH_ID.search(variable.getTarget())
            if match is None:
                raise BcsignalError(f"cannot read target {variable.getTarget()!r}", tool="libsedml")
            target = match.group(1)
        out[dg.getId()] = (variable.getTaskReference(), target)
    return out


def _tellurium_data(archive: str) -> dict[str, np.ndarray]:
    """In a child: run an archive with tellurium and return every data generator's values."""
    tellurium = require("tellurium", "running an archive in tellurium")  # large; imported only here

    stage("tellurium", "running the archive")
    with tempfile.TemporaryDirectory(prefix="bcsignal-tellurium-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tellurium's generated code uses deprecated numpy calls
        try:
            results = tellurium.executeCombineArchive(archive, workingDir=tmp, createOutputs=False)
        except Exception as exc:
            raise BcsignalError(f"execution failed: {exc}", file=archive, tool="tellurium") from exc
    if len(results) != 1:
        raise BcsignalError(f"expected one SED-ML file, tellurium ran {len(results)}", file=archive)
    (result,) = results.values()
    return {k: np.asarray(v, dtype=float).ravel() for k, v in result["dataGenerators"].items()}


def run_with_tellurium(archive: Path) -> ArchiveResults:
    """Execute an archive with tellurium.executeCombineArchive; return every data generator's values.

    The archive is checked first (member limits, SED-ML screened, every model source a member), and
    tellurium runs in an isolated child process with bcsignal's time and memory limits.
    """
    ensure("tellurium", "running an archive in tellurium")
    sedml = _sedml_text(archive)
    doc = libsedml.readSedMLFromString(sedml)
    with zipfile.ZipFile(archive) as zf:
        _check_sources(doc, archive, zf.namelist())
    data = run_isolated(partial(_tellurium_data, str(archive)), origin=archive)
    out: ArchiveResults = {}
    for dg_id, (task, target) in _generator_map(doc).items():
        if dg_id not in data:
            raise BcsignalError(f"tellurium gave no values of data generator {dg_id}", file=archive)
        out.setdefault(task, {})[target] = data[dg_id]
    return out


class _Evaluator:
    """Evaluates the arithmetic of SED-ML math (numbers, names, + - * /, unary minus) on arrays."""

    def __init__(self, names: Mapping[str, np.ndarray | float]) -> None:
        self.names = names

    def __call__(self, node: Any) -> Any:
        if node.isName():
            return self.names[node.getName()]
        if node.isNumber():
            return node.getValue()
        if node.isUMinus():
            return -self(node.getChild(0))
        if node.isOperator() and node.getNumChildren() >= 1:
            values = [self(node.getChild(i)) for i in range(node.getNumChildren())]
            op = node.getCharacter()
            if op == "+":
                return reduce(lambda a, b: a + b, values)
            if op == "*":
                return reduce(lambda a, b: a * b, values)
            if op == "-" and len(values) == 2:
                return values[0] - values[1]
            if op == "/" and len(values) == 2:
                return values[0] / values[1]
        raise BcsignalError(f"unsupported math {libsedml.formulaToL3String(node)!r}", tool="libsedml")


def _range_values(repeated: Any) -> dict[str, list[float]]:
    out = {}
    for rng in repeated.getListOfRanges():
        if not isinstance(rng, libsedml.SedVectorRange):
            raise BcsignalError(f"range {rng.getId()}: only vector ranges are supported", tool="libsedml")
        out[rng.getId()] = [float(v) for v in rng.getValues()]
    return out


def run_with_copasi(archive: Path) -> ArchiveResults:
    """Execute an archive's SED-ML with COPASI, step by step.

    COPASI's own SED-ML importer takes one model and one task (a time course or
    a one-subtask scan), so it cannot chain a pre-equilibration and phases.
    This interprets the SED-ML with libsedml instead, as BioSimulators does,
    and has COPASI do every simulation: model changes, the repeated task's
    ranges and set-values, and each block's time course, continuing from the
    block before. Anything outside that subset is refused, never guessed.
    """
    sedml = _sedml_text(archive)  # first, so that a broken archive is our error
    with tempfile.TemporaryDirectory(prefix="bcsignal-copasi-") as tmp:
        try:
            with zipfile.ZipFile(archive) as zf:
                checked_members(zf, archive)  # before anything is written
                zf.extractall(tmp)
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise BcsignalError(f"cannot extract the archive: {cause}", file=archive) from exc
        doc = libsedml.readSedMLFromString(sedml)
        generators = _generator_map(doc)
        variables: dict[str, dict[str, np.ndarray]] = {}
        for repeated in doc.getListOfTasks():
            if not isinstance(repeated, libsedml.SedRepeatedTask):
                continue
            variables[repeated.getId()] = _run_repeated_copasi(
                doc, repeated, Path(tmp), {t for (task, t) in generators.values() if task == repeated.getId()}
            )
        out: ArchiveResults = {}
        for dg in doc.getListOfDataGenerators():
            task, target = generators[dg.getId()]
            names: dict[str, np.ndarray | float] = {p.getId(): p.getValue() for p in dg.getListOfParameters()}
            for variable in dg.getListOfVariables():
                names[variable.getId()] = variables[task][target]
            out.setdefault(task, {})[target] = np.asarray(_Evaluator(names)(dg.getMath()), dtype=float)
    return out


def _run_repeated_copasi(doc: Any, repeated: Any, folder: Path, targets: set[str]) -> dict[str, np.ndarray]:
    rid = repeated.getId()
    if repeated.getResetModel():
        raise BcsignalError(f"task {rid}: resetModel=true is not supported", tool="libsedml")
    if repeated.getNumSubTasks() != 1:
        raise BcsignalError(f"task {rid}: expected one subtask", tool="libsedml")
    task = doc.getTask(repeated.getSubTask(0).getTask())
    sim = doc.getSimulation(task.getSimulationReference())
    if not isinstance(sim, libsedml.SedUniformTimeCourse) or sim.getInitialTime() != sim.getOutputStartTime():
        raise BcsignalError(
            f"task {rid}: expected a uniform time course without a hidden start", tool="libsedml"
        )
    model = doc.getModel(task.getModelReference())
    source = (folder / model.getSource()).resolve()
    if not source.is_relative_to(folder.resolve()) or not source.is_file():
        raise BcsignalError(f"model {model.getId()}: source {model.getSource()!r} is not in the archive")
    sbml = read_screened(source)
    algorithm = sim.getAlgorithm()
    settings = {p.getKisaoID(): p.getValue() for p in algorithm.getListOfAlgorithmParameters()}
    rtol = float(settings.get(KISAO_RELATIVE_TOLERANCE, RELATIVE_TOLERANCE))
    atol = float(settings.get(KISAO_ABSOLUTE_TOLERANCE, ABSOLUTE_TOLERANCE))
    grid = np.linspace(0.0, sim.getOutputEndTime() - sim.getOutputStartTime(), sim.getNumberOfSteps() + 1)
    ranges = _range_values(repeated)
    readouts = sorted(targets - {"time"})
    chunks: dict[str, list[np.ndarray]] = {r: [] for r in [*readouts, "time"]}
    with CopasiModel(sbml, origin=model.getSource()) as copasi:
        changes = {}
        for change in model.getListOfChanges():
            if not isinstance(change, libsedml.SedChangeAttribute) or not change.getTarget().endswith(
                "/@value"
            ):
                raise BcsignalError(
                    f"model {model.getId()}: only value changes are supported", tool="libsedml"
                )
            match = _XPATH_ID.search(change.getTarget())
            if match is None:
                raise BcsignalError(f"cannot read target {change.getTarget()!r}", tool="libsedml")
            changes[match.group(1)] = float(change.getNewValue())
        copasi.set_values(changes)
        applied: dict[str, float] = dict(changes)
        offset = 0.0
        for k in range(len(ranges[repeated.getRangeId()])):
            current = {rng: values[k] for rng, values in ranges.items()}
            sets = {}
            for change in repeated.getListOfTaskChanges():
                match = _XPATH_ID.search(change.getTarget())
                if match is None:
                    raise BcsignalError(f"cannot read target {change.getTarget()!r}", tool="libsedml")
                sets[match.group(1)] = float(_Evaluator(current)(change.getMath()))
            # announce only real changes: each announcement makes COPASI recompute its initial state
            copasi.set_values({k: v for k, v in sets.items() if applied.get(k) != v})
            applied.update(sets)
            out = copasi.time_course(grid, readouts, relative_tolerance=rtol, absolute_tolerance=atol)
            for r in readouts:
                chunks[r].append(out[r])
            chunks["time"].append(grid + offset)
            offset += float(grid[-1])
    return {k: np.concatenate(v) for k, v in chunks.items()}


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
    claims: ClaimsFile, sim: Simulator, layout: Mapping[str, Schedule]
) -> dict[str, Trajectory]:
    """Simulate every claimed experiment with bcsignal at its claims' times and the archive's output times."""
    extra = {name: [float(t) for t in s.times() if t > 0] for name, s in layout.items()}
    return simulate_experiments(claims, sim, extra)


def compare(
    results: ArchiveResults, reference: Mapping[str, Trajectory], *, rtol: float = 1e-4, atol: float = 1e-12
) -> list[Disagreement]:
    """Compare an archive's output with bcsignal's trajectories at every protocol time >= 0.

    Where the archive repeats a time (a block boundary) the bcsignal value must
    match one of the two rows. Returns the worst disagreement per readout that
    exceeds |a - b| <= atol + rtol*|b|; an empty list means agreement.
    """
    bad = []
    for name, traj in reference.items():
        rid = experiment_task_id(name)
        if rid not in results:
            raise BcsignalError(f"the archive has no results for experiment {name}")
        times = results[rid]["time"]
        for readout, ref_values in traj.values.items():
            values = results[rid][readout]
            worst: Disagreement | None = None
            for t in np.unique(times[times >= -1e-9]):
                rows = np.flatnonzero(np.isclose(times, t, rtol=1e-12, atol=1e-9))
                index = int(np.argmin(np.abs(traj.times - t)))
                if not math.isclose(float(traj.times[index]), float(t), rel_tol=1e-9, abs_tol=1e-9):
                    raise BcsignalError(f"bcsignal has no output at t={t:g} in experiment {name}")
                b = float(ref_values[index])
                candidates = [float(values[i]) for i in rows]
                a = min(candidates, key=lambda v: abs(v - b))
                if abs(a - b) > atol + rtol * abs(b):
                    miss = Disagreement(name, readout, float(t), a, b)
                    if worst is None or miss.relative > worst.relative:
                        worst = miss
            if worst is not None:
                bad.append(worst)
    return bad
