"""Composite machinery on a two-module comp model: comp + flat build, links and the merge map checker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bcsignal import compose
from bcsignal.build import Built, load_antimony, write_sbml_string
from bcsignal.errors import BcsignalError
from bcsignal.simulate import new_simulator

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
