"""The Python API in the idioms modellers already use: tellurium's RoadRunner, NamedArrays, pandas, plots.

Every function takes a shipped model id (a ``str``); the simulation functions also take a user's model
(a ``pathlib.Path`` or a `ModelInput`). Paper experiments and claims run on the claims engine's own
code (`bcsignal.claims`, `bcsignal.simulate.Simulator`), so what Python shows is what ``bcsignal
check`` and the report evaluate. Optional modules come from bcsignal's extras: pandas for data frames
(``bcsignal[pandas]``), matplotlib for plots (``bcsignal[report]``), python-libsedml for archives
(``bcsignal[exchange]``), Dask and tqdm for robustness (``bcsignal[robustness]``); ``bcsignal[all]``
has them all.
"""

from __future__ import annotations

import importlib
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import roadrunner
from roadrunner._roadrunner import NamedArray

from bcsignal import registry
from bcsignal.app import usermodel
from bcsignal.app.usermodel import ModelInput
from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import require
from bcsignal.engine.claims.plan import experiment_plan
from bcsignal.engine.claims.results import ClaimResult
from bcsignal.engine.run import model_simulator
from bcsignal.engine.simulate import Simulator, load_sbml_file, load_sbml_text
from bcsignal.engine.timecourse import INTEGRATOR, Request, TimeCourse
from bcsignal.engine.timecourse import run as run_time_course
from bcsignal.engine.trajectory import Trajectory
from bcsignal.spec.claims import Claim, ClaimsFile, Experiment

__all__ = [
    "CheckedClaim",
    "Model",
    "antimony",
    "claim",
    "experiments",
    "export_omex",
    "load",
    "plot_robustness",
    "robustness_study",
    "run_experiment",
    "time_course",
]

if TYPE_CHECKING:
    from bcsignal.analysis.robustness import RunResult, Summary

#: What the API accepts as a model: a shipped model id (str), a file (Path) or a ModelInput (text).
Model = str | Path | ModelInput
#: Separates a paper's id from one of its experiments or claims when they are run on a composite.
SUITE_SEPARATOR = "::"


def runner_class() -> type[roadrunner.RoadRunner]:
    """Return the class `load` compiles with: tellurium's ExtendedRoadRunner if installed, else RoadRunner."""
    plain: type[roadrunner.RoadRunner] = roadrunner.RoadRunner
    try:
        module = importlib.import_module("tellurium.roadrunner.extended_roadrunner")
    except ImportError:
        return plain
    extended: type[roadrunner.RoadRunner] = module.ExtendedRoadRunner
    return extended


def load(model: Model, *, strict: bool = False) -> roadrunner.RoadRunner:
    """Return a fresh, compiled model: tellurium's ExtendedRoadRunner when tellurium is installed.

    With tellurium (the ``test`` extra, or ``pip install tellurium``) the object is what ``te.loada``
    returns, so ``r.simulate(0, 120, 121, ["time", "pSTAT3"])``, ``r.plot()`` and ``r.getAntimony()``
    work. With the core install it is a plain ``roadrunner.RoadRunner`` (no ``plot`` or
    ``getAntimony``; `antimony` gives the source). Either way the integrator is CVODE with bcsignal's
    explicit tolerances (relative 1e-8, absolute 1e-12), and the model is at its initial state, which
    for a shipped model is its unperturbed steady state.

    A shipped model id loads directly; a user's file or text is first parsed and checked in an isolated
    child process and loads only if no check reports an error (or, if `strict`, a warning).
    """
    target = usermodel.resolve(model)
    runner = runner_class()
    if isinstance(target, str):
        return load_sbml_file(registry.entry(target).sbml, runner=runner)
    return load_sbml_text(usermodel.prepare(target, strict=strict), origin=target.origin, runner=runner)


def antimony(model_id: str) -> str:
    """Return the Antimony source of a shipped model (``models/<id>.ant``), the file its SBML is built from.

    A composite's source imports its papers' files (``import "Park_BBRC2007.ant"``); those are
    ``antimony(paper_id)``.
    """
    if not isinstance(model_id, str):
        raise BcsignalError(f"model_id must be a shipped model id (str), got {type(model_id).__name__}")
    usermodel.resolve(model_id)
    return registry.entry(model_id).source.read_text(encoding="utf-8")


def simulate_time_course(
    model: Model,
    until: float,
    points: int,
    *,
    start: float = 0.0,
    selections: Sequence[str] | None = None,
    values: Mapping[str, float] | None = None,
    strict: bool = False,
    integrator: str = INTEGRATOR,
) -> TimeCourse:
    """Return `time_course` as bcsignal's TimeCourse (columns and a 2-D array; it writes CSV)."""
    request = Request(
        until=until,
        points=points,
        values=dict(values or {}),
        integrator=integrator,
        start=start,
        selections=None if selections is None else _listed(selections),
    ).checked()
    target = usermodel.resolve(model)
    if isinstance(target, str):
        path = registry.entry(target).sbml
        return run_time_course(load_sbml_file(path), request, origin=str(path))
    return usermodel.simulate(target, request, strict=strict)


