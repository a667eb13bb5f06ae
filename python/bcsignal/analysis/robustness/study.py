"""A robustness study: which parameters of a model are sampled, and sample i's values from (seed, i)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bcsignal.core.errors import BcsignalError
from bcsignal.core.limits import MAX_SIGMA
from bcsignal.engine.simulate import cached_simulator
from bcsignal.registry import ModelEntry
from bcsignal.sbml.io import read_document
from bcsignal.spec.claims import ClaimsFile

#: Format of run.json, the chunk files, samples.csv and summary.json.
FORMAT = 1
#: Samples drawn when the caller names no number.
DEFAULT_SAMPLES = 1000
#: Standard deviation of the natural log of each sampled parameter (0.3: about ±35 % at one sigma).
DEFAULT_SIGMA = 0.3
#: Seed of the sample generator when the caller names none.
DEFAULT_SEED = 0
#: Column prefixes of the samples table.
PARAM_PREFIX, MARGIN_PREFIX = "param:", "margin:"


@dataclass(frozen=True)
class SuiteText:
    """One claims file, as text, so that a worker can parse it without the package's data files."""

    model: str
    text: str
    origin: str


@dataclass(frozen=True)
class Study:
    """A model, its claims, the sampled parameters and their log-normal distribution.

    Sample ``i`` is a pure function of (seed, i): whichever process evaluates it, in whatever order,
    it gets the same parameter values.
    """

    model: str
    sbml: str
    suites: tuple[SuiteText, ...]
    parameters: tuple[str, ...]
    nominal: tuple[float, ...]
    sigma: float
    seed: int
    claims: tuple[str, ...]
    excused: tuple[str, ...] = ()
    fixed: tuple[tuple[str, str], ...] = ()

    def values(self, index: int) -> np.ndarray:
        """Return the parameter values of sample `index`: nominal * exp(sigma * N(0, 1))."""
        rng = np.random.default_rng([self.seed, index])
        return np.asarray(self.nominal) * np.exp(self.sigma * rng.standard_normal(len(self.parameters)))

    def identity(self) -> dict[str, Any]:
        """Return what must match for a run folder to be resumed with this study."""
        claims_hash = hashlib.sha256()
        for suite in self.suites:
            claims_hash.update(suite.text.encode("utf-8"))
        return {
            "format": FORMAT,
            "model": self.model,
            "sbml_sha256": hashlib.sha256(self.sbml.encode("utf-8")).hexdigest(),
            "claims_sha256": claims_hash.hexdigest(),
            "sigma": self.sigma,
            "seed": self.seed,
            "parameters": dict(zip(self.parameters, self.nominal, strict=True)),
            "claims": list(self.claims),
        }

    def header(self) -> list[str]:
        """Return the columns of the samples table."""
        return [
            "sample",
            "status",
            "reason",
            *(PARAM_PREFIX + p for p in self.parameters),
            *(MARGIN_PREFIX + c for c in self.claims),
        ]


def is_unit_constant(unit: str, value: float, sbo: int) -> bool:
    """Return whether a parameter is a pure number such as ``one = 1 dimensionless`` (never sampled).

    The modelling contract declares ``one`` instead of writing a bare 1 in a rate law: a dimensionless
    parameter equal to exactly 1 with no SBO term or SBO:0000002. Perturbing it would rewrite the
    algebra of the rate laws, not a kinetic constant.
    """
    return unit == "dimensionless" and value == 1.0 and sbo in (-1, 2)


def claim_columns(model: str, files: Sequence[ClaimsFile]) -> tuple[list[str], list[str]]:
    """Return the claim columns and the excused ones.

    A column is named ``claim``, or ``paper::claim`` for another model's claim checked against this
    model (a composite); such a claim with a composite exception is excused.
    """
    names: list[str] = []
    excused: list[str] = []
    for suite in files:
        for claim in suite.claims:
            name = claim.id if suite.model == model else f"{suite.model}::{claim.id}"
            names.append(name)
            if suite.model != model and claim.composite_exception is not None:
                excused.append(name)
    return names, excused


