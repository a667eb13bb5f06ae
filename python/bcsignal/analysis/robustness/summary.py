"""The typed summary of a robustness run: how often each claim holds, intervals, decisive parameters."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bcsignal.analysis.robustness.stats import sample_quantile, spearman_matrix, wilson_interval
from bcsignal.analysis.robustness.store import Table
from bcsignal.analysis.robustness.study import FORMAT, Study
from bcsignal.core.errors import BcsignalError
from bcsignal.engine.claims.results import json_number

#: Parameters listed per claim in the summary, by decreasing |Spearman rho|.
TOP_PARAMETERS = 5
#: The margin quantiles a claim's summary gives, by name.
QUANTILES = (("q05", 0.05), ("median", 0.5), ("q95", 0.95))
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

#: A number of summary.json: a float, or "inf", "-inf", "nan" (JSON has no such numbers).
Number = float | str


@dataclass(frozen=True)
class Fraction:
    """How many of `n` successful samples something held in, with its Wilson 95 % interval."""

    count: int
    n: int
    #: count / n rounded to 6 digits; None when no sample succeeded.
    fraction: float | None
    interval95: tuple[float, float]

    @classmethod
    def of(cls, count: int, n: int) -> Fraction:
        """Return the fraction `count` of `n` with its Wilson 95 % interval."""
        low, high = wilson_interval(count, n)
        return cls(count, n, round(count / n, 6) if n else None, (round(low, 6), round(high, 6)))

    def to_json(self) -> dict[str, Any]:
        """Return the fraction as in summary.json."""
        return {
            "count": self.count,
            "n": self.n,
            "fraction": self.fraction,
            "interval95": list(self.interval95),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fraction:
        """Return the fraction of a summary.json entry."""
        low, high = data["interval95"]
        return cls(int(data["count"]), int(data["n"]), data["fraction"], (float(low), float(high)))


@dataclass(frozen=True)
class TopParameter:
    """A parameter decisive for a claim: Spearman's rho between its logarithm and the claim's margin."""

    parameter: str
    spearman: float


@dataclass(frozen=True)
class ClaimSummary:
    """One claim over the samples: how often it holds, its margin's quantiles, its decisive parameters."""

    holds: Fraction
    #: A composite's paper claim with a composite exception (left out of "all claims").
    excused: bool
    #: The margin's sample quantiles by name (QUANTILES); None when no sample succeeded.
    margin_quantiles: Mapping[str, Number | None]
    top_parameters: tuple[TopParameter, ...]
    #: The margin with every parameter at its SBML value; None when the nominal set failed.
    nominal_margin: Number | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the claim's entry as in summary.json ("nominal_margin" only when there is one)."""
        out: dict[str, Any] = {
            "holds": self.holds.to_json(),
            "excused": self.excused,
            "margin_quantiles": dict(self.margin_quantiles),
            "top_parameters": [
                {"parameter": t.parameter, "spearman": t.spearman} for t in self.top_parameters
            ],
        }
        if self.nominal_margin is not None:
            out["nominal_margin"] = self.nominal_margin
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClaimSummary:
        """Return the claim summary of a summary.json entry."""
        return cls(
            holds=Fraction.from_json(data["holds"]),
            excused=bool(data["excused"]),
            margin_quantiles=dict(data["margin_quantiles"]),
            top_parameters=tuple(TopParameter(t["parameter"], t["spearman"]) for t in data["top_parameters"]),
            nominal_margin=data.get("nominal_margin"),
        )


@dataclass(frozen=True)
class FailureKind:
    """Failed samples whose reasons differ only in their numbers: how many, and one reason in full."""

    kind: str
    count: int
    example: str


