"""SED-ML/OMEX archives: deterministic members, metadata, and execution in tellurium and COPASI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import libcombine
import libsedml
import numpy as np
import pytest

from bcsignal import cli, exchange, paths
from bcsignal.claims import ClaimsFile, load_claims, papers_of, title_of
from bcsignal.errors import BcsignalError
from bcsignal.simulate import Trajectory, new_simulator

from .conftest import DATA, MODEL_IDS

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


@pytest.fixture(scope="session")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every model's archive, exported once per session through the command line."""
    folder = tmp_path_factory.mktemp("omex")
    assert cli.main(["export", "--out", str(folder)]) == 0
    return {mid: folder / f"{mid}.omex" for mid in MODEL_IDS}


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_rebuild_is_byte_identical(model_id: str, archives: dict[str, Path]) -> None:
    again = exchange.model_archive(model_id).data
    assert again == archives[model_id].read_bytes()
    members = _members(archives[model_id])
    assert sorted(members) == sorted(["manifest.xml", "metadata.rdf", f"{model_id}.xml", f"{model_id}.sedml"])
    assert members[f"{model_id}.xml"] == paths.sbml_path(model_id).read_bytes()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_libcombine_reads_manifest_and_metadata(model_id: str, archives: dict[str, Path]) -> None:
    archive = libcombine.CombineArchive()
    assert archive.initializeFromArchive(str(archives[model_id]))
    entries = {archive.getEntry(i).getLocation(): archive.getEntry(i) for i in range(archive.getNumEntries())}
    master = entries[f"./{model_id}.sedml"]
    assert master.getMaster() and libcombine.KnownFormats.isFormat("sed-ml", master.getFormat())
    assert libcombine.KnownFormats.isFormat("sbml", entries[f"./{model_id}.xml"].getFormat())
    description = archive.getMetadataForLocation(".")
    claims = load_claims(paths.claims_path(model_id))
    assert description.getNumCreators() == len(claims.curation["creators"])
    assert description.getCreated().getDateAsString() == claims.curation["created"]
    archive.cleanUp()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_metadata_has_title_licence_and_citation(model_id: str, archives: dict[str, Path]) -> None:
    root = ET.fromstring(_members(archives[model_id])["metadata.rdf"])
    about = root.find(f"{RDF}Description")
    assert about is not None and about.get(f"{RDF}about") == "."
    claims = load_claims(paths.claims_path(model_id))
    papers = papers_of(claims)  # a composite is described by its submodels' papers
    title = about.findtext("{http://purl.org/dc/elements/1.1/}title")
    assert title and title_of(claims) in title
    licence = about.find("{http://purl.org/dc/terms/}license")
    assert licence is not None and licence.get(f"{RDF}resource") == exchange.LICENCE_URI
    citations = [e.text or "" for e in about.findall("{http://purl.org/dc/terms/}bibliographicCitation")]
    for paper in papers:
        assert any(paper["doi"] in citation for citation in citations), paper["doi"]
    refs = {
        e.get(f"{RDF}resource")
        for e in about.findall("{http://biomodels.net/model-qualifiers/}isDescribedBy")
    }
    assert refs == {
        uri
        for paper in papers
        for uri in (
            f"http://identifiers.org/pubmed/{paper['pubmed']}",
            f"http://identifiers.org/doi/{paper['doi']}",
        )
    }


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_sedml_encodes_every_claim(model_id: str, archives: dict[str, Path]) -> None:
    _, text = exchange.read_member(archives[model_id], ".sedml")
    assert exchange.sedml_errors(text.decode()) == []
    doc = libsedml.readSedMLFromString(text.decode())
    assert (doc.getLevel(), doc.getVersion()) == (1, 4)
    claims = load_claims(paths.claims_path(model_id))
    tasks = {t.getId(): t for t in doc.getListOfTasks()}
    outputs = {o.getId() for o in doc.getListOfOutputs()}
    for claim in claims.claims:
        assert f"plot_{claim.id}" in outputs
        for name in claim.experiments():
            repeated = tasks[exchange.experiment_task_id(name)]
            assert isinstance(repeated, libsedml.SedRepeatedTask) and not repeated.getResetModel()
            assert f"report_{claim.id}__{name}" in outputs
            model = doc.getModel(tasks[repeated.getSubTask(0).getTask()].getModelReference())
            changed = {c.getTarget().split("'")[1]: float(c.getNewValue()) for c in model.getListOfChanges()}
            assert changed == claims.experiments[name].protocol.preequilibration