def _choose_parameters(
    model: str, sbml: str, files: Sequence[ClaimsFile], hold: set[str], origin: str | Path
) -> tuple[list[tuple[str, float]], list[tuple[str, str]]]:
    """Return the sampled parameters with their values, and the held ones with the reason (`make_study`)."""
    knobs = {k for f in files for k in f.knobs}
    sim = cached_simulator(sbml, name=model, origin=origin)
    settable = set(sim.settable_ids)
    unknown = sorted(hold - set(sim.parameter_ids))
    if unknown:
        raise BcsignalError(f"cannot fix {', '.join(unknown)}: not a parameter of the model", where=model)
    doc = read_document(sbml, str(origin))
    sampled: list[tuple[str, float]] = []
    held: list[tuple[str, str]] = []
    for p in doc.getModel().getListOfParameters():
        pid = p.getId()
        value = sim.nominal(pid)
        if not p.getConstant() or pid not in settable:
            held.append((pid, "not constant (a variable of the model)"))
        elif pid in knobs:
            held.append((pid, "interface knob"))
        elif pid in hold:
            held.append((pid, "fixed on request"))
        elif not math.isfinite(value) or value == 0:
            held.append((pid, f"value {value:g} (a log-normal sample keeps it there)"))
        elif is_unit_constant(p.getUnits(), value, p.getSBOTerm()):
            held.append((pid, "unit constant (dimensionless 1)"))
        else:
            sampled.append((pid, value))
    return sampled, held


def make_study(
    model: str,
    sbml: str,
    files: Sequence[ClaimsFile],
    *,
    sigma: float = DEFAULT_SIGMA,
    seed: int = DEFAULT_SEED,
    fixed: Iterable[str] = (),
    origin: str | Path = "<string>",
) -> Study:
    """Decide which parameters to sample and return the study.

    Sampled: every constant global parameter with a finite, non-zero value, except the interface
    knobs of every claims file, pure unit constants (`is_unit_constant`) and those named in `fixed`.
    Rule-defined parameters are variables, not parameters, and are never sampled. Species initial
    values (and so conserved totals of species) are the model's state and are not sampled; totals
    written as parameters (an enzyme pool, say) are kinetic parameters and are.
    """
    if not sigma > 0 or not math.isfinite(sigma):
        raise BcsignalError(f"sigma must be a positive number, got {sigma}")
    if sigma > MAX_SIGMA:
        raise BcsignalError(
            f"sigma must be at most {MAX_SIGMA:g} (a factor e^{MAX_SIGMA:g} per standard deviation), "
            f"got {sigma:g}"
        )
    if seed < 0:
        raise BcsignalError(f"the seed must be a non-negative integer, got {seed}")
    sampled, held = _choose_parameters(model, sbml, files, set(fixed), origin)
    if not sampled:
        raise BcsignalError("the model has no parameter to sample", where=model)
    names, excused = claim_columns(model, files)
    return Study(
        model=model,
        sbml=sbml,
        suites=tuple(SuiteText(f.model, f.path.read_text(encoding="utf-8"), str(f.path)) for f in files),
        parameters=tuple(p for p, _ in sampled),
        nominal=tuple(v for _, v in sampled),
        sigma=float(sigma),
        seed=int(seed),
        claims=tuple(names),
        excused=tuple(excused),
        fixed=tuple(held),
    )


def study_for_model(
    entry: ModelEntry, *, sigma: float = DEFAULT_SIGMA, seed: int = DEFAULT_SEED, fixed: Iterable[str] = ()
) -> Study:
    """Return the study of a registry model: its SBML and every claims file that applies to it."""
    sbml_file = entry.sbml
    try:
        sbml = sbml_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise BcsignalError(f"cannot read: {exc.strerror}", file=sbml_file) from exc
    files = list(entry.suites)
    return make_study(entry.id, sbml, files, sigma=sigma, seed=seed, fixed=fixed, origin=sbml_file)
