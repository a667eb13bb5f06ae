"""The registry owns the layout: a toy sixth paper (three data files) in a temporary registry is built,
validated, checked, exported and reported with no code change; entries decide kind and paths once."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcsignal import registry
from bcsignal.checks.tasks import validate_model
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.run import run_model
from bcsignal.registry import COMPOSITE, PAPER, Registry
from bcsignal.sbml import build

from .conftest import DATA

#: The toy paper's data files: its Antimony source, claims file and provenance table.
SIXTH = DATA / "sixth"
TOY = "Toy_Sixth2026"


@pytest.fixture(scope="module")
def toy_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry holding only the toy paper and the shared files every registry has, built once."""
    root = tmp_path_factory.mktemp("registry")
    shipped = registry.default()
    (root / "models").mkdir()
    for shared in (shipped.interface_file, shipped.annotation_file):
        shutil.copy(shared, root / "models" / shared.name)
    shutil.copy(shipped.authors_file, root / shipped.authors_file.name)
    for data in sorted(SIXTH.iterdir()):
        shutil.copy(data, root / "models" / data.name)
    toy = Registry.at(root)
    with registry.using(toy):
        build.write(build.build_all(), toy.sbml_dir)
        yield toy


def test_the_toy_is_the_only_model_and_a_paper(toy_registry: Registry) -> None:
    assert toy_registry.ids() == [TOY]
    entry = toy_registry.entry(TOY)
    assert entry.kind == PAPER and entry.comp_sbml is None and entry.merge_map_file is None
    assert registry.current() is toy_registry
    assert sorted(entry.built_files) == [f"{TOY}.xml", f"diagrams/{TOY}.layout.xml"]


def test_build_writes_the_toy_and_is_up_to_date(toy_registry: Registry) -> None:
    entry = toy_registry.entry(TOY)
    assert all(p.is_file() for p in entry.built_files.values())
    assert build.stale_files() == []
    entry.sbml.write_text(entry.sbml_text().replace("JAK2 phosphorylation", "JAK phosphorylation"))
    try:
        assert build.stale_files() == [f"stale: {entry.sbml}"]
    finally:
        build.write(build.build_all([entry]), toy_registry.sbml_dir)


def test_the_toy_validates_cleanly(toy_registry: Registry) -> None:
    reports = validate_model(toy_registry.entry(TOY))
    assert [Path(r.file).name for r in reports] == [f"{TOY}.xml", f"{TOY}.layout.xml"]
    assert all(r.ok(strict=True) for r in reports), [str(i) for r in reports for i in r.issues]


def test_the_toy_claims_hold_and_are_certified(toy_registry: Registry) -> None:
    run = run_model(toy_registry.entry(TOY))
    assert [r.test_id for r in run.results] == [f"{TOY}::il6_activates_stat3", f"{TOY}::jak_inhibitor_blocks"]
    assert all(r.passed for r in run.results)
    assert all(r.certificate is not None and r.certificate.certified for r in run.results)


def test_the_toy_is_exported(toy_registry: Registry, tmp_path: Path) -> None:
    from bcsignal import exchange

    (archive,) = exchange.export([TOY], tmp_path)
    with zipfile.ZipFile(archive) as zf:
        assert zf.read(f"{TOY}.xml") == toy_registry.entry(TOY).sbml.read_bytes()


def test_the_toy_is_reported(toy_registry: Registry, tmp_path: Path) -> None:
    from bcsignal.app import publish

    index = publish.build_report(toy_registry.entries(), tmp_path / "report", with_crosscheck=False)
    assert f"{TOY}.html" in index.read_text(encoding="utf-8")
    page = (index.parent / f"{TOY}.html").read_text(encoding="utf-8")
    assert "il6_activates_stat3" in page and "jak_inhibitor_blocks" in page


def test_an_unknown_id_names_the_known_models(toy_registry: Registry) -> None:
    with pytest.raises(BcsignalError, match=rf"unknown model id 'Park_BBRC2007'; known models: {TOY}"):
        toy_registry.entry("Park_BBRC2007")


def test_shipped_kinds_come_from_the_claims_files() -> None:
    shipped = registry.default()
    kinds = {e.id: e.kind for e in shipped.entries()}
    for entry in shipped.entries():
        assert (entry.kind == COMPOSITE) == (entry.claims.composite is not None)
        if entry.kind == COMPOSITE:
            assert entry.comp_sbml is not None and entry.comp_sbml.is_file()
            assert {kinds[s.id] for s in entry.submodels} == {PAPER}
            assert entry.suites[-1] is entry.claims and len(entry.suites) == len(entry.submodels) + 1
            assert entry.papers == [p for s in entry.submodels for p in s.papers]
        else:
            assert entry.comp_sbml is None and entry.suites == (entry.claims,)
    assert set(kinds.values()) == {PAPER, COMPOSITE}


def test_entries_are_cached_and_parse_once() -> None:
    shipped = registry.default()
    first = shipped.entry(shipped.ids()[0])
    assert shipped.entry(first.id) is first
    assert first.claims is first.claims and first.provenance is first.provenance


def test_a_registry_needs_a_models_folder(tmp_path: Path) -> None:
    with pytest.raises(BcsignalError, match="no models folder"):
        Registry.at(tmp_path)


def test_by_sbml_finds_a_built_file_only() -> None:
    shipped = registry.default()
    entry = shipped.entry(shipped.ids()[0])
    assert shipped.by_sbml(entry.sbml) is entry
    assert shipped.by_sbml(entry.source) is None
