"""The Python API and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bcsignal
from bcsignal.app import cli

from .conftest import MODEL_IDS

ROOT = Path(__file__).resolve().parent.parent


def test_models_lists_every_source_with_a_claims_file() -> None:
    sources = {p.name.removesuffix(".ant") for p in (ROOT / "models").glob("*.ant")}
    claimed = {p.name.removesuffix(".claims.yaml") for p in (ROOT / "models").glob("*.claims.yaml")}
    assert bcsignal.models() == sorted(sources & claimed)
    assert len(bcsignal.models()) == 6 and "composite" in bcsignal.models()


def test_sbml_path_points_into_sbml_folder() -> None:
    for mid in MODEL_IDS:
        assert bcsignal.sbml_path(mid) == ROOT / "sbml" / f"{mid}.xml"
        assert bcsignal.sbml_path(mid).is_file()


def test_unknown_model_is_our_error() -> None:
    with pytest.raises(bcsignal.BcsignalError, match="unknown model id 'Nope'"):
        bcsignal.sbml_path("Nope")


def test_load_returns_fresh_roadrunner() -> None:
    a = bcsignal.load(MODEL_IDS[0])
    b = bcsignal.load(MODEL_IDS[0])
    assert a is not b
    assert a.integrator.getName() == "cvode"
    assert a.integrator.relative_tolerance == pytest.approx(1e-8)
    assert a.model.getTime() == 0


def test_check_returns_results() -> None:
    results = bcsignal.check(MODEL_IDS[0])
    assert results and all(r.passed for r in results)


def test_cli_check_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    code = cli.main(["check", MODEL_IDS[0], "--results", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"[PASS] {MODEL_IDS[0]}::" in printed
    data = json.loads(out.read_text())
    assert data["claims"] and all(c["passed"] for c in data["claims"])


def test_cli_errors_are_one_paragraph_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["check", "Nope_1999"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_ERROR
    assert err.startswith("bcsignal: error:") and err.count("\n") == 1


def test_cli_build_check_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_cli_validate_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--strict"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_console_script_runs() -> None:
    exe = Path(sys.executable).parent / "bcsignal"
    done = subprocess.run([str(exe), "models"], capture_output=True, text=True, check=True)
    assert done.stdout.split() == MODEL_IDS


def test_wheel_ships_models_and_sbml(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bcsignal-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(unpacked)
    code = (
        "import bcsignal, sys; from bcsignal import paths;"
        "assert paths.project_root() is None, paths.project_root();"
        f"print(bcsignal.models()); p = bcsignal.sbml_path('{MODEL_IDS[0]}'); assert p.is_file(), p;"
        f"from bcsignal.claims import load_claims; load_claims(paths.claims_path('{MODEL_IDS[0]}'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert MODEL_IDS[0] in done.stdout


def test_the_simulate_module_is_importable_by_name() -> None:
    import bcsignal.engine.simulate as module

    assert hasattr(module, "Simulator") and callable(bcsignal.time_course)


def test_a_reader_that_stops_early_gets_no_traceback() -> None:
    # `bcsignal check --json | head`: here the reader has gone before bcsignal writes (it simulates first)
    done = subprocess.run(
        f"'{Path(sys.executable).with_name('bcsignal')}' check Park_BBRC2007 --json | true;"
        " echo status=${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == ""
    assert done.stdout.strip() == f"status={cli.EXIT_BROKEN_PIPE}"
