"""Composite models: merged steps appear once, totals are the papers', one id per interface element,
at most three excused claims, and both composite files agree in libroadrunner and COPASI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import libsbml
import numpy as np
import pytest

from bcsignal import paths, registry
from bcsignal.app import cli
from bcsignal.core.agreement import agree, scores
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.copasi import CopasiModel, run_protocol
from bcsignal.engine.run import run_model
from bcsignal.engine.simulate import load_sbml_text
from bcsignal.sbml import compose
from bcsignal.spec.claims import ClaimsFile, load_claims
from bcsignal.spec.protocol import Phase, Protocol

from .conftest import MODEL_IDS

#: Registry models whose claims file has a `composite:` block.
COMPOSITES = [e.id for e in registry.current().entries() if e.is_composite]
#: Conserved proteins of the shared vocabulary (docs/modelling.md): inactive and phosphorylated form.
CONSERVED = (("JAK", "pJAK"), ("STAT3", "pSTAT3"), ("AKT", "pAKT"), ("p38", "pp38"), ("JNK", "pJNK"))
#: Most paper claims a composite may excuse (issue 7).
MAX_EXCUSED = 3
#: Knob settings for the simulator cross-check, each run for 600 min from the unperturbed state.
KNOB_SETTINGS = (
    {"IL6_dose": 1.0},
    {"IGF1_dose": 13.0, "miR424_503_KO": 1.0, "NDRG2_OE": 1.0},
    {"TGFb_dose": 0.2, "Ras_V12": 1.0, "JAK_inhibitor": 0.9},
)
#: Output times of the simulator cross-check (minutes).
TIMES = np.linspace(0.0, 600.0, 13)
#: Readouts compared between simulators (those each composite has are used).
COMPARED = ("pSTAT3", "pJAK", "pAKT", "BCL2", "IL6", "miR424_503", "migration", "EMT", "apoptosis")


pytestmark = pytest.mark.skipif(not COMPOSITES, reason="no composite model in the registry")


def _submodels(model_id: str) -> list[ClaimsFile]:
    return [sub.claims for sub in registry.entry(model_id).submodels]


def _merge_map_file(model_id: str) -> Path:
    path = registry.entry(model_id).merge_map_file
    assert path is not None
    return path


def _flat(model_id: str) -> libsbml.Model:
    doc = libsbml.readSBMLFromFile(str(paths.sbml_path(model_id)))
    return doc.getModel()


def _comp_file(model_id: str) -> Path:
    comp = registry.entry(model_id).comp_sbml
    assert comp is not None
    return comp


def _paper(model_id: str) -> libsbml.Model:
    return libsbml.readSBMLFromFile(str(paths.sbml_path(model_id))).getModel()


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_at_most_three_paper_claims_are_excused(model_id: str, claim_results: dict[str, ClaimResult]) -> None:
    excused = [c.id for s in _submodels(model_id) for c in s.claims if c.composite_exception is not None]
    assert len(excused) <= MAX_EXCUSED, excused
    mine = [r for r in claim_results.values() if r.model == model_id]
    assert sum(r.excused for r in mine) <= MAX_EXCUSED
    assert all(r.passed for r in mine if r.claim.prediction and r.suite == model_id)


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_every_interface_id_is_one_top_level_element(model_id: str) -> None:
    """Each knob and readout of every paper is a top-level id, and no paper keeps a copy of it."""
    flat = _flat(model_id)
    ids = {flat.getListOfAllElements().get(i).getId() for i in range(flat.getListOfAllElements().getSize())}
    own = load_claims(paths.claims_path(model_id))
    for claims in [own, *_submodels(model_id)]:
        for sid in (*claims.knobs, *claims.readouts):
            assert sid in ids, f"{claims.model}: {sid} is not a top-level id of {model_id}"
            copies = sorted(i for i in ids if i.endswith(f"__{sid}"))
            assert not copies, f"{sid} has paper copies {copies}"
            assert sid in own.knobs or sid in own.readouts, f"{sid} missing from the composite interface"


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_each_shared_step_and_species_appears_once(model_id: str) -> None:
    """A reaction or species id that two papers share (docs/modelling.md) is one element of the composite."""
    papers = [_paper(s.model) for s in _submodels(model_id)]
    reactions = Counter(r.getId() for m in papers for r in m.getListOfReactions())
    species = Counter(s.getId() for m in papers for s in m.getListOfSpecies())
    flat = _flat(model_id)
    for kind, counts, elements in (
        ("reaction", reactions, flat.getListOfReactions()),
        ("species", species, flat.getListOfSpecies()),
    ):
        shared = sorted(k for k, n in counts.items() if n > 1)
        assert shared, f"the papers share no {kind}"
        for sid in shared:
            found = [e.getId() for e in elements if e.getId() == sid or e.getId().endswith(f"__{sid}")]
            assert found == [sid], f"{kind} {sid}: {found}"


@pytest.fixture(scope="module")
def steady() -> Iterator[dict[str, dict[str, float]]]:
    """Initial concentrations of every composite and paper model, by model id."""
    values: dict[str, dict[str, float]] = {}
    for mid in MODEL_IDS:
        model = _flat(mid)
        values[mid] = {s.getId(): s.getInitialConcentration() for s in model.getListOfSpecies()}
    yield values


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_conserved_totals_are_the_papers(model_id: str, steady: dict[str, dict[str, float]]) -> None:
    composite = steady[model_id]
    checked = 0
    for inactive, active in CONSERVED:
        found = [
            k for k in composite if k in (inactive, active) or k.endswith((f"__{inactive}", f"__{active}"))
        ]
        if not found:
            continue
        total = sum(composite[k] for k in found)
        assert len(found) == 2, f"{inactive}: one pool expected, found {found}"
        for sub in _submodels(model_id):
            paper = steady[sub.model]
            if inactive in paper and active in paper:
                assert total == pytest.approx(paper[inactive] + paper[active], rel=1e-8), (
                    sub.model,
                    inactive,
                )
                checked += 1
    assert checked >= 3
    # the merged reactions conserve them under stimulation
    rr = load_sbml_text(paths.sbml_path(model_id).read_text(encoding="utf-8"))
    for knob in ("IL6_dose", "IGF1_dose", "GDNF_dose"):
        if knob in rr.model.getGlobalParameterIds():
            rr[knob] = 10.0
    rr.simulate(0, 120, 3)
    for inactive, active in CONSERVED[:3]:
        if inactive in composite:
            assert rr[f"[{inactive}]"] + rr[f"[{active}]"] == pytest.approx(
                composite[inactive] + composite[active], rel=1e-6
            )


def _roadrunner(rr: Any, knobs: dict[str, float], ids: list[str]) -> np.ndarray:
    """Run a compiled model from its initial state with the given knob values."""
    rr.reset()
    for knob, value in knobs.items():
        rr[knob] = value
    selections = [f"[{i}]" if i in rr.model.getFloatingSpeciesIds() else i for i in ids]
    return np.array(rr.simulate(times=list(TIMES), selections=selections))


def _copasi(text: str, origin: str, knobs: dict[str, float], ids: list[str]) -> np.ndarray:
    """Run a fresh COPASI import (comp documents are flattened by COPASI's importer)."""
    protocol = Protocol(phases=(Phase(duration=float(TIMES[-1])),), preequilibration=knobs)
    with CopasiModel(text, origin=origin) as copasi:
        (out,) = run_protocol(copasi, protocol, [TIMES], ids, preequilibration_time=0.0).phases
    return np.array([out[i] for i in ids]).T


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_comp_and_flat_files_agree_in_libroadrunner_and_copasi(model_id: str) -> None:
    flat_text = paths.sbml_path(model_id).read_text(encoding="utf-8")
    comp_text = _comp_file(model_id).read_text(encoding="utf-8")
    flat = _flat(model_id)
    ids = [i for i in COMPARED if flat.getElementBySId(i) is not None]
    knob_ids = sorted({k for setting in KNOB_SETTINGS for k in setting if flat.getParameter(k) is not None})
    runners = {}
    for name, text in (("flat", flat_text), ("comp", comp_text)):
        rr = load_sbml_text(text, origin=name)
        rr.integrator.relative_tolerance = 1e-10
        rr.integrator.absolute_tolerance = 1e-14
        runners[name] = rr
    for setting in (*KNOB_SETTINGS, {}):
        knobs = {k: setting.get(k, flat.getParameter(k).getValue()) for k in knob_ids}
        expected = _roadrunner(runners["flat"], knobs, ids)
        moved = not np.allclose(expected[0], expected[-1], rtol=1e-3)
        assert moved == bool(setting), f"{setting}: the unperturbed model must stay, a knob must act"
        for name, got in (
            ("libroadrunner comp", _roadrunner(runners["comp"], knobs, ids)),
            ("COPASI flat", _copasi(flat_text, "flat", knobs, ids)),
            ("COPASI comp", _copasi(comp_text, "comp", knobs, ids)),
        ):
            assert got.shape == expected.shape, name
            assert agree(got, expected), f"{name} {setting}: worst score {scores(got, expected).max():.3g}"


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_check_prints_every_paper_then_the_predictions(
    model_id: str, claim_results: dict[str, ClaimResult], capsys: pytest.CaptureFixture[str]
) -> None:
    cli.print_results([r for r in claim_results.values() if r.model == model_id])
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("== ")]
    expected = [f"== {model_id}: claims of {s.model}" for s in _submodels(model_id)] + [f"== {model_id}"]
    assert headers == expected


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_merge_map_command_shows_a_complete_map(model_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["merge-map", model_id]) == 0
    out = capsys.readouterr()
    assert "problem" not in out.err
    assert any(line.split()[2] == "deleted" for line in out.out.splitlines())


