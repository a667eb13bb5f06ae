"""The Antimony -> SBML build: deterministic, up to date, and strict about what Antimony invents."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcsignal import paths
from bcsignal.core.errors import BcsignalError
from bcsignal.sbml import build
from bcsignal.sbml.build import antimony_to_sbml

from .conftest import DATA, MODEL_IDS


def test_sbml_folder_is_up_to_date() -> None:
    """`bcsignal build --check`: sbml/ equals a fresh build byte for byte."""
    assert build.stale_files() == []


def test_check_names_stale_missing_and_extra_files(tmp_path: Path, built: dict[str, str]) -> None:
    for name, text in built.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert build.stale_files(tmp_path) == []
    first = sorted(built)[0]
    (tmp_path / first).write_text(built[first].replace("</sbml>", "</sbml> "), encoding="utf-8")
    (tmp_path / "Nobody_2000.xml").write_text("<sbml/>")
    if len(built) > 1:
        (tmp_path / sorted(built)[1]).unlink()
    problems = build.stale_files(tmp_path)
    assert f"stale: {tmp_path / first}" in problems
    assert any(p.startswith("extra:") and "Nobody_2000.xml" in p for p in problems)
    if len(built) > 1:
        assert any(p.startswith("missing:") for p in problems)


def test_rebuild_is_byte_identical(built: dict[str, str]) -> None:
    again = build.build_all().files
    assert again == built


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_output_is_deterministic_l3v2_lf_without_version_comment(
    model_id: str, built: dict[str, str]
) -> None:
    text = built[f"{model_id}.xml"]
    assert "\r" not in text
    assert text.endswith("\n")
    assert "<!--" not in text, "no program-version comment"
    assert 'level="3" version="2"' in text
    assert paths.sbml_path(model_id).read_text(encoding="utf-8") == text


def _ant(tmp_path: Path, body: str) -> Path:
    header = (DATA / "tiny.ant").read_text().split("  compartment cell")[0]
    path = tmp_path / "bad.ant"
    path.write_text(header + body + "\nend\n")
    return path


def test_build_rejects_antimony_syntax_error(tmp_path: Path) -> None:
    path = _ant(tmp_path, "  compartment cell = 1 litre\n  species A in cell = 1 nM\n  J: A -> ; k*A*cell )")
    with pytest.raises(BcsignalError) as info:
        antimony_to_sbml(path)
    assert info.value.tool == "antimony" and info.value.file == str(path) and info.value.line is not None


def test_build_rejects_undeclared_symbol(tmp_path: Path) -> None:
    path = _ant(tmp_path, "  compartment cell = 1 litre\n  species A in cell = 1 nM\n  J: A -> ; kk*A*cell")
    with pytest.raises(BcsignalError, match="kk"):
        antimony_to_sbml(path)


def test_build_rejects_undeclared_compartment(tmp_path: Path) -> None:
    path = _ant(tmp_path, "  species A in nowhere = 1 nM\n  k = 1 per_min\n  J: A -> ; k*A")
    with pytest.raises(BcsignalError, match="nowhere"):
        antimony_to_sbml(path)


def test_build_accepts_the_tiny_model() -> None:
    doc = antimony_to_sbml(DATA / "tiny.ant")
    assert doc.getModel().getNumReactions() == 4
