"""A Dask cluster started by address (`dask scheduler`, `dask worker`) runs `bcsignal robustness`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcsignal.analysis.cluster import AddressCluster, address_cluster

from .conftest import run_cli

pytest.importorskip("distributed")


def _living(group: int) -> list[int]:
    """Return the live processes of a process group (zombies that init has not reaped are not)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _gone(cluster: AddressCluster) -> bool:
    return all(p.poll() is not None and not _living(p.pid) for p in cluster.processes)


def test_robustness_runs_on_a_cluster_started_by_address(tmp_path: Path) -> None:
    with address_cluster(2) as cluster:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        assert len(cluster.processes) == 3 and all(p.poll() is None for p in cluster.processes)
        out = tmp_path / "run"
        args = ["robustness", "composite", "--samples", "2", "--chunk-size", "1"]
        code, stdout, stderr = run_cli(
            [*args, "--scheduler", cluster.address, "--out", str(out), "--json"], cwd=tmp_path, timeout=900
        )
        assert code == 0, stdout + stderr
        summary = json.loads(stdout)
        assert summary["model"] == "composite" and summary["samples"] == 2
        assert sorted(p.name for p in (out / "chunks").iterdir()) == [
            "samples-0000000000-0000000001.csv",
            "samples-0000000001-0000000002.csv",
        ]
    assert _gone(cluster)


def test_the_cluster_is_stopped_on_an_error() -> None:
    started: list[AddressCluster] = []
    with pytest.raises(RuntimeError, match="on purpose"), address_cluster(1) as cluster:
        started.append(cluster)
        raise RuntimeError("on purpose")
    assert started and _gone(started[0])
