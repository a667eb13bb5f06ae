"""SED-ML/OMEX archives: portable phases, metadata, and the same numbers in four simulators."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import libcombine
import libsbml
import libsedml
import numpy as np
import pytest

from bcsignal import exchange, paths
from bcsignal.app import cli
from bcsignal.claims import papers_of, title_of
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.simulate import new_simulator
from bcsignal.engine.trajectory import Trajectory
from bcsignal.sbml.annotate import Author, read_authors
from bcsignal.spec.claims import ClaimsFile, load_claims

from .conftest import DATA, MODEL_IDS

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RDFS = "{http://www.w3.org/2000/01/rdf-schema#}"
#: The BioSimulators command-line simulators, in their own venv (`make simulators`).
SIMULATORS = Path(__file__).resolve().parents[1] / ".venv-simulators" / "bin"


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every model's archive, exported once per session through the command line."""
    folder = tmp_path_factory.mktemp("omex")
    assert cli.main(["export", "--out", str(folder)]) == 0
    return {mid: folder / f"{mid}.omex" for mid in MODEL_IDS}


def _members(path: Path | bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path) if isinstance(path, bytes) else path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_rebuild_is_byte_identical(model_id: str, archives: dict[str, Path]) -> None:
    again = exchange.model_archive(model_id)
    assert again.data == archives[model_id].read_bytes()
    members = _members(archives[model_id])
    comp = paths.sbml_path(model_id).with_name(f"{model_id}_comp.xml")
    states = list(exchange.state_locations(model_id, again.layout).values())
    expected = ["manifest.xml", "metadata.rdf", f"{model_id}.xml", f"{model_id}.sedml", *states]
    assert sorted(members) == sorted(expected + ([comp.name] if comp.is_file() else []))
    assert members[f"{model_id}.xml"] == paths.sbml_path(model_id).read_bytes()
    if comp.is_file():
        assert members[comp.name] == comp.read_bytes()


def test_the_composite_carries_its_comp_file(archives: dict[str, Path]) -> None:
    assert "composite_comp.xml" in _members(archives["composite"])


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_libcombine_reads_manifest_and_metadata(model_id: str, archives: dict[str, Path]) -> None:
    archive = libcombine.CombineArchive()
    assert archive.initializeFromArchive(str(archives[model_id]))
    entries = {archive.getEntry(i).getLocation(): archive.getEntry(i) for i in range(archive.getNumEntries())}
    assert "./manifest.xml" not in entries  # the manifest does not list itself
    master = entries[f"./{model_id}.sedml"]
    assert master.getMaster() and libcombine.KnownFormats.isFormat("sed-ml", master.getFormat())
    assert libcombine.KnownFormats.isFormat("sbml", entries[f"./{model_id}.xml"].getFormat())
    description = archive.getMetadataForLocation(".")
    authors = read_authors(paths.authors_path())
    assert description.getNumCreators() == len(authors)
    assert description.getCreator(0).getFamilyName() == authors[0].full_name
    claims = load_claims(paths.claims_path(model_id))
    created, modified = exchange.dates(paths.sbml_path(model_id).read_text(encoding="utf-8"), claims)
    assert description.getCreated().getDateAsString() == created == claims.curation["created"]
    assert description.getModified(0).getDateAsString() == modified
    assert description.getDescription() == exchange.model_description(claims)
    # the claims file's own description, or the claims it encodes
    source = claims.curation.get("description") or claims.claims[0].statement
    assert exchange.plain(str(source), limit=10_000) in description.getDescription()
    archive.cleanUp()


DC = "{http://purl.org/dc/elements/1.1/}"
BQMODEL = "{http://biomodels.net/model-qualifiers/}"