#: Length of the all-inputs run of the bound test (minutes): 7 days.
ALL_INPUTS_DAYS = 7 * 24 * 60
#: A composite species may reach at most this many times the largest value any paper model reaches.
BOUND_FOLD = 10.0


def _highest_inputs() -> dict[str, float]:
    """Every knob at the highest value any claims file's experiment gives it (switches on, drugs on)."""
    highest: dict[str, float] = {}
    for mid in MODEL_IDS:
        for exp in load_claims(paths.claims_path(mid)).experiments.values():
            protocol = exp.protocol
            settings = [protocol.preequilibration, *(phase.set for phase in protocol.phases)]
            for setting in settings:
                for knob, value in setting.items():
                    highest[knob] = max(highest.get(knob, 0.0), float(value))
    return highest


def _largest(model_id: str, knobs: dict[str, float]) -> dict[str, float]:
    """Largest concentration of each species over 7 days with the given knobs, from the initial state."""
    rr = load_sbml_text(paths.sbml_path(model_id).read_text(encoding="utf-8"), origin=model_id)
    params = set(rr.model.getGlobalParameterIds())
    for knob, value in knobs.items():
        if knob in params:
            rr[knob] = value
    species = list(rr.model.getFloatingSpeciesIds())
    out = np.array(rr.simulate(0, ALL_INPUTS_DAYS, 2017, selections=[f"[{s}]" for s in species]))
    return dict(zip(species, out.max(axis=0).tolist(), strict=True))


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_every_input_on_for_seven_days_stays_within_ten_fold_of_the_papers(model_id: str) -> None:
    """All ligands at their experiments' highest doses, every switch and drug on: no species of the
    composite exceeds 10x the largest value the same species reaches in any paper model."""
    knobs = _highest_inputs()
    assert {"IL6_dose", "IGF1_dose", "TGFb_dose", "GDNF_dose", "chemotherapy", "miR424_503_KO"} <= set(knobs)
    composite = _largest(model_id, knobs)
    instances = {s.model: s for s in _submodels(model_id)}
    comp_doc = libsbml.readSBMLFromFile(str(_comp_file(model_id)))
    by_instance = {
        sub.getId(): sub.getModelRef() for sub in comp_doc.getModel().getPlugin("comp").getListOfSubmodels()
    }
    papers = {mid: _largest(mid, knobs) for mid in instances}
    compared = 0
    too_high = []
    for sid, value in composite.items():
        inst, _, own = sid.partition("__")
        if own and inst in by_instance:
            bounds = [papers[by_instance[inst]].get(own)]
        else:
            bounds = [p.get(sid) for p in papers.values()]
        found = [b for b in bounds if b is not None]
        assert found, f"{sid}: no paper model has this species"
        compared += 1
        if value > BOUND_FOLD * max(found) + 1e-9:
            too_high.append(f"{sid}: {value:.4g} nM, papers at most {max(found):.4g} nM")
    assert compared == len(composite)
    assert not too_high, too_high


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_every_override_of_a_paper_value_is_counted_and_justified(model_id: str) -> None:
    """`bcsignal check` prints the number of paper values the composite does not use, each with its reason."""
    found = compose.shipped_overrides(registry.entry(model_id))
    assert found is not None
    lines = compose.override_lines(registry.entry(model_id))
    assert lines[0] == f"overrides of paper values in {model_id}: {len(found)}"
    assert len(lines) == len(found) + 1
    assert all(o.why for o in found), [o.element for o in found if not o.why]
    assert {o.how for o in found} <= {"replaced", "overridden", "deleted"}
    assert compose.shipped_overrides(registry.entry(_submodels(model_id)[0].model)) is None


