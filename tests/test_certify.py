"""Mechanism certificates: every cut kind certifies a claim and refuses one; errors name file and line."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libsbml
import pytest
import yaml

from bcsignal import paths, registry
from bcsignal.analysis import robustness
from bcsignal.core.errors import BcsignalError
from bcsignal.engine import certify
from bcsignal.engine.certify import CERTIFIED, DEFINITION, FAILS, NO_MECHANISM, NOT_CERTIFIED
from bcsignal.engine.claims.plan import run_claims
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.simulate import new_simulator
from bcsignal.sbml import compose
from bcsignal.sbml.build import Built, antimony_text_to_sbml, load_antimony, write_sbml_string
from bcsignal.spec.claims import ClaimsFile, load_claims, parse_claims

from .conftest import run_cli

DATA = Path(__file__).parent / "data"
TINY_CLAIMS = DATA / "tiny.claims.yaml"

#: The tiny adapting module with a response score defined by an assignment rule (a rule to clamp in).
ROUTES = (
    (DATA / "tiny.ant")
    .read_text(encoding="utf-8")
    .replace(
        "  activation:",
        "  K_resp = 1 nM\n  response := Sp/(K_resp + Sp)\n  response has dimensionless\n  activation:",
    )
)

#: A claim on the rule-defined response, added to the tiny claims.
RESPONSE_UP = {
    "id": "response_up",
    "statement": "stimulus raises the response score",
    "source": "test",
    "relation": "increase",
    "readouts": ["response"],
    "control": "rest",
    "perturbed": "stimulated",
    "at": 15,
}


@pytest.fixture(scope="session")
def routes_sbml() -> str:
    """The tiny module with a rule, as SBML (built once per session)."""
    return write_sbml_string(antimony_text_to_sbml(ROUTES, "routes.ant"))


def _doc(**claim_edits: dict[str, Any]) -> dict[str, Any]:
    """The tiny claims in format 2 (plus response_up), each claim updated with its edit."""
    doc: dict[str, Any] = yaml.safe_load(TINY_CLAIMS.read_text(encoding="utf-8"))
    doc["format"] = 2
    doc["interface"]["readouts"].append("response")
    doc["claims"].append(dict(RESPONSE_UP))
    for claim in doc["claims"]:
        claim.update(claim_edits.get(claim["id"], {}))
    return doc


def _certified(sbml: str, doc: dict[str, Any]) -> dict[str, ClaimResult]:
    claims = parse_claims(yaml.safe_dump(doc, sort_keys=False), origin="inline.claims.yaml")
    results = run_claims(claims, new_simulator(sbml, name="routes"))
    certify.certify("tiny", [claims], results, sbml, origin="routes.xml")
    return {r.claim.id: r for r in results}


def _clamp(species: str, inside: str | None = None) -> dict[str, Any]:
    return {"clamp": {"species": species, **({"in": inside} if inside else {})}}


# Each row: cut kind, claim, a cut from the claim's mechanism that removes it, one that leaves it holding.
CUT_KINDS: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "clamp_in_rate_law",
        "feedback_sustained",
        _clamp("Sp", "feedback_synthesis"),
        _clamp("F", "activation"),
    ),
    ("clamp_in_rule", "response_up", _clamp("Sp", "response"), _clamp("F", "activation")),
    ("clamp_everywhere", "feedback_sustained", _clamp("Sp"), _clamp("F")),
    ("set", "up", {"set": {"parameter": "ka", "value": 0}}, {"set": {"parameter": "ks", "value": 0}}),
    ("delete", "up", {"delete": {"reaction": "activation"}}, {"delete": {"reaction": "feedback_synthesis"}}),
]


@pytest.mark.parametrize(("kind", "claim_id", "removes", "spares"), CUT_KINDS, ids=[c[0] for c in CUT_KINDS])
def test_each_cut_kind_certifies_and_refuses(
    routes_sbml: str, kind: str, claim_id: str, removes: dict[str, Any], spares: dict[str, Any]
) -> None:
    certified = _certified(routes_sbml, _doc(**{claim_id: {"mechanism": [removes]}}))[claim_id]
    assert certified.passed
    assert certified.certificate is not None
    assert certified.certificate.status == CERTIFIED, certified.certificate.summary
    (cut,) = certified.certificate.cuts
    assert cut.verdict == "fails" and cut.margin is not None and cut.margin < 0

    refused = _certified(routes_sbml, _doc(**{claim_id: {"mechanism": [spares]}}))[claim_id]
    assert refused.certificate is not None
    assert refused.certificate.status == NOT_CERTIFIED
    (survivor,) = refused.certificate.survivors
    assert survivor.verdict == "holds" and survivor.cut.label in refused.certificate.summary

    both = _certified(routes_sbml, _doc(**{claim_id: {"mechanism": [removes, spares]}}))[claim_id]
    assert both.certificate is not None and both.certificate.status == NOT_CERTIFIED
    assert [c.cut.label for c in both.certificate.survivors] == [survivor.cut.label]


def test_clamp_everywhere_means_where_the_species_is_a_modifier(routes_sbml: str) -> None:
    doc = libsbml.readSBMLFromString(routes_sbml)  # held: the model lives as long as its document
    ids = certify.ModelIds(doc.getModel())
    # Sp is made by activation and used by deactivation (not modifier sites); it is read by the
    # feedback synthesis and by the response rule
    assert ids.sites("Sp") == ["feedback_synthesis", "response"]
    assert ids.sites("F") == ["activation"]


def test_with_every_switch_off_the_copy_gives_the_intact_margins(routes_sbml: str) -> None:
    cuts: list[dict[str, Any]] = []
    for row in CUT_KINDS:
        cuts += [cut for cut in row[2:] if cut not in cuts]
    claims = parse_claims(yaml.safe_dump(_doc(up={"mechanism": cuts})), origin="x.yaml")
    board = certify.switchboard(routes_sbml, [c for claim in claims.claims for c in claim.mechanism])
    assert len(board.switches) == 7  # every clamp and delete cut once; set cuts need no switch
    intact = run_claims(claims, new_simulator(routes_sbml, name="intact"))
    switched_off = run_claims(claims, new_simulator(board.sbml, name="copy"))
    assert [r.margin for r in switched_off] == [r.margin for r in intact]


def test_the_clamp_value_is_the_reference_pre_equilibrium(routes_sbml: str) -> None:
    inhibited = {
        "id": "inhibitor_relieved",
        "statement": "without inhibitor Sp is higher",
        "source": "test",
        "relation": "increase",
        "readouts": ["Sp"],
        "control": "stimulated_inhibited",
        "perturbed": "stimulated",
        "at": 15,
        "mechanism": [_clamp("F", "activation")],
    }
    doc = _doc(feedback_sustained={"mechanism": [_clamp("F", "activation")]})
    doc["claims"].append(inhibited)
    results = _certified(routes_sbml, doc)
    sim = new_simulator(routes_sbml, name="reference")
    for claim_id, knobs in (("feedback_sustained", {}), ("inhibitor_relieved", {"inh": 0.9})):
        certificate = results[claim_id].certificate
        assert certificate is not None
        sim.preequilibrate(knobs)
        assert certificate.cuts[0].value == pytest.approx(sim.rr["[F]"], rel=1e-12)
    values = {r.certificate.cuts[0].value for r in results.values() if r.certificate and r.certificate.cuts}
    assert len(values) == 2  # the two references differ


def test_statuses_definition_fails_and_no_mechanism(routes_sbml: str) -> None:
    doc = _doc(
        up={"kind": "definition", "mechanism": [{"set": {"parameter": "ka", "value": 0}}]},
        down={"fold": 50.0, "mechanism": [_clamp("F", "activation")]},
    )
    results = _certified(routes_sbml, doc)
    statuses = {cid: r.certificate.status for cid, r in results.items() if r.certificate}
    assert statuses["up"] == DEFINITION
    assert statuses["down"] == FAILS
    assert statuses["insensitive"] == NO_MECHANISM
    up = results["up"].certificate
    assert up is not None and up.cuts[0].verdict == "fails"  # a definition's cuts are still evaluated


# -- a cut naming something the model does not have is an error with file and line ------------------
BAD_CUTS: list[tuple[str, str, str]] = [
    ("unknown species", "{clamp: {species: Zz}}", "unknown species 'Zz'"),
    (
        "unknown reaction in clamp",
        "{clamp: {species: Sp, in: nowhere}}",
        "unknown reaction or rule 'nowhere'",
    ),
    ("species not in that rate law", "{clamp: {species: F, in: deactivation}}", "does not occur"),
    ("clamp of a constant", "{clamp: {species: ka}}", "constant parameter: write set"),
    ("modifier nowhere", "{clamp: {species: S}}", "modifier in no rate law"),
    ("unknown parameter", "{set: {parameter: kz, value: 0}}", "unknown parameter 'kz'"),
    ("set on a knob", "{set: {parameter: stim, value: 0}}", "interface knob"),
    ("unknown reaction", "{delete: {reaction: gone}}", "unknown reaction 'gone'"),
]


@pytest.mark.parametrize(("case", "cut", "expected"), BAD_CUTS, ids=[c[0] for c in BAD_CUTS])
def test_a_bad_cut_names_file_and_line(routes_sbml: str, case: str, cut: str, expected: str) -> None:
    text = TINY_CLAIMS.read_text(encoding="utf-8").replace("format: 1", "format: 2")
    text += (
        "  - {id: cut_me, statement: s, source: test, relation: increase, readouts: [Sp],\n"
        f"     control: rest, perturbed: stimulated, at: 15, mechanism: [{cut}]}}\n"
    )
    claims = parse_claims(text, origin="my.claims.yaml")
    results = run_claims(claims, new_simulator(routes_sbml, name="routes"))
    with pytest.raises(BcsignalError) as info:
        certify.certify("tiny", [claims], results, routes_sbml)
    assert info.value.file == "my.claims.yaml"
    assert info.value.line == len(text.splitlines())
    assert expected in str(info.value) and "claim cut_me" in str(info.value)


LOAD_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("mechanism in format 1", {"format": 1, "up": {"mechanism": [_clamp("F")]}}, "needs claims format 2"),
    ("a cut of two kinds", {"up": {"mechanism": [{**_clamp("F"), "delete": {"reaction": "x"}}]}}, "claim up"),
    ("the same cut twice", {"up": {"mechanism": [_clamp("F"), _clamp("F")]}}, "the same cut is listed twice"),
    ("unknown kind", {"up": {"kind": "opinion"}}, "claim up, field kind"),
    (
        "sufficiency names the wrong knob",
        {"down": {"sufficiency": {"alone": ["stim"], "note": "n"}}},
        "but stimulated_inhibited and stimulated differ in inh",
    ),
    (
        "sufficiency on an ordering",
        {"ranked": {"sufficiency": {"alone": ["stim"], "note": "n"}}},
        "ordering claim cannot state sufficiency",
    ),
]


@pytest.mark.parametrize(("case", "edits", "expected"), LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_format_2_fields_are_validated_on_load(case: str, edits: dict[str, Any], expected: str) -> None:
    version = edits.pop("format", 2)
    doc = _doc(**edits)
    doc["format"] = version
    text = yaml.safe_dump(doc, sort_keys=False)
    with pytest.raises(BcsignalError) as info:
        parse_claims(text, origin="my.claims.yaml")
    assert expected in str(info.value) and info.value.line is not None


def test_sufficiency_that_matches_the_experiments_loads() -> None:
    doc = _doc(
        down={"sufficiency": {"alone": ["inh"], "note": "the inhibitor alone is enough"}},
        feedback_sustained={"sufficiency": {"alone": ["stim"], "note": "the stimulus alone"}},
    )
    claims = parse_claims(yaml.safe_dump(doc, sort_keys=False))
    down = next(c for c in claims.claims if c.id == "down")
    assert down.sufficiency is not None and list(down.sufficiency["alone"]) == ["inh"]


def test_a_format_1_file_loads_with_a_notice() -> None:
    claims = parse_claims(TINY_CLAIMS.read_text(encoding="utf-8"), origin=TINY_CLAIMS)
    assert claims.format == 1 and all(not c.mechanism for c in claims.claims)
    notice = certify.format_notice(claims)
    assert "\n" not in notice and "tiny.claims.yaml is claims format 1" in notice


# -- a paper's cut in a composite ----------------------------------------------------------------------
def test_a_paper_cut_is_translated_to_flattened_ids() -> None:
    built = load_antimony(DATA / "duo.ant")
    assert built.comp is not None
    flat = certify.ModelIds(built.flat.getModel())
    translate = certify.composite_translator(built.comp, flat)
    instance = compose.instances(built.comp)
    last = [i for i, m in instance.items() if m == "tiny"][-1]
    assert translate("tiny", "stim") == "stim"  # linked to the top level
    assert translate("tiny", "activation") == f"{last}__activation"
    assert translate("tiny", "Sp") == f"{last}__Sp"
    if last == "b":
        with pytest.raises(certify.NotApplicableError, match="deleted in the composite"):
            translate("tiny", "feedback_decay")


def test_paper_cuts_run_against_the_shipped_composite() -> None:
    """A Park claim with a mechanism, checked against the composite, runs with translated ids."""
    doc = yaml.safe_load(paths.claims_path("Park_BBRC2007").read_text(encoding="utf-8"))
    doc["format"] = 2
    doc["claims"] = [c for c in doc["claims"] if c["id"] == "pp38_raised"]
    (claim,) = doc["claims"]
    for field_name in ("mechanism", "mechanism_note", "kind", "sufficiency"):
        claim.pop(field_name, None)
    claim["mechanism"] = [{"clamp": {"species": "NDRG2", "in": "p38_phosphorylation"}}]
    park = parse_claims(yaml.safe_dump(doc, sort_keys=False), origin="park.yaml")
    composite: ClaimsFile = load_claims(paths.claims_path("composite"))
    sbml = paths.sbml_path("composite").read_text(encoding="utf-8")
    results = run_claims(park, new_simulator(sbml, name="composite"), model="composite", excuse=True)
    certify.certify(
        "composite",
        [park, composite],
        results,
        sbml,
        comp=certify.composite_document(registry.entry("composite")),
    )
    (result,) = results
    assert result.certificate is not None
    (cut,) = result.certificate.cuts
    assert cut.applied is not None and cut.applied.label == "clamp NDRG2 in park__p38_phosphorylation"
    assert cut.margin is not None and cut.verdict == "fails"


# -- a paper's cut through the merge map: a step merged into one composite reaction ---------------------
#: The duo composite in which both modules make one feedback protein F: their feedback syntheses are
#: deleted and written once at the top level (F_synthesis, constant ks_F), as the composite merges a step
#: several papers write. Module b (the paper `tiny`) is stimulated, module a is not.
MERGED_LINES = """  unit per_min = 1 / 60 second
  a.per_min is per_min
  b.per_min is per_min
  species F in cell = 0.07788855971 nM, Sp_a in cell = 0.3894427986 nM
  species Sp in cell = 0.3894427986 nM, S in cell = 99.6105572 nM
  a.F is F
  b.F is F
  a.Sp is Sp_a
  b.Sp is Sp
  b.S is S
  inh = 0
  b.inh is inh
  ks_F = 0.02 per_min
  a.ks is ks_F
  b.ks is ks_F
  delete a.feedback_synthesis
  delete b.feedback_synthesis
  F_synthesis: -> F; cell*ks_F*(Sp_a + Sp)
  delete b.kdeg
  delete b.feedback_decay"""

#: What the merge map of the merged duo adds to duo.merge.yaml.
MERGED_ENTRIES: list[dict[str, Any]] = [
    {
        "elements": ["a.per_min", "b.per_min"],
        "action": "replaced",
        "became": "per_min",
        "why": "one time unit for both modules",
    },
    {
        "elements": ["a.F", "b.F"],
        "action": "replaced",
        "became": "F",
        "why": "one feedback protein, made by both modules",
    },
    {
        "elements": ["a.Sp"],
        "action": "replaced",
        "became": "Sp_a",
        "why": "module a's active form, read by the merged synthesis",
    },
    {
        "elements": ["b.Sp"],
        "action": "replaced",
        "became": "Sp",
        "why": "module b's active form, read by the merged synthesis",
    },
    {"elements": ["b.S"], "action": "replaced", "became": "S", "why": "module b's inactive form, a readout"},
    {"elements": ["b.inh"], "action": "replaced", "became": "inh", "why": "the inhibitor knob of module b"},
    {
        "elements": ["a.ks", "b.ks"],
        "action": "replaced",
        "became": "ks_F",
        "why": "the synthesis constant of the merged step",
    },
    {
        "elements": ["a.feedback_synthesis", "b.feedback_synthesis"],
        "action": "deleted",
        "became": "F_synthesis",
        "why": "the feedback protein's synthesis is written once, driven by both modules",
    },
    {
        "elements": ["b.tiny__feedback_decay__kineticLaw"],
        "action": "deleted",
        "became": "a.feedback_decay",
        "why": "the rate law of the deleted b.feedback_decay",
    },
    {
        "elements": ["b.kdeg"],
        "action": "deleted",
        "became": "a.kdeg",
        "why": "the one feedback protein decays by module a's step",
        "override": "b's decay constant is not used: module a's step, of the same value, does the decay",
    },
]


@dataclass(frozen=True)
class Merged:
    """The merged duo: its comp document, flattened SBML and merge map."""

    built: Built
    sbml: str
    merge: list[compose.MergeEntry]


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Merged:
    """The merged duo, built once for this module."""
    folder = tmp_path_factory.mktemp("merged")
    (folder / "tiny.ant").write_text((DATA / "tiny.ant").read_text(encoding="utf-8"), encoding="utf-8")
    text = (DATA / "duo.ant").read_text(encoding="utf-8")
    text = text.replace("  a.stim is stim\n", "").replace("  delete b.feedback_decay", MERGED_LINES)
    (folder / "duo.ant").write_text(text, encoding="utf-8")
    built = load_antimony(folder / "duo.ant")
    assert built.comp is not None
    data = yaml.safe_load((DATA / "duo.merge.yaml").read_text(encoding="utf-8"))
    data["entries"] = [e for e in data["entries"] if e["elements"] != ["b.feedback_decay"]]
    next(e for e in data["entries"] if e["became"] == "stim")["elements"] = ["b.stim"]
    data["entries"] += [*MERGED_ENTRIES, {**MERGED_ENTRIES[-2], "elements": ["b.feedback_decay"]}]
    (folder / "duo.merge.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    merge = compose.load_merge_map(folder / "duo.merge.yaml")
    assert compose.merge_map_problems(built.comp, merge) == []
    return Merged(built, write_sbml_string(built.flat), merge)


def _in_merged(merged: Merged, claim_id: str, cuts: list[dict[str, Any]]) -> ClaimResult:
    """One tiny claim with these cuts, checked against the merged duo as a paper's claim."""
    doc = _doc(**{claim_id: {"mechanism": cuts}})
    doc["interface"]["readouts"].remove("response")
    doc["claims"] = [c for c in doc["claims"] if c["id"] == claim_id]
    claims = parse_claims(yaml.safe_dump(doc, sort_keys=False), origin="tiny.claims.yaml")
    results = run_claims(claims, new_simulator(merged.sbml, name="duo"), model="duo", excuse=True)
    certify.certify("duo", [claims], results, merged.sbml, comp=merged.built.comp, merge=merged.merge)
    (result,) = results
    assert result.passed and result.certificate is not None
    return result


