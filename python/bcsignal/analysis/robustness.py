"""Robustness of claims under parameter uncertainty: log-normal samples, scored in-process or on Dask."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bcsignal import __version__
from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import require
from bcsignal.core.files import atomic_open, atomic_write_text
from bcsignal.core.limits import MAX_SAMPLES, MAX_SIGMA
from bcsignal.core.progress import Activity
from bcsignal.engine.claims.results import json_number
from bcsignal.engine.run import suite_results
from bcsignal.engine.simulate import Simulator, cached_simulator
from bcsignal.registry import ModelEntry
from bcsignal.sbml.io import read_document
from bcsignal.spec.claims import ClaimsFile, parse_claims

if TYPE_CHECKING:
    from distributed import Client

#: Format of run.json, the chunk files, samples.csv and summary.json.
FORMAT = 1
#: Samples drawn when the caller names no number.
DEFAULT_SAMPLES = 1000
#: Standard deviation of the natural log of each sampled parameter (0.3: about ±35 % at one sigma).
DEFAULT_SIGMA = 0.3
#: Seed of the sample generator when the caller names none.
DEFAULT_SEED = 0
#: With neither workers nor a scheduler named, runs of at most this many samples stay in this process.
IN_PROCESS_MAX_SAMPLES = 50
#: At most this many samples per task (a task is also the unit of resumption).
MAX_CHUNK = 25
#: Aim for this many tasks per worker thread, so that the load balances and the progress bar moves.
TASKS_PER_SLOT = 4
#: Seconds to wait for a scheduler's first worker before giving up.
WORKER_WAIT = 60.0
#: Two-sided 95 % standard-normal quantile, for Wilson score intervals.
Z95 = 1.959963984540054
#: Parameters listed per claim in the summary, by decreasing |Spearman rho|.
TOP_PARAMETERS = 5
#: Files of an output folder.
MANIFEST, CHUNKS, TABLE, SUMMARY = "run.json", "chunks", "samples.csv", "summary.json"
#: Column prefixes of the samples table.
PARAM_PREFIX, MARGIN_PREFIX = "param:", "margin:"
_CHUNK_NAME = re.compile(r"^samples-(\d{10})-(\d{10})\.csv$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# What is sampled
# ---------------------------------------------------------------------------
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
    knobs = {k for f in files for k in f.knobs}
    hold = set(fixed)
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


# ---------------------------------------------------------------------------
# Evaluation (runs in workers)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SampleRow:
    """One evaluated sample: its parameter values and claim margins, or why it failed."""

    index: int
    values: tuple[float, ...]
    margins: tuple[float, ...] | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        """Return whether every claim could be evaluated."""
        return self.margins is not None


@lru_cache(maxsize=64)
def _parse(text: str, origin: str) -> ClaimsFile:
    return parse_claims(text, origin=origin)


def _engine(study: Study) -> tuple[Simulator, list[ClaimsFile]]:
    """Return this thread's compiled model (built on first use) and the parsed claims."""
    sim = cached_simulator(study.sbml, name=study.model, origin=study.model)
    return sim, [_parse(s.text, s.origin) for s in study.suites]


def _reason(exc: BcsignalError) -> str:
    parts = [f"{exc.where}:" if exc.where else "", f"[{exc.tool}]" if exc.tool else "", exc.cause]
    return " ".join(" ".join(p for p in parts if p).split())


def evaluate_sample(study: Study, sim: Simulator, files: Sequence[ClaimsFile], index: int) -> SampleRow:
    """Evaluate every claim on sample `index`; a failed simulation gives a failed row, never an error."""
    values = study.values(index)
    try:
        sim.set_overrides(dict(zip(study.parameters, values.tolist(), strict=True)))
        results = suite_results(study.model, files, sim)
    except BcsignalError as exc:
        return SampleRow(index, tuple(values.tolist()), None, _reason(exc))
    margins = tuple(r.margin for r in results)
    for name, margin in zip(study.claims, margins, strict=True):
        if math.isnan(margin):
            return SampleRow(index, tuple(values.tolist()), None, f"claim {name}: the margin is not a number")
    return SampleRow(index, tuple(values.tolist()), margins)


