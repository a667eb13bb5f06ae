"""A Dask cluster started by address, as a user starts one: `dask scheduler` and `dask worker` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from bcsignal.core.errors import BcsignalError
from bcsignal.core.extras import require

#: Seconds to wait for the scheduler to write its address and for every worker to connect.
START_TIMEOUT = 120.0
#: Seconds a process gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0


@dataclass
class AddressCluster:
    """A running scheduler and its workers: the address to pass to `--scheduler`, and the processes."""

    address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def _dask_command() -> list[str]:
    """Return the `dask` command of this environment (its console script, or `python -m dask`)."""
    script = Path(sys.executable).with_name("dask")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process group this module started (workers first), killing what does not stop."""
    for proc in reversed(processes):
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(processes):
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # a worker's nanny may leave its child in the group: end the group for good
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


def _scheduler_address(scheduler: subprocess.Popen[bytes], scheduler_file: Path) -> str:
    """Return the address a starting `dask scheduler` writes into its scheduler file (`address_cluster`)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if scheduler.poll() is not None:
            raise BcsignalError("`dask scheduler` exited on start", tool="dask")
        if time.monotonic() > deadline:
            raise BcsignalError(f"`dask scheduler` gave no address in {START_TIMEOUT:g} s", tool="dask")
        try:
            address = str(json.loads(scheduler_file.read_text(encoding="utf-8"))["address"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
            continue
        if address:
            return address


@contextmanager
def address_cluster(workers: int = 2, *, host: str = "127.0.0.1") -> Iterator[AddressCluster]:
    """Start `dask scheduler` and `workers` single-threaded `dask worker` processes bound to `host`.

    Yields the cluster once every worker has connected; the scheduler listens on a free port. The
    processes (each in its own process group) are always stopped on exit, also on an error.
    """
    distributed = require("distributed", "a Dask cluster")
    dask = _dask_command()
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bcsignal-dask-") as tmp:
        scheduler_file = Path(tmp) / "scheduler.json"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
        try:
            processes.append(
                subprocess.Popen(
                    [
                        *dask,
                        "scheduler",
                        "--host",
                        host,
                        "--port",
                        "0",
                        "--dashboard-address",
                        f"{host}:0",
                        "--scheduler-file",
                        str(scheduler_file),
                    ],
                    **quiet,  # type: ignore[call-overload]
                )
            )
            address = _scheduler_address(processes[0], scheduler_file)
            for _ in range(workers):
                processes.append(
                    subprocess.Popen(
                        [
                            *dask,
                            "worker",
                            address,
                            "--nthreads",
                            "1",
                            "--host",
                            host,
                            "--dashboard-address",
                            f"{host}:0",
                        ],
                        **quiet,  # type: ignore[call-overload]
                    )
                )
            with distributed.Client(address, timeout=START_TIMEOUT) as client:
                try:
                    client.wait_for_workers(workers, timeout=START_TIMEOUT)
                except TimeoutError as exc:
                    raise BcsignalError(
                        f"not all {workers} `dask worker` processes connected in {START_TIMEOUT:g} s",
                        tool="dask",
                    ) from exc
            yield AddressCluster(address, processes)
        finally:
            _stop(processes)
