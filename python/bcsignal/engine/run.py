"""The one engine entry point: a registry model's claims simulated, evaluated and certified (`run_model`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bcsignal.engine import phases
from bcsignal.engine.claims.plan import (
    PlannedExperiment,
    evaluate_suite,
    experiment_plan,
    planned_readouts,
    simulate_plan,
)
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.simulate import Simulator, cached_simulator, new_simulator
from bcsignal.engine.trajectory import Trajectory
from bcsignal.registry import ModelEntry
from bcsignal.spec.claims import ClaimsFile


@dataclass(frozen=True)
class SuiteRun:
    """One claims file run against a model: its plan, the trajectories of its experiments, its results."""

    claims: ClaimsFile
    plan: list[PlannedExperiment]
    trajectories: dict[str, Trajectory]
    results: list[ClaimResult]


@dataclass(frozen=True)
class ModelRun:
    """Every claims file that applies to a model, run against it: a composite's papers' first, then its own.

    Each result carries its certificate when the run was certified.
    """

    entry: ModelEntry
    suites: tuple[SuiteRun, ...]
    #: Whether the model's own experiments were sampled on the dense grid (for plots), not only at the
    #: times their claims read.
    dense: bool

    @property
    def files(self) -> tuple[ClaimsFile, ...]:
        """Return the claims files run, in order."""
        return tuple(s.claims for s in self.suites)

    @property
    def results(self) -> list[ClaimResult]:
        """Return every result, in the order of the claims files."""
        return [r for s in self.suites for r in s.results]

    @property
    def own(self) -> SuiteRun:
        """Return the run of the model's own claims file."""
        return self.suites[-1]

    @property
    def paper_results(self) -> list[ClaimResult]:
        """Return a composite's results for its papers' claims (empty for a paper model)."""
        return [r for s in self.suites[:-1] for r in s.results]

    @property
    def notices(self) -> list[str]:
        """Return one line per claims file of format 1 (its claims carry no mechanism)."""
        from bcsignal.engine.certify import format_notice

        return [format_notice(f) for f in self.files if f.format == 1]


def model_simulator(entry: ModelEntry, *, cached: bool = False) -> Simulator:
    """Compile a model's built SBML; `cached` reuses one compiled copy per process (and per thread)."""
    make = cached_simulator if cached else new_simulator
    return make(entry.sbml_text(), name=entry.id, origin=entry.sbml)


def run_suites(
    model_id: str, files: Sequence[ClaimsFile], sim: Simulator, *, dense: bool = False
) -> tuple[SuiteRun, ...]:
    """Run claims files against a compiled model; another model's claims honour composite exceptions.

    With `dense`, the experiments of the model's own claims file are sampled on the dense grid.
    """
    phases.select_readouts(sim, planned_readouts(files))
    runs = []
    for suite in files:
        trajectories = simulate_plan(suite, sim, dense=dense and suite.model == model_id)
        results = evaluate_suite(suite, trajectories, model_id, excuse=suite.model != model_id)
        runs.append(SuiteRun(suite, experiment_plan(suite), trajectories, results))
    return tuple(runs)


def suite_results(model_id: str, files: Sequence[ClaimsFile], sim: Simulator) -> list[ClaimResult]:
    """Return every result of `run_suites`, in the order of the claims files (robustness samples)."""
    return [r for run in run_suites(model_id, files, sim) for r in run.results]


def run_model(
    entry: ModelEntry,
    *,
    simulator: Simulator | None = None,
    dense: bool = False,
    certify: bool = True,
    cached: bool = False,
) -> ModelRun:
    """Check every claim that applies to a registry model, and (by default) certify it under its cuts.

    A composite runs its papers' claims too. `simulator` is a compiled copy of the model to use
    (default: compiled here, once per process with `cached`); `dense` samples the model's own experiments
    on the dense grid, as plots need.
    """
    sim = simulator if simulator is not None else model_simulator(entry, cached=cached)
    run = ModelRun(entry, run_suites(entry.id, entry.suites, sim, dense=dense), dense)
    if certify:
        certify_run(run)
    return run


def certify_run(run: ModelRun) -> None:
    """Attach to every result of a run its certificate (the claim under each cut of its mechanism)."""
    from bcsignal.engine import certify

    entry = run.entry
    foreign_cuts = any(
        f.model != entry.id and any(c.mechanism or c.independent_of for c in f.claims) for f in run.files
    )
    comp = certify.composite_document(entry) if foreign_cuts else None
    certify.certify(entry.id, run.files, run.results, entry.sbml_text(), origin=entry.sbml, comp=comp)