def evaluate_chunk(study: Study, start: int, stop: int) -> list[SampleRow]:
    """Evaluate samples start..stop-1 with this process's compiled model (a Dask task)."""
    sim, files = _engine(study)
    try:
        return [evaluate_sample(study, sim, files, i) for i in range(start, stop)]
    finally:
        sim.set_overrides({})


def nominal_margins(study: Study) -> dict[str, float] | str:
    """Return each claim's margin with every parameter at its SBML value, or why that failed."""
    sim, files = _engine(study)
    sim.set_overrides({})
    try:
        results = suite_results(study.model, files, sim)
    except BcsignalError as exc:
        return _reason(exc)
    return {name: r.margin for name, r in zip(study.claims, results, strict=True)}


def worker_version() -> str:
    """Return the bcsignal version a worker runs (checked before work is sent to a cluster)."""
    return __version__


# ---------------------------------------------------------------------------
# The output folder: manifest, chunk files, table
# ---------------------------------------------------------------------------
def _prepare(out: Path, study: Study) -> None:
    """Create the folder and its manifest, or check that an existing one is a run of the same study."""
    manifest = out / MANIFEST
    wanted = study.identity()
    if manifest.is_file():
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BcsignalError(f"cannot read the run manifest: {exc}", file=manifest) from exc
        for key, value in wanted.items():
            if found.get(key) != value:
                raise BcsignalError(
                    f"this folder holds a robustness run with a different {key}; "
                    "use another --out, or delete the folder to start over",
                    file=manifest,
                )
        return
    if (out / CHUNKS).is_dir() and any((out / CHUNKS).iterdir()):
        raise BcsignalError(
            f"{out / CHUNKS} has files but no {MANIFEST}; use another output folder", file=out
        )
    payload = {
        **wanted,
        "bcsignal": __version__,
        "fixed": [{"parameter": p, "reason": r} for p, r in study.fixed],
        "excused": list(study.excused),
    }
    atomic_write_text(manifest, json.dumps(payload, indent=2) + "\n")


def _chunk_files(out: Path) -> list[tuple[int, int, Path]]:
    folder = out / CHUNKS
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _CHUNK_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return sorted(found)


def _done(out: Path, samples: int) -> set[int]:
    done: set[int] = set()
    for start, stop, _ in _chunk_files(out):
        done.update(range(start, min(stop, samples)))
    return done


def _cell(x: float) -> str:
    return repr(float(x))


def _row_cells(row: SampleRow, n_claims: int) -> list[str]:
    margins = [_cell(m) for m in row.margins] if row.margins is not None else [""] * n_claims
    status = "ok" if row.ok else "failed"
    return [str(row.index), status, row.reason, *(_cell(v) for v in row.values), *margins]


def _write_chunk(out: Path, study: Study, start: int, stop: int, rows: Sequence[SampleRow]) -> None:
    path = out / CHUNKS / f"samples-{start:010d}-{stop:010d}.csv"
    with atomic_open(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(study.header())
        for row in rows:
            writer.writerow(_row_cells(row, len(study.claims)))


def _chunks(todo: Sequence[int], size: int) -> list[tuple[int, int]]:
    """Split sorted sample indices into contiguous ranges of at most `size`."""
    ranges: list[tuple[int, int]] = []
    for index in todo:
        if ranges and ranges[-1][1] == index and index - ranges[-1][0] < size:
            ranges[-1] = (ranges[-1][0], index + 1)
        else:
            ranges.append((index, index + 1))
    return ranges


@dataclass
class Table:
    """The merged samples: parameter values and margins as arrays, failed samples with their reason."""

    index: np.ndarray
    values: np.ndarray
    margins: np.ndarray
    ok: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)