def _resources(about: ET.Element, tag: str) -> dict[str, str]:
    """The blank-node resources of a statement: identifier -> rdfs:label (BioSimulations' form)."""
    out = {}
    for holder in about.findall(tag):
        node = holder.find(f"{RDF}Description")
        assert node is not None and node.get(f"{RDF}about") is None, tag  # a blank node
        identifier = node.find(f"{DC}identifier")
        label = node.findtext(f"{RDFS}label")
        assert label, tag
        out[identifier.get(f"{RDF}resource", "") if identifier is not None else ""] = label
    return out


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_metadata_has_title_licence_citation_and_labels(model_id: str, archives: dict[str, Path]) -> None:
    root = ET.fromstring(_members(archives[model_id])["metadata.rdf"])
    descriptions = root.findall(f"{RDF}Description")
    assert [d.get(f"{RDF}about") for d in descriptions] == ["."]  # every resource is a labelled blank node
    about = descriptions[0]
    claims = load_claims(paths.claims_path(model_id))
    papers = papers_of(claims)  # a composite is described by its submodels' papers
    title = about.findtext(f"{DC}title")
    assert title and exchange.plain(title_of(claims), limit=1000) in title
    assert about.findtext(f"{DC}description") == exchange.plain(
        exchange.model_description(claims), limit=10_000
    )
    assert _resources(about, f"{DC}license") == {exchange.LICENCE_URI: "MIT License"}
    assert about.find(f"{DC}creator") is None  # creators once, as libcombine's vCards
    created, modified = exchange.dates(paths.sbml_path(model_id).read_text(encoding="utf-8"), claims)
    assert (about.findtext(f"{DC}created"), about.findtext(f"{DC}modified")) == (created, modified)
    cited = _resources(about, f"{BQMODEL}isDescribedBy")
    assert set(cited) == {
        uri
        for paper in papers
        for uri in (
            f"http://identifiers.org/pubmed/{paper['pubmed']}",
            f"http://identifiers.org/doi/{paper['doi']}",
        )
    }
    for paper in papers:  # each paper's identifiers are labelled with its citation
        assert paper["doi"] in cited[f"http://identifiers.org/doi/{paper['doi']}"]
        assert paper["doi"] in cited[f"http://identifiers.org/pubmed/{paper['pubmed']}"]


def test_an_orcid_is_the_creators_vcard_uid() -> None:
    claims = load_claims(paths.claims_path("Park_BBRC2007"))
    sbml = paths.sbml_path("Park_BBRC2007").read_text(encoding="utf-8")
    orcid = "https://orcid.org/0000-0002-1825-0097"
    people = [Author(given_name="Ada", family_name="Lovelace", orcid=orcid), Author(name="bcsignal project")]
    rdf = exchange.metadata_rdf("Park_BBRC2007", claims, sbml, people, ["SBML"])
    cards = ET.fromstring(rdf).findall(f"{RDF}Description/{{http://purl.org/dc/terms/}}creator")
    uids = [
        [u.get(f"{RDF}resource") for u in c.findall("{http://www.w3.org/2006/vcard/ns#}hasUID")]
        for c in cards
    ]
    assert uids == [[orcid], []]
    (description,) = libcombine.OmexDescription.parseString(rdf)
    assert [description.getCreator(i).getFamilyName() for i in range(2)] == ["Lovelace", "bcsignal project"]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_biosimulators_validates_every_archive(model_id: str, archives: dict[str, Path]) -> None:
    # the only statements BioSimulations' validator ignores are libcombine's OMEX-specification terms
    assert exchange.biosimulators_validation(archives[model_id], SIMULATORS / "biosimulators-utils") == []


def test_biosimulators_validation_reports_a_foreign_statement(
    archives: dict[str, Path], tmp_path: Path
) -> None:
    members = _members(archives["Park_BBRC2007"])
    members["metadata.rdf"] = members["metadata.rdf"].replace(
        b"<dc:title>",
        b"<dcterms:bibliographicCitation>Park 2007</dcterms:bibliographicCitation>"
        + f'<dcterms:license rdf:resource="{exchange.LICENCE_URI}" />'.encode()
        + b"<dc:title>",
    )
    foreign = tmp_path / "foreign.omex"
    foreign.write_bytes(exchange.zip_members(sorted(members.items())))
    problems = exchange.biosimulators_validation(foreign, SIMULATORS / "biosimulators-utils")
    assert any("bibliographicCitation" in p for p in problems), problems
    assert any("terms/license" in p for p in problems), problems
    with pytest.raises(BcsignalError, match="make simulators"):
        exchange.biosimulators_validation(foreign, tmp_path / "biosimulators-none")
    broken = tmp_path / "broken.omex"  # an error is the validator's non-zero exit, raised with its words
    broken.write_bytes(b"not a zip")
    with pytest.raises(BcsignalError, match="not a valid COMBINE/OMEX archive") as info:
        exchange.biosimulators_validation(broken, SIMULATORS / "biosimulators-utils")
    assert info.value.file == str(broken)