#: Fewest certified cross-paper predictions a composite carries (issue 19).
MIN_PREDICTIONS = 10


@pytest.fixture(scope="module")
def certified() -> dict[str, list[ClaimResult]]:
    """Every composite's claims checked intact and under their cuts, by composite id."""
    return {mid: run_model(registry.entry(mid)).results for mid in COMPOSITES}


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_every_crosstalk_arrow_is_cited_and_cut_by_a_certified_prediction(
    model_id: str, certified: dict[str, list[ClaimResult]]
) -> None:
    arrows = compose.load_crosstalk(_merge_map_file(model_id))
    assert arrows, "the merge map lists no crosstalk"
    flat = _flat(model_id)
    predictions = [
        r
        for r in certified[model_id]
        if r.claim.prediction
        and r.suite == model_id
        and r.certificate is not None
        and r.certificate.certified
    ]
    for arrow in arrows:
        reaction = flat.getReaction(arrow.reaction)
        assert reaction is not None, f"{arrow.reaction}: no such reaction"
        law = libsbml.formulaToL3String(reaction.getKineticLaw().getMath())
        assert arrow.modifier in law.replace("(", " ").replace(")", " ").replace("*", " ").split(), (
            f"{arrow.reaction} does not read {arrow.modifier}"
        )
        cutting = [
            r.claim.id
            for r in predictions
            if any(
                c.kind == "clamp" and c.target == arrow.modifier and c.inside == arrow.reaction
                for c in r.claim.mechanism
            )
        ]
        assert cutting, f"no certified prediction cuts {arrow.modifier} in {arrow.reaction}"


@pytest.mark.parametrize("model_id", COMPOSITES)
def test_at_least_ten_certified_cross_paper_predictions(
    model_id: str, certified: dict[str, list[ClaimResult]]
) -> None:
    mine = [r for r in certified[model_id] if r.suite == model_id]
    assert all(r.claim.prediction for r in mine)
    done = [r.claim.id for r in mine if r.certificate is not None and r.certificate.certified]
    assert len(done) >= MIN_PREDICTIONS, done
    assert len(done) == len(mine), [r.claim.id for r in mine if r.claim.id not in done]