def _merge(out: Path, study: Study, samples: int) -> Table:
    """Stream every chunk file into samples.csv (sample order) and return the table as arrays."""
    header = study.header()
    n_par, n_claims = len(study.parameters), len(study.claims)
    values = np.full((samples, n_par), np.nan)
    margins = np.full((samples, n_claims), np.nan)
    ok = np.zeros(samples, dtype=bool)
    seen = np.zeros(samples, dtype=bool)
    reasons: dict[int, str] = {}
    with atomic_open(out / TABLE) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for start, _, path in _chunk_files(out):
            if start >= samples:
                continue
            with path.open(encoding="utf-8", newline="") as chunk:
                reader = csv.reader(chunk)
                if next(reader, None) != header:
                    raise BcsignalError(
                        "unexpected columns in a chunk file; use another output folder", file=path
                    )
                for cells in reader:
                    i = int(cells[0])
                    if i >= samples or seen[i]:
                        continue
                    seen[i] = True
                    writer.writerow(cells)
                    values[i] = [float(c) for c in cells[3 : 3 + n_par]]
                    if cells[1] == "ok":
                        ok[i] = True
                        margins[i] = [float(c) for c in cells[3 + n_par :]]
                    else:
                        reasons[i] = cells[2]
    if not seen.all():
        missing = int(np.argmin(seen))
        raise BcsignalError(f"sample {missing} is missing from the chunk files", file=out / CHUNKS)
    return Table(np.arange(samples), values, margins, ok, reasons)


# ---------------------------------------------------------------------------
# Summary statistics
# ---------------------------------------------------------------------------
def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Return the Wilson score interval of a binomial proportion (95 % by default), from scipy.stats."""
    if trials == 0:
        return 0.0, 1.0
    from scipy import stats

    confidence = 2 * float(stats.norm.cdf(z)) - 1
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    low = 0.0 if successes == 0 else max(0.0, float(ci.low))
    high = 1.0 if successes == trials else min(1.0, float(ci.high))
    return low, high


def spearman_matrix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return Spearman's rho between every column of x and every column of y (NaN when constant).

    scipy.stats.spearmanr on the columns of both; ties get average ranks, infinities rank last.
    """
    if len(x) < 3:
        return np.full((x.shape[1], y.shape[1]), np.nan)
    import warnings

    from scipy import stats

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        statistic = stats.spearmanr(x, y, axis=0).statistic
    if np.ndim(statistic) == 0:  # one column each: scipy returns the coefficient itself
        return np.full((1, 1), float(statistic))
    rho: np.ndarray = np.array(statistic[: x.shape[1], x.shape[1] :], dtype=float)
    return rho