def _listed(selections: Sequence[str]) -> tuple[str, ...]:
    """Return selections as a tuple; a bare string (a likely slip for ``[s]``) is refused."""
    if isinstance(selections, str):
        raise BcsignalError(f"selections must be a list of ids such as ['time', 'S'], got {selections!r}")
    return tuple(selections)


def time_course(
    model: Model,
    until: float,
    points: int,
    *,
    start: float = 0.0,
    selections: Sequence[str] | None = None,
    values: Mapping[str, float] | None = None,
    strict: bool = False,
    integrator: str = INTEGRATOR,
) -> NamedArray:
    """Simulate from `start` to `until` with `points` outputs (CVODE) and return a NamedArray.

    The result is libroadrunner's NamedArray, what ``RoadRunner.simulate`` returns, so it needs no
    pandas: ``result["time"]``, ``result.colnames``, and ``pandas.DataFrame(result,
    columns=result.colnames)`` when pandas is installed. `values` first sets constant parameters,
    species' initial concentrations or compartment sizes (initial assignments are evaluated again);
    the state at `start` is the model's initial state, as in ``RoadRunner.simulate(start, until,
    points)``. `selections` are libroadrunner selections (``"time"``, ``"[S]"`` for a concentration, a
    parameter id, ...) and name the columns as given; None selects time, every floating species (as a
    concentration, column ``S``) and every variable defined by a rule.

    The request is capped: a finite end time after `start`, at most `MAX_POINTS` outputs, CVODE only.
    Errors name these arguments (``until``, ``values['k']``, ...).
    """
    course = simulate_time_course(
        model,
        until,
        points,
        start=start,
        selections=selections,
        values=values,
        strict=strict,
        integrator=integrator,
    )
    return course.named_array()


# ---------------------------------------------------------------------------
# Paper experiments
# ---------------------------------------------------------------------------
def _shipped(model_id: object) -> str:
    if not isinstance(model_id, str):
        raise BcsignalError(
            f"model_id must be a shipped model id (str), got {type(model_id).__name__}: paper experiments "
            "and claims exist for the shipped models (bcsignal.check runs a user's claims file)"
        )
    target = usermodel.resolve(model_id)
    assert isinstance(target, str)
    return target


def _suites(model_id: str) -> list[ClaimsFile]:
    """Return the model's own claims file first, then (a composite) its papers'."""
    files = registry.entry(model_id).suites
    return [files[-1], *files[:-1]]


def _qualified(model_id: str, suite: ClaimsFile, name: str) -> str:
    return name if suite.model == model_id else f"{suite.model}{SUITE_SEPARATOR}{name}"


def experiments(model_id: str) -> dict[str, str]:
    """Return a shipped model's experiments, in the order of its claims file, each with its description.

    A composite also lists its papers' experiments, run on the composite, as ``"Paper_id::name"``.
    Pass a key to `run_experiment`.
    """
    mid = _shipped(model_id)
    return {
        _qualified(mid, suite, name): experiment.description
        for suite in _suites(mid)
        for name, experiment in suite.experiments.items()
    }


def _find(model_id: str, name: str, what: str) -> tuple[ClaimsFile, str]:
    """Return the claims file and the plain name of a (possibly ``Paper::``-qualified) experiment or claim."""
    files = _suites(model_id)
    if not isinstance(name, str):
        raise BcsignalError(f"{what} must be a str, got {type(name).__name__}")
    suite_id, _, plain = name.rpartition(SUITE_SEPARATOR)
    for suite in files:
        if suite.model == (suite_id or model_id):
            return suite, plain
    papers = ", ".join(f.model for f in files if f.model != model_id) or "none"
    raise BcsignalError(f"{what} {name!r}: {suite_id!r} is not a paper of {model_id} (its papers: {papers})")


def _experiment(model_id: str, name: str) -> tuple[ClaimsFile, Experiment]:
    suite, plain = _find(model_id, name, "experiment")
    experiment = suite.experiments.get(plain)
    if experiment is None:
        known = ", ".join(experiments(model_id))
        raise BcsignalError(
            f"experiment {name!r} is not an experiment of {model_id}; its experiments: {known}"
        )
    return suite, experiment


def _simulator(model_id: str) -> Simulator:
    """Return this process's simulator of a shipped model (compiled once, as `bcsignal.check` does)."""
    return model_simulator(registry.entry(model_id), cached=True)


