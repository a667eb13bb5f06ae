"""Validation: shipped SBML is clean in every category, and every checker can fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libsbml
import pytest

from bcsignal import paths
from bcsignal.checks.validation import (
    CATEGORIES,
    Report,
    annotation_issues,
    interface_issues,
    libsbml_issues,
    provenance_issues,
    sanity_issues,
    steady_state_issues,
)
from bcsignal.core.errors import BcsignalError
from bcsignal.spec.claims import load_claims
from bcsignal.spec.provenance import read_provenance

from .conftest import MODEL_IDS


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_shipped_sbml_has_zero_errors_and_zero_warnings(
    model_id: str, validations: dict[str, list[Report]]
) -> None:
    reports = validations[model_id]
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


# -- interface and provenance checkers pass on a shipped model and fail on edits -------------------
PAPER = "Park_BBRC2007"


def _paper_model() -> tuple[libsbml.SBMLDocument, libsbml.Model]:
    doc = libsbml.readSBMLFromFile(str(paths.sbml_path(PAPER)))
    return doc, doc.getModel()


def test_interface_check_fails_on_wrong_knobs_and_missing_readouts() -> None:
    claims = load_claims(paths.claims_path(PAPER))
    _doc, model = _paper_model()  # the document owns the model: keep it alive
    assert interface_issues(model, claims) == []
    model.getParameter("IGF1_dose").setValue(5)
    model.getParameter("NDRG2_OE").setUnits("nM")
    model.getParameter("p38_inhibitor").setConstant(False)
    model.removeSpecies("pJNK")
    messages = " | ".join(i.message for i in interface_issues(model, claims))
    assert "knob IGF1_dose: default 5.0 != 0" in messages
    assert "knob NDRG2_OE: unit nM != dimensionless" in messages
    assert "knob p38_inhibitor: not a constant global parameter" in messages
    assert "readout pJNK: no species or variable" in messages


def test_provenance_check_fails_on_value_unit_missing_and_extra_rows() -> None:
    table = dict(read_provenance(paths.parameters_path(PAPER)))
    _doc, model = _paper_model()  # the document owns the model: keep it alive
    assert provenance_issues(model, table) == []
    first, second = sorted(table)[:2]
    model.getParameter(first).setValue(table[first].value * 2 + 1)
    del table[second]
    table["ghost"] = table[first]
    messages = " | ".join(i.message for i in provenance_issues(model, table))
    assert f"parameter {first}: table says" in messages
    assert f"parameter {second}: no row in the provenance table" in messages
    assert "row ghost: not a constant parameter of the model" in messages


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda rows: rows.__setitem__(0, "id\tvalue"), "header must be"),
        (lambda rows: rows.append("k\t1\tper_min\tSBO:0000009\tguess\t\tx"), "source 'guess'"),
        (lambda rows: rows.append("k\t1\tper_min\tSBO:0000009\tchosen\t\t"), "needs a note"),
        (lambda rows: rows.append("k\tnan\tper_min\tSBO:0000009\tknob\t\t"), "not finite"),
        (lambda rows: rows.append(rows[1]), "listed twice"),
    ],
    ids=["header", "source", "chosen_without_note", "nan", "duplicate"],
)
def test_provenance_table_form_errors_name_the_line(tmp_path: Path, edit: Any, expected: str) -> None:
    rows = paths.parameters_path(PAPER).read_text().splitlines()
    edit(rows)
    bad = tmp_path / "bad.parameters.tsv"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(BcsignalError, match=expected) as info:
        read_provenance(bad)
    assert info.value.file == str(bad) and info.value.line is not None
