"""Benchmark: how fast, and in how much memory, screening rejects each member of the bad-input corpus.

Usage: .venv/bin/python tests/benchmark_screen.py

Each input is read and screened (`ModelInput.from_file` + `usermodel.screen`, no native parser) in a
fresh forked process; the table gives the wall time and the growth of the peak resident set. The issue
asks for under 1 s and under 200 MiB per rejection. This is a measurement, not a test.
"""

from __future__ import annotations

import os
import pickle
import resource
import sys
import tempfile
import time
from pathlib import Path

from bcsignal.app.usermodel import ModelInput, screen
from bcsignal.core.errors import BcsignalError

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "data" / "bad"))
import generate  # type: ignore[import-not-found]  # noqa: E402


def _measure(path: Path) -> tuple[float, float, str]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            screen(ModelInput.from_file(path))
            outcome = "accepted"
        except BcsignalError as error:
            outcome = error.cause[:60]
        elapsed = time.perf_counter() - start
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        os.write(write, pickle.dumps((elapsed, grown, outcome)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        result: tuple[float, float, str] = pickle.loads(handle.read())
    os.waitpid(pid, 0)
    return result


def main() -> None:
    """Print one row per corpus member that screening handles."""
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted(generate.write(Path(tmp)).values()) + sorted(
            p for p in (HERE / "data" / "bad").iterdir() if p.suffix in {".xml", ".ant"}
        )
        print(f"{'input':<32} {'size':>10} {'seconds':>8} {'MiB':>7}  outcome")
        for path in files:
            if path.suffix not in {".xml", ".ant"}:
                continue
            elapsed, grown, outcome = _measure(path)
            print(f"{path.name:<32} {path.stat().st_size:>10} {elapsed:>8.3f} {grown:>7.1f}  {outcome}")


if __name__ == "__main__":
    main()
