"""Robustness of claims under parameter uncertainty: log-normal samples, scored in-process or on Dask.

A study (`study`) names the sampled parameters; `execute` evaluates its samples in this process or on
Dask, resumably, into a folder (`store`); `summary` turns the samples into a typed `Summary` with the
statistics of `stats`.
"""

from __future__ import annotations

from bcsignal.analysis.robustness.execute import (
    IN_PROCESS_MAX_SAMPLES,
    MAX_CHUNK,
    WORKER_WAIT,
    RunResult,
    evaluate_chunk,
    evaluate_sample,
    local_workers,
    nominal_margins,
    run,
    worker_version,
)
from bcsignal.analysis.robustness.stats import Z95, spearman_matrix, wilson_interval
from bcsignal.analysis.robustness.store import CHUNKS, MANIFEST, SUMMARY, TABLE, SampleRow, Table
from bcsignal.analysis.robustness.study import (
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    DEFAULT_SIGMA,
    FORMAT,
    MARGIN_PREFIX,
    PARAM_PREFIX,
    Study,
    SuiteText,
    claim_columns,
    is_unit_constant,
    make_study,
    study_for_model,
)
from bcsignal.analysis.robustness.summary import (
    TOP_PARAMETERS,
    ClaimSummary,
    FailureKind,
    Fraction,
    Summary,
    TopParameter,
    summarise,
)

__all__ = [
    "CHUNKS",
    "DEFAULT_SAMPLES",
    "DEFAULT_SEED",
    "DEFAULT_SIGMA",
    "FORMAT",
    "IN_PROCESS_MAX_SAMPLES",
    "MANIFEST",
    "MARGIN_PREFIX",
    "MAX_CHUNK",
    "PARAM_PREFIX",
    "SUMMARY",
    "TABLE",
    "TOP_PARAMETERS",
    "WORKER_WAIT",
    "Z95",
    "ClaimSummary",
    "FailureKind",
    "Fraction",
    "RunResult",
    "SampleRow",
    "Study",
    "SuiteText",
    "Summary",
    "Table",
    "TopParameter",
    "claim_columns",
    "evaluate_chunk",
    "evaluate_sample",
    "is_unit_constant",
    "local_workers",
    "make_study",
    "nominal_margins",
    "run",
    "spearman_matrix",
    "study_for_model",
    "summarise",
    "wilson_interval",
    "worker_version",
]
