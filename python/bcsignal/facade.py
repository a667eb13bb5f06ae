"""The functions of bcsignal's top-level facade: list, locate, check and validate models."""

from __future__ import annotations

from pathlib import Path

from bcsignal import registry
from bcsignal.api import Model
from bcsignal.app import usermodel
from bcsignal.checks.tasks import validate_model
from bcsignal.checks.validation import Report
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.run import run_model
from bcsignal.spec.claims import ClaimsFile, load_claims


def models() -> list[str]:
    """Return the ids of the shipped models: the five papers and the composite."""
    return registry.current().ids()


def sbml_path(model_id: str) -> Path:
    """Return the path of a model's shipped SBML file (from a checkout or an installed wheel)."""
    return registry.entry(model_id).sbml


def _claims(claims: Path | ClaimsFile) -> ClaimsFile:
    if isinstance(claims, ClaimsFile):
        return claims
    if isinstance(claims, Path):
        return load_claims(claims)
    raise BcsignalError(
        f"claims must be a pathlib.Path or a parsed ClaimsFile, got {type(claims).__name__} "
        "(parse text with bcsignal.claims.parse_claims)"
    )


def check(
    model: Model, claims: Path | ClaimsFile | None = None, *, strict: bool = False
) -> list[ClaimResult]:
    """Simulate a model's claims and return one result per claim, each with its certificate.

    `claims` is a claims file (Path) or a parsed one; it defaults to a shipped model's own claims, and a
    user's model needs one. Every claim is evaluated intact and under each cut of its mechanism
    (`ClaimResult.certificate`).
    """
    target = usermodel.resolve(model)
    if isinstance(target, str):
        if claims is None:  # compiled once per process; a composite runs its papers' claims too
            return run_model(registry.entry(target), cached=True).results
        # a user's claims file runs in a child, under the same limits as a user's model
        return usermodel.check_claims_on_registry_model(registry.entry(target), _claims(claims))
    if claims is None:
        raise BcsignalError("a user's model needs a claims file", file=target.origin)
    return usermodel.check_claims(target, _claims(claims), strict=strict)


def validate(model: Model, *, strict: bool = False, annotations: bool = False) -> list[Report]:
    """Validate a model and return one report per file (a composite has two).

    A user's model is checked in an isolated child process.
    """
    target = usermodel.resolve(model)
    if isinstance(target, str):
        return validate_model(registry.entry(target))
    return [usermodel.validate(target, strict=strict, annotations=annotations)]