def test_a_clamp_and_a_set_translated_through_the_merge_map_certify(merged: Merged) -> None:
    cuts = [_clamp("Sp", "feedback_synthesis"), {"set": {"parameter": "ks", "value": 0}}, _clamp("Sp")]
    result = _in_merged(merged, "feedback_sustained", cuts)
    assert result.certificate is not None
    assert result.certificate.status == CERTIFIED, result.certificate.summary
    applied = [c.applied.label if c.applied else None for c in result.certificate.cuts]
    assert applied == ["clamp Sp in F_synthesis", "set ks_F = 0", "clamp Sp everywhere"]
    assert all(c.verdict == "fails" for c in result.certificate.cuts)
    # the same translated clamp is a real cut: a claim the paper's Sp -> F arrow does not carry survives it
    up = _in_merged(merged, "up", [_clamp("Sp", "feedback_synthesis")])
    assert up.certificate is not None and up.certificate.status == NOT_CERTIFIED
    assert up.certificate.cuts[0].verdict == "holds"


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    # case, the paper's cut, what the report says
    (
        "delete of a step merged with another paper's",
        {"delete": {"reaction": "feedback_synthesis"}},
        "not translatable: b.feedback_synthesis is merged into F_synthesis with a.feedback_synthesis",
    ),
    (
        "set of a deleted parameter",
        {"set": {"parameter": "kdeg", "value": 0}},
        "not translatable: b.kdeg is deleted in the composite and a.kdeg took over its role",
    ),
    (
        "delete of a step another paper's own reaction took over",
        {"delete": {"reaction": "feedback_decay"}},
        "a's own reaction a__feedback_decay took over its role",
    ),
    (
        "clamp everywhere of a species other papers' steps read too",
        _clamp("F"),
        "not translatable: in the composite F is also a modifier in a__activation, which tiny does not have",
    ),
    (
        "clamp of a species the merged step does not read",
        _clamp("S", "feedback_synthesis"),
        "not applicable: b.feedback_synthesis is merged into F_synthesis, whose rate law or rule does not"
        " read S",
    ),
]