def _initial_values(sbml: bytes) -> dict[str, float]:
    model = libsbml.readSBMLFromString(sbml.decode()).getModel()
    values = {s.getId(): s.getInitialConcentration() for s in model.getListOfSpecies()}
    return values | {p.getId(): p.getValue() for p in model.getListOfParameters()}


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_sedml_runs_each_phase_from_a_written_state(model_id: str, archives: dict[str, Path]) -> None:
    _, raw = exchange.read_member(archives[model_id], ".sedml")
    assert len(raw) <= exchange.MAX_SEDML_BYTES == 50_000
    text = raw.decode()
    assert exchange.sedml_errors(text) == []
    doc = libsedml.readSedMLFromString(text)
    assert (doc.getLevel(), doc.getVersion()) == (exchange.SEDML_LEVEL, exchange.SEDML_VERSION)
    assert all(isinstance(t, libsedml.SedTask) for t in doc.getListOfTasks())  # no repeated tasks
    assert all(isinstance(s, libsedml.SedUniformTimeCourse) for s in doc.getListOfSimulations())
    for element in [*doc.getListOfTasks(), *doc.getListOfOutputs(), *doc.getListOfModels()]:
        assert element.getName() == exchange.plain(element.getName())
    claims = load_claims(paths.claims_path(model_id))
    layout = exchange.model_archive(model_id).layout
    members = _members(archives[model_id])
    outputs = {o.getId() for o in doc.getListOfOutputs()}
    sim = new_simulator(paths.sbml_path(model_id).read_text(encoding="utf-8"))
    state_ids = set(sim.derivatives()[2])
    base = _initial_values(members[f"{model_id}.xml"])
    for claim in claims.claims:
        assert f"plot_{claim.id}" in outputs
    for name, plan in layout.items():
        experiment = claims.experiments[name]
        assert len(plan.phases) == len(experiment.protocol.phases)
        knobs = dict(experiment.protocol.preequilibration)
        for run, phase in zip(plan.phases, experiment.protocol.phases, strict=True):
            knobs.update(phase.set)
            task = doc.getTask(run.task)
            assert f"report_{run.task}" in outputs
            model = doc.getModel(task.getModelReference())
            # no model changes: the phase's SBML file holds every knob and every state variable at its start
            assert model.getNumChanges() == 0
            written = _initial_values(members[model.getSource()])
            assert set(written) == set(base)
            start = dict(run.knobs) | dict(run.state)
            assert {k: written[k] for k in start} == pytest.approx(start, rel=1e-11)
            rest = {k: v for k, v in base.items() if k not in start}  # rule variables have no value: nan
            assert {k: written[k] for k in rest} == pytest.approx(rest, rel=0, abs=0, nan_ok=True)
            assert set(dict(run.state)) == state_ids
            assert {k: v for k, v in dict(run.knobs).items() if k in knobs} == knobs
            assert doc.getSimulation(task.getSimulationReference()).getOutputEndTime() == phase.duration


@pytest.fixture(scope="session")
def references(archives: dict[str, Path]) -> dict[str, dict[str, Trajectory]]:
    out = {}
    for mid in MODEL_IDS:
        archive = exchange.model_archive(mid)
        claims = load_claims(paths.claims_path(mid))
        sim = new_simulator(paths.sbml_path(mid).read_text(encoding="utf-8"), name=mid)
        out[mid] = exchange.reference_trajectories(claims, sim, archive.layout)
    return out


def _tellurium(path: Path, outputs: Path) -> exchange.ArchiveResults:
    return exchange.run_with_tellurium(path, outputs, timeout=exchange.SIMULATOR_TIMEOUT)


def _copasi(path: Path, outputs: Path) -> exchange.ArchiveResults:
    return exchange.run_with_copasi(path)


def _biosimulators_tellurium(path: Path, outputs: Path) -> exchange.ArchiveResults:
    return exchange.run_with_biosimulators(path, SIMULATORS / "biosimulators-tellurium", outputs)


def _biosimulators_copasi(path: Path, outputs: Path) -> exchange.ArchiveResults:
    return exchange.run_with_biosimulators(path, SIMULATORS / "biosimulators-copasi", outputs)


RUNNERS = {
    "tellurium": _tellurium,
    "COPASI": _copasi,
    "biosimulators-tellurium": _biosimulators_tellurium,
    "biosimulators-copasi": _biosimulators_copasi,
}


def _biosimulators_files(doc: libsedml.SedDocument, sedml_location: str) -> dict[str, str]:
    """The report files a BioSimulators simulator writes: <sedml location>/<report id>.csv."""
    reports = [o.getId() for o in doc.getListOfOutputs() if isinstance(o, libsedml.SedReport)]
    return {o: f"{sedml_location}/{o}.csv" for o in reports}


