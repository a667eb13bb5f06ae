"""Composite machinery on a two-module comp model: comp + flat build, links and the merge map checker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import libsbml
import pytest
import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.engine.simulate import new_simulator
from bcsignal.sbml import compose
from bcsignal.sbml.build import Built, load_antimony, write_sbml_string

from .conftest import DATA


@pytest.fixture(scope="module")
def duo() -> Built:
    built = load_antimony(DATA / "duo.ant")
    assert built.comp is not None
    return built


def test_comp_source_gives_comp_and_flat_documents(duo: Built) -> None:
    assert compose.is_composite(duo.comp)
    assert not compose.is_composite(duo.flat)
    assert compose.instances(duo.comp) == {"a": "tiny", "b": "tiny"}
    flat_ids = {p.getId() for p in duo.flat.getModel().getListOfParameters()}
    assert "stim" in flat_ids and "a__ka" in flat_ids and "b__ka" in flat_ids
    reactions = {r.getId() for r in duo.flat.getModel().getListOfReactions()}
    assert "a__feedback_decay" in reactions and "b__feedback_decay" not in reactions


def test_one_knob_drives_both_modules(duo: Built) -> None:
    sim = new_simulator(write_sbml_string(duo.flat), name="duo")
    sim.rr["stim"] = 1.0
    sim.rr.simulate(0, 30, 2)
    assert sim.rr["[a__Sp]"] > 1 and sim.rr["[b__Sp]"] > 1


def test_complete_merge_map_has_no_problems(duo: Built) -> None:
    entries = compose.load_merge_map(DATA / "duo.merge.yaml")
    assert compose.merge_map_problems(duo.comp, entries) == []


def _edited(tmp_path: Path, edit: Callable[[list[Any]], object]) -> list[compose.MergeEntry]:
    data = yaml.safe_load((DATA / "duo.merge.yaml").read_text())
    edit(data["entries"])
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    return compose.load_merge_map(path)


@pytest.mark.parametrize(
    ("case", "edit", "expected"),
    [
        ("missing", lambda e: e.pop(3), "b.feedback_decay: deleted in the composite but missing"),
        ("wrong action", lambda e: e[2].update(action="shared"), "a.stim: the merge map says shared"),
        ("wrong target", lambda e: e[1].update(became="room"), "became room"),
        ("extra", lambda e: e[0]["elements"].append("c.nM"), "c.nM: in the merge map but not"),
        ("twice", lambda e: e[1]["elements"].append("a.nM"), "a.nM: listed twice"),
    ],
)
def test_merge_map_checker_fails(
    duo: Built, tmp_path: Path, case: str, edit: Callable[[list[Any]], object], expected: str
) -> None:
    problems = compose.merge_map_problems(duo.comp, _edited(tmp_path, edit))
    assert any(expected in p for p in problems), problems


def test_merge_map_form_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "format: 1\nentries:\n  - elements: [a.x]\n    action: merged\n    became: x\n    why: because\n"
    )
    with pytest.raises(BcsignalError, match="action") as info:
        compose.load_merge_map(path)
    assert info.value.line == 3


@pytest.mark.parametrize("load", [compose.load_merge_map, compose.load_crosstalk])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("format: 1\nentries: &e [1]\ncrosstalk: *e\n", "alias"),
        ("format: 1\nentries: []\ncrosstalk: " + "[" * 80 + "]" * 80 + "\n", "nests deeper"),
    ],
)
def test_merge_map_is_screened_before_yaml_reads_it(
    tmp_path: Path, load: Callable[[Path], object], text: str, expected: str
) -> None:
    path = tmp_path / "m.merge.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BcsignalError, match=expected) as info:
        load(path)
    assert info.value.tool == "screen"


def _duo_with(tmp_path: Path, extra: str) -> Built:
    """The duo model with more lines in its main model (tiny.ant copied next to it)."""
    (tmp_path / "tiny.ant").write_text((DATA / "tiny.ant").read_text())
    text = (
        (DATA / "duo.ant")
        .read_text()
        .replace("  delete b.feedback_decay", extra + "\n  delete b.feedback_decay")
    )
    path = tmp_path / "duo.ant"
    path.write_text(text)
    return load_antimony(path)


UNIT = "  unit per_nM_per_min = litre / (1e-9 mole * 60 second)\n"


def test_submodel_values_set_in_the_main_model_reach_comp_and_flat(tmp_path: Path) -> None:
    """Antimony drops `inst.x = v` from its comp export; the build carries it as a top-level override."""
    built = _duo_with(tmp_path, UNIT + "  b.ka = 0.5\n  a.F = 0.2")
    assert built.comp is not None
    assert compose.overrides(built.comp) == {"b_ka": ("b", "ka"), "a_F": ("a", "F")}
    top = built.comp.getModel()
    assert top.getParameter("b_ka").getValue() == 0.5
    assert top.getSpecies("a_F").getInitialConcentration() == 0.2
    flat = built.flat.getModel()
    assert flat.getParameter("b__ka").getValue() == 0.5
    assert flat.getParameter("a__ka").getValue() == 0.05
    assert flat.getSpecies("a__F").getInitialConcentration() == 0.2
    assert flat.getElementBySId("b_ka") is None
    # the override keeps the element's annotations and units and is read by the submodel's rate law
    assert flat.getParameter("b__ka").getUnits() == "per_nM_per_min"
    law = libsbml.formulaToL3String(flat.getReaction("b__activation").getKineticLaw().getMath())
    assert "b__ka" in law
    # a value override is not a merge, but the paper's value is not used: the merge map must say why
    entries = compose.load_merge_map(DATA / "duo.merge.yaml")
    problems = compose.merge_map_problems(built.comp, entries)
    assert len(problems) == 1 and problems[0].startswith("b.ka: the composite does not use"), problems
    found = compose.value_overrides(built.comp, entries)
    assert [(o.element, o.paper_value, o.value, o.how, o.why) for o in found] == [
        ("b.ka", 0.05, 0.5, "overridden", None)
    ]


def test_every_override_of_a_paper_value_is_counted_with_its_reason(tmp_path: Path) -> None:
    """Three ways a composite can leave a module's value unused: `inst.x = v`, a linked top-level
    parameter of another value, a deleted parameter; each needs its reason in the merge map."""
    built = _duo_with(
        tmp_path,
        UNIT
        + "  unit per_min = 1 / 60 second\n  a.per_min is per_min\n  b.ka = 0.5\n"
        + "  kd = 0.2 per_min\n  a.kd is kd\n  delete b.kdeg",
    )
    assert built.comp is not None
    data = yaml.safe_load((DATA / "duo.merge.yaml").read_text())
    data["entries"] += [
        {
            "elements": ["a.per_min"],
            "action": "replaced",
            "became": "per_min",
            "why": "one unit of first-order rates",
        },
        {
            "elements": ["b.ka"],
            "action": "overridden",
            "became": "b__ka",
            "why": "b is activated faster here",
        },
        {"elements": ["a.kd"], "action": "replaced", "became": "kd", "why": "the decay of a is top-level"},
        {
            "elements": ["b.kdeg"],
            "action": "deleted",
            "became": "a.feedback_decay",
            "why": "b's feedback decay is deleted",
        },
        {
            "elements": ["b.tiny__feedback_decay__kineticLaw"],
            "action": "deleted",
            "became": "a.feedback_decay",
            "why": "the kinetic law of the deleted reaction names the deleted constant",
        },
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    entries = compose.load_merge_map(path)
    problems = compose.merge_map_problems(built.comp, entries)
    assert sorted(p.split(":")[0] for p in problems) == ["a.kd", "b.kdeg"], problems
    by_element = {e["elements"][0]: e for e in data["entries"]}
    by_element["a.kd"]["override"] = "the composite's decay is measured in the shared cell"
    by_element["b.kdeg"]["override"] = "b's feedback protein is stable in the composite"
    path.write_text(yaml.safe_dump(data))
    entries = compose.load_merge_map(path)
    assert compose.merge_map_problems(built.comp, entries) == []
    found = {o.element: o for o in compose.value_overrides(built.comp, entries)}
    assert sorted(found) == ["a.kd", "b.ka", "b.kdeg"]
    assert (found["a.kd"].how, found["a.kd"].value, found["a.kd"].became) == ("replaced", 0.2, "kd")
    assert (found["b.kdeg"].how, found["b.kdeg"].value) == ("deleted", None)
    assert found["b.ka"].why == "b is activated faster here"


def test_comp_and_flat_documents_give_the_same_trajectory(tmp_path: Path) -> None:
    built = _duo_with(tmp_path, UNIT + "  b.ka = 0.5")
    assert built.comp is not None
    runs = []
    for doc in (built.flat, built.comp):
        sim = new_simulator(write_sbml_string(doc), name="duo")
        sim.rr["stim"] = 1.0
        runs.append(sim.rr.simulate(0, 30, 7, selections=["time", "[a__Sp]", "[b__Sp]"]))
    assert runs[0][-1, 2] > runs[0][-1, 1]  # b's faster activation shows
    assert abs(runs[0] - runs[1]).max() < 1e-6


def test_override_name_clash_is_our_error(tmp_path: Path) -> None:
    with pytest.raises(BcsignalError, match="defines b_ka"):
        _duo_with(tmp_path, UNIT + "  b.ka = 0.5\n  b_ka = 1 nM")


def test_override_needs_its_unit_in_the_main_model(tmp_path: Path) -> None:
    with pytest.raises(BcsignalError, match="unit per_nM_per_min"):
        _duo_with(tmp_path, "  b.ka = 0.5")