@pytest.mark.parametrize(("case", "cut", "expected"), REFUSED, ids=[r[0] for r in REFUSED])
def test_an_untranslatable_cut_is_reported_and_refuses_the_certificate(
    merged: Merged, case: str, cut: dict[str, Any], expected: str
) -> None:
    result = _in_merged(merged, "feedback_sustained", [_clamp("Sp", "feedback_synthesis"), cut])
    assert result.certificate is not None
    assert result.certificate.status == NOT_CERTIFIED
    translated, refused = result.certificate.cuts
    assert translated.verdict == "fails"
    assert refused.verdict == "not evaluated" and refused.applied is None
    assert refused.problem is not None and expected in refused.problem, refused.problem
    assert expected in result.certificate.summary


def test_every_paper_cut_of_the_shipped_composite_translates_or_says_why() -> None:
    """No paper cut is lost in the composite for want of the merge map: each translates to a valid cut."""
    comp = certify.composite_document(registry.entry("composite"))
    assert comp is not None
    flat = libsbml.readSBMLFromString(paths.sbml_path("composite").read_text(encoding="utf-8"))
    ids = certify.ModelIds(flat.getModel())
    translation = certify.CompositeIds(comp, ids, certify.shipped_merge_map(comp))
    translated, refused = 0, []
    for suite in registry.entry("composite").suites:
        if suite.model == "composite":
            continue
        for claim in suite.claims:
            for cut in claim.mechanism:
                try:
                    applied = translation.cut(suite.model, cut)
                except certify.NotApplicableError as exc:
                    refused.append(f"{suite.model}::{claim.id} {cut.label}: {exc}")
                    continue
                assert ids.problem(applied, suite.knobs) is None, (suite.model, claim.id, applied.label)
                translated += 1
    assert translated > 0
    assert not [r for r in refused if "with no replacement" in r or "no counterpart" in r], refused