def _observed(suite: ClaimsFile, experiment: str) -> list[float]:
    """Return the times the claims read in an experiment (they are on its output grid)."""
    return next((plan.observe for plan in experiment_plan(suite) if plan.name == experiment), [])


def _run(suite: ClaimsFile, sim: Simulator, experiment: Experiment, readouts: Sequence[str]) -> Trajectory:
    """Run one experiment as the report does: pre-equilibration, then the phases on the dense grid."""
    try:
        return sim.run(experiment.protocol, readouts, _observed(suite, experiment.name), dense=True)
    except BcsignalError as exc:
        raise BcsignalError(
            exc.cause, file=suite.path, tool=exc.tool, where=f"experiment {experiment.name}"
        ) from exc


def _readouts(suite: ClaimsFile, sim: Simulator, selections: Sequence[str] | None) -> list[str]:
    known = sim.readout_ids
    if selections is None:
        return [r for r in suite.readouts if r in known]
    if isinstance(selections, str) or not all(isinstance(s, str) for s in selections):
        raise BcsignalError(f"selections must be a list of ids such as ['pSTAT3'], got {selections!r}")
    chosen = [s[1:-1] if s.startswith("[") and s.endswith("]") else s for s in selections if s != "time"]
    if not chosen:
        raise BcsignalError("selections names no readout: give species or parameter ids, e.g. ['pSTAT3']")
    for s in chosen:
        if s not in known:
            raise BcsignalError(f"selections: {s!r} is not a species or global parameter of {sim.name}")
    return list(dict.fromkeys(chosen))


def _frame(trajectory: Trajectory, readouts: Sequence[str], purpose: str) -> Any:
    pandas = require("pandas", purpose)
    index = pandas.Index(trajectory.times, name="time")
    return pandas.DataFrame({r: trajectory.values[r] for r in readouts}, index=index)


def run_experiment(model_id: str, experiment: str, selections: Sequence[str] | None = None) -> Any:
    """Run one of a paper's experiments exactly as the claims engine does; return a pandas DataFrame.

    The model is reset (every knob and parameter at its SBML value), pre-equilibrated to the steady
    state of the experiment's pre-equilibration knobs, then the phases run one after the other, each
    setting its knobs. The frame is indexed by ``time`` in minutes, 0 being the start of the first
    phase; each phase is sampled at 241 points, plus the times the claims read. There is one column per
    selection: species (concentrations, nM) or parameters; None selects the readouts of the claims
    file's interface. ``frame.attrs`` holds the model, the experiment and its description. Needs pandas
    (``pip install 'bcsignal[pandas]'``).
    """
    mid = _shipped(model_id)
    require("pandas", "bcsignal.run_experiment")
    suite, found = _experiment(mid, experiment)
    sim = _simulator(mid)
    readouts = _readouts(suite, sim, selections)
    frame = _frame(_run(suite, sim, found, readouts), readouts, "bcsignal.run_experiment")
    frame.attrs.update(model=mid, experiment=experiment, description=found.description)
    return frame


# ---------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckedClaim:
    """One paper claim evaluated on a shipped model: its statement, its result and its figure."""

    #: The model the claim was evaluated on.
    model: str
    #: The engine's result (readouts, values, margins), as `bcsignal.check` returns it.
    result: ClaimResult
    suite: ClaimsFile = field(repr=False)

    @property
    def claim(self) -> Claim:
        """Return the claim as its claims file states it."""
        return self.result.claim

    @property
    def id(self) -> str:
        """Return the claim's id, ``Paper::id`` for a paper's claim run on a composite."""
        return _qualified(self.model, self.suite, self.claim.id)

    @property
    def statement(self) -> str:
        """Return the paper's statement the claim encodes."""
        return self.claim.statement

    @property
    def source(self) -> str:
        """Return where in the paper the statement is (figure, page)."""
        return self.claim.source

    @property
    def experiments(self) -> list[str]:
        """Return the experiments the claim compares, for `run_experiment`."""
        return [_qualified(self.model, self.suite, name) for name in self.claim.experiments()]

    @property
    def passed(self) -> bool:
        """Return whether the claim holds on the model (every readout's margin >= 0)."""
        return self.result.passed

    @property
    def margin(self) -> float:
        """Return the smallest signed margin over the readouts (>= 0: the claim holds)."""
        return self.result.margin

    @property
    def certificate(self) -> Any | None:
        """Return the mechanism certificate the claims engine attached to the result, or None.

        None means the engine gave none: the claim states no mechanism, or the engine predates claims
        format 2.
        """
        return getattr(self.result, "certificate", None)

    def _trajectories(self) -> dict[str, Trajectory]:
        sim = _simulator(self.model)
        plans = {plan.name: plan for plan in experiment_plan(self.suite)}
        out: dict[str, Trajectory] = {}
        for name in self.claim.experiments():
            plan = plans[name]
            out[name] = _run(self.suite, sim, self.suite.experiments[name], plan.readouts)
        return out

    def trajectories(self) -> dict[str, Any]:
        """Return each experiment of the claim as a DataFrame of the claim's readouts (needs pandas)."""
        return {
            _qualified(self.model, self.suite, name): _frame(
                traj, self.claim.readouts, "a claim's trajectories"
            )
            for name, traj in self._trajectories().items()
        }

    def plot(self) -> Any:
        """Draw the figure the report shows for this claim and return it (a matplotlib Figure).

        Each readout over time in each experiment (control and perturbed, or the conditions of an
        ordering), with the observation times marked. Needs matplotlib (``bcsignal[report]``).
        """
        require("matplotlib", "a claim's plot")
        from bcsignal.app.report import claim_figure

        return claim_figure(self.claim, self.result, self._trajectories())

    def __str__(self) -> str:
        """Return one line: the claim, whether it holds, its margin (and certificate) and statement."""
        verdict = "holds" if self.passed else "FAILS"
        summary = getattr(self.certificate, "summary", None)
        certified = f"; certificate: {summary}" if summary else ""
        return f"{self.model}::{self.id} {verdict} (margin {self.margin:+.3f}{certified}): {self.statement}"


