"""A robustness run's folder on disk: its manifest, one CSV file per chunk of samples, the merged table."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bcsignal import __version__
from bcsignal.analysis.robustness.study import Study
from bcsignal.core.errors import BcsignalError
from bcsignal.core.files import atomic_open, atomic_write_text

#: Files of an output folder.
MANIFEST, CHUNKS, TABLE, SUMMARY = "run.json", "chunks", "samples.csv", "summary.json"
_CHUNK_NAME = re.compile(r"^samples-(\d{10})-(\d{10})\.csv$")


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


@dataclass
class Table:
    """The merged samples: parameter values and margins as arrays, failed samples with their reason."""

    index: np.ndarray
    values: np.ndarray
    margins: np.ndarray
    ok: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)


def prepare(out: Path, study: Study) -> None:
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


def done_samples(out: Path, samples: int) -> set[int]:
    """Return the indices below `samples` that the folder's chunk files already hold."""
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


def write_chunk(out: Path, study: Study, start: int, stop: int, rows: Sequence[SampleRow]) -> None:
    """Write the rows of samples start..stop-1 as one chunk file (atomically: a chunk is whole or absent)."""
    path = out / CHUNKS / f"samples-{start:010d}-{stop:010d}.csv"
    with atomic_open(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(study.header())
        for row in rows:
            writer.writerow(_row_cells(row, len(study.claims)))


def merge(out: Path, study: Study, samples: int) -> Table:
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
