"""The curation report's pipeline: each model run, validated and cross-checked once, then rendered."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bcsignal.app.report import ModelSection, read_robustness, write_report
from bcsignal.checks.tasks import validate_model
from bcsignal.engine.run import run_model
from bcsignal.registry import ModelEntry


def collect(entry: ModelEntry, *, with_crosscheck: bool = True) -> ModelSection:
    """Run (densely, for the plots), certify, validate and cross-check one model for the report."""
    section = ModelSection(
        run=run_model(entry, dense=True),
        validation=validate_model(entry),
        crosscheck=None,
        robustness=read_robustness(entry),
    )
    if with_crosscheck:
        from bcsignal.app.crosscheck import compare_simulators

        section.crosscheck = compare_simulators(entry.id, section.sbml, entry.claims, origin=entry.sbml)
    return section


def build_report(
    entries: Sequence[ModelEntry], folder: Path | None = None, *, with_crosscheck: bool = True
) -> Path:
    """Collect every model and write the report (default: build/report); return the index path."""
    return write_report([collect(e, with_crosscheck=with_crosscheck) for e in entries], folder)