@dataclass(frozen=True)
class Summary:
    """A robustness run's summary (summary.json): fractions holding, intervals and decisive parameters."""

    model: str
    samples: int
    succeeded: int
    failed: int
    failures: tuple[FailureKind, ...]
    sigma: float
    seed: int
    parameters: tuple[str, ...]
    #: Why the nominal parameter set itself failed, or None.
    nominal_failure: str | None
    all_claims_hold: Fraction
    #: Per claim column, in the study's order.
    claims: Mapping[str, ClaimSummary]
    format: int = FORMAT

    def fractions(self) -> dict[str, float]:
        """Return claim column -> the fraction of samples it holds in (none for a claim with no samples)."""
        return {name: c.holds.fraction for name, c in self.claims.items() if c.holds.fraction is not None}

    def to_json(self) -> dict[str, Any]:
        """Return the summary as summary.json holds it."""
        return {
            "format": self.format,
            "model": self.model,
            "samples": self.samples,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failures": [{"kind": f.kind, "count": f.count, "example": f.example} for f in self.failures],
            "sigma": self.sigma,
            "seed": self.seed,
            "parameters": list(self.parameters),
            "nominal_failure": self.nominal_failure,
            "all_claims_hold": self.all_claims_hold.to_json(),
            "claims": {name: c.to_json() for name, c in self.claims.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, origin: str = "summary.json") -> Summary:
        """Return the summary that `to_json` gave; a malformed one is a BcsignalError naming `origin`."""
        try:
            return cls(
                model=str(data["model"]),
                samples=int(data["samples"]),
                succeeded=int(data["succeeded"]),
                failed=int(data["failed"]),
                failures=tuple(
                    FailureKind(f["kind"], int(f["count"]), f["example"]) for f in data["failures"]
                ),
                sigma=float(data["sigma"]),
                seed=int(data["seed"]),
                parameters=tuple(data["parameters"]),
                nominal_failure=data["nominal_failure"],
                all_claims_hold=Fraction.from_json(data["all_claims_hold"]),
                claims={name: ClaimSummary.from_json(c) for name, c in data["claims"].items()},
                format=int(data["format"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BcsignalError(
                f"not a robustness summary ({type(exc).__name__}: {exc})", file=origin
            ) from exc


def _failure_kinds(reasons: Sequence[str]) -> tuple[FailureKind, ...]:
    kinds = Counter(_NUMBER.sub("#", r) for r in reasons)
    examples: dict[str, str] = {}
    for r in reasons:
        examples.setdefault(_NUMBER.sub("#", r), r)
    return tuple(FailureKind(k, n, examples[k]) for k, n in sorted(kinds.items(), key=lambda x: -x[1]))


def _top_parameters(study: Study, rho: np.ndarray, j: int) -> tuple[TopParameter, ...]:
    order = [k for k in np.argsort(-np.abs(np.nan_to_num(rho[:, j], nan=0.0)), kind="stable")]
    return tuple(
        TopParameter(study.parameters[k], round(float(rho[k, j]), 4))
        for k in order[:TOP_PARAMETERS]
        if math.isfinite(rho[k, j])
    )


def summarise(study: Study, table: Table, nominal: dict[str, float] | str | None = None) -> Summary:
    """Return the summary: fractions holding with Wilson 95 % intervals and decisive parameters.

    Fractions count the samples whose simulations succeeded; failed samples are counted apart.
    "All claims" leaves out excused claims (composite exceptions). Decisive parameters are ranked by
    Spearman's rank correlation between log-parameter and margin over the successful samples.
    """
    ok = table.ok
    n_ok = int(ok.sum())
    margins = table.margins[ok]
    holds = margins >= 0
    counted = [j for j, c in enumerate(study.claims) if c not in study.excused]
    all_hold = holds[:, counted].all(axis=1) if counted else np.zeros(n_ok, dtype=bool)
    rho = spearman_matrix(np.log(table.values[ok]), margins)
    claims: dict[str, ClaimSummary] = {}
    for j, name in enumerate(study.claims):
        claims[name] = ClaimSummary(
            holds=Fraction.of(int(holds[:, j].sum()), n_ok),
            excused=name in study.excused,
            margin_quantiles={
                q: json_number(round(sample_quantile(margins[:, j], p), 6)) if n_ok else None
                for q, p in QUANTILES
            },
            top_parameters=_top_parameters(study, rho, j),
            nominal_margin=json_number(round(nominal[name], 6)) if isinstance(nominal, dict) else None,
        )
    failed_reasons = list(table.reasons.values())
    return Summary(
        model=study.model,
        samples=len(table.index),
        succeeded=n_ok,
        failed=len(failed_reasons),
        failures=_failure_kinds(failed_reasons),
        sigma=study.sigma,
        seed=study.seed,
        parameters=tuple(study.parameters),
        nominal_failure=nominal if isinstance(nominal, str) else None,
        all_claims_hold=Fraction.of(int(all_hold.sum()), n_ok),
        claims=claims,
    )
