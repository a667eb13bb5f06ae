"""Validation: shipped SBML is clean in every category, and every checker can fail."""

from __future__ import annotations

import libsbml
import pytest

from bcsignal import paths
from bcsignal.validate import (
    CATEGORIES,
    annotation_issues,
    libsbml_issues,
    sanity_issues,
    steady_state_issues,
    validate_model,
)

from .conftest import MODEL_IDS


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_shipped_sbml_has_zero_errors_and_zero_warnings(model_id: str) -> None:
    reports = validate_model(model_id)
    assert reports
    for report in reports:
        assert [str(i) for i in report.issues] == [], report.file


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_annotation_coverage_is_complete(model_id: str) -> None:
    doc = libsbml.readSBMLFromFile(str(paths.sbml_path(model_id)))
    model = doc.getModel()
    assert annotation_issues(model) == []
    annotated = [s for s in model.getListOfSpecies() if s.getNumCVTerms() and s.isSetSBOTerm()]
    assert len(annotated) == model.getNumSpecies()
    assert all(r.isSetSBOTerm() for r in model.getListOfReactions())
    assert all(p.isSetSBOTerm() for p in model.getListOfParameters())


def test_every_category_runs(tiny_sbml: str) -> None:
    assert len(CATEGORIES) == 7
    broken = tiny_sbml.replace('units="per_min"', 'units="nM"', 1)
    issues = libsbml_issues(broken, "broken.xml")
    assert any(i.category == "units" and i.severity == "error" for i in issues)


def test_modelling_practice_warnings_are_reported(tiny_sbml: str) -> None:
    doc = libsbml.readSBMLFromString(tiny_sbml)
    doc.getModel().getParameter("kb").unsetValue()
    text = libsbml.writeSBMLToString(doc)
    issues = libsbml_issues(text, "x.xml")
    assert any(i.code == 80702 for i in issues)


def test_sanity_checks_fail_on_bad_values(tiny_sbml: str) -> None:
    doc = libsbml.readSBMLFromString(tiny_sbml)
    model = doc.getModel()
    assert sanity_issues(model) == []
    model.getSpecies("S").setInitialConcentration(-1)
    model.getParameter("kb").setValue(float("nan"))
    model.getParameter("ka").unsetUnits()
    model.getCompartment("cell").setSize(0)
    messages = " ".join(i.message for i in sanity_issues(model))
    for expected in ("species S", "parameter kb", "parameter ka has no unit", "compartment cell"):
        assert expected in messages


def test_annotation_check_fails_on_the_unannotated_tiny_model(tiny_sbml: str) -> None:
    model = libsbml.readSBMLFromString(tiny_sbml).getModel()
    messages = [i.message for i in annotation_issues(model, phenotypes=["inh"])]
    assert any("isDescribedBy PubMed" in m for m in messages)
    assert any(m.startswith("species Sp") for m in messages)
    assert any(m.startswith("reaction activation") for m in messages)
    assert any(m.startswith("parameter ka") for m in messages)
    assert any("phenotype readout inh" in m for m in messages)


def test_steady_state_check(tiny_sbml: str) -> None:
    assert steady_state_issues(tiny_sbml, "tiny") == []
    moved = tiny_sbml.replace('initialConcentration="0.3894427986"', 'initialConcentration="3"')
    assert moved != tiny_sbml
    assert steady_state_issues(moved, "tiny")


def test_phospho_forms_need_a_psimod_version() -> None:
    path = paths.sbml_path(MODEL_IDS[0])
    model = libsbml.readSBMLFromFile(str(path)).getModel()
    phospho = [s for s in model.getListOfSpecies() if s.getId().startswith("p") and s.getNumCVTerms()]
    assert phospho, "the model has phosphorylated forms"
    target = phospho[0]
    terms = [target.getCVTerm(i).clone() for i in range(target.getNumCVTerms())]
    target.unsetCVTerms()
    for term in terms:
        if term.getBiologicalQualifierType() != libsbml.BQB_HAS_VERSION:
            target.addCVTerm(term)
    messages = [i.message for i in annotation_issues(model)]
    assert f"species {target.getId()}: phosphorylated form without bqbiol:hasVersion PSI-MOD term" in messages
    assert not any(m.startswith("species p38:") for m in messages)