#: The files each runner writes for a SED-ML document's outputs: tellurium every report (CSV) and
#: plot (PDF), the BioSimulators simulators every report (their values are the ones compared).
WRITERS = {
    "tellurium": exchange.tellurium_files,
    "biosimulators-tellurium": _biosimulators_files,
    "biosimulators-copasi": _biosimulators_files,
}


#: The archive × simulator runs of `make test`: every simulator on one paper's archive, COPASI's
#: import on every archive. The rest (each phase a model the simulator compiles anew: about 10 minutes on
#: 2 cores) are marked `exchange_full` and run by `make test-exchange`.
DEFAULT_ARCHIVE = "Park_BBRC2007"
ARCHIVE_RUNS = [
    pytest.param(
        model_id,
        runner,
        marks=() if model_id == DEFAULT_ARCHIVE or runner == "COPASI" else pytest.mark.exchange_full,
        id=f"{model_id}-{runner}",
    )
    for model_id in MODEL_IDS
    for runner in sorted(RUNNERS)
]


@pytest.mark.parametrize(("model_id", "runner"), ARCHIVE_RUNS)
def test_archive_runs_like_bcsignal(
    model_id: str,
    runner: str,
    archives: dict[str, Path],
    references: dict[str, dict[str, Trajectory]],
    tmp_path: Path,
) -> None:
    layout = exchange.model_archive(model_id).layout
    results = RUNNERS[runner](archives[model_id], tmp_path)
    assert set(results) == {run.task for plan in layout.values() for run in plan.phases}
    assert exchange.compare(results, references[model_id], layout) == []
    if runner in WRITERS:  # every output it writes was written
        location, raw = exchange.read_member(archives[model_id], ".sedml")
        doc = libsedml.readSedMLFromString(raw.decode())
        written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.stat().st_size}
        files = WRITERS[runner](doc, location)
        assert files and set(files.values()) <= written
        if runner == "tellurium":  # a plot of every claim
            claims = load_claims(paths.claims_path(model_id))
            assert {f"plot_{c.id}" for c in claims.claims} <= set(files)


def test_compare_catches_a_small_difference(
    archives: dict[str, Path], references: dict[str, dict[str, Trajectory]]
) -> None:
    mid = MODEL_IDS[0]
    layout = exchange.model_archive(mid).layout
    results = exchange.run_with_copasi(archives[mid])
    assert exchange.compare(results, references[mid], layout) == []
    task = next(iter(results))
    readout = next(k for k in results[task] if k != "time")
    results[task][readout] = results[task][readout] * (1 + 3e-4)
    (bad,) = exchange.compare(results, references[mid], layout)
    assert bad.readout == readout and bad.relative == pytest.approx(3e-4, rel=1e-3)


def test_plain_titles_cannot_break_generated_code() -> None:
    assert exchange.plain('the cells\' own IL-6 "loop" \\ é') == "the cells own IL-6 loop e"
    assert len(exchange.plain("word " * 100)) <= exchange.MAX_TITLE


def test_sedml_check_reports_errors() -> None:
    assert (
        exchange.sedml_errors(
            '<sedML xmlns="http://sed-ml.org/sed-ml/level1/version4" level="1" version="4"/>'
        )
        == []
    )
    broken = (
        '<sedML xmlns="http://sed-ml.org/sed-ml/level1/version4" level="1" version="4">'
        "<listOfModels><model/></listOfModels></sedML>"
    )
    assert exchange.sedml_errors(broken)


def test_unreadable_archive_is_our_error(tmp_path: Path) -> None:
    path = tmp_path / "not.omex"
    path.write_text("not a zip")
    with pytest.raises(BcsignalError, match="cannot read the archive"):
        exchange.run_with_copasi(path)


# -- the tiny model ------------------------------------------------------------------------------------
@pytest.fixture
def tiny_claims() -> ClaimsFile:
    return load_claims(DATA / "tiny.claims.yaml")


@pytest.fixture
def tiny_archive(tiny_sbml: str, tiny_claims: ClaimsFile, tmp_path: Path) -> tuple[Path, exchange.Archive]:
    archive = exchange.build_archive("tiny", tiny_sbml, tiny_claims, new_simulator(tiny_sbml, name="tiny"))
    path = tmp_path / "tiny.omex"
    path.write_bytes(archive.data)
    return path, archive