def _fraction(count: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(count, n)
    return {
        "count": count,
        "n": n,
        "fraction": round(count / n, 6) if n else None,
        "interval95": [round(low, 6), round(high, 6)],
    }


def _quantile(values: np.ndarray, p: float) -> float | str:
    """Return a sample quantile (a value that occurs; margins may be infinite), JSON-ready."""
    return json_number(round(float(np.quantile(values, p, method="inverted_cdf")), 6))


def _failure_kinds(reasons: Sequence[str]) -> list[dict[str, Any]]:
    kinds = Counter(_NUMBER.sub("#", r) for r in reasons)
    examples: dict[str, str] = {}
    for r in reasons:
        examples.setdefault(_NUMBER.sub("#", r), r)
    return [
        {"kind": k, "count": n, "example": examples[k]} for k, n in sorted(kinds.items(), key=lambda x: -x[1])
    ]


def summarise(study: Study, table: Table, nominal: dict[str, float] | str | None = None) -> dict[str, Any]:
    """Return the JSON summary: fractions holding with Wilson 95 % intervals and decisive parameters.

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
    claims: dict[str, Any] = {}
    for j, name in enumerate(study.claims):
        column = margins[:, j]
        order = [k for k in np.argsort(-np.abs(np.nan_to_num(rho[:, j], nan=0.0)), kind="stable")]
        top = [
            {"parameter": study.parameters[k], "spearman": round(float(rho[k, j]), 4)}
            for k in order[:TOP_PARAMETERS]
            if math.isfinite(rho[k, j])
        ]
        entry: dict[str, Any] = {
            "holds": _fraction(int(holds[:, j].sum()), n_ok),
            "excused": name in study.excused,
            "margin_quantiles": {
                q: _quantile(column, p) if n_ok else None
                for q, p in (("q05", 0.05), ("median", 0.5), ("q95", 0.95))
            },
            "top_parameters": top,
        }
        if isinstance(nominal, dict):
            entry["nominal_margin"] = json_number(round(nominal[name], 6))
        claims[name] = entry
    failed_reasons = list(table.reasons.values())
    return {
        "format": FORMAT,
        "model": study.model,
        "samples": len(table.index),
        "succeeded": n_ok,
        "failed": len(failed_reasons),
        "failures": _failure_kinds(failed_reasons),
        "sigma": study.sigma,
        "seed": study.seed,
        "parameters": list(study.parameters),
        "nominal_failure": nominal if isinstance(nominal, str) else None,
        "all_claims_hold": _fraction(int(all_hold.sum()), n_ok),
        "claims": claims,
    }


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a robustness run produced and how it ran."""

    out: Path
    summary: dict[str, Any]
    executor: str
    resumed: int
    evaluated: int
    #: Wall time from the first task sent to the last result written (no cluster start-up).
    seconds: float
    simulations_per_sample: int
    #: Wall time to start or connect to a cluster and check its workers.
    setup_seconds: float = 0.0

    @property
    def table_path(self) -> Path:
        """Return the samples table (CSV)."""
        return self.out / TABLE

    @property
    def summary_path(self) -> Path:
        """Return the JSON summary."""
        return self.out / SUMMARY


ChunkResults = Iterator[tuple[int, int, list[SampleRow]]]


def _in_process(study: Study, chunks: Sequence[tuple[int, int]]) -> ChunkResults:
    for start, stop in chunks:
        yield start, stop, evaluate_chunk(study, start, stop)


def _on_dask(client: Client, study: Study, chunks: Sequence[tuple[int, int]]) -> ChunkResults:
    from distributed import as_completed

    shared = client.scatter(study, broadcast=True, hash=False)
    token = hashlib.sha256(json.dumps(study.identity(), sort_keys=True).encode()).hexdigest()[:12]
    futures = {
        client.submit(
            evaluate_chunk, shared, start, stop, key=f"bcsignal-robustness-{token}-{start}-{stop}", pure=False
        ): (start, stop)
        for start, stop in chunks
    }
    try:
        for future in as_completed(futures):
            start, stop = futures[future]
            try:
                rows = future.result()
            except Exception as exc:
                raise BcsignalError(
                    f"a task (samples {start}-{stop - 1}) failed on a worker: {type(exc).__name__}: {exc}; "
                    "completed samples are saved, rerun the same command to resume",
                    tool="dask",
                ) from exc
            future.release()
            yield start, stop, rows
    finally:
        client.cancel(list(futures))


def _check_workers(client: Client) -> int:
    """Check that every worker runs this bcsignal version; return the number of worker threads."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError as exc:
        raise BcsignalError(
            f"the Dask scheduler has had no worker for {WORKER_WAIT:g} s; start workers with "
            f"`dask worker {getattr(client.scheduler, 'address', 'ADDRESS')} --nthreads 1`",
            tool="dask",
        ) from exc
    try:
        versions = client.run(worker_version)
    except Exception as exc:
        raise BcsignalError(
            f"the Dask workers cannot run bcsignal ({type(exc).__name__}: {exc}); install bcsignal "
            f"{__version__} in the workers' environment",
            tool="dask",
        ) from exc
    wrong = sorted(w for w, v in versions.items() if v != __version__)
    if wrong:
        raise BcsignalError(
            f"workers {', '.join(wrong)} run another bcsignal version than {__version__}", tool="dask"
        )
    threads: dict[str, int] = client.nthreads()
    return max(1, sum(threads.values()))


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so that they inherit the ignoring.

    A terminal's Ctrl-C goes to every process of the foreground group; the workers then keep still
    (no tracebacks) and this process, which gets KeyboardInterrupt, closes the cluster.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def local_workers() -> int:
    """Return the number of worker processes a local cluster gets: one per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(
    study: Study,
    out: Path,
    samples: int = DEFAULT_SAMPLES,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Evaluate `samples` samples of a study into `out`, resuming what an earlier run there finished.

    `scheduler` connects to an existing Dask scheduler (``tcp://host:port``). Otherwise `workers`
    local worker processes run on a LocalCluster bound to 127.0.0.1, and 0 workers (the default for
    at most IN_PROCESS_MAX_SAMPLES samples) evaluates in this process.
    """
    if not 1 <= samples <= MAX_SAMPLES:
        raise BcsignalError(
            f"the number of samples must be at least 1 and at most {MAX_SAMPLES}, got {samples}"
        )
    if workers is not None and workers < 0:
        raise BcsignalError(f"the number of workers cannot be negative, got {workers}")
    if scheduler is not None and workers is not None:
        raise BcsignalError(
            "a number of workers sizes a local cluster; a scheduler's cluster has its own: give one, not both"
        )
    if chunk_size is not None and chunk_size < 1:
        raise BcsignalError(f"the chunk size must be at least 1, got {chunk_size}")
    out = Path(out)
    _prepare(out, study)
    done = _done(out, samples)
    todo = [i for i in range(samples) if i not in done]
    if workers is None and scheduler is None:
        workers = 0 if len(todo) <= IN_PROCESS_MAX_SAMPLES else local_workers()
    began = time.perf_counter()
    executor = "nothing left to do"
    seconds = 0.0
    if todo:
        if scheduler is None and workers == 0:
            executor = "in this process"
            seconds = _drive(out, study, samples, len(done), todo, 1, chunk_size, progress, None)
        else:
            executor, seconds = _with_dask(
                out, study, samples, len(done), todo, scheduler, workers, chunk_size, progress
            )
    setup = time.perf_counter() - began - seconds
    table = _merge(out, study, samples)
    summary = summarise(study, table, nominal_margins(study))
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    experiments = sum(
        len({e for c in _parse(s.text, s.origin).claims for e in c.experiments()}) for s in study.suites
    )
    return RunResult(out, summary, executor, len(done), len(todo), seconds, experiments, setup)


def _with_dask(
    out: Path,
    study: Study,
    samples: int,
    resumed: int,
    todo: Sequence[int],
    scheduler: str | None,
    workers: int | None,
    chunk_size: int | None,
    progress: bool,
) -> tuple[str, float]:
    """Evaluate on a local cluster or a scheduler; return how it ran and the evaluation's seconds."""
    distributed = require("distributed", "a robustness study on a Dask cluster")

    cluster = None
    try:
        if scheduler is None:
            n = workers or local_workers()
            starting = Activity(f"starting a local Dask cluster of {n} worker processes", enabled=progress)
            with starting, _sigint_ignored():  # Ctrl-C stops this process, which then stops the workers
                cluster = distributed.LocalCluster(
                    n_workers=n,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",  # loopback, any free port (no fixed 8787)
                    silence_logs=logging.ERROR,
                )
            client = distributed.Client(cluster)
            executor = f"on a local Dask cluster of {n} worker process{'es' if n > 1 else ''}"
        else:
            try:
                with Activity(f"connecting to the Dask scheduler {scheduler}", enabled=progress):
                    client = distributed.Client(scheduler, timeout=30)
            except (OSError, TimeoutError, ValueError) as exc:
                raise BcsignalError(
                    f"cannot connect to the Dask scheduler {scheduler}: {exc}", tool="dask"
                ) from exc
            executor = f"on the Dask scheduler {scheduler}"
        with client:
            slots = _check_workers(client)
            seconds = _drive(out, study, samples, resumed, todo, slots, chunk_size, progress, client)
            executor += f" ({slots} worker thread{'s' if slots > 1 else ''})" if scheduler else ""
    finally:
        if cluster is not None:
            cluster.close()
    return executor, seconds


def _drive(
    out: Path,
    study: Study,
    samples: int,
    resumed: int,
    todo: Sequence[int],
    slots: int,
    chunk_size: int | None,
    progress: bool,
    client: Client | None,
) -> float:
    """Send the samples out in chunks and write each chunk as it completes; return the seconds taken."""
    tqdm = require("tqdm", "a robustness study").tqdm

    began = time.perf_counter()
    size = chunk_size or max(1, min(MAX_CHUNK, math.ceil(len(todo) / (slots * TASKS_PER_SLOT))))
    chunks = _chunks(todo, size)
    results = _in_process(study, chunks) if client is None else _on_dask(client, study, chunks)
    with tqdm(
        total=samples,
        initial=resumed,
        unit="sample",
        desc=study.model,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    ) as bar:
        for start, stop, rows in results:
            _write_chunk(out, study, start, stop, rows)
            bar.update(stop - start)
    return time.perf_counter() - began
