"""Process diagrams: every model ships an SBML Layout + Render diagram that validates and draws every arc."""

from __future__ import annotations

from collections import Counter

import libsbml
import pytest

from bcsignal import paths
from bcsignal.checks.validation import read_document
from bcsignal.core.errors import BcsignalError
from bcsignal.sbml import build, diagram

from .conftest import DATA, MODEL_IDS


def _shipped(model_id: str) -> libsbml.SBMLDocument:
    path = paths.sbml_dir() / diagram.DIAGRAMS / f"{model_id}{diagram.SUFFIX}"
    return read_document(path.read_text(encoding="utf-8"), str(path))


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_model_ships_a_valid_diagram(model_id: str, built: dict[str, str]) -> None:
    name = f"{diagram.DIAGRAMS}/{model_id}{diagram.SUFFIX}"
    assert name in built
    doc = _shipped(model_id)
    assert doc.getPackageRequired("layout") is False and doc.getPackageRequired("render") is False
    assert doc.isPackageEnabled("layout") and doc.isPackageEnabled("render")
    assert diagram.problems(doc) == []


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_arc_glyphs_follow_the_modifier_roles(model_id: str) -> None:
    sbml = read_document(paths.sbml_path(model_id).read_text(encoding="utf-8"), model_id)
    model = sbml.getModel()
    roles = Counter(m.getSBOTermID() for r in model.getListOfReactions() for m in r.getListOfModifiers())
    doc = _shipped(model_id)  # held: libsbml's objects die with their document
    layout = doc.getModel().getPlugin("layout").getLayout(diagram.LAYOUT_ID)
    glyphs = [g for rg in layout.getListOfReactionGlyphs() for g in rg.getListOfSpeciesReferenceGlyphs()]
    drawn = Counter(g.getSBOTermID() for g in glyphs)
    for sbo, kind in diagram.MODIFIER_CLASS.items():
        assert drawn[sbo] == roles[sbo], kind
    # the layout role agrees with the class, and the render style ends each class with its own glyph
    for g in glyphs:
        assert g.getRoleString() == diagram.LAYOUT_ROLE[diagram.SBO_CLASS[g.getSBOTermID()]]
    info = layout.getPlugin("render").getRenderInformation(0)
    ends = {}
    for i in range(info.getNumStyles()):
        style = info.getStyle(i)
        for gid in style.createIdString().split():
            ends[gid] = style.getGroup().getEndHead() if style.getGroup().isSetEndHead() else None
    endings = {info.getLineEnding(i).getId() for i in range(info.getNumLineEndings())}
    for g in glyphs:
        kind = diagram.SBO_CLASS[g.getSBOTermID()]
        if kind == "consumption":
            assert ends[g.getId()] is None
        else:
            assert ends[g.getId()] == "end_" + kind.replace(" ", "_") and ends[g.getId()] in endings


def test_composite_is_laid_out_by_paper() -> None:
    drawn = diagram.read_layout(_shipped("composite"))
    titles = [title for title, _ in drawn.bands]
    assert "shared between papers" in titles
    papers = [t for t in titles if t != "shared between papers"]
    assert sorted(papers) == sorted(m for m in MODEL_IDS if m != "composite")
    bands = dict(drawn.bands)
    for sid, box in drawn.species.items():
        prefix = sid.partition("__")[0]
        owner = {
            "park": "Park_BBRC2007",
            "huber": "Huber_JCI2004",
            "bournazou": "Bournazou_JAKSTAT2013",
            "morandi": "Morandi_BCR2014",
            "rodriguez": "RodriguezBarrueco_GenesDev2017",
        }.get(prefix)
        if "__" in sid and owner is not None:
            band = bands[owner]
            assert band.y <= box.y and box.y + box.height <= band.y + band.height + diagram.BAND_GAP, sid
    # shared species sit in the band between the papers' bands
    shared = bands["shared between papers"]
    for sid in ("pSTAT3", "IL6"):
        box = drawn.species[sid]
        assert shared.y <= box.y <= shared.y + shared.height


def test_problems_finds_overlap_missing_glyphs_and_wrong_arcs(built: dict[str, str]) -> None:
    text = built[f"{diagram.DIAGRAMS}/Park_BBRC2007{diagram.SUFFIX}"]
    doc = read_document(text, "Park")
    assert diagram.problems(doc) == []
    layout = doc.getModel().getPlugin("layout").getLayout(diagram.LAYOUT_ID)
    first, second = layout.getSpeciesGlyph(0), layout.getSpeciesGlyph(1)
    bb = second.getBoundingBox()
    first.getBoundingBox().setX(bb.getX() + 1)
    first.getBoundingBox().setY(bb.getY() + 1)
    glyph = layout.getReactionGlyph(0).getSpeciesReferenceGlyph(0)
    glyph.setSBOTerm("SBO:0000020" if glyph.getSBOTermID() != "SBO:0000020" else "SBO:0000459")
    found = diagram.problems(doc)
    assert any("overlap" in p for p in found), found
    assert any("SBGN classes differ" in p for p in found), found
    last = layout.getSpeciesGlyph(layout.getNumSpeciesGlyphs() - 1)
    last.setSpeciesId(first.getSpeciesId())
    assert any("has no glyph" in p for p in diagram.problems(doc))


def test_layout_of_a_cycle_and_of_the_tiny_model() -> None:
    doc = build.antimony_to_sbml(DATA / "tiny.ant")
    drawn = diagram.layout(doc.getModel())
    assert set(drawn.species) == {s.getId() for s in doc.getModel().getListOfSpecies()}
    boxes = list(drawn.boxes().values())
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    laid = diagram.layout_document(doc, drawn)
    assert diagram.problems(laid) == []
    assert diagram.read_layout(laid).species == drawn.species


def test_read_layout_needs_a_layout() -> None:
    with pytest.raises(BcsignalError, match="no layout"):
        diagram.read_layout(build.antimony_to_sbml(DATA / "tiny.ant"))
