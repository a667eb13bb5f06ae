"""The claims engine on a tiny inline model: every relation can pass and can fail."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bcsignal.core.errors import BcsignalError
from bcsignal.engine.claims.plan import run_claims
from bcsignal.engine.simulate import Simulator
from bcsignal.spec.claims import load_claims, parse_claims

DATA = Path(__file__).parent / "data"
TINY_CLAIMS = DATA / "tiny.claims.yaml"


def _doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(TINY_CLAIMS.read_text())
    return doc


def _run_one(sim: Simulator, claim: dict[str, Any]) -> bool:
    doc = _doc()
    doc["claims"] = [claim]
    claims = parse_claims(yaml.safe_dump(doc), origin="inline.yaml")
    (result,) = run_claims(claims, sim)
    assert result.passed == (result.margin >= 0)
    return result.passed


def _claim(claim_id: str) -> dict[str, Any]:
    return copy.deepcopy(next(c for c in _doc()["claims"] if c["id"] == claim_id))


def test_every_tiny_claim_passes(tiny: Simulator) -> None:
    results = run_claims(load_claims(TINY_CLAIMS), tiny)
    assert {r.claim.relation for r in results} >= {
        "increase",
        "decrease",
        "no_change",
        "at_least_fraction",
        "at_most_fraction",
        "transient",
        "sustained",
        "ordering",
    }
    failed = [r.claim.id for r in results if not r.passed]
    assert failed == []


# Each row: a passing claim of tiny.claims.yaml and an edit that must make it fail.
FAILING_EDITS: list[tuple[str, str, dict[str, Any]]] = [
    ("increase", "up", {"control": "stimulated", "perturbed": "rest"}),
    ("increase_fold", "up", {"fold": 50.0}),
    ("decrease", "down", {"control": "stimulated_inhibited", "perturbed": "stimulated"}),
    ("no_change", "insensitive", {"perturbed": "stimulated"}),
    ("at_least_fraction", "restored", {"fraction": 0.9}),
    ("at_most_fraction", "small", {"fraction": 0.01}),
    ("transient_sustained_signal", "washout", {"condition": "stimulated", "after": 240}),
    ("transient_peak_window", "washout", {"peak_window": [20, 60]}),
    ("sustained", "feedback_sustained", {"condition": "rest"}),
    ("ordering", "ranked", {"conditions": ["rest", "stimulated_inhibited", "stimulated"]}),
]


@pytest.mark.parametrize(("case", "claim_id", "edit"), FAILING_EDITS, ids=[c for c, _, _ in FAILING_EDITS])
def test_relation_can_fail(tiny: Simulator, case: str, claim_id: str, edit: dict[str, Any]) -> None:
    claim = _claim(claim_id)
    assert _run_one(tiny, claim), f"{claim_id} should pass unedited"
    claim.update(edit)
    assert not _run_one(tiny, claim), f"{case}: the edited claim should fail"


def test_ordering_increasing_is_the_reverse(tiny: Simulator) -> None:
    claim = _claim("ranked")
    claim["order"] = "increasing"
    assert not _run_one(tiny, claim)
    claim["conditions"] = list(reversed(claim["conditions"]))
    assert _run_one(tiny, claim)


def test_multi_phase_washout_returns_to_baseline(tiny: Simulator) -> None:
    claims = load_claims(TINY_CLAIMS)
    traj = tiny.run(claims.experiments["pulse_then_washout"].protocol, ["Sp"])
    assert traj.times[0] == 0 and traj.times[-1] == pytest.approx(240)
    assert traj.at("Sp", 30) > 5 * traj.at("Sp", 0)
    assert traj.end("Sp") == pytest.approx(traj.at("Sp", 0), rel=0.05)


def test_preequilibration_is_cached_and_equal_to_uncached(tiny: Simulator, tiny_sbml: str) -> None:
    from bcsignal.engine.simulate import new_simulator

    claims = load_claims(TINY_CLAIMS)
    cached = run_claims(claims, tiny)
    assert tiny.cache_hits > 0
    for result in cached:
        fresh = run_claims(
            parse_claims(
                yaml.safe_dump(
                    {
                        **_doc(),
                        "claims": [c for c in _doc()["claims"] if c["id"] == result.claim.id],
                    }
                )
            ),
            new_simulator(tiny_sbml, name="fresh"),
        )[0]
        assert fresh.margin == pytest.approx(result.margin, rel=1e-6, abs=1e-9)


def test_knobs_are_reset_between_experiments(tiny: Simulator) -> None:
    claims = load_claims(TINY_CLAIMS)
    first = tiny.run(claims.experiments["rest"].protocol, ["Sp"]).end("Sp")
    tiny.run(claims.experiments["stimulated_inhibited"].protocol, ["Sp"])
    again = tiny.run(claims.experiments["rest"].protocol, ["Sp"]).end("Sp")
    assert again == pytest.approx(first, rel=1e-9)


# -- malformed claims files name the file, the claim and the field --------------------------
MALFORMED: list[tuple[str, Any, str]] = [
    ("fold is a string", lambda d: d["claims"][0].update(fold="two"), "claim up, field fold"),
    (
        "unknown relation",
        lambda d: d["claims"][1].update(relation="bigger"),
        "claim down, field relation",
    ),
    (
        "unknown experiment",
        lambda d: d["claims"][0].update(control="nowhere"),
        "unknown experiment 'nowhere'",
    ),
    ("unknown readout", lambda d: d["claims"][0].update(readouts=["Zz"]), "unknown readout 'Zz'"),
    (
        "unknown knob",
        lambda d: d["experiments"]["rest"].update(preequilibration={"nope": 1}),
        "unknown knob 'nope'",
    ),
    ("missing statement", lambda d: d["claims"][2].pop("statement"), "claim insensitive"),
    ("bad format version", lambda d: d.update(format=7), "field format"),
    ("duplicate id", lambda d: d["claims"][1].update(id="up"), "duplicate claim id 'up'"),
    ("observation after the end", lambda d: d["claims"][0].update(at=9999), "claim up"),
    ("impossible fraction", lambda d: d["claims"][4].update(fraction=1.5), "claim small"),
    ("fold below one", lambda d: d["claims"][0].update(fold=0.5), "claim up, field fold"),
    ("extra field", lambda d: d["claims"][0].update(colour="red"), "claim up"),
]


@pytest.mark.parametrize(("case", "edit", "expected"), MALFORMED, ids=[c for c, _, _ in MALFORMED])
def test_malformed_claims_name_file_claim_and_field(case: str, edit: Any, expected: str) -> None:
    doc = _doc()
    edit(doc)
    with pytest.raises(BcsignalError) as info:
        parse_claims(yaml.safe_dump(doc, sort_keys=False), origin="my.claims.yaml")
    message = str(info.value)
    assert message.startswith("my.claims.yaml"), message
    assert expected in message, message


def test_malformed_yaml_gives_line() -> None:
    with pytest.raises(BcsignalError) as info:
        parse_claims("format: 1\nclaims: [\n  - {id: x\n", origin="broken.yaml")
    assert info.value.line is not None and info.value.file == "broken.yaml"


def test_schema_error_carries_the_line() -> None:
    text = TINY_CLAIMS.read_text().replace("fraction: 0.05", "fraction: -3")
    with pytest.raises(BcsignalError) as info:
        parse_claims(text, origin="x.yaml")
    assert (
        info.value.line
        == text.splitlines().index(next(line for line in text.splitlines() if "fraction: -3" in line)) + 1
    )
