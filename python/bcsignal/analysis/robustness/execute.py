"""Running a robustness study: each sample evaluated (in a worker), in this process or on Dask, resumably."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from bcsignal import __version__
from bcsignal.analysis.robustness import store
from bcsignal.analysis.robustness.store import SUMMARY, TABLE, SampleRow
from bcsignal.analysis.robustness.study import DEFAULT_SAMPLES, Study
from bcsignal.analysis.robustness.summary import Summary, summarise
from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import require
from bcsignal.core.files import atomic_write_text
from bcsignal.core.limits import MAX_SAMPLES
from bcsignal.core.progress import Activity
from bcsignal.engine.run import suite_results
from bcsignal.engine.simulate import Simulator, cached_simulator
from bcsignal.spec.claims import ClaimsFile, parse_claims

if TYPE_CHECKING:
    from distributed import Client

#: With neither workers nor a scheduler named, runs of at most this many samples stay in this process.
IN_PROCESS_MAX_SAMPLES = 50
#: At most this many samples per task (a task is also the unit of resumption).
MAX_CHUNK = 25
#: Aim for this many tasks per worker thread, so that the load balances and the progress bar moves.
TASKS_PER_SLOT = 4
#: Seconds to wait for a scheduler's first worker before giving up.
WORKER_WAIT = 60.0


# ---------------------------------------------------------------------------
# Evaluation (runs in workers)
# ---------------------------------------------------------------------------
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


def chunk_ranges(todo: Sequence[int], size: int) -> list[tuple[int, int]]:
    """Split sorted sample indices into contiguous ranges of at most `size`."""
    ranges: list[tuple[int, int]] = []
    for index in todo:
        if ranges and ranges[-1][1] == index and index - ranges[-1][0] < size:
            ranges[-1] = (ranges[-1][0], index + 1)
        else:
            ranges.append((index, index + 1))
    return ranges


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------
@dataclass
class RunResult:
    """What a robustness run produced and how it ran."""

    out: Path
    summary: Summary
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
    store.prepare(out, study)
    done = store.done_samples(out, samples)
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
    table = store.merge(out, study, samples)
    summary = summarise(study, table, nominal_margins(study))
    atomic_write_text(out / SUMMARY, json.dumps(summary.to_json(), indent=2) + "\n")
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
    chunks = chunk_ranges(todo, size)
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
            store.write_chunk(out, study, start, stop, rows)
            bar.update(stop - start)
    return time.perf_counter() - began