def test_later_phases_start_from_bcsignals_state(
    tiny_sbml: str, tiny_claims: ClaimsFile, tiny_archive: tuple[Path, exchange.Archive]
) -> None:
    _, archive = tiny_archive
    first, second = archive.layout["pulse_then_washout"].phases
    assert (first.start, first.duration, second.start, second.duration) == (0.0, 30.0, 30.0, 210.0)
    assert dict(first.knobs) == {"stim": 1.0, "inh": 0.0} and dict(second.knobs) == {"stim": 0.0, "inh": 0.0}
    reference = exchange.reference_trajectories(tiny_claims, new_simulator(tiny_sbml), archive.layout)
    at_30 = reference["pulse_then_washout"].at("Sp", 30.0)
    assert dict(second.state)["Sp"] == pytest.approx(at_30, rel=1e-6)
    assert dict(first.state)["Sp"] != pytest.approx(at_30, rel=1e-3)


@pytest.mark.parametrize("runner", ["tellurium", "COPASI"])
def test_tiny_archive_runs_phase_after_phase(
    runner: str,
    tiny_sbml: str,
    tiny_claims: ClaimsFile,
    tiny_archive: tuple[Path, exchange.Archive],
    tmp_path: Path,
) -> None:
    path, archive = tiny_archive
    reference = exchange.reference_trajectories(tiny_claims, new_simulator(tiny_sbml), archive.layout)
    results = RUNNERS[runner](path, tmp_path / "out")
    assert exchange.compare(results, reference, archive.layout) == []
    washout = results[archive.layout["pulse_then_washout"].phases[1].task]
    assert washout["time"][0] == 30.0 and np.argmax(washout["Sp"]) == 0  # falls after the pulse


@pytest.mark.parametrize("runner", ["biosimulators-copasi", "COPASI", "tellurium"])
def test_a_simulator_that_cannot_run_a_task_fails_loudly(
    runner: str, tiny_archive: tuple[Path, exchange.Archive], tmp_path: Path
) -> None:
    _, archive = tiny_archive
    members = _members(archive.data)
    # a readout of a species the model does not have: no simulator can report it
    target = b"@id=&apos;Sp&apos;]"
    assert target in members["tiny.sedml"]
    members["tiny.sedml"] = members["tiny.sedml"].replace(target, b"@id=&apos;Sp_missing&apos;]")
    broken = tmp_path / "broken.omex"
    broken.write_bytes(exchange.zip_members(list(members.items())))
    with pytest.raises(BcsignalError):
        RUNNERS[runner](broken, tmp_path / "out")


def test_a_sedml_over_the_size_limit_is_refused(
    tiny_sbml: str, tiny_claims: ClaimsFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exchange.omex, "MAX_SEDML_BYTES", 5_000)
    with pytest.raises(BcsignalError, match=r"the SED-ML has \d+ bytes, over the limit of 5000"):
        exchange.build_archive("tiny", tiny_sbml, tiny_claims, new_simulator(tiny_sbml, name="tiny"))


def test_phases_that_start_alike_share_a_task_and_a_state_file(
    tiny_archive: tuple[Path, exchange.Archive],
) -> None:
    _, archive = tiny_archive
    runs = [run for plan in archive.layout.values() for run in plan.phases]
    by_task: dict[str, set[tuple[exchange.State, float, float]]] = {}
    for run in runs:
        by_task.setdefault(run.task, set()).add((run.initial_values(), run.start, run.duration))
    assert all(len(starts) == 1 for starts in by_task.values())  # a task is one start, time and duration
    assert len(by_task) == len({(r.initial_values(), r.start, r.duration) for r in runs})
    files = exchange.state_locations("tiny", archive.layout)
    assert set(_members(archive.data)) >= set(files.values())
    assert len(files) == len({r.initial_values() for r in runs})


def test_a_missing_simulator_is_named(tiny_archive: tuple[Path, exchange.Archive], tmp_path: Path) -> None:
    path, _ = tiny_archive
    with pytest.raises(BcsignalError, match="make simulators"):
        exchange.run_with_biosimulators(path, tmp_path / "biosimulators-none")


def test_the_simulators_lock_pins_every_package_with_hashes() -> None:
    lock = Path(__file__).resolve().parents[1] / "requirements" / "lock-simulators.txt"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text(encoding="utf-8").strip())
    pins = {b.split("==")[0]: b for b in blocks if not b.startswith("#")}
    assert {"biosimulators-copasi", "biosimulators-tellurium", "biosimulators-utils", "setuptools"} <= set(
        pins
    )
    for block in pins.values():
        assert re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*==\S+", block) and "--hash=sha256:" in block, block[:60]
    assert int(pins["setuptools"].split("==")[1].split(".")[0]) < 81  # pkg_resources, for biosimulators-utils