def claim(model_id: str, claim_id: str) -> CheckedClaim:
    """Evaluate a shipped model's claims and return one, with its statement, result and certificate.

    The result is the one `bcsignal.check(model_id)` gives (the same engine, every readout's values
    and margin), with the certificate whenever the engine provides one. A composite's papers' claims,
    run on the composite, are named ``"Paper_id::claim_id"``. ``.plot()`` draws the report's figure.
    """
    mid = _shipped(model_id)
    suite, plain = _find(mid, claim_id, "claim")
    if plain not in {c.id for c in suite.claims}:
        known = ", ".join(c.id for c in suite.claims)
        raise BcsignalError(f"claim {claim_id!r} is not a claim of {suite.model}; its claims: {known}")
    import bcsignal

    for result in bcsignal.check(mid):
        if (result.suite or result.model) == suite.model and result.claim.id == plain:
            return CheckedClaim(model=mid, result=result, suite=suite)
    raise BcsignalError(f"bcsignal.check({mid!r}) gave no result for claim {claim_id!r}")  # pragma: no cover


# ---------------------------------------------------------------------------
# Robustness and exchange
# ---------------------------------------------------------------------------
def robustness_study(
    model_id: str,
    samples: int,
    *,
    out: Path | None = None,
    sigma: float | None = None,
    seed: int | None = None,
    fixed: Sequence[str] = (),
    workers: int | None = None,
    progress: bool = False,
) -> RunResult:
    """Run `bcsignal robustness` from Python and return its RunResult (``.summary``, ``.table_path``).

    Parameters are sampled log-normally (`sigma`, default 0.3) from a generator seeded with (`seed`,
    default 0; sample index), into `out` (default: a new temporary folder). At most 50 samples are
    evaluated in this process, more on a local Dask cluster (`workers`). `plot_robustness` draws the
    summary. Needs the ``robustness`` extra.
    """
    from bcsignal.analysis import robustness

    mid = _shipped(model_id)
    study = robustness.study_for_model(
        registry.entry(mid),
        sigma=robustness.DEFAULT_SIGMA if sigma is None else sigma,
        seed=robustness.DEFAULT_SEED if seed is None else seed,
        fixed=fixed,
    )
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix=f"bcsignal-{mid}-"))
    return robustness.run(study, folder, samples, workers=workers, progress=progress)


def plot_robustness(summary: Summary | Mapping[str, Any]) -> Any:
    """Draw the report's robustness chart of a summary (``robustness_study(...).summary`` or its JSON)."""
    require("matplotlib", "a robustness plot")
    from bcsignal.analysis.robustness import Summary
    from bcsignal.app.report import robustness_figure

    return robustness_figure(summary if isinstance(summary, Summary) else Summary.from_json(summary))


def export_omex(model_id: str, folder: Path) -> Path:
    """Write ``<folder>/<model_id>.omex``: the SBML, SED-ML of every claimed experiment and metadata.

    The archive is what ``bcsignal export`` writes; tellurium and COPASI run it. Needs the
    ``exchange`` extra.
    """
    mid = _shipped(model_id)
    require("libsedml", "bcsignal.export_omex")
    from bcsignal import exchange

    (path,) = exchange.export([mid], Path(folder))
    return path