@pytest.fixture(scope="session")
def references(archives: dict[str, Path]) -> dict[str, dict[str, Trajectory]]:
    out = {}
    for mid in MODEL_IDS:
        archive = exchange.model_archive(mid)
        claims = load_claims(paths.claims_path(mid))
        sim = new_simulator(paths.sbml_path(mid).read_text(encoding="utf-8"), name=mid)
        out[mid] = exchange.reference_trajectories(claims, sim, archive.layout)
    return out


RUNNERS = {"tellurium": exchange.run_with_tellurium, "COPASI": exchange.run_with_copasi}


@pytest.mark.parametrize("runner", sorted(RUNNERS))
@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_archive_runs_like_bcsignal(
    model_id: str, runner: str, archives: dict[str, Path], references: dict[str, dict[str, Trajectory]]
) -> None:
    results = RUNNERS[runner](archives[model_id])
    assert set(results) == {exchange.experiment_task_id(n) for n in references[model_id]}
    assert exchange.compare(results, references[model_id]) == []


def test_compare_catches_a_small_difference(
    archives: dict[str, Path], references: dict[str, dict[str, Trajectory]]
) -> None:
    mid = MODEL_IDS[0]
    results = exchange.run_with_copasi(archives[mid])
    assert exchange.compare(results, references[mid]) == []
    task = next(iter(results))
    readout = next(k for k in results[task] if k != "time")
    results[task][readout] = results[task][readout] * (1 + 3e-4)
    (bad,) = exchange.compare(results, references[mid])
    assert bad.readout == readout and bad.relative == pytest.approx(3e-4, rel=1e-3)


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


# -- layout of experiments ----------------------------------------------------
@pytest.fixture
def tiny_claims() -> ClaimsFile:
    return load_claims(DATA / "tiny.claims.yaml")


def test_schedule_blocks_fit_phases_and_preequilibration(tiny_claims: ClaimsFile) -> None:
    washout = tiny_claims.experiments["pulse_then_washout"]  # 30 min stim=1, then 210 min stim=0
    schedule = exchange.make_schedule(washout, 1000.0, {"stim": 0.0, "inh": 0.0})
    assert schedule.block == 10.0  # gcd(30, 210, 1000)
    assert schedule.preequilibration_blocks == 100 and schedule.phase_blocks == (3, 21)
    assert schedule.knob_values["stim"] == (0.0,) * 100 + (1.0,) * 3 + (0.0,) * 21
    times = schedule.times()
    assert times[0] == -1000.0 and times[-1] == pytest.approx(240.0)


def test_schedule_refuses_durations_without_a_usable_divisor(tiny_claims: ClaimsFile) -> None:
    rest = tiny_claims.experiments["rest"]  # 240 min
    with pytest.raises(BcsignalError, match="too small a common divisor"):
        exchange.make_schedule(rest, 1000.001, {"stim": 0.0, "inh": 0.0})


def test_tiny_archive_runs_in_both_simulators(
    tiny_sbml: str, tiny_claims: ClaimsFile, tmp_path: Path
) -> None:
    sim = new_simulator(tiny_sbml, name="tiny")
    archive = exchange.build_archive("tiny", tiny_sbml, tiny_claims, sim)
    path = tmp_path / "tiny.omex"
    path.write_bytes(archive.data)
    reference = exchange.reference_trajectories(tiny_claims, new_simulator(tiny_sbml), archive.layout)
    for run in (exchange.run_with_tellurium, exchange.run_with_copasi):
        results = run(path)
        assert exchange.compare(results, reference) == []
        washout = results[exchange.experiment_task_id("pulse_then_washout")]
        assert np.argmax(washout["Sp"]) < np.argmax(washout["time"] > 30)  # the pulse ended at 30 min


def test_copasi_runner_refuses_what_it_does_not_support(
    tiny_sbml: str, tiny_claims: ClaimsFile, tmp_path: Path
) -> None:
    archive = exchange.build_archive("tiny", tiny_sbml, tiny_claims)
    members = _members_bytes(archive.data)
    members["tiny.sedml"] = members["tiny.sedml"].replace(b'resetModel="false"', b'resetModel="true"', 1)
    path = tmp_path / "tiny.omex"
    path.write_bytes(exchange.zip_members(list(members.items())))
    with pytest.raises(BcsignalError, match="resetModel=true is not supported"):
        exchange.run_with_copasi(path)


def _members_bytes(data: bytes) -> dict[str, bytes]:
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}