# -- the command line ---------------------------------------------------------------------------------
def _claims_file(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "my.claims.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _model_file(tmp_path: Path) -> Path:
    path = tmp_path / "routes.ant"
    path.write_text(ROUTES, encoding="utf-8")
    return path


STRICT: list[tuple[str, dict[str, Any], int, int]] = [
    # case, edits (claims other than up and feedback_sustained are dropped), exit plain, exit --strict
    ("all certified", {}, 0, 0),
    ("one not certified", {"up": {"mechanism": [{"set": {"parameter": "ks", "value": 0}}]}}, 0, 1),
    ("one without mechanism", {"up": {"mechanism": None}}, 0, 1),
    ("a definition is not required to be certified", {"up": {"kind": "definition", "mechanism": None}}, 0, 0),
    ("one fails", {"up": {"fold": 50.0}}, 1, 1),
]


@pytest.mark.parametrize(("case", "edits", "plain", "strict"), STRICT, ids=[c[0] for c in STRICT])
def test_strict_exit_codes(tmp_path: Path, case: str, edits: dict[str, Any], plain: int, strict: int) -> None:
    base = {
        "up": {"mechanism": [{"set": {"parameter": "ka", "value": 0}}]},
        "feedback_sustained": {"mechanism": [_clamp("Sp", "feedback_synthesis")]},
    }
    for claim_id, edit in edits.items():
        base[claim_id] = {**base[claim_id], **edit}
    doc = _doc(**base)
    doc["claims"] = [c for c in doc["claims"] if c["id"] in base]
    for claim in doc["claims"]:
        if claim.get("mechanism") is None:
            claim.pop("mechanism", None)
    args = ["check", "--model", str(_model_file(tmp_path)), "--claims", str(_claims_file(tmp_path, doc))]
    code, out, err = run_cli(args, cwd=tmp_path, timeout=60)
    assert code == plain, out + err
    assert "certificate: " in out
    code, out, err = run_cli([*args, "--strict"], cwd=tmp_path, timeout=60)
    assert code == strict, out + err
    if strict and plain == 0:
        assert "not certified: tiny::up" in err


def test_results_json_carries_every_cut(tmp_path: Path) -> None:
    doc = _doc(up={"mechanism": [{"set": {"parameter": "ka", "value": 0}}, _clamp("F")]})
    doc["claims"] = [c for c in doc["claims"] if c["id"] in ("up", "down")]
    out_file = tmp_path / "results.json"
    args = ["check", "--model", str(_model_file(tmp_path)), "--claims", str(_claims_file(tmp_path, doc))]
    code, out, err = run_cli([*args, "--results", str(out_file)], cwd=tmp_path, timeout=60)
    assert code == 0, out + err
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["format"] == 3
    up, down = data["claims"]
    assert set(up["preequilibration"].values()) <= {"newton", "integration"}
    assert set(up["preequilibration"]) == set(up["experiments"])
    assert up["certificate"]["status"] == NOT_CERTIFIED
    assert up["certificate"]["not_certified_by"] == ["clamp F everywhere"]
    assert up["margin"] > 0
    first, second = up["certificate"]["cuts"]
    assert first["cut"] == {"set": {"parameter": "ka", "value": 0.0}} and first["verdict"] == "fails"
    assert first["margin"] < 0 and second["verdict"] == "holds" and second["margin"] > 0
    assert isinstance(second["clamp_value"], float)
    assert down["certificate"] == {
        "status": NO_MECHANISM,
        "summary": NO_MECHANISM,
        "not_certified_by": [],
        "depends_on": [],
        "cuts": [],
        "independent_of": [],
    }


def test_the_cli_prints_the_format_1_notice(tmp_path: Path) -> None:
    args = ["check", "--model", str(DATA / "tiny.ant"), "--claims", str(TINY_CLAIMS)]
    code, out, err = run_cli(args, cwd=tmp_path, timeout=60)
    assert code == 0, out + err
    notices = [line for line in out.splitlines() if line.startswith("notice: ")]
    assert len(notices) == 1 and "is claims format 1" in notices[0]
    assert "certificate: no mechanism" in out


def test_robustness_fractions_are_matched_to_results(routes_sbml: str) -> None:
    results = _certified(routes_sbml, _doc(up={"mechanism": [{"set": {"parameter": "ka", "value": 0}}]}))
    holds = {"up": robustness.Fraction(97, 100, 0.97, (0.92, 0.99)), "down": robustness.Fraction.of(0, 0)}
    summary = robustness.Summary(
        model="tiny",
        samples=100,
        succeeded=100,
        failed=0,
        failures=(),
        sigma=0.3,
        seed=0,
        parameters=("ka",),
        nominal_failure=None,
        all_claims_hold=holds["up"],
        claims={name: robustness.ClaimSummary(h, False, {}, ()) for name, h in holds.items()},
    )
    fractions = summary.fractions()
    assert fractions == {"up": 0.97}
    assert fractions[certify.robustness_name(results["up"])] == 0.97
    composite_result = ClaimResult(model="composite", claim=results["up"].claim, suite="tiny")
    assert certify.robustness_name(composite_result) == "tiny::up"
