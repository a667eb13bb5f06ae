"""Cuts a claim must survive (`independent_of:`): certified when it holds under each, dependent when not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.engine import certify
from bcsignal.engine.certify import CERTIFIED, DEPENDENT, NOT_CERTIFIED
from bcsignal.engine.claims.plan import run_claims
from bcsignal.engine.simulate import new_simulator
from bcsignal.spec.claims import parse_claims

from .conftest import run_cli
from .test_certify import CUT_KINDS, TINY_CLAIMS, _certified, _claims_file, _clamp, _doc, _model_file
from .test_certify import routes_sbml as routes_sbml  # the session fixture


@pytest.mark.parametrize(("kind", "claim_id", "removes", "spares"), CUT_KINDS, ids=[c[0] for c in CUT_KINDS])
def test_each_cut_kind_as_a_survive_cut_certifies_and_refuses(
    routes_sbml: str, kind: str, claim_id: str, removes: dict[str, Any], spares: dict[str, Any]
) -> None:
    edits = {"mechanism": [removes], "independent_of": [spares], "independent_of_note": "the paper says so"}
    result = _certified(routes_sbml, _doc(**{claim_id: edits}))[claim_id]
    certificate = result.certificate
    assert certificate is not None and certificate.status == CERTIFIED, certificate
    (survived,) = certificate.independence
    assert survived.survive and survived.verdict == "holds" and survived.margin is not None
    assert survived.margin >= 0 and survived.as_expected and "survives 1 cut" in certificate.summary
    assert not certificate.dependencies

    # the same claim listing its mechanism's cut as one it must survive: it depends on that edge
    dependent = _certified(routes_sbml, _doc(**{claim_id: {"independent_of": [removes]}}))[claim_id]
    certificate = dependent.certificate
    assert dependent.passed and certificate is not None and certificate.status == DEPENDENT
    (broken,) = certificate.dependencies
    assert broken.verdict == "fails" and broken.margin is not None and broken.margin < 0
    assert not broken.as_expected
    label = certificate.independence[0].cut.label
    assert certificate.summary.startswith(f"{DEPENDENT}: depends on {label} (margin -")


def test_a_dependency_outranks_a_certified_mechanism(routes_sbml: str) -> None:
    edits = {
        "mechanism": [{"delete": {"reaction": "activation"}}],
        "independent_of": [{"set": {"parameter": "ka", "value": 0}}, _clamp("F", "activation")],
    }
    certificate = _certified(routes_sbml, _doc(up=edits))["up"].certificate
    assert certificate is not None and certificate.status == DEPENDENT
    assert [c.cut.label for c in certificate.dependencies] == ["set ka = 0"]
    assert [c.verdict for c in certificate.independence] == ["fails", "holds"]
    assert certificate.cuts[0].verdict == "fails"  # the mechanism cut alone would certify it
    data = certificate.to_json()
    assert data["depends_on"] == ["set ka = 0"] and data["not_certified_by"] == []
    assert [c["expected"] for c in data["independent_of"]] == ["holds", "holds"]
    assert data["cuts"][0]["expected"] == "fails"


def test_a_survive_cut_does_not_excuse_a_surviving_mechanism_cut(routes_sbml: str) -> None:
    edits = {"mechanism": [{"set": {"parameter": "ks", "value": 0}}], "independent_of": [_clamp("F")]}
    certificate = _certified(routes_sbml, _doc(up=edits))["up"].certificate
    assert certificate is not None and certificate.status == NOT_CERTIFIED
    assert certificate.independence[0].verdict == "holds"


# -- errors name the file and the line -----------------------------------------------------------
BAD: list[tuple[str, str, str]] = [
    ("unknown species", "independent_of: [{clamp: {species: Zz}}]", "unknown species 'Zz'"),
    ("unknown reaction", "independent_of: [{delete: {reaction: gone}}]", "unknown reaction 'gone'"),
    ("unknown parameter", "independent_of: [{set: {parameter: kz, value: 0}}]", "unknown parameter 'kz'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "fields", "expected"), BAD, ids=[c[0] for c in BAD])
def test_a_bad_survive_cut_names_file_and_line(
    routes_sbml: str, case: str, fields: str, expected: str
) -> None:
    text = TINY_CLAIMS.read_text(encoding="utf-8").replace("format: 1", "format: 2")
    text += (
        "  - {id: cut_me, statement: s, source: test, relation: increase, readouts: [Sp],\n"
        f"     control: rest, perturbed: stimulated, at: 15, {fields}}}\n"
    )
    claims = parse_claims(text, origin="my.claims.yaml")
    results = run_claims(claims, new_simulator(routes_sbml, name="routes"))
    with pytest.raises(BcsignalError) as info:
        certify.certify("tiny", [claims], results, routes_sbml)
    assert info.value.file == "my.claims.yaml" and info.value.line == len(text.splitlines())
    assert expected in str(info.value) and "claim cut_me, independent of cut 1" in str(info.value)


KA = {"set": {"parameter": "ka", "value": 0}}
LOAD_ERRORS: list[tuple[str, dict[str, Any], str, int]] = [
    # case, the edit of claim up, the message, the index of the offending cut in independent_of
    ("listed twice", {"independent_of": [_clamp("F"), _clamp("F")]}, "the same cut is listed twice", 1),
    ("in both lists", {"mechanism": [KA], "independent_of": [_clamp("F"), KA]}, "under both mechanism", 1),
    ("not a cut", {"independent_of": [{"clamp": {"reaction": "x"}}]}, "claim up, field independent_of.0", 0),
    ("empty", {"independent_of": []}, "claim up, field independent_of", -1),
    ("a note that is empty", {"independent_of_note": ""}, "claim up, field independent_of_note", -1),
]


@pytest.mark.parametrize(("case", "edit", "expected", "index"), LOAD_ERRORS, ids=[c[0] for c in LOAD_ERRORS])
def test_survive_cuts_are_validated_on_load(
    case: str, edit: dict[str, Any], expected: str, index: int
) -> None:
    doc = json.loads(json.dumps(_doc(up=edit)))  # no shared objects (no YAML aliases)
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)  # one line a cut
    with pytest.raises(BcsignalError) as info:
        parse_claims(text, origin="my.claims.yaml")
    assert expected in str(info.value) and info.value.file == "my.claims.yaml"
    lines = text.splitlines()
    up = lines.index("- id: up")
    name = next(k for k in edit if k.startswith("independent_of")) + ":"
    field = next(i for i in range(up, len(lines)) if lines[i].strip().startswith(name))
    assert info.value.line == field + 1 + (index + 1 if index >= 0 else 0), (info.value.line, text)


def test_format_1_refuses_survive_cuts() -> None:
    doc = _doc(up={"independent_of": [_clamp("F")]})
    doc["format"] = 1
    with pytest.raises(BcsignalError, match="field independent_of needs claims format 2"):
        parse_claims(yaml.safe_dump(doc, sort_keys=False), origin="my.claims.yaml")


# -- the command line: --strict refuses a dependent claim; results.json carries every survive-cut --
@pytest.mark.parametrize(
    ("survive", "strict", "status"),
    [(_clamp("F", "activation"), 0, CERTIFIED), ({"delete": {"reaction": "activation"}}, 1, DEPENDENT)],
    ids=["survives", "depends"],
)
def test_strict_and_results_json(tmp_path: Path, survive: dict[str, Any], strict: int, status: str) -> None:
    doc = _doc(up={"mechanism": [KA], "independent_of": [survive]})
    doc["claims"] = [c for c in doc["claims"] if c["id"] == "up"]
    out_file = tmp_path / "results.json"
    args = ["check", "--model", str(_model_file(tmp_path)), "--claims", str(_claims_file(tmp_path, doc))]
    code, out, err = run_cli([*args, "--results", str(out_file), "--strict"], cwd=tmp_path, timeout=60)
    assert code == strict, out + err
    label = "delete activation" if strict else "clamp F in activation"
    verdict = "fails" if strict else "holds"
    assert f"survives: {label}: {verdict}; margin " in out
    assert ("not certified: tiny::up: " + DEPENDENT in err) == bool(strict)
    (up,) = json.loads(out_file.read_text(encoding="utf-8"))["claims"]
    assert up["certificate"]["status"] == status
    (cut,) = up["certificate"]["independent_of"]
    assert cut["label"] == label and cut["verdict"] == verdict and cut["expected"] == "holds"
    assert (cut["margin"] < 0) == bool(strict)
    assert up["certificate"]["depends_on"] == ([label] if strict else [])


def test_the_report_shows_each_survive_cut(routes_sbml: str) -> None:
    from bcsignal.app import report

    edits = {
        "mechanism": [KA],
        "independent_of": [_clamp("F", "activation")],
        "independent_of_note": "says so",
    }
    view = report._certificate_view(_certified(routes_sbml, _doc(up=edits))["up"])
    assert view is not None and view["good"] and view["independence_note"] == "says so"
    assert [(c["label"], c["verdict"], c["survive"]) for c in view["cuts"]] == [
        ("set ka = 0", "fails", False),
        ("clamp F in activation", "holds", True),
    ]
    env = report._environment()
    source = env.loader.get_source(env, "model.html.j2")[0]  # the page's certificate macro, alone
    macro = source[source.index("{% macro certificate(c) %}") :]
    macro = macro[: macro.index("{% endmacro %}") + len("{% endmacro %}")]
    html = env.from_string(macro + "{{ certificate(c) }}").render(c=view)
    assert "<li>survives: clamp F in activation: holds (margin " in html
    assert "independent of: “says so”" in html
    assert "<li>set ka = 0: fails (margin " in html
