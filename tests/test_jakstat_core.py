"""The shared JAK/STAT3 core: each shared step is identical in every model that writes it (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import libsbml
import pytest
import yaml

from bcsignal import paths

CORE = Path(__file__).parent / "data" / "jakstat_core.yaml"
STEPS: dict[str, list[str]] = yaml.safe_load(CORE.read_text(encoding="utf-8"))["steps"]


def _names(ast: libsbml.ASTNode) -> set[str]:
    """Return every symbol a formula names."""
    found = {ast.getName()} if ast.isName() else set()
    for i in range(ast.getNumChildren()):
        found |= _names(ast.getChild(i))
    return found


def step_signature(model: libsbml.Model, reaction_id: str) -> dict[str, Any]:
    """Return what makes a step the same step: species, rate law, and each constant's value and unit."""
    reaction = model.getReaction(reaction_id)
    if reaction is None:
        raise AssertionError(f"{model.getId()}: no reaction {reaction_id}")
    law = reaction.getKineticLaw().getMath()
    constants = {}
    for name in sorted(_names(law)):
        p = model.getParameter(name)
        if p is not None:
            constants[name] = (p.getValue(), p.getUnits())
        c = model.getCompartment(name)
        if c is not None:
            constants[name] = (c.getSize(), c.getUnits())
    return {
        "reactants": sorted((s.getSpecies(), s.getStoichiometry()) for s in reaction.getListOfReactants()),
        "products": sorted((s.getSpecies(), s.getStoichiometry()) for s in reaction.getListOfProducts()),
        "modifiers": sorted(m.getSpecies() for m in reaction.getListOfModifiers()),
        "rate_law": libsbml.formulaToL3String(law),
        "constants": constants,
    }


def _model(model_id: str, text: str | None = None) -> libsbml.Model:
    doc = libsbml.readSBMLFromString(text or paths.sbml_path(model_id).read_text(encoding="utf-8"))
    return doc.getModel()


def test_core_lists_only_shipped_models() -> None:
    shipped = set(paths.model_ids())
    assert STEPS and all(len(models) >= 2 and set(models) <= shipped for models in STEPS.values())


@pytest.mark.parametrize("step", sorted(STEPS))
def test_shared_step_is_identical_in_every_model(step: str) -> None:
    first, *others = STEPS[step]
    expected = step_signature(_model(first), step)
    assert expected["constants"], f"{step}: a rate law with no constant"
    for other in others:
        assert step_signature(_model(other), step) == expected, f"{step}: {other} differs from {first}"


def test_signature_tells_a_changed_value_and_a_changed_law_apart() -> None:
    """The comparison fails when one parameter value or one rate law of a shared step differs."""
    step = "STAT3_dephosphorylation"
    a, b = STEPS[step][:2]
    text = paths.sbml_path(b).read_text(encoding="utf-8")
    doc = libsbml.readSBMLFromString(text)
    model = doc.getModel()
    assert step_signature(_model(a), step) == step_signature(model, step)
    model.getParameter("Km_PTP").setValue(2 * model.getParameter("Km_PTP").getValue())
    assert step_signature(_model(a), step) != step_signature(model, step)
    doc = libsbml.readSBMLFromString(text)
    model = doc.getModel()
    kinetic = model.getReaction(step).getKineticLaw()
    kinetic.setMath(libsbml.parseL3Formula("cell * kcat_PTP * PTP_total * pSTAT3 / (Km_PTP + pSTAT3)"))
    assert step_signature(_model(a), step) != step_signature(model, step)
