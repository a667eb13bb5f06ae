"""Every claim of every paper model, one test each (``Model::claim``), plus per-model invariants."""

from __future__ import annotations

import pytest

from bcsignal import paths, registry
from bcsignal.checks.validation import interface_vocabulary
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.spec.claims import load_claims

from .conftest import MODEL_IDS


def _claim_ids(model_id: str) -> list[str]:
    entry = registry.entry(model_id)
    return [
        f"{model_id}::{c.id}" if suite is entry.claims else f"{model_id}::{suite.model}::{c.id}"
        for suite in entry.suites
        for c in suite.claims
    ]


CLAIM_IDS = [cid for m in MODEL_IDS for cid in _claim_ids(m)]


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_claim_holds(claim_id: str, claim_results: dict[str, ClaimResult]) -> None:
    result = claim_results[claim_id]
    detail = "; ".join(f"{r.readout}: {r.values} -> {r.observed:.4g} ({r.expected})" for r in result.readouts)
    if result.excused:
        pytest.xfail(f"composite exception: {result.claim.composite_exception}")
    assert result.passed, detail


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_model_id_matches_file_and_paper(model_id: str) -> None:
    claims = load_claims(paths.claims_path(model_id))
    assert claims.model == model_id
    assert paths.parameters_path(model_id).is_file()


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_interface_ids_are_in_the_shared_vocabulary(model_id: str) -> None:
    vocab = interface_vocabulary()
    claims = load_claims(paths.claims_path(model_id))
    assert set(claims.knobs) <= set(vocab["knobs"])
    assert set(claims.readouts) <= set(vocab["readouts"]) | {"IGF1R"}
